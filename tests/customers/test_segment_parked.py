"""Segment messages answered 200 are never lost: an identify or track for an account or contact
not known yet is parked, applied when it appears, and given up (kept, with why) after 30 days."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.celery import app
from customers.ingest import parked
from customers.models import Account, Contact, DailyUsage, ParkedMessage, UsageEvent
from customers.tasks import apply_parked_messages
from tests.customers.api_client import basic, bearer, post
from tests.customers.factories import make_account, make_contact, make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth():
    return basic(make_key("segment"))


IDENTIFY = {
    "type": "identify",
    "userId": "u1",
    "messageId": "i-1",
    "traits": {"email": "ada@acme.example", "name": "Ada", "seat": "admin"},
}
TRACK = {
    "type": "track",
    "userId": "u1",
    "event": "Report Exported",
    "messageId": "t-1",
    "timestamp": "2025-05-01T09:00:00Z",
}
GROUP = {
    "type": "group",
    "groupId": "acme",
    "userId": "u1",
    "messageId": "g-1",
    "traits": {"name": "Acme"},
}


def test_segments_usual_order_across_requests_loses_nothing(
    client, auth, django_capture_on_commit_callbacks
):
    identify = post(client, "/v1/batch", {"batch": [IDENTIFY]}, headers=auth)
    track = post(client, "/v1/batch", {"batch": [TRACK]}, headers=auth)

    for response in (identify, track):
        assert response.status_code == 200
        assert response.json() == {"accepted": 0, "duplicates": 0, "rejected": [], "parked": 1}
    assert {(p.kind, p.waiting_kind, p.waiting_id) for p in ParkedMessage.objects.all()} == {
        ("identify", "contact", "u1"),
        ("track", "contact", "u1"),
    }

    with django_capture_on_commit_callbacks(execute=True):
        group = post(client, "/v1/batch", {"batch": [GROUP]}, headers=auth)

    assert group.json() == {"accepted": 1, "duplicates": 0, "rejected": [], "parked": 0}
    ada = Contact.objects.get(external_id="u1")
    assert (ada.account.external_id, ada.email, ada.name, ada.traits) == (
        "acme",
        "ada@acme.example",
        "Ada",
        {"seat": "admin"},
    )
    assert UsageEvent.objects.get().contact == ada
    assert not ParkedMessage.objects.exists()


def test_applying_a_parked_message_twice_stores_nothing_twice(client, auth):
    post(client, "/v1/batch", {"batch": [TRACK]}, headers=auth)
    ids = list(ParkedMessage.objects.values_list("pk", flat=True))
    make_contact(make_account("acme"), "u1")
    row = ParkedMessage.objects.get()

    first = apply_parked_messages.delay(ids).get()
    ParkedMessage.objects.bulk_create([row])  # as if a second worker had read it before
    second = parked.apply(ids=ids)
    gone = apply_parked_messages.delay(ids).get()

    assert (first["applied"], second["applied"], gone["applied"]) == (1, 1, 0)
    assert UsageEvent.objects.count() == 1
    assert DailyUsage.objects.get().count == 1


def test_a_redelivered_parked_message_is_a_duplicate_not_a_second_row(client, auth):
    post(client, "/v1/batch", {"batch": [TRACK]}, headers=auth)
    again = post(client, "/v1/batch", {"batch": [TRACK, TRACK]}, headers=auth)

    assert again.json() == {"accepted": 0, "duplicates": 2, "rejected": [], "parked": 0}
    assert ParkedMessage.objects.count() == 1


def test_an_identify_waiting_for_its_account_is_applied_by_the_sweep_once_it_exists(
    client, auth, django_capture_on_commit_callbacks
):
    identify = {**IDENTIFY, "context": {"groupId": "acme"}}
    post(client, "/api/v1/segment/identify", identify, headers=auth)
    post(client, "/api/v1/segment/v1/track", TRACK, headers=auth)
    waiting = ParkedMessage.objects.get(kind="identify")
    assert (waiting.waiting_kind, waiting.waiting_id) == ("account", "acme")
    assert waiting.reason == "context.groupId: unknown account 'acme'"
    # The account arrives through the plain API, not Segment: the sweep finds it.
    post(
        client,
        "/api/v1/accounts",
        {"accounts": [{"id": "acme", "name": "Acme"}]},
        headers=bearer(make_key()),
    )

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "run_scheduled", only=["customers-sweep-parked-messages"], verbosity=2, stdout=out
        )

    # The identify created u1, which woke the track waiting for it.
    assert "'applied': 1" in out.getvalue()
    assert Contact.objects.get().email == "ada@acme.example"
    assert UsageEvent.objects.get().contact.external_id == "u1"
    assert not ParkedMessage.objects.exists()


def test_the_sweep_gives_up_old_messages_and_keeps_them_with_why(client, auth):
    post(client, "/v1/batch", {"batch": [TRACK]}, headers=auth)
    ParkedMessage.objects.update(received_at=timezone.now() - dt.timedelta(days=31))

    counts = parked.sweep()

    row = ParkedMessage.objects.get()
    assert counts["expired"] == 1
    assert row.given_up_at is not None
    assert row.reason == (
        "Given up after 30 days waiting (nothing created it): userId: unknown contact 'u1'"
    )
    make_contact(make_account("acme"), "u1")
    assert parked.sweep()["applied"] == 0  # given up is final
    assert not UsageEvent.objects.exists()


def test_a_message_that_can_never_be_applied_is_given_up_with_the_reason(client, auth):
    post(client, "/v1/batch", {"batch": [{**TRACK, "context": {"groupId": "acme"}}]}, headers=auth)
    make_account("acme")
    make_contact(make_account("other"), "u1")

    counts = parked.sweep()

    row = ParkedMessage.objects.get()
    assert counts["given_up"] == 1
    assert row.reason == "Can never be applied: userId: 'u1' belongs to another account"
    assert (row.attempts, row.given_up_at is not None) == (1, True)


def test_the_sweep_is_set_based_whatever_the_number_of_messages(client, auth):
    def park_and_sweep(n: int, prefix: str) -> int:
        tracks = [
            {**TRACK, "userId": f"{prefix}{i}", "messageId": f"{prefix}-t{i}"} for i in range(n)
        ]
        post(client, "/v1/batch", {"batch": tracks}, headers=auth)
        account = make_account(f"{prefix}-acc")
        Contact.objects.bulk_create(
            Contact(account=account, external_id=f"{prefix}{i}") for i in range(n)
        )
        with CaptureQueriesContext(connection) as queries:
            counts = parked.sweep()
        assert counts["applied"] == n
        return len(queries)

    assert park_and_sweep(3, "a") == park_and_sweep(60, "b")
    assert UsageEvent.objects.count() == 63


def test_the_sweep_is_a_beat_entry_with_expires_that_runs_in_embedded_mode():
    entry = app.conf.beat_schedule["customers-sweep-parked-messages"]
    assert entry["task"] == "customers.tasks.sweep_parked_messages"
    assert 0 < entry["options"]["expires"] < entry["schedule"]
    out = StringIO()
    call_command("run_scheduled", only=["customers-sweep-parked-messages"], stdout=out)


def test_admins_see_parked_messages_read_only_with_their_age(client, auth, admin_client_):
    post(client, "/v1/batch", {"batch": [TRACK]}, headers=auth)
    ParkedMessage.objects.update(received_at=timezone.now() - dt.timedelta(days=3))
    row = ParkedMessage.objects.get()

    listing = admin_client_.get("/admin/customers/parkedmessage/")
    detail = admin_client_.get(f"/admin/customers/parkedmessage/{row.pk}/change/")
    add = admin_client_.get("/admin/customers/parkedmessage/add/")

    html = listing.content.decode()
    assert listing.status_code == 200
    assert "contact u1" in html and "3\xa0days" in html
    assert "userId: unknown contact" in html
    assert detail.status_code == 200 and b'name="reason"' not in detail.content
    assert add.status_code == 403
    assert Account.objects.count() == 0


def test_an_account_created_through_the_accounts_api_applies_what_waited_for_it_at_once(
    client, auth, django_capture_on_commit_callbacks
):
    track = {**TRACK, "userId": None, "context": {"groupId": "acme"}}
    assert post(client, "/v1/batch", {"batch": [track]}, headers=auth).json()["parked"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        created = post(
            client,
            "/api/v1/accounts",
            {"accounts": [{"id": "acme", "name": "Acme"}]},
            headers=bearer(make_key("crm")),
        )

    assert created.json()["accepted"] == 1
    assert UsageEvent.objects.get().account.external_id == "acme"
    assert not ParkedMessage.objects.exists()  # no waiting for the ten-minute sweep


def test_a_contact_created_by_a_csv_import_applies_what_waited_for_it(
    client, auth, django_capture_on_commit_callbacks
):
    from tests.customers.csv_import_helpers import imported_job

    make_account("acme")
    assert post(client, "/v1/batch", {"batch": [TRACK]}, headers=auth).json()["parked"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        imported_job("contacts", "id,account,email", "u1,acme,ada@acme.example")

    assert UsageEvent.objects.get().contact.external_id == "u1"
    assert not ParkedMessage.objects.exists()
