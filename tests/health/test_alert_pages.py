"""Alerts on the pages: the account's alerts section, snoozing and closing (htmx and plain
posts), the alerts list with its filters; permissions, CSRF and escaping."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from health.models import Alert, AlertEvent
from health.services import health_recompute
from tests.concurrency import POSTGRES_ONLY, run_together
from tests.customers.factories import SCRIPT, make_account, make_ticket
from tests.health.test_alerts import old_account, only_rules

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def open_alert(
    account=None, *, owner=None, severity="high", reason="No login for 40 days."
) -> Alert:
    account = account or make_account(owner=owner)
    return Alert.objects.create(
        account=account, kind="inactive", severity=severity, reason=reason, owner=owner
    )


def test_the_account_page_loads_the_alerts_section_with_a_link_as_fallback(csm_client):
    account = make_account()
    page = csm_client.get(reverse("customers:account", args=[account.pk])).text
    url = reverse("health:account_alerts", args=[account.pk])
    assert f'hx-get="{url}"' in page and f'<a href="{url}">Open alerts</a>' in page


def test_the_alerts_section_lists_live_alerts_worst_first(csm_client):
    account = make_account()
    low = open_alert(account, severity="low")
    Alert.objects.filter(pk=low.pk).update(kind="card_expiring")
    high = open_alert(account, severity="high")

    html = csm_client.get(reverse("health:account_alerts", args=[account.pk]), **HTMX).text

    assert html.index(f'id="alert-{high.pk}"') < html.index(f'id="alert-{low.pk}"')
    assert 'data-live-alerts="2"' in html


def test_a_csm_snoozes_an_alert_with_htmx_and_gets_the_row_back_with_the_timeline_reloading(
    csm_client, csm_user
):
    alert = open_alert()

    response = csm_client.post(
        reverse("health:alert_snooze", args=[alert.pk]), {"days": "7"}, **HTMX
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "timeline-changed"
    assert 'data-status="snoozed"' in response.text and "Snoozed until" in response.text
    alert.refresh_from_db()
    assert alert.status == "snoozed"
    assert alert.snoozed_until.date() == timezone.now().date() + dt.timedelta(days=7)
    assert AlertEvent.objects.get(alert=alert, action="snoozed").by == csm_user


def test_a_plain_post_goes_back_to_the_page_it_came_from_and_never_off_site(csm_client):
    alert = open_alert()
    url = reverse("health:alert_close", args=[alert.pk])

    back = csm_client.post(url, {"next": "/health/alerts/?owner=all"})
    assert back.status_code == 302 and back["Location"] == "/health/alerts/?owner=all"

    other = open_alert()
    away = csm_client.post(
        reverse("health:alert_close", args=[other.pk]), {"next": "https://evil.example/"}
    )
    assert away["Location"] == reverse("customers:account", args=[other.account_id])


def test_a_bad_snooze_length_is_refused_with_a_message_and_changes_nothing(csm_client):
    alert = open_alert()
    response = csm_client.post(
        reverse("health:alert_snooze", args=[alert.pk]), {"days": "5000"}, **HTMX
    )
    assert response.status_code == 422
    assert "Choose how long to snooze for." in response.text
    alert.refresh_from_db()
    assert alert.status == "open"


def test_closing_a_closed_alert_says_so(csm_client):
    alert = open_alert()
    csm_client.post(reverse("health:alert_close", args=[alert.pk]), **HTMX)
    again = csm_client.post(reverse("health:alert_close", args=[alert.pk]), **HTMX)
    assert again.status_code == 422 and "closed already" in again.text
    assert AlertEvent.objects.filter(alert=alert, action="closed").count() == 1


def test_a_viewer_may_read_alerts_but_not_snooze_or_close_them(viewer_client):
    alert = open_alert()
    assert viewer_client.get(reverse("health:alerts") + "?owner=all").status_code == 200
    section = viewer_client.get(reverse("health:account_alerts", args=[alert.account_id]), **HTMX)
    assert "Snooze" not in section.text
    for name in ("health:alert_snooze", "health:alert_close"):
        assert viewer_client.post(reverse(name, args=[alert.pk]), {"days": "7"}).status_code == 403
    alert.refresh_from_db()
    assert alert.status == "open"


def test_anonymous_visitors_are_sent_to_sign_in(client):
    alert = open_alert()
    for response in (
        client.get(reverse("health:alerts")),
        client.post(reverse("health:alert_close", args=[alert.pk])),
    ):
        assert response.status_code == 302 and "/auth/login/" in response["Location"]
    alert.refresh_from_db()
    assert alert.status == "open"


def test_a_snooze_without_the_csrf_token_is_refused(csm_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(csm_user)
    alert = open_alert()
    response = client.post(reverse("health:alert_snooze", args=[alert.pk]), {"days": "7"})
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.status == "open"


def test_reasons_and_names_from_the_data_are_escaped(csm_client):
    only_rules("stale_ticket")
    account = old_account(name=SCRIPT)
    make_ticket(
        account, priority="urgent", subject=SCRIPT, opened_at=timezone.now() - dt.timedelta(days=20)
    )
    health_recompute()

    for response in (
        csm_client.get(reverse("health:account_alerts", args=[account.pk]), **HTMX),
        csm_client.get(reverse("health:alerts") + "?owner=all"),
        csm_client.get(reverse("customers:account_timeline", args=[account.pk]), **HTMX),
    ):
        assert SCRIPT not in response.text
        assert "&lt;script&gt;" in response.text


def test_the_alerts_list_shows_mine_by_default_and_everyones_on_request(
    csm_client, csm_user, admin_user
):
    mine = open_alert(owner=csm_user)
    theirs = open_alert(owner=admin_user)

    default = csm_client.get(reverse("health:alerts")).text
    everyone = csm_client.get(reverse("health:alerts") + "?owner=all").text

    assert f'id="alert-{mine.pk}"' in default and f'id="alert-{theirs.pk}"' not in default
    assert f'id="alert-{theirs.pk}"' in everyone


def test_the_alerts_list_filters_by_status_signal_and_severity_in_the_url(csm_client):
    snoozed = open_alert(severity="low")
    Alert.objects.filter(pk=snoozed.pk).update(
        status="snoozed", snoozed_until=timezone.now() + dt.timedelta(days=1)
    )
    high = open_alert(severity="high")

    def ids(query: str) -> str:
        return csm_client.get(reverse("health:alerts") + "?owner=all&" + query).text

    assert f'id="alert-{high.pk}"' in ids("status=open")
    assert f'id="alert-{snoozed.pk}"' not in ids("status=open")
    assert f'id="alert-{snoozed.pk}"' in ids("status=snoozed&severity=low")
    assert f'id="alert-{high.pk}"' not in ids("kind=data_export")
    partial = csm_client.get(reverse("health:alerts") + "?owner=all", **HTMX).text
    assert partial.lstrip().startswith('<div id="alert-list">')


def test_the_alerts_list_takes_the_same_queries_for_5_or_40_alerts(csm_client):
    def count(n: int) -> int:
        for _ in range(n):
            open_alert()
        with CaptureQueriesContext(connection) as captured:
            assert csm_client.get(reverse("health:alerts") + "?owner=all").status_code == 200
        return len(captured)

    few = count(5)
    assert count(35) == few


class TestConcurrentRecomputes:
    pytestmark = POSTGRES_ONLY

    def test_two_recomputes_of_the_same_account_at_once_open_one_alert(self):
        only_rules("inactive", "card_expiring")
        account = old_account()
        soon = timezone.now() + dt.timedelta(days=10)
        account.card_exp_month, account.card_exp_year = soon.month, soon.year
        account.save()

        run_together(*[lambda: health_recompute(account_ids=[account.pk])] * 4)

        assert sorted(Alert.objects.filter(account=account).values_list("kind", flat=True)) == [
            "card_expiring",
            "inactive",
        ]
        assert AlertEvent.objects.filter(account=account, action="opened").count() == 2


def test_an_unknown_filter_value_is_named_and_the_list_falls_back_to_the_defaults(csm_client):
    response = csm_client.get(reverse("health:alerts") + "?status=bogus&kind=nope")
    assert response.status_code == 200
    assert "Select a valid choice. bogus is not one of the available choices." in response.text
