"""The account page's health section: score, band, trend arrows, why it changed, history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from health.models import CsmSentiment, HealthOverride, HealthProfile, HealthSnapshot
from tests.customers.factories import SCRIPT, make_account

pytestmark = pytest.mark.django_db


def snapshot(account, days_ago: int, score: int, band: str, **components) -> HealthSnapshot:
    measures = {
        key: {"kind": key, "group": "G", "value": None, "score": value}
        for key, value in components.items()
    }
    return HealthSnapshot.objects.create(
        account=account,
        day=timezone.localdate() - dt.timedelta(days=days_ago),
        score=score,
        band=band,
        components={"measures": measures, "groups": {}},
        profile=HealthProfile.objects.get(name="Standard"),
    )


def panel(client, account, **headers):
    return client.get(reverse("health:account_panel", args=[account.pk]), **headers)


def test_the_account_page_loads_the_health_section_by_htmx_with_a_link_as_fallback(csm_client):
    account = make_account()

    page = csm_client.get(reverse("customers:account", args=[account.pk])).text

    url = reverse("health:account_panel", args=[account.pk])
    assert f'hx-get="{url}"' in page
    assert f'<a href="{url}">Open health</a>' in page


def test_the_section_shows_score_band_trends_and_why_it_changed(csm_client):
    account = make_account()
    snapshot(account, 30, 80, "green", open_tickets=100, days_since_activity=90)
    snapshot(account, 7, 72, "yellow", open_tickets=70, days_since_activity=90)
    snapshot(account, 0, 52, "yellow", open_tickets=30, days_since_activity=60)

    response = panel(csm_client, account, HTTP_HX_REQUEST="true")

    text = response.text
    assert response.status_code == 200
    assert "<html" not in text  # a fragment for htmx
    assert '<span class="badge health-yellow">52 yellow</span>' in text
    assert 'data-trend="7" title="since 7 days ago">↓ -20 in 7 days' in text
    assert 'data-trend="30" title="since 30 days ago">↓ -28 in 30 days' in text
    # The largest move first: open tickets 70 → 30, then days since activity 90 → 60.
    # Scores of the measures (0–100), not their raw values (days, tickets): said so.
    assert text.index("Open tickets: its score 70 → 30 (of 100)") < text.index(
        "Days since last activity: its score 90 → 60 (of 100)"
    )
    assert 'data-plotly-spec="health-spec"' in text


def test_followed_as_a_link_the_section_is_a_whole_page(viewer_client):
    account = make_account()
    snapshot(account, 0, 40, "red")

    text = panel(viewer_client, account).text

    assert "<html" in text
    assert '<span class="badge health-red">40 red</span>' in text


def test_an_unscored_account_says_so(csm_client):
    text = panel(csm_client, make_account(), HTTP_HX_REQUEST="true").text

    assert "Not scored yet" in text


def test_an_override_reason_is_shown_as_text(csm_client):
    account = make_account()
    s = snapshot(account, 0, 20, "red")
    s.components["override"] = {"computed_score": 70, "reason": SCRIPT, "expires_at": "2030-01-01"}
    s.source = "override"
    s.save()

    text = panel(csm_client, account, HTTP_HX_REQUEST="true").text

    assert SCRIPT not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "computed 70" in text


def test_it_needs_a_login_and_an_existing_account(csm_client):
    account = make_account()

    assert panel(Client(), account).status_code == 302
    missing = csm_client.get(reverse("health:account_panel", args=[account.pk + 999]))
    assert missing.status_code == 404


def override(client, account, data, **headers):
    return client.post(reverse("health:account_override", args=[account.pk]), data, **headers)


def test_a_csm_overrides_the_score_with_a_reason_and_sees_it_at_once(csm_client, csm_user):
    account = make_account()

    response = override(
        csm_client,
        account,
        {"score": "35", "reason": "Champion left", "days": "14"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert '<span class="badge health-red">35 red</span>' in response.text
    assert "Champion left" in response.text
    made = HealthOverride.objects.get(account=account)
    assert (made.score, made.reason, made.created_by) == (35, "Champion left", csm_user)
    assert dt.timedelta(days=13, hours=23) < made.expires_at - timezone.now() <= dt.timedelta(14)
    assert HealthSnapshot.objects.get(account=account).source == "override"


def test_an_override_without_a_reason_is_refused_in_place(csm_client):
    account = make_account()

    response = override(
        csm_client, account, {"score": "35", "reason": " ", "days": "14"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 422
    assert "This field is required." in response.text
    assert not HealthOverride.objects.exists()


def test_without_javascript_an_override_returns_to_the_account_page(csm_client):
    account = make_account()

    response = override(
        csm_client, account, {"score": "80", "reason": "QBR went well", "days": "7"}
    )

    assert response.status_code == 302
    assert response.url == reverse("customers:account", args=[account.pk])


def test_a_viewer_cannot_override_and_no_form_is_shown(viewer_client):
    account = make_account()

    assert "Override the score" not in panel(viewer_client, account).text
    assert (
        override(viewer_client, account, {"score": "1", "reason": "x", "days": "7"}).status_code
        == 403
    )
    assert not HealthOverride.objects.exists()


def test_an_override_needs_its_csrf_token(csm_user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(csm_user)

    response = override(strict, make_account(), {"score": "1", "reason": "x", "days": "7"})

    assert response.status_code == 403
    assert not HealthOverride.objects.exists()


def sentiment(client, account, data, **headers):
    return client.post(reverse("health:account_sentiment", args=[account.pk]), data, **headers)


def test_a_csm_records_their_sentiment_and_the_score_takes_it_in(csm_client, csm_user):
    account = make_account(created_at=timezone.now() - dt.timedelta(days=400))  # Standard

    response = sentiment(
        csm_client, account, {"value": "0", "note": "Budget cuts announced"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert "<strong>Poor</strong> — Budget cuts announced" in response.text
    recorded = CsmSentiment.objects.get(account=account)
    assert (recorded.value, recorded.set_by) == (0, csm_user)
    snapshot = HealthSnapshot.objects.get(account=account)
    assert any(
        m["kind"] == "csm_sentiment" and m["score"] == 0.0
        for m in snapshot.components["measures"].values()
    )


def test_a_sentiment_outside_the_choices_is_refused_in_place(csm_client):
    response = sentiment(csm_client, make_account(), {"value": "77"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 422
    assert not CsmSentiment.objects.exists()


def test_a_viewer_cannot_record_a_sentiment(viewer_client):
    account = make_account()

    assert sentiment(viewer_client, account, {"value": "100"}).status_code == 403
    assert "Save sentiment" not in panel(viewer_client, account).text
