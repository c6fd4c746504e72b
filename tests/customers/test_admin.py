"""The account admin: derived columns are never typed over, stage moves are recorded."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Account, StageChange
from customers.services import revenue_change_record

pytestmark = pytest.mark.django_db


def form_of(account: Account, **changes) -> dict:
    data = {
        "external_id": account.external_id,
        "name": account.name,
        "domain": account.domain,
        "plan": account.plan,
        "currency": account.currency,
        "owner": account.owner_id or "",
        "stage": account.stage,
        "renewal_date": "",
        "traits": "{}",
        "card_exp_month": "",
        "card_exp_year": "",
        "failed_payments": account.failed_payments,
        "last_payment_failed_at_0": "",
        "last_payment_failed_at_1": "",
    }
    data.update(changes)
    return data


@pytest.fixture
def paying():
    account = Account.objects.create(external_id="acme", name="Acme", currency="USD")
    revenue_change_record(
        account=account, mrr=Decimal("100"), effective_at=timezone.now() - dt.timedelta(days=3)
    )
    account.refresh_from_db()
    return account


def test_saving_in_the_admin_changes_what_was_edited_and_keeps_the_derived_mrr(
    admin_client_, paying
):
    url = f"/admin/customers/account/{paying.pk}/change/"
    page = admin_client_.get(url)
    assert page.status_code == 200
    # The ingest API records an upgrade after the admin opened the form.
    revenue_change_record(
        account=paying, mrr=Decimal("250"), effective_at=timezone.now() - dt.timedelta(hours=1)
    )
    response = admin_client_.post(url, form_of(paying, name="Acme Corp"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    paying.refresh_from_db()
    assert (paying.name, paying.mrr) == ("Acme Corp", Decimal("250.00"))


def test_a_stage_change_in_the_admin_is_recorded_with_who_made_it(admin_client_, admin_user):
    account = Account.objects.create(external_id="beta", name="Beta", currency="USD")
    url = f"/admin/customers/account/{account.pk}/change/"
    response = admin_client_.post(url, form_of(account, stage="renewal"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    move = StageChange.objects.get(account=account)
    assert (move.from_stage, move.to_stage, move.changed_by, move.source) == (
        account.stage,
        "renewal",
        admin_user,
        "admin",
    )


def test_the_currency_of_an_account_with_revenue_history_cannot_be_changed(admin_client_, paying):
    url = f"/admin/customers/account/{paying.pk}/change/"
    assert 'name="currency"' not in admin_client_.get(url).content.decode()
    admin_client_.post(url, form_of(paying, currency="EUR"))
    paying.refresh_from_db()
    assert paying.currency == "USD"


def test_the_import_log_in_the_admin_links_to_the_import_pages(admin_client_):
    page = admin_client_.get("/admin/customers/importjob/")
    assert page.status_code == 200
    assert '<a href="/customers/imports/" class="addlink">Import a CSV file</a>' in page.text
    assert admin_client_.get("/customers/imports/").status_code == 200
