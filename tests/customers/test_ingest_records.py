"""Accounts, contacts, revenue changes and tickets in batches: upserts by external id, item by
item checks, replays that change nothing, and the revenue rules kept in one place."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.roles import Role
from customers.ingest import (
    accounts_upsert,
    contacts_upsert,
    revenue_changes_record,
    tickets_upsert,
)
from customers.models import (
    Account,
    Contact,
    ExchangeRate,
    RevenueChange,
    StageChange,
    Ticket,
)
from customers.services import RevenueChangeInput
from customers.services import revenue_changes_record as record_changes
from customers.signals import ticket_closed
from tests.customers.factories import SCRIPT, make_account, make_contact

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def errors_of(result) -> dict[int, str]:
    return {item["index"]: item["error"] for item in result["rejected"]}


# --- accounts -----------------------------------------------------------------------------


def test_it_creates_accounts_with_their_owner_by_email_and_records_the_stage(csm_user):
    result = accounts_upsert(
        items=[
            {
                "id": "acme",
                "name": "Acme",
                "domain": "Acme.example",
                "plan": "Pro",
                "currency": "eur",
                "owner_email": "CSM@Example.com",
                "stage": "onboarding",
                "renewal_date": "2026-03-31",
                "traits": {"seats": 40},
                "card_exp_month": 4,
                "card_exp_year": 2028,
            }
        ],
        source="api",
    )

    assert result == {"accepted": 1, "duplicates": 0, "rejected": []}
    acme = Account.objects.get(external_id="acme")
    assert (acme.name, acme.domain, acme.plan, acme.currency) == (
        "Acme",
        "acme.example",
        "Pro",
        "EUR",
    )
    assert (acme.owner, acme.stage, acme.renewal_date) == (
        csm_user,
        "onboarding",
        dt.date(2026, 3, 31),
    )
    assert (acme.traits, acme.card_exp_month, acme.card_exp_year) == ({"seats": 40}, 4, 2028)
    move = StageChange.objects.get(account=acme)
    assert (move.from_stage, move.to_stage, move.source) == ("", "onboarding", "api")


def test_replaying_accounts_changes_nothing_and_counts_duplicates(csm_user):
    batch = [
        {"id": "acme", "name": "Acme", "owner_email": "csm@example.com", "stage": "purchase"},
        {"id": "beta", "name": "Beta", "traits": {"tier": "gold"}},
    ]
    accounts_upsert(items=batch, source="api")
    stamps = dict(Account.objects.values_list("external_id", "updated_at"))

    assert accounts_upsert(items=batch, source="api") == {
        "accepted": 0,
        "duplicates": 2,
        "rejected": [],
    }
    assert Account.objects.count() == 2
    assert StageChange.objects.count() == 1
    assert dict(Account.objects.values_list("external_id", "updated_at")) == stamps


def test_an_update_changes_only_the_fields_it_sends_and_merges_traits():
    make_account("acme", name="Acme", domain="acme.example", plan="Pro", traits={"a": 1, "b": 2})

    result = accounts_upsert(
        items=[{"id": "acme", "plan": None, "traits": {"b": 3, "c": 4}}], source="api"
    )

    assert result["accepted"] == 1
    acme = Account.objects.get(external_id="acme")
    assert (acme.name, acme.domain, acme.plan) == ("Acme", "acme.example", "")
    assert acme.traits == {"a": 1, "b": 3, "c": 4}


def test_a_stage_move_is_recorded_from_where_the_account_was():
    make_account("acme", stage="onboarding")

    accounts_upsert(items=[{"id": "acme", "stage": "renewal"}], source="crm-sync")

    move = StageChange.objects.get()
    assert (move.from_stage, move.to_stage, move.source) == ("onboarding", "renewal", "crm-sync")


def test_each_bad_account_is_refused_with_its_field_while_the_rest_land(make_user):
    make_user(Role.VIEWER, "viewer@example.com")
    make_account("billed", currency="USD")
    RevenueChange.objects.create(
        account=Account.objects.get(external_id="billed"),
        kind="started",
        effective_at=timezone.now(),
        mrr=Decimal("10"),
        currency="USD",
        mrr_base=Decimal("10"),
    )
    batch = [
        {"id": "new-without-name"},
        {"id": "a", "name": "A", "owner_email": "nobody@example.com"},
        {"id": "b", "name": "B", "owner_email": "viewer@example.com"},
        {"id": "c", "name": "C", "stage": "happy"},
        {"id": "d", "name": "D", "renewal_date": "31/12/2026"},
        {"id": "e", "name": "E", "currency": "euro"},
        {"id": "f", "name": "F", "card_exp_month": 13},
        {"id": "g", "name": "   "},
        {"id": "h", "name": "H", "traits": "gold"},
        {"id": "billed", "currency": "EUR"},
        {"id": "fine", "name": SCRIPT},
    ]

    result = accounts_upsert(items=batch, source="api")

    assert result["accepted"] == 1
    assert errors_of(result) == {
        0: "name: is required for a new account",
        1: "owner_email: no active CSM or admin has 'nobody@example.com'",
        2: "owner_email: no active CSM or admin has 'viewer@example.com'",
        3: "stage: 'happy' is not a known lifecycle stage; use one of awareness, conversion, "
        "purchase, onboarding, renewal, loyalty",
        4: "renewal_date: '31/12/2026' is not a date; use YYYY-MM-DD, e.g. 2025-01-31",
        5: "currency: 'euro' is not a three-letter currency code such as USD or EUR",
        6: "card_exp_month: must be a whole number from 1 to 12",
        7: "name: cannot be empty",
        8: "traits: must be an object",
        9: "currency: cannot change once revenue is recorded in another",
    }
    assert Account.objects.get(external_id="fine").name == SCRIPT  # stored verbatim
    assert Account.objects.get(external_id="billed").currency == "USD"


def test_the_same_account_twice_in_a_batch_is_applied_in_order():
    result = accounts_upsert(
        items=[
            {"id": "acme", "name": "Acme", "stage": "purchase"},
            {"id": "acme", "name": "Acme Inc", "stage": "onboarding"},
            {"id": "acme", "name": "Acme Inc"},
        ],
        source="api",
    )

    assert (result["accepted"], result["duplicates"]) == (2, 1)
    acme = Account.objects.get()
    assert (acme.name, acme.stage) == ("Acme Inc", "onboarding")
    moves = list(StageChange.objects.order_by("id").values_list("from_stage", "to_stage"))
    assert moves == [("", "purchase"), ("purchase", "onboarding")]


# --- contacts -----------------------------------------------------------------------------


def test_it_creates_and_updates_contacts_by_id():
    acme = make_account("acme")
    beta = make_account("beta")

    created = contacts_upsert(
        items=[
            {
                "id": "u1",
                "account": "acme",
                "email": "ada@acme.example",
                "name": "Ada",
                "role": "CTO",
                "locale": "nb-NO",
                "birthday": "1990-04-01",
                "traits": {"team": "core"},
            }
        ],
        source="api",
    )
    moved = contacts_upsert(items=[{"id": "u1", "account": "beta", "traits": {"x": 1}}])
    replay = contacts_upsert(items=[{"id": "u1", "account": "beta", "traits": {"x": 1}}])

    assert (created["accepted"], moved["accepted"], replay["duplicates"]) == (1, 1, 1)
    ada = Contact.objects.get()
    assert ada.account == beta != acme
    assert (ada.email, ada.name, ada.role, ada.locale) == ("ada@acme.example", "Ada", "CTO", "nb")
    assert ada.birthday == dt.date(1990, 4, 1)
    assert ada.traits == {"team": "core", "x": 1}


def test_a_contact_sent_without_a_locale_has_none_and_an_update_without_one_keeps_it():
    make_account("acme")
    contacts_upsert(
        items=[
            {"id": "u1", "account": "acme", "email": "ada@acme.example"},
            {"id": "u2", "account": "acme", "locale": "nb"},
        ]
    )
    assert dict(Contact.objects.values_list("external_id", "locale")) == {"u1": "", "u2": "nb"}
    updated = contacts_upsert(
        items=[{"id": "u1", "name": "Ada"}, {"id": "u2", "name": "Kari", "role": "CFO"}]
    )
    assert updated["accepted"] == 2
    assert dict(Contact.objects.values_list("external_id", "locale")) == {"u1": "", "u2": "nb"}
    assert Contact.objects.get(external_id="u2").name == "Kari"
    contacts_upsert(items=[{"id": "u1", "locale": "sv-SE"}])
    assert Contact.objects.get(external_id="u1").locale == "sv"


def test_each_bad_contact_is_refused_with_its_field():
    acme = make_account("acme")
    make_contact(acme, "opted-out", do_not_survey=True)
    batch = [
        {"id": "c1"},
        {"id": "c2", "account": "ghost"},
        {"id": "c3", "account": "acme", "email": "not-an-email"},
        {"id": "c4", "account": "acme", "locale": "de-DE"},
        {"id": "c5", "account": "acme", "birthday": "April 1st"},
        {"id": "c6", "account": "acme", "do_not_survey": "maybe"},
        {"id": "opted-out", "do_not_survey": False},
        {"id": "c7", "account": "acme", "name": SCRIPT, "locale": "zh-Hans-CN"},
    ]

    result = contacts_upsert(items=batch)

    assert result["accepted"] == 1
    assert errors_of(result) == {
        0: "account: is required for a new contact",
        1: "account: unknown account 'ghost'",
        2: "email: 'not-an-email' is not an email address",
        3: "locale: 'de-DE' is not a known language; use one of en, nb, sv, zh-hans, ru",
        4: "birthday: 'April 1st' is not a date; use YYYY-MM-DD, e.g. 2025-01-31",
        5: "do_not_survey: 'maybe' is not true or false (yes/no and 1/0 work too)",
        6: "do_not_survey: a contact's opt-out is lifted only in Tenure itself",
    }
    c7 = Contact.objects.get(external_id="c7")
    assert (c7.name, c7.locale) == (SCRIPT, "zh-hans")
    assert Contact.objects.get(external_id="opted-out").do_not_survey is True


# --- revenue ------------------------------------------------------------------------------


def test_revenue_changes_follow_the_one_set_of_rules():
    make_account("acme", currency="USD")
    # sent out of date order: kinds are inferred in date order all the same
    batch = [
        {"id": "r2", "account": "acme", "mrr": "150", "effective_at": "2025-02-01T00:00:00Z"},
        {"id": "r1", "account": "acme", "mrr": 100, "effective_at": "2025-01-01T00:00:00Z"},
        {"id": "r3", "account": "acme", "mrr": "0", "effective_at": "2025-03-01T00:00:00Z"},
        {"id": "r4", "account": "acme", "mrr": 80.5, "effective_at": "2025-04-01T00:00:00+02:00"},
    ]

    result = revenue_changes_record(items=batch)

    assert result == {"accepted": 4, "duplicates": 0, "rejected": []}
    kinds = dict(RevenueChange.objects.values_list("external_id", "kind"))
    assert kinds == {"r1": "started", "r2": "changed", "r3": "cancelled", "r4": "reactivated"}
    acme = Account.objects.get()
    assert (acme.mrr, acme.mrr_base) == (Decimal("80.50"), Decimal("80.50"))
    assert acme.first_paid_at == dt.datetime(2025, 1, 1, tzinfo=UTC)
    assert acme.churned_at is None


def test_replayed_revenue_is_a_duplicate_and_a_changed_replay_is_refused():
    make_account("acme")
    batch = [{"id": "r1", "account": "acme", "mrr": "100", "effective_at": "2025-01-01T00:00:00Z"}]
    revenue_changes_record(items=batch)

    replay = revenue_changes_record(items=batch)
    changed = revenue_changes_record(
        items=[
            {"id": "r1", "account": "acme", "mrr": "120", "effective_at": "2025-01-01T00:00:00Z"}
        ]
    )

    assert replay == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert errors_of(changed) == {
        0: "id: was already recorded with other values; history is append-only"
    }
    assert RevenueChange.objects.get().mrr == Decimal("100.00")


def test_revenue_is_converted_at_entry_and_bad_changes_are_refused_with_their_field():
    make_account("oslo", currency="NOK")
    make_account("stockholm", currency="SEK")
    ExchangeRate.objects.create(
        currency="NOK", per_base=Decimal("10"), valid_from=dt.date(2025, 1, 1)
    )
    moment = "2025-02-01T00:00:00Z"
    batch = [
        {"id": "ok", "account": "oslo", "mrr": "1000", "effective_at": moment, "currency": "NOK"},
        {"id": "no-rate", "account": "stockholm", "mrr": "10", "effective_at": moment},
        {
            "id": "wrong-cur",
            "account": "oslo",
            "mrr": "10",
            "effective_at": moment,
            "currency": "EUR",
        },
        {"id": "neg", "account": "oslo", "mrr": "-1", "effective_at": moment},
        {"id": "naive", "account": "oslo", "mrr": "1", "effective_at": "2025-02-01T00:00:00"},
        {"account": "oslo", "mrr": "1", "effective_at": moment},
        {"id": "text", "account": "oslo", "mrr": "lots", "effective_at": moment},
        {
            "id": "cancel",
            "account": "oslo",
            "mrr": "5",
            "effective_at": moment,
            "kind": "cancelled",
        },
        {"id": "ghost", "account": "ghost", "mrr": "5", "effective_at": moment},
    ]

    result = revenue_changes_record(items=batch)

    assert result["accepted"] == 1
    assert errors_of(result) == {
        1: "currency: No exchange rate from SEK to USD on or before 2025-02-01.",
        2: "currency: the account is billed in NOK; send MRR in it",
        3: "mrr: cannot be negative (got -1)",
        4: "effective_at: must carry a timezone offset, e.g. 2025-05-01T12:00:00Z",
        5: "id: is required",
        6: "mrr: 'lots' is not an amount; write digits with at most two decimals after a dot, e.g. 1499.50",
        7: "mrr: A cancellation sets MRR to 0.",
        8: "account: unknown account 'ghost'",
    }
    change = RevenueChange.objects.get()
    assert (change.mrr, change.currency, change.mrr_base) == (
        Decimal("1000.00"),
        "NOK",
        Decimal("100.00"),
    )


def test_the_batch_service_answers_each_change_in_input_order():
    acme = make_account("acme")
    moment = dt.datetime(2025, 1, 1, tzinfo=UTC)

    results = record_changes(
        changes=[
            RevenueChangeInput(account_id=acme.pk, mrr=Decimal("-5"), effective_at=moment),
            RevenueChangeInput(account_id=acme.pk, mrr=Decimal("50"), effective_at=moment),
        ]
    )

    assert isinstance(results[0], ValidationError)
    assert results[1].kind == "started"
    acme.refresh_from_db()
    assert acme.mrr == Decimal("50.00")


def test_the_batch_service_refuses_an_mrr_too_large_to_round_to_cents():
    acme = make_account("acme")
    moment = dt.datetime(2025, 1, 1, tzinfo=UTC)

    results = record_changes(
        changes=[
            RevenueChangeInput(account_id=acme.pk, mrr=Decimal("1e30"), effective_at=moment),
            RevenueChangeInput(account_id=acme.pk, mrr=Decimal("-1e30"), effective_at=moment),
            RevenueChangeInput(
                account_id=acme.pk, mrr=Decimal("999999999999.995"), effective_at=moment
            ),
        ]
    )

    assert [r.message_dict["mrr"] for r in results] == [
        ["MRR must be below 1,000,000,000,000."],
        ["MRR cannot be negative."],
        ["MRR must be below 1,000,000,000,000."],
    ]
    assert not RevenueChange.objects.exists()


# --- tickets ------------------------------------------------------------------------------


@pytest.fixture
def closed_signals():
    received: list[int] = []

    def receiver(sender, ticket_id, **kwargs):
        received.append(ticket_id)

    ticket_closed.connect(receiver, dispatch_uid="test_ingest_records")
    yield received
    ticket_closed.disconnect(dispatch_uid="test_ingest_records")


def test_closing_a_ticket_signals_once_after_commit(
    closed_signals, django_capture_on_commit_callbacks
):
    acme = make_account("acme")
    opened = (timezone.now() - dt.timedelta(days=2)).isoformat()
    tickets_upsert(
        items=[
            {
                "id": "t1",
                "account": "acme",
                "subject": SCRIPT,
                "priority": "high",
                "opened_at": opened,
            }
        ]
    )
    assert closed_signals == []

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = tickets_upsert(items=[{"id": "t1", "status": "closed"}])
        assert closed_signals == []  # nothing is sent before the transaction commits
    for callback in callbacks:
        callback()
    with django_capture_on_commit_callbacks(execute=True):
        replay = tickets_upsert(items=[{"id": "t1", "status": "closed"}])

    ticket = Ticket.objects.get()
    assert (result["accepted"], replay["duplicates"]) == (1, 1)
    assert closed_signals == [ticket.pk]
    assert (ticket.account, ticket.subject, ticket.priority) == (acme, SCRIPT, "high")
    assert ticket.status == "closed" and ticket.closed_at is not None


def test_a_backfilled_old_close_sends_no_signal(closed_signals, django_capture_on_commit_callbacks):
    make_account("acme")
    with django_capture_on_commit_callbacks(execute=True):
        result = tickets_upsert(
            items=[
                {
                    "id": "old",
                    "account": "acme",
                    "subject": "Old",
                    "opened_at": "2024-01-01T00:00:00Z",
                    "closed_at": "2024-01-02T00:00:00Z",
                }
            ]
        )

    assert result["accepted"] == 1
    assert Ticket.objects.get().status == "closed"
    assert closed_signals == []


def test_reopening_clears_closed_at_and_bad_tickets_are_refused_with_their_field():
    acme = make_account("acme")
    make_contact(make_account("beta"), "beta-person")
    make_contact(acme, "acme-person")
    tickets_upsert(
        items=[
            {
                "id": "t1",
                "account": "acme",
                "subject": "Broken",
                "opened_at": "2025-01-01T00:00:00Z",
                "closed_at": "2025-01-03T00:00:00Z",
            }
        ]
    )
    batch = [
        {"id": "t1", "status": "open", "contact": "acme-person"},
        {"id": "t2", "account": "acme", "subject": "No date"},
        {"id": "t3", "subject": "No account", "opened_at": "2025-01-01T00:00:00Z"},
        {
            "id": "t4",
            "account": "acme",
            "subject": "Backwards",
            "opened_at": "2025-01-05T00:00:00Z",
            "closed_at": "2025-01-04T00:00:00Z",
        },
        {
            "id": "t5",
            "account": "acme",
            "subject": "Who?",
            "opened_at": "2025-01-01T00:00:00Z",
            "contact": "beta-person",
        },
        {
            "id": "t6",
            "account": "acme",
            "subject": "Odd",
            "opened_at": "2025-01-01T00:00:00Z",
            "priority": "meh",
        },
        {
            "id": "t7",
            "account": "acme",
            "subject": "Mixed",
            "opened_at": "2025-01-01T00:00:00Z",
            "status": "open",
            "closed_at": "2025-01-02T00:00:00Z",
        },
    ]

    result = tickets_upsert(items=batch)

    assert result["accepted"] == 1
    assert errors_of(result) == {
        1: "opened_at: is required for a new ticket",
        2: "account: is required for a new ticket",
        3: "closed_at: is before opened_at",
        4: "contact: 'beta-person' belongs to another account",
        5: "priority: 'meh' is not a known priority; use one of low, normal, high, urgent",
        6: "closed_at: an open ticket has no closed_at",
    }
    ticket = Ticket.objects.get()
    assert (ticket.status, ticket.closed_at, ticket.contact.external_id) == (
        "open",
        None,
        "acme-person",
    )


def test_replaying_a_batch_of_new_tickets_creates_nothing_new():
    make_account("acme")
    batch = [
        {
            "id": f"t{n}",
            "account": "acme",
            "subject": f"Issue {n}",
            "opened_at": "2025-03-01T10:00:00Z",
        }
        for n in range(3)
    ]
    first = tickets_upsert(items=batch)
    rows = list(Ticket.objects.order_by("pk").values())
    replay = tickets_upsert(items=batch)
    assert (first["accepted"], first["duplicates"]) == (3, 0)
    assert (replay["accepted"], replay["duplicates"], replay["rejected"]) == (0, 3, [])
    assert Ticket.objects.count() == 3
    assert list(Ticket.objects.order_by("pk").values()) == rows
