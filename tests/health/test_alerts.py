"""Alerts: raised by the recompute from the signal rules, never duplicated while open or
snoozed, closed by themselves when their condition clears, and every step on the timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.timeline import timeline_for
from health.models import Alert, AlertEvent, SignalRule
from health.services import (
    alert_close,
    alert_snooze,
    alerts_wake,
    health_recompute,
    health_recompute_dirty,
)
from tests.customers.api_client import bearer, event, post
from tests.customers.factories import add_usage, make_account, make_key, make_ticket

pytestmark = pytest.mark.django_db


def only_rules(*kinds: str) -> None:
    """Switch every other signal off, so a test watches the ones it is about."""
    SignalRule.objects.update(enabled=False)
    SignalRule.objects.filter(kind__in=kinds).update(enabled=True)


def today() -> dt.date:
    return timezone.localdate()


def old_account(**fields):
    fields.setdefault("created_at", timezone.now() - dt.timedelta(days=400))
    return make_account(**fields)


@pytest.fixture
def idle(csm_user):
    """An account of the CSM's whose last login was 40 days ago."""
    only_rules("inactive")
    account = old_account(owner=csm_user, name="Idle Co")
    add_usage(account, today() - dt.timedelta(days=40), login=3)
    return account


def test_an_idle_account_gets_one_inactive_alert_naming_the_days(idle, csm_user):
    health_recompute()

    alert = Alert.objects.get(account=idle)
    assert (alert.kind, alert.severity, alert.status) == ("inactive", "high", "open")
    last = today() - dt.timedelta(days=40)
    assert alert.reason == f"No login for 40 days (last on {last.isoformat()})."
    assert alert.owner == csm_user
    assert [item.title for item in timeline_for(idle)][:1] == ["Alert opened: Inactive"]


def test_a_rerun_never_duplicates_an_open_alert(idle):
    health_recompute()
    health_recompute()
    health_recompute_dirty()
    health_recompute(account_ids=[idle.pk])

    assert Alert.objects.filter(account=idle).count() == 1
    assert AlertEvent.objects.filter(account=idle, action="opened").count() == 1


def test_an_alert_closes_by_itself_when_its_condition_clears_and_the_timeline_says_so(idle):
    health_recompute()
    add_usage(idle, today(), login=1)

    health_recompute()

    alert = Alert.objects.get(account=idle)
    assert alert.status == "closed" and alert.closed_at is not None
    titles = [item.title for item in timeline_for(idle)]
    assert "Alert closed by itself, its condition cleared: Inactive" in titles


def test_a_snoozed_alert_is_not_raised_again_and_is_open_again_when_the_snooze_ends(idle, csm_user):
    health_recompute()
    alert = Alert.objects.get(account=idle)
    alert_snooze(alert_id=alert.pk, until=timezone.now() + dt.timedelta(days=7), user=csm_user)

    health_recompute()
    assert list(Alert.objects.filter(account=idle).values_list("status", flat=True)) == ["snoozed"]

    Alert.objects.filter(pk=alert.pk).update(snoozed_until=timezone.now() - dt.timedelta(minutes=1))
    assert alerts_wake() == 1
    alert.refresh_from_db()
    assert (alert.status, alert.snoozed_until) == ("open", None)
    titles = [item.title for item in timeline_for(idle)]
    assert f"Alert snoozed by {csm_user}: Inactive" in titles
    assert "Alert open again after its snooze: Inactive" in titles


def test_a_snoozed_alert_whose_condition_clears_closes(idle, csm_user):
    health_recompute()
    alert = Alert.objects.get(account=idle)
    alert_snooze(alert_id=alert.pk, until=timezone.now() + dt.timedelta(days=7), user=csm_user)
    add_usage(idle, today(), login=1)

    health_recompute()

    alert.refresh_from_db()
    assert alert.status == "closed"


def test_a_snooze_must_end_in_the_future_and_within_180_days(idle):
    from django.core.exceptions import ValidationError

    health_recompute()
    alert = Alert.objects.get(account=idle)
    with pytest.raises(ValidationError, match="future"):
        alert_snooze(alert_id=alert.pk, until=timezone.now() - dt.timedelta(hours=1))
    with pytest.raises(ValidationError, match="180 days"):
        alert_snooze(alert_id=alert.pk, until=timezone.now() + dt.timedelta(days=181))
    alert.refresh_from_db()
    assert alert.status == "open"


