"""The ingest endpoints over HTTP: request shapes from issue 3, clear 4xx answers for bad
bodies (never a 500), the size limits, the OpenAPI document and its docs page."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.staticfiles import finders
from django.db import IntegrityError, OperationalError

from customers import ingest
from customers.models import Account, Contact, DailyUsage, RevenueChange, Ticket, UsageEvent
from tests.customers.api_client import bearer, event, post
from tests.customers.factories import SCRIPT, make_account, make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def key():
    return make_key()


@pytest.fixture
def acme():
    return make_account("acme", name="Acme")


def test_the_five_batch_endpoints_take_the_documented_shapes(client, key, csm_user):
    auth = bearer(key)
    accounts = post(
        client,
        "/api/v1/accounts",
        {
            "accounts": [
                {
                    "id": "acme",
                    "name": "Acme",
                    "domain": "acme.example",
                    "plan": "Pro",
                    "owner_email": "csm@example.com",
                    "traits": {"seats": 12},
                }
            ]
        },
        headers=auth,
    )
    contacts = post(
        client,
        "/api/v1/contacts",
        {
            "contacts": [
                {
                    "id": "u1",
                    "account": "acme",
                    "email": "ada@acme.example",
                    "name": "Ada",
                    "locale": "sv",
                    "birthday": "1990-04-01",
                }
            ]
        },
        headers=auth,
    )
    events = post(
        client,
        "/api/v1/events",
        {
            "events": [
                {
                    "id": "e1",
                    "account": "acme",
                    "contact": "u1",
                    "type": "feature_used",
                    "timestamp": "2025-05-01T09:00:00Z",
                    "properties": {"feature": "reports"},
                }
            ]
        },
        headers=auth,
    )
    revenue = post(
        client,
        "/api/v1/revenue",
        {
            "revenue": [
                {
                    "id": "r1",
                    "account": "acme",
                    "mrr": "99.50",
                    "effective_at": "2025-01-01T00:00:00Z",
                }
            ]
        },
        headers=auth,
    )
    tickets = post(
        client,
        "/api/v1/tickets",
        {
            "tickets": [
                {
                    "id": "t1",
                    "account": "acme",
                    "contact": "u1",
                    "subject": "Export fails",
                    "priority": "urgent",
                    "opened_at": "2025-05-01T10:00:00Z",
                }
            ]
        },
        headers=auth,
    )

    for response in (accounts, contacts, events, revenue, tickets):
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    account = Account.objects.get()
    assert (account.owner, account.mrr, account.plan) == (csm_user, Decimal("99.50"), "Pro")
    assert Contact.objects.get().locale == "sv"
    assert UsageEvent.objects.get().properties == {"feature": "reports"}
    assert RevenueChange.objects.get().kind == "started"
    assert Ticket.objects.get().priority == "urgent"


def test_a_mixed_batch_answers_per_item_and_a_replay_creates_nothing(client, key, acme):
    body = {
        "events": [
            event("ok", "acme", at="2025-05-01T09:00:00Z"),
            event("naive", "acme", at="2025-05-01T09:00:00"),
            event("ghost", "nobody", at="2025-05-01T09:00:00Z"),
        ]
    }

    first = post(client, "/api/v1/events", body, headers=bearer(key))
    replay = post(client, "/api/v1/events", body, headers=bearer(key))

    rejected = [
        {"index": 1, "error": "timestamp: must carry a timezone offset, e.g. 2025-05-01T12:00:00Z"},
        {"index": 2, "error": "account: unknown account 'nobody'"},
    ]
    assert first.json() == {"accepted": 1, "duplicates": 0, "rejected": rejected}
    assert replay.json() == {"accepted": 0, "duplicates": 1, "rejected": rejected}
    assert UsageEvent.objects.count() == 1
    assert DailyUsage.objects.get().count == 1


EDGE_OF_THE_CALENDAR = ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"]


@pytest.mark.parametrize("moment", EDGE_OF_THE_CALENDAR)
def test_a_timestamp_past_the_calendars_edge_in_utc_is_refused_and_the_rest_land(
    client, key, acme, moment
):
    events = {
        "events": [event("edge", "acme", at=moment), event("ok", "acme", at="2025-05-01T09:00:00Z")]
    }
    tickets = {
        "tickets": [
            {"id": "edge", "account": "acme", "subject": "Old", "opened_at": moment},
            {"id": "ok", "account": "acme", "subject": "Fine", "opened_at": "2025-05-01T09:00:00Z"},
        ]
    }
    revenue = {
        "revenue": [
            {"id": "edge", "account": "acme", "mrr": "10", "effective_at": moment},
            {"id": "ok", "account": "acme", "mrr": "10", "effective_at": "2025-05-01T00:00:00Z"},
        ]
    }
    for path, body, field in [
        ("/api/v1/events", events, "timestamp"),
        ("/api/v1/tickets", tickets, "opened_at"),
        ("/api/v1/revenue", revenue, "effective_at"),
    ]:
        response = post(client, path, body, headers=bearer(key))

        assert response.status_code == 200, path
        assert response.json() == {
            "accepted": 1,
            "duplicates": 0,
            "rejected": [
                {"index": 0, "error": f"{field}: '{moment}' is outside the calendar's range in UTC"}
            ],
        }
    assert list(UsageEvent.objects.values_list("event_id", flat=True)) == ["ok"]
    assert list(Ticket.objects.values_list("external_id", flat=True)) == ["ok"]
    assert list(RevenueChange.objects.values_list("external_id", flat=True)) == ["ok"]


@pytest.mark.parametrize(
    ("mrr", "reason"),
    [
        (
            "1e30",
            "'1e30' is not an amount; write digits with at most two decimals after a dot, e.g. 1499.50",
        ),
        (
            1e300,
            "'1e+300' is not an amount; write digits with at most two decimals after a dot, e.g. 1499.50",
        ),
        (
            "1e999999999",
            "'1e999999999' is not an amount; write digits with at most two decimals after a dot, e.g. 1499.50",
        ),
        (
            "-1e30",
            "'-1e30' is not an amount; write digits with at most two decimals after a dot, e.g. 1499.50",
        ),
        ("1000000000000", "must be below 1,000,000,000,000"),
    ],
)
def test_an_absurd_mrr_is_refused_with_its_field_and_the_rest_land(client, key, acme, mrr, reason):
    body = {
        "revenue": [
            {"id": "big", "account": "acme", "mrr": mrr, "effective_at": "2025-05-01T00:00:00Z"},
            {"id": "ok", "account": "acme", "mrr": "99.50", "effective_at": "2025-06-01T00:00:00Z"},
        ]
    }

    response = post(client, "/api/v1/revenue", body, headers=bearer(key))

    assert response.status_code == 200
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [{"index": 0, "error": f"mrr: {reason}"}],
    }
    assert RevenueChange.objects.get().mrr == Decimal("99.50")


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b'{"events": [', 400, "The body is not valid JSON"),
        (b"", 400, "The body is empty: send a JSON object."),
        (b"[1, 2]", 422, 'body: must be a JSON object like {"events": [...]}'),
        (b'{"evnts": []}', 422, "events: is required (a list of at most 1000 items)"),
        (b'{"events": {"id": "e1"}}', 422, "events: must be a list"),
        (b"\xff\xfe", 400, "The body is not valid JSON"),
    ],
)
def test_bad_bodies_get_a_clear_4xx_never_a_500(client, key, body, status, detail):
    response = client.post(
        "/api/v1/events", data=body, content_type="application/json", **bearer(key)
    )

    assert response.status_code == status
    assert response.json()["detail"].startswith(detail)


def test_more_than_1000_events_is_413_and_stores_nothing(client, key, acme):
    body = {"events": [event(f"e{n}", "acme", at="2025-05-01T09:00:00Z") for n in range(1001)]}

    response = post(client, "/api/v1/events", body, headers=bearer(key))

    assert response.status_code == 413
    assert response.json()["detail"] == (
        "events has 1,001 items; a request takes at most 1000 items and 1,048,576 bytes (1 MB). "
        "Split it into smaller batches."
    )
    assert not UsageEvent.objects.exists()


def test_exactly_1000_events_is_fine(client, key, acme):
    body = {"events": [event(f"e{n}", "acme", at="2025-05-01T09:00:00Z") for n in range(1000)]}

    response = post(client, "/api/v1/events", body, headers=bearer(key))

    assert response.status_code == 200
    assert response.json()["accepted"] == 1000
    assert DailyUsage.objects.get().count == 1000


def test_a_body_over_one_megabyte_is_413_and_stores_nothing(client, key, acme):
    padding = "x" * 2000
    body = {
        "events": [
            event(f"e{n}", "acme", at="2025-05-01T09:00:00Z", properties={"pad": padding})
            for n in range(600)
        ]
    }
    assert len(json.dumps(body)) > 1024 * 1024

    response = post(client, "/api/v1/events", body, headers=bearer(key))

    assert response.status_code == 413
    assert "1 MB" in response.json()["detail"]
    assert not UsageEvent.objects.exists()


def test_a_body_beyond_djangos_own_upload_limit_is_413_not_500(client, key):
    body = b'{"events": [' + b" " * (3 * 1024 * 1024) + b"]}"

    response = client.post(
        "/api/v1/events", data=body, content_type="application/json", **bearer(key)
    )

    assert response.status_code == 413


def test_the_other_endpoints_have_the_same_limits(client, key):
    body = {"accounts": [{"id": f"a{n}", "name": "A"} for n in range(1001)]}

    response = post(client, "/api/v1/accounts", body, headers=bearer(key))

    assert response.status_code == 413
    assert not Account.objects.exists()


def test_script_payloads_are_stored_verbatim_and_answered_as_json(client, key, acme):
    response = post(
        client,
        "/api/v1/accounts",
        {"accounts": [{"id": "acme", "name": SCRIPT, "traits": {SCRIPT: SCRIPT}}]},
        headers=bearer(key),
    )
    rejected = post(
        client,
        "/api/v1/events",
        {"events": [event("e1", SCRIPT, at="2025-05-01T09:00:00Z")]},
        headers=bearer(key),
    )

    acme.refresh_from_db()
    assert response.status_code == 200
    assert (acme.name, acme.traits) == (SCRIPT, {SCRIPT: SCRIPT})
    assert rejected["Content-Type"] == "application/json"
    assert rejected.json()["rejected"][0]["error"] == f"account: unknown account {SCRIPT!r}"


def test_only_post_is_allowed(client, key):
    response = client.get("/api/v1/events", **bearer(key))

    assert response.status_code == 405


def test_a_database_failure_answers_503_and_leaves_nothing_half_written(
    client, key, acme, monkeypatch
):
    def busy(*args, **kwargs):
        raise OperationalError("deadlock detected")

    monkeypatch.setattr(ingest.events, "_events_apply", busy)

    response = post(
        client,
        "/api/v1/events",
        {"events": [event("e1", "acme", at="2025-05-01T09:00:00Z")]},
        headers=bearer(key),
    )

    assert response.status_code == 503
    assert "nothing from this request was saved" in response.json()["detail"]
    assert not UsageEvent.objects.exists()
    assert not DailyUsage.objects.exists()


def test_a_batch_that_lost_a_race_is_run_again(client, key, acme, monkeypatch):
    real = ingest.events._events_apply
    calls = []

    def lose_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest.events, "_events_apply", lose_once)

    response = post(
        client,
        "/api/v1/events",
        {"events": [event("e1", "acme", at="2025-05-01T09:00:00Z")]},
        headers=bearer(key),
    )

    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert len(calls) == 2
    assert DailyUsage.objects.get().count == 1


def test_the_docs_and_the_schema_are_behind_the_login(client):
    for url in ("/api/v1/docs", "/api/v1/openapi.json"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/auth/login/?next=/api/v1/")


def test_the_openapi_document_describes_the_bodies_and_the_bearer_key(viewer_client):
    response = viewer_client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert {
        "/api/v1/accounts",
        "/api/v1/contacts",
        "/api/v1/events",
        "/api/v1/revenue",
        "/api/v1/tickets",
        "/api/v1/segment/identify",
        "/api/v1/segment/group",
        "/api/v1/segment/track",
        "/api/v1/segment/batch",
    } <= set(schema["paths"])
    events = schema["paths"]["/api/v1/events"]["post"]
    body_ref = events["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref == "#/components/schemas/EventsBatch"
    components = schema["components"]["schemas"]
    assert set(components["EventIn"]["properties"]) == {
        "id",
        "account",
        "contact",
        "type",
        "timestamp",
        "properties",
    }
    assert components["EventsBatch"]["properties"]["events"]["maxItems"] == 1000
    assert {"200", "401", "413", "422"} <= set(events["responses"])
    schemes = schema["components"]["securitySchemes"]
    assert {s["scheme"] for s in schemes.values()} == {"bearer", "basic"}


def test_the_docs_page_works_without_a_cdn(viewer_client):
    response = viewer_client.get("/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "https://" not in html
    assert finders.find("ninja/swagger-ui-bundle.js") is not None
    assert finders.find("ninja/swagger-ui.css") is not None
