"""The home page shows real figures from the database."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Account
from customers.services import revenue_change_record

pytestmark = pytest.mark.django_db


def test_home_counts_accounts_and_sums_mrr(csm_client, csm_user):
    paying = Account.objects.create(external_id="a1", name="Acme", owner=csm_user)
    Account.objects.create(external_id="a2", name="Free Co")
    revenue_change_record(
        account=paying, mrr=Decimal("250.00"), effective_at=timezone.now() - dt.timedelta(days=3)
    )
    response = csm_client.get("/")
    assert response.status_code == 200
    figures = response.context["figures"]
    assert (figures.accounts, figures.paying_accounts, figures.my_accounts) == (2, 1, 1)
    assert figures.mrr == Decimal("250.00")
    assert 'data-kpi="mrr">250.00<' in response.text


def test_home_escapes_the_users_name(client, make_user):
    user = make_user(full_name="<script>alert(1)</script>")
    client.force_login(user)
    text = client.get("/").text
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;" in text


def test_static_assets_are_served_locally(csm_client):
    from django.contrib.staticfiles import finders

    assert finders.find("vendor/plotly.min.js")
    assert finders.find("django_htmx/htmx-2.min.js")
    text = csm_client.get("/").text
    assert "/static/django_htmx/htmx" in text
    assert 'hx-headers=\'{"X-CSRFToken"' in text


def test_the_health_check_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_the_health_check_reports_a_broken_cache(client, monkeypatch):
    from django.core.cache import cache

    def broken(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(cache, "set", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["cache"] == "error: ConnectionError"