def test_closing_by_hand_records_who_and_a_condition_that_still_holds_opens_a_new_alert(
    idle, csm_user
):
    health_recompute()
    first = Alert.objects.get(account=idle)
    alert_close(alert_id=first.pk, user=csm_user, note="Called them")

    health_recompute()

    statuses = list(
        Alert.objects.filter(account=idle).order_by("pk").values_list("status", flat=True)
    )
    assert statuses == ["closed", "open"]
    closed = AlertEvent.objects.get(alert=first, action="closed")
    assert (closed.by, closed.note) == (csm_user, "Called them")


def test_switching_a_signal_off_in_the_admin_closes_its_alerts_at_the_next_recompute(idle):
    health_recompute()
    SignalRule.objects.filter(kind="inactive").update(enabled=False)

    health_recompute()

    assert Alert.objects.get(account=idle).status == "closed"


def test_an_edited_threshold_applies_at_the_next_recompute(idle):
    SignalRule.objects.filter(kind="inactive").update(threshold=60)
    health_recompute()
    assert not Alert.objects.exists()

    SignalRule.objects.filter(kind="inactive").update(threshold=35)
    health_recompute()
    assert Alert.objects.filter(account=idle, status="open").count() == 1


def test_a_past_day_recompute_leaves_alerts_alone(idle):
    health_recompute(day=today() - dt.timedelta(days=3))
    assert not Alert.objects.exists()


def test_a_churned_accounts_alerts_close(idle):
    health_recompute()
    idle.churned_at = timezone.now() - dt.timedelta(hours=1)
    idle.save(update_fields=["churned_at"])

    health_recompute()

    assert Alert.objects.get(account=idle).status == "closed"


def test_a_data_export_sent_through_the_ingest_api_raises_an_alert(
    client: Client, django_capture_on_commit_callbacks
):
    only_rules("data_export", "cancel_page")
    account = old_account(external_id="acme")
    key = make_key()
    at = timezone.now().replace(microsecond=0).isoformat()
    body = {
        "events": [
            event("e-1", "acme", type="data_export", at=at),
            event("e-2", "acme", type="cancel_page_visit", at=at),
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, "/api/v1/events", body, headers=bearer(key)).status_code == 200

    health_recompute_dirty()  # the incremental recompute the write marked the account for

    kinds = set(Alert.objects.filter(account=account).values_list("kind", flat=True))
    assert kinds == {"data_export", "cancel_page"}


def test_a_segment_track_of_a_cancel_page_view_raises_an_alert(
    client: Client, django_capture_on_commit_callbacks
):
    from tests.customers.api_client import basic

    only_rules("cancel_page")
    account = old_account(external_id="globex")
    message = {
        "type": "track",
        "event": "Cancel Page Viewed",
        "messageId": "m-1",
        "context": {"groupId": "globex"},
        "timestamp": timezone.now().replace(microsecond=0).isoformat(),
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, "/v1/track", message, headers=basic(make_key("segment")))
    assert response.status_code == 200

    health_recompute_dirty()

    alert = Alert.objects.get(account=account)
    assert alert.kind == "cancel_page"
    assert alert.reason == f"Cancel page visited: Cancel Page Viewed on {today().isoformat()}."


def test_a_stale_high_priority_ticket_alert_names_the_ticket():
    only_rules("stale_ticket")
    account = old_account()
    make_ticket(
        account,
        priority="high",
        subject="SSO broken",
        opened_at=timezone.now() - dt.timedelta(days=20),
    )
    make_ticket(account, priority="low", opened_at=timezone.now() - dt.timedelta(days=90))

    health_recompute()

    alert = Alert.objects.get(account=account)
    assert alert.reason == "High-priority ticket “SSO broken” open for 20 days."


def test_the_alert_reads_a_chunk_in_a_fixed_number_of_queries():
    """Twenty accounts or five: the same number of queries (set-based per chunk)."""

    def queries_for(count: int) -> int:
        for _ in range(count):
            account = old_account()
            add_usage(account, today() - dt.timedelta(days=50), login=1)
            make_ticket(
                account, priority="urgent", opened_at=timezone.now() - dt.timedelta(days=30)
            )
        with CaptureQueriesContext(connection) as captured:
            health_recompute()
        return len(captured)

    few = queries_for(5)
    Alert.objects.all().delete()
    assert queries_for(15) == few
