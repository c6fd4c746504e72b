"""Segment-compatible endpoints: identify, group, track and batch with Segment's own field
names, so a Segment webhook destination can point at Tenure."""

from __future__ import annotations

import pytest

from customers.models import Account, Contact, DailyUsage, ParkedMessage, UsageEvent
from tests.customers.api_client import basic, post
from tests.customers.factories import SCRIPT, make_account, make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth():
    return basic(make_key("segment"))


def test_group_identify_and_track_build_an_account_its_people_and_their_events(client, auth):
    group = post(
        client,
        "/api/v1/segment/group",
        {
            "type": "group",
            "groupId": "acme",
            "userId": "u1",
            "traits": {
                "name": "Acme",
                "website": "https://acme.example/home",
                "plan": "Pro",
                "employees": 40,
            },
            "messageId": "g-1",
        },
        headers=auth,
    )
    identify = post(
        client,
        "/api/v1/segment/identify",
        {
            "userId": "u1",
            "traits": {
                "email": "ada@acme.example",
                "firstName": "Ada",
                "lastName": "L",
                "title": "CTO",
            },
            "context": {"locale": "nb-NO"},
        },
        headers=auth,
    )
    track = post(
        client,
        "/api/v1/segment/track",
        {
            "userId": "u1",
            "event": "Report Exported",
            "messageId": "m-1",
            "timestamp": "2025-05-01T09:00:00.000Z",
            "properties": {"format": "csv"},
        },
        headers=auth,
    )

    for response in (group, identify, track):
        assert response.status_code == 200, response.content
        assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": [], "parked": 0}
    acme = Account.objects.get()
    assert (acme.name, acme.domain, acme.plan, acme.traits) == (
        "Acme",
        "acme.example",
        "Pro",
        {"employees": 40},
    )
    ada = Contact.objects.get()
    assert (ada.account, ada.email, ada.name, ada.role, ada.locale) == (
        acme,
        "ada@acme.example",
        "Ada L",
        "CTO",
        "nb",
    )
    stored = UsageEvent.objects.get()
    assert (stored.source, stored.event_id, stored.type, stored.contact) == (
        "segment",
        "m-1",
        "Report Exported",
        ada,
    )
    assert stored.properties == {"format": "csv"}


def test_a_redelivered_track_is_a_duplicate(client, auth):
    make_account("acme")
    message = {
        "event": "Signed In",
        "messageId": "m-1",
        "timestamp": "2025-05-01T09:00:00Z",
        "context": {"groupId": "acme"},
    }

    post(client, "/api/v1/segment/track", message, headers=auth)
    again = post(client, "/api/v1/segment/track", message, headers=auth)

    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": [], "parked": 0}
    assert DailyUsage.objects.get().count == 1


def test_a_refused_single_call_is_a_400_naming_segments_field(client, auth):
    anonymous = post(
        client,
        "/api/v1/segment/identify",
        {"anonymousId": "a-1", "traits": {"email": "x@example.com"}},
        headers=auth,
    )
    no_message_id = post(
        client,
        "/api/v1/segment/track",
        {"event": "Signed In", "context": {"groupId": "acme"}},
        headers=auth,
    )

    assert [r.status_code for r in (anonymous, no_message_id)] == [400, 400]
    assert anonymous.json()["detail"] == "userId: is required (anonymous users are not contacts)"
    assert no_message_id.json()["detail"].startswith("messageId: is required")
    assert not Contact.objects.exists() and not UsageEvent.objects.exists()
    assert not ParkedMessage.objects.exists()


def test_an_identify_for_a_user_not_known_yet_is_parked_not_refused(client, auth):
    response = post(
        client, "/api/v1/segment/identify", {"userId": "u9", "traits": {}}, headers=auth
    )

    assert response.status_code == 200
    assert response.json() == {"accepted": 0, "duplicates": 0, "rejected": [], "parked": 1}
    parked = ParkedMessage.objects.get()
    assert (parked.kind, parked.waiting_kind, parked.waiting_id) == ("identify", "contact", "u9")
    assert parked.reason == "context.groupId: is required for a new contact"
    assert not Contact.objects.exists()


