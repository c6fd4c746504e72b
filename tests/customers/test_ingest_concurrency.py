"""Replays racing the first delivery (PostgreSQL, threads): every event is stored once, the
rollups count it once, and overlapping batches queue rather than deadlock."""

from __future__ import annotations

from django.test import Client

from customers.ingest import accounts_upsert, events_ingest, revenue_changes_record
from customers.models import Account, DailyUsage, RevenueChange, UsageEvent
from tests.concurrency import POSTGRES_ONLY, run_together
from tests.customers.api_client import bearer, event, post
from tests.customers.factories import make_account, make_key

pytestmark = POSTGRES_ONLY


def batch(size: int, accounts: int, *, prefix: str = "e") -> list[dict]:
    return [
        event(
            f"{prefix}{n}",
            f"acc-{n % accounts}",
            type=("login", "feature_used")[n % 2],
            at=f"2025-05-{1 + n % 3:02d}T10:{n % 60:02d}:00Z",
        )
        for n in range(size)
    ]


def expected_rollups(events: list[dict]) -> dict:
    counts: dict = {}
    for item in events:
        key = (item["account"], item["timestamp"][:10], item["type"])
        counts[key] = counts.get(key, 0) + 1
    return counts


def stored_rollups() -> dict:
    rows = DailyUsage.objects.values_list("account__external_id", "day", "type", "count")
    return {(account, day.isoformat(), kind): count for account, day, kind, count in rows}


def test_two_identical_batches_through_the_api_at_once_store_each_event_once():
    for n in range(20):
        make_account(f"acc-{n}")
    key = make_key()
    events = batch(600, 20)

    for attempt in range(3):
        body = {"events": [{**e, "id": f"{attempt}-{e['id']}"} for e in events]}
        responses = run_together(
            lambda body=body: post(Client(), "/api/v1/events", body, headers=bearer(key)),
            lambda body=body: post(Client(), "/api/v1/events", body, headers=bearer(key)),
        )
        results = [r.json() for r in responses]
        assert [r.status_code for r in responses] == [200, 200]
        assert sum(r["accepted"] for r in results) == 600
        assert sum(r["duplicates"] for r in results) == 600

    assert UsageEvent.objects.count() == 1800
    assert stored_rollups() == {key: 3 * n for key, n in expected_rollups(events).items()}


def test_overlapping_batches_in_opposite_orders_queue_instead_of_deadlocking():
    for n in range(10):
        make_account(f"acc-{n}")
    events = batch(400, 10)
    forward, backward = events[:300], list(reversed(events[100:]))

    results = run_together(
        lambda: events_ingest(items=forward, source="api"),
        lambda: events_ingest(items=backward, source="api"),
        lambda: events_ingest(items=forward, source="api"),
    )

    assert sum(r["accepted"] for r in results) == 400
    assert sum(r["duplicates"] for r in results) == 900 - 400  # three batches of 300
    assert UsageEvent.objects.count() == 400
    assert stored_rollups() == expected_rollups(events)
    for account in Account.objects.all():
        assert account.last_activity_at is not None


def test_two_identical_revenue_batches_at_once_record_each_change_once():
    make_account("acme")
    changes = [
        {
            "id": f"r{n}",
            "account": "acme",
            "mrr": str(100 + n),
            "effective_at": f"2025-0{n + 1}-01T00:00:00Z",
        }
        for n in range(5)
    ]

    results = run_together(
        lambda: revenue_changes_record(items=changes),
        lambda: revenue_changes_record(items=changes),
    )

    assert sorted((r["accepted"], r["duplicates"]) for r in results) == [(0, 5), (5, 0)]
    assert RevenueChange.objects.count() == 5
    assert str(Account.objects.get().mrr) == "104.00"


def test_two_identical_account_batches_at_once_make_each_account_once():
    accounts = [{"id": f"new-{n}", "name": f"New {n}", "plan": "Pro"} for n in range(50)]

    results = run_together(
        lambda: accounts_upsert(items=accounts, source="api"),
        lambda: accounts_upsert(items=accounts, source="api"),
    )

    assert all(r["rejected"] == [] for r in results)
    assert Account.objects.count() == 50
    assert set(Account.objects.values_list("plan", flat=True)) == {"Pro"}
