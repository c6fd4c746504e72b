"""Usage events: checked one by one, stored once per (source, id), folded into the daily
rollups and the account and contact summaries only when new (docs/domain/customers.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from customers import ingest
from customers.ingest import events_ingest
from customers.models import Account, Contact, DailyUsage, UsageEvent
from tests.customers.api_client import event
from tests.customers.factories import SCRIPT, make_account, make_contact

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def rollups() -> dict[tuple[str, str, str], int]:
    rows = DailyUsage.objects.values_list("account__external_id", "day", "type", "count")
    return {(account, day.isoformat(), kind): count for account, day, kind, count in rows}


@pytest.fixture
def acme():
    return make_account("acme", name="Acme")


@pytest.fixture
def beta():
    return make_account("beta", name="Beta")


FIRST_BATCH = [
    event("e1", "acme", at="2025-05-01T09:00:00Z"),
    # 23:30 at UTC−2 is 01:30 UTC the next day: rollups count UTC days
    event("e2", "acme", at="2025-05-01T23:30:00-02:00"),
    event("e3", "acme", type="feature_used", at="2025-05-01T10:00:00Z"),
    # 00:15 at UTC+1 is still 30 April in UTC
    event("e4", "beta", at="2025-05-01T00:15:00+01:00"),
    event("e5", "acme", at="2025-05-01T12:00:00Z"),
]


def test_it_rolls_up_new_events_by_account_utc_day_and_type(acme, beta):
    result = events_ingest(items=FIRST_BATCH, source="api")

    assert result == {"accepted": 5, "duplicates": 0, "rejected": []}
    assert rollups() == {
        ("acme", "2025-05-01", "login"): 2,
        ("acme", "2025-05-02", "login"): 1,
        ("acme", "2025-05-01", "feature_used"): 1,
        ("beta", "2025-04-30", "login"): 1,
    }
    stored = UsageEvent.objects.get(event_id="e2")
    assert stored.occurred_at == at("2025-05-02T01:30:00+00:00")


def test_replaying_a_batch_stores_nothing_new_and_counts_only_new_events(acme, beta):
    events_ingest(items=FIRST_BATCH, source="api")

    replay = [*FIRST_BATCH, event("e6", "acme", at="2025-05-01T13:00:00Z")]
    result = events_ingest(items=replay, source="api")

    assert result == {"accepted": 1, "duplicates": 5, "rejected": []}
    assert UsageEvent.objects.count() == 6
    assert rollups()[("acme", "2025-05-01", "login")] == 3  # 2 before + e6, replays not counted
    assert sum(rollups().values()) == 6


def test_the_same_id_twice_in_one_batch_is_one_event(acme):
    batch = [
        event("dup", "acme", at="2025-05-01T09:00:00Z"),
        event("dup", "acme", at="2025-05-01T09:00:00Z"),
    ]

    assert events_ingest(items=batch, source="api") == {
        "accepted": 1,
        "duplicates": 1,
        "rejected": [],
    }
    assert DailyUsage.objects.get().count == 1


def test_an_id_is_unique_per_source_not_across_sources(acme):
    batch = [event("shared-id", "acme", at="2025-05-01T09:00:00Z")]

    assert events_ingest(items=batch, source="api")["accepted"] == 1
    assert events_ingest(items=batch, source="segment")["accepted"] == 1
    assert events_ingest(items=batch, source="segment")["duplicates"] == 1
    assert DailyUsage.objects.get().count == 2


def test_valid_events_land_while_each_bad_one_is_refused_with_its_field(acme, beta):
    other_person = make_contact(beta, "beta-person")
    make_contact(acme, "acme-person")
    good = "2025-05-01T09:00:00Z"
    batch = [
        event("ok-1", "acme", at=good),
        "not an object",
        {"account": "acme", "type": "login", "timestamp": good},
        {"id": "no-type", "account": "acme", "timestamp": good},
        event("naive", "acme", at="2025-05-01T09:00:00"),
        event("garbled", "acme", at="yesterday"),
        event("ghost-account", "ghost", at=good),
        event("ghost-contact", "acme", at=good, contact="nobody"),
        event("elsewhere", "acme", at=good, contact=other_person.external_id),
        event("props", "acme", at=good, properties=["not", "an", "object"]),
        event("x" * 256, "acme", at=good),
        event("nul", "acme", at=good, properties={"note": "a\x00b"}),
        {"id": "no-account", "type": "login", "timestamp": good},
        event("ok-2", "acme", at=good, contact="acme-person"),
    ]

    result = events_ingest(items=batch, source="api")

    assert result["accepted"] == 2
    assert result["duplicates"] == 0
    errors = {item["index"]: item["error"] for item in result["rejected"]}
    assert errors == {
        1: "item: must be a JSON object",
        2: "id: is required",
        3: "type: is required",
        4: "timestamp: must carry a timezone offset, e.g. 2025-05-01T12:00:00Z",
        5: "timestamp: 'yesterday' is not a date or an ISO 8601 timestamp, e.g. 2025-05-01T12:00:00Z",
        6: "account: unknown account 'ghost'",
        7: "contact: unknown contact 'nobody'",
        8: "contact: 'beta-person' belongs to another account",
        9: "properties: must be an object",
        10: "id: is 256 characters long; at most 255 fit",
        11: "properties: must not contain NUL characters",
        12: "account: is required",
    }
    assert set(UsageEvent.objects.values_list("event_id", flat=True)) == {"ok-1", "ok-2"}
    assert rollups() == {("acme", "2025-05-01", "login"): 2}


def test_an_event_that_names_only_its_contact_goes_to_the_contacts_account(acme):
    person = make_contact(acme, "person-1")

    result = events_ingest(
        items=[event("by-contact", None, at="2025-05-01T09:00:00Z", contact="person-1")],
        source="api",
    )

    assert result["accepted"] == 1
    stored = UsageEvent.objects.get()
    assert (stored.account_id, stored.contact_id) == (acme.pk, person.pk)


def test_last_activity_and_last_seen_follow_the_newest_event_never_an_older_one(acme):
    person = make_contact(acme, "person-1")
    events_ingest(
        items=[
            event("a", "acme", at="2025-05-03T10:00:00Z", contact="person-1"),
            event("b", "acme", at="2025-05-01T10:00:00Z", contact="person-1"),
        ],
        source="api",
    )
    # a late-arriving older event does not move the times back
    events_ingest(items=[event("c", "acme", at="2025-04-01T10:00:00Z")], source="api")

    acme.refresh_from_db()
    person.refresh_from_db()
    assert acme.last_activity_at == at("2025-05-03T10:00:00+00:00")
    assert person.last_seen_at == at("2025-05-03T10:00:00+00:00")

    events_ingest(items=[event("d", "acme", at="2025-05-04T08:00:00Z")], source="api")
    acme.refresh_from_db()
    person.refresh_from_db()
    assert acme.last_activity_at == at("2025-05-04T08:00:00+00:00")
    assert person.last_seen_at == at("2025-05-03T10:00:00+00:00")  # d had no contact


def test_last_activity_is_kept_to_the_minute_so_busy_accounts_are_not_rewritten(acme):
    events_ingest(items=[event("m1", "acme", at="2025-05-01T10:00:00Z")], source="api")
    events_ingest(items=[event("m2", "acme", at="2025-05-01T10:00:40Z")], source="api")
    acme.refresh_from_db()
    assert acme.last_activity_at == at("2025-05-01T10:00:00+00:00")

    events_ingest(items=[event("m3", "acme", at="2025-05-01T10:01:30Z")], source="api")
    acme.refresh_from_db()
    assert acme.last_activity_at == at("2025-05-01T10:01:30+00:00")
    assert DailyUsage.objects.get().count == 3  # the rollup counts every event regardless


def test_billing_events_are_not_activity_but_failed_payments_are_counted(acme):
    events_ingest(
        items=[
            event("p1", "acme", type="payment_failed", at="2025-05-02T10:00:00Z"),
            event("p2", "acme", type="payment_failed", at="2025-05-05T10:00:00+02:00"),
            event("p3", "acme", type="payment_succeeded", at="2025-05-06T10:00:00Z"),
        ],
        source="billing",
    )
    events_ingest(
        items=[event("p4", "acme", type="payment_failed", at="2025-05-03T10:00:00Z")],
        source="billing",
    )
    # a replay of a failed payment is not another failure
    events_ingest(
        items=[event("p1", "acme", type="payment_failed", at="2025-05-02T10:00:00Z")],
        source="billing",
    )

    acme.refresh_from_db()
    assert acme.failed_payments == 3
    assert acme.last_payment_failed_at == at("2025-05-05T08:00:00+00:00")
    assert acme.last_activity_at is None


def test_the_newest_card_update_sets_the_card_whatever_order_events_arrive_in(acme):
    events_ingest(
        items=[
            event(
                "card-new",
                "acme",
                type="card_updated",
                at="2025-05-10T00:00:00Z",
                properties={"exp_month": 11, "exp_year": 2029},
            ),
            event(
                "card-mid",
                "acme",
                type="card_updated",
                at="2025-05-05T00:00:00Z",
                properties={"exp_month": 6, "exp_year": 2027},
            ),
        ],
        source="billing",
    )
    events_ingest(
        items=[
            event(
                "card-old",
                "acme",
                type="card_updated",
                at="2025-04-01T00:00:00Z",
                properties={"card_exp_month": 1, "card_exp_year": 26},
            )
        ],
        source="billing",
    )

    acme.refresh_from_db()
    assert (acme.card_exp_month, acme.card_exp_year) == (11, 2029)

    events_ingest(
        items=[
            event(
                "card-newest",
                "acme",
                type="card_updated",
                at="2025-06-01T00:00:00Z",
                properties={"card_exp_month": 2, "card_exp_year": 31},
            )
        ],
        source="billing",
    )
    acme.refresh_from_db()
    assert (acme.card_exp_month, acme.card_exp_year) == (2, 2031)


def test_a_card_update_with_an_impossible_month_is_refused(acme):
    result = events_ingest(
        items=[
            event(
                "card-bad",
                "acme",
                type="card_updated",
                at="2025-05-10T00:00:00Z",
                properties={"exp_month": 13, "exp_year": 2029},
            )
        ],
        source="billing",
    )

    assert result["rejected"] == [
        {"index": 0, "error": "properties.exp_month: must be a whole number from 1 to 12"}
    ]
    acme.refresh_from_db()
    assert acme.card_exp_month is None
    assert not UsageEvent.objects.exists()


def test_script_payloads_are_stored_verbatim(acme):
    result = events_ingest(
        items=[
            event(
                SCRIPT, "acme", type=SCRIPT, at="2025-05-01T09:00:00Z", properties={SCRIPT: SCRIPT}
            )
        ],
        source="api",
    )

    assert result["accepted"] == 1
    stored = UsageEvent.objects.get()
    assert (stored.event_id, stored.type, stored.properties) == (SCRIPT, SCRIPT, {SCRIPT: SCRIPT})
    assert DailyUsage.objects.get().type == SCRIPT


def test_an_unexpected_failure_leaves_nothing_half_written(acme, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ingest.events, "_events_apply", explode)

    with pytest.raises(RuntimeError):
        events_ingest(items=FIRST_BATCH[:1], source="api")

    assert not UsageEvent.objects.exists()
    assert not DailyUsage.objects.exists()


def test_a_batch_takes_a_fixed_number_of_queries(django_assert_max_num_queries):
    accounts = [make_account(f"q-acc-{n}") for n in range(40)]
    for account in accounts:
        make_contact(account, f"q-con-{account.external_id}")
    batch = [
        event(
            f"q-{n}",
            f"q-acc-{n % 40}",
            type=("login", "feature_used", "payment_failed", "card_updated")[n % 4],
            at=f"2025-05-{1 + n % 20:02d}T10:00:00Z",
            contact=f"q-con-q-acc-{n % 40}",
            properties={"exp_month": 5, "exp_year": 2030},
        )
        for n in range(400)
    ]

    with django_assert_max_num_queries(12):
        result = events_ingest(items=batch, source="api")

    assert result["accepted"] == 400
    assert sum(DailyUsage.objects.values_list("count", flat=True)) == 400
    assert Account.objects.filter(failed_payments=10).count() == 10
    # accounts 0, 1 (mod 4) had product events; 2 and 3 only billing ones
    assert Contact.objects.filter(last_seen_at__isnull=False).count() == 20