def test_a_batch_applies_groups_then_identifies_then_tracks_and_answers_per_message(client, auth):
    body = {
        "batch": [
            {
                "type": "track",
                "userId": "u1",
                "event": "Signed In",
                "messageId": "m-1",
                "timestamp": "2025-05-01T09:00:00Z",
            },
            {"type": "identify", "userId": "u1", "traits": {"name": SCRIPT}},
            {"type": "group", "groupId": "acme", "userId": "u1", "traits": {"name": "Acme"}},
            {"type": "page", "userId": "u1", "name": "Home"},
            {"type": "track", "event": "Orphan", "messageId": "m-2"},
            {"type": "group", "groupId": "nameless"},
        ],
        "context": {"library": {"name": "analytics-node"}},
    }

    response = post(client, "/api/v1/segment/batch", body, headers=auth)

    assert response.status_code == 200
    assert response.json() == {
        "accepted": 3,
        "duplicates": 0,
        "rejected": [
            {"index": 3, "error": "type: 'page' is not used; send identify, group or track"},
            {
                "index": 4,
                "error": "userId: or context.groupId is required to know whose event this is",
            },
        ],
        "parked": 1,  # the nameless group, until account "nameless" exists
    }
    assert ParkedMessage.objects.get().reason == "traits.name: is required for a new account"
    contact = Contact.objects.get()
    assert (contact.account.external_id, contact.name) == ("acme", SCRIPT)
    assert UsageEvent.objects.get().contact == contact

    replay = post(client, "/api/v1/segment/batch", body, headers=auth)
    assert (replay.json()["accepted"], replay.json()["duplicates"]) == (0, 3)
    assert replay.json()["parked"] == 1  # a message without messageId cannot be told apart
    assert UsageEvent.objects.count() == 1


@pytest.mark.parametrize("user_id", [1.5, True, "u" * 256])
def test_a_group_with_a_bad_user_id_is_refused_whole_and_writes_nothing(client, auth, user_id):
    response = post(
        client,
        "/api/v1/segment/group",
        {"type": "group", "groupId": "acme", "userId": user_id, "traits": {"name": "Acme"}},
        headers=auth,
    )
    assert response.status_code == 400
    assert "userId" in response.json()["rejected"][0]["error"]
    assert not Account.objects.exists()
    assert not Contact.objects.exists()


def test_one_webhook_url_takes_each_message_by_its_type(client, auth):
    group = {"type": "group", "groupId": "acme", "traits": {"name": "Acme"}}
    identify = {"type": "identify", "userId": "u1", "traits": {"email": "a@acme.example"}}
    identify["context"] = {"groupId": "acme"}
    page = {"type": "page", "userId": "u1", "messageId": "p-1"}
    assert post(client, "/api/v1/segment/", group, headers=auth).status_code == 200
    assert post(client, "/api/v1/segment/", identify, headers=auth).status_code == 200
    refused = post(client, "/api/v1/segment/", page, headers=auth)
    assert refused.status_code == 400
    assert "'page' is not used" in refused.json()["rejected"][0]["error"]
    assert Contact.objects.get().account == Account.objects.get(external_id="acme")


def test_a_track_past_the_calendars_edge_is_refused_alone_and_the_batch_lands(client, auth):
    body = {
        "batch": [
            {"type": "group", "groupId": "acme", "userId": "u1", "traits": {"name": "Acme"}},
            {
                "type": "track",
                "userId": "u1",
                "event": "Signed In",
                "messageId": "m-edge",
                "timestamp": "9999-12-31T23:00:00-02:00",
            },
        ]
    }

    response = post(client, "/api/v1/segment/batch", body, headers=auth)

    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert response.json()["rejected"] == [
        {
            "index": 1,
            "error": "timestamp: '9999-12-31T23:00:00-02:00' is outside the calendar's range in UTC",
        }
    ]
    assert Account.objects.get().external_id == "acme"
    assert not UsageEvent.objects.exists()
