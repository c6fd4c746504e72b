"""The demo company: deterministic, consistent with the services' own derivations, and safe
to run against a database that already holds data."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import TruncDate

from accounts.models import User
from accounts.roles import Role
from customers.ingest import BILLING_EVENT_TYPES
from customers.models import (
    Account,
    Contact,
    DailyUsage,
    ExchangeRate,
    LifecycleStage,
    Locale,
    Note,
    RevenueChange,
    StageChange,
    Ticket,
    UsageEvent,
)
from customers.services import revenue_change_record
from demo import customers as customer_demo
from demo.customers import demo_flush, demo_seed
from demo.customers import seed as seeding  # where demo_seed looks its helpers up
from demo.management.commands import seed_demo
from tests.demo.bulk_schema import postgres_only, schema_of

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 6, 15, tzinfo=dt.UTC)
TODAY = NOW.date()
EVENT_TYPES = {
    "login",
    "feature_used",
    "data_export",
    "cancel_page_visit",
    "payment_failed",
    "payment_succeeded",
    "card_updated",
    "ticket_opened",
    "ticket_closed",
}


@pytest.fixture(autouse=True)
def _no_app_seeders(monkeypatch):
    """Other apps' demo data is theirs to test; these tests look at the customers data."""
    monkeypatch.setattr(seed_demo, "APP_SEEDERS", [])


def seed(accounts: int = 40, seed: int = 7, **options):
    return demo_seed(accounts=accounts, seed=seed, now=NOW, **options)


def fingerprint() -> str:
    """Every seeded row that matters, by natural keys (database ids differ between runs)."""
    digest = hashlib.sha256()
    querysets = [
        Account.objects.order_by("external_id").values_list(
            "external_id", "name", "domain", "plan", "currency", "owner__email", "stage",
            "renewal_date", "traits", "mrr", "mrr_base", "first_paid_at", "churned_at",
            "last_activity_at", "card_exp_month", "card_exp_year", "failed_payments",
            "last_payment_failed_at", "created_at",
        ),
        Contact.objects.order_by("external_id").values_list(
            "external_id", "account__external_id", "email", "name", "role", "locale",
            "birthday", "last_seen_at", "do_not_survey", "created_at",
        ),
        RevenueChange.objects.order_by("external_id").values_list(
            "external_id", "kind", "effective_at", "mrr", "currency", "mrr_base", "plan"
        ),
        StageChange.objects.order_by("account__external_id", "changed_at").values_list(
            "account__external_id", "from_stage", "to_stage", "changed_by__email", "changed_at"
        ),
        Ticket.objects.order_by("external_id").values_list(
            "external_id", "contact__external_id", "subject", "priority", "status",
            "opened_at", "closed_at",
        ),
        Note.objects.order_by("account__external_id", "created_at", "body").values_list(
            "account__external_id", "author__email", "body", "created_at"
        ),
        UsageEvent.objects.order_by("event_id").values_list(
            "event_id", "account__external_id", "contact__external_id", "type", "occurred_at",
            "properties",
        ),
        DailyUsage.objects.order_by("account__external_id", "day", "type").values_list(
            "account__external_id", "day", "type", "count"
        ),
    ]  # fmt: skip
    for queryset in querysets:
        for row in queryset.iterator():
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_the_same_seed_builds_the_same_company_and_another_seed_a_different_one():
    seed(seed=7)
    first = fingerprint()
    demo_flush()
    assert not Account.objects.exists()
    seed(seed=7, chunk_size=9)  # chunking must not change the data
    assert fingerprint() == first
    demo_flush()
    seed(seed=8)
    assert fingerprint() != first


def test_it_builds_what_was_asked_for():
    stats = seed(accounts=40)
    assert Account.objects.count() == stats.accounts == 40
    assert Contact.objects.count() == stats.contacts
    assert UsageEvent.objects.count() == stats.events
    assert DailyUsage.objects.count() == stats.daily_rows
    assert UsageEvent.objects.exclude(source=customer_demo.DEMO_SOURCE).count() == 0
    assert not Account.objects.exclude(external_id__startswith=customer_demo.DEMO_PREFIX).exists()
    per_account = Contact.objects.values("account").annotate(n=Count("id"))
    assert {row["n"] for row in per_account} <= set(range(1, 9))
    assert UsageEvent.objects.filter(occurred_at__gte=NOW).count() == 0


def test_mean_events_per_account_follows_the_density_option():
    seed(accounts=60, events_per_account=50)
    events = UsageEvent.objects.count()
    assert 0.8 * 50 * 60 <= events <= 1.25 * 50 * 60


def test_derived_revenue_equals_what_the_service_derives_for_every_account():
    """Replay each account's revenue history through ``revenue_change_record`` on a twin
    account: same inferred kinds, same base-currency amounts, same derived columns."""
    seed(accounts=40)
    seeded = list(Account.objects.filter(external_id__startswith=customer_demo.DEMO_PREFIX))
    assert any(a.currency != "USD" and a.mrr > 0 for a in seeded)
    assert RevenueChange.objects.filter(kind="reactivated").exists()
    assert RevenueChange.objects.filter(kind="cancelled").exists()
    for account in seeded:
        twin = Account.objects.create(
            external_id=f"twin-{account.external_id}", name="twin", currency=account.currency
        )
        for change in account.revenue_changes.order_by("effective_at", "id"):
            replayed = revenue_change_record(
                account=twin, mrr=change.mrr, effective_at=change.effective_at, plan=change.plan
            )
            assert (replayed.kind, replayed.mrr_base) == (change.kind, change.mrr_base), change
        twin.refresh_from_db()
        derived = ("mrr", "mrr_base", "first_paid_at", "churned_at")
        assert [getattr(account, f) for f in derived] == [getattr(twin, f) for f in derived]
        if twin.plan:
            assert account.plan == twin.plan


def test_daily_rollups_equal_the_events_grouped_by_day_and_type():
    seed(accounts=40)
    from_events = {
        (row["account_id"], row["day"], row["type"]): row["n"]
        for row in UsageEvent.objects.annotate(day=TruncDate("occurred_at"))
        .values("account_id", "day", "type")
        .annotate(n=Count("id"))
    }
    rollups = {
        (row["account_id"], row["day"], row["type"]): row["count"]
        for row in DailyUsage.objects.values("account_id", "day", "type", "count")
    }
    assert rollups == from_events
    assert len(rollups) > 100


def test_activity_and_payment_state_summarise_the_events_as_ingest_would():
    seed(accounts=40)
    usage = UsageEvent.objects.exclude(type__in=BILLING_EVENT_TYPES)
    latest = usage.values("account_id").annotate(last=Max("occurred_at"))
    expected_accounts = {row["account_id"]: row["last"] for row in latest}
    latest = usage.filter(contact__isnull=False).values("contact_id")
    expected_contacts = {
        row["contact_id"]: row["last"] for row in latest.annotate(last=Max("occurred_at"))
    }
    assert dict(Account.objects.values_list("id", "last_activity_at")) == {
        pk: expected_accounts.get(pk) for pk in Account.objects.values_list("id", flat=True)
    }
    assert dict(Contact.objects.values_list("id", "last_seen_at")) == {
        pk: expected_contacts.get(pk) for pk in Contact.objects.values_list("id", flat=True)
    }
    failures = UsageEvent.objects.filter(type="payment_failed").values("account_id")
    expected_failures = {
        row["account_id"]: (row["n"], row["last"])
        for row in failures.annotate(n=Count("id"), last=Max("occurred_at"))
    }
    assert expected_failures
    for account in Account.objects.all():
        assert (account.failed_payments, account.last_payment_failed_at) == expected_failures.get(
            account.id, (0, None)
        )
    card_updates = UsageEvent.objects.filter(type="card_updated").select_related("account")
    assert card_updates.exists()
    for event in card_updates:
        card = (event.properties["exp_month"], event.properties["exp_year"])
        assert card == (event.account.card_exp_month, event.account.card_exp_year)


def test_lifecycle_stages_agree_with_their_recorded_history():
    seed(accounts=40)
    for account in Account.objects.prefetch_related("stage_changes"):
        changes = sorted(account.stage_changes.all(), key=lambda c: c.changed_at)
        stage = LifecycleStage.AWARENESS
        for change in changes:
            assert change.from_stage == stage
            stage = change.to_stage
        assert account.stage == stage
        if account.first_paid_at:
            purchase = next(c for c in changes if c.to_stage == LifecycleStage.PURCHASE)
            assert purchase.changed_at == account.first_paid_at
        else:
            assert account.stage in (LifecycleStage.AWARENESS, LifecycleStage.CONVERSION)
    assert StageChange.objects.filter(to_stage=LifecycleStage.LOYALTY).exists()


def test_every_locale_and_every_event_type_appears():
    seed(accounts=40)
    assert set(Contact.objects.values_list("locale", flat=True)) == set(Locale.values)
    assert set(UsageEvent.objects.values_list("type", flat=True).distinct()) == EVENT_TYPES
    assert Contact.objects.filter(birthday__isnull=False).exists()
    assert Contact.objects.exclude(role="").exists()


def _usage(account: Account, start_days_ago: int, end_days_ago: int, types) -> int:
    window = DailyUsage.objects.filter(
        account=account,
        type__in=types,
        day__gte=TODAY - dt.timedelta(days=start_days_ago),
        day__lt=TODAY - dt.timedelta(days=end_days_ago),
    )
    return window.aggregate(n=Sum("count"))["n"] or 0


def test_healthy_declining_and_dormant_usage_can_be_told_apart_in_the_rollups():
    seed(accounts=40)
    people = ["login", "feature_used"]
    shapes: dict[str, list[tuple[int, int, int]]] = {}
    for account in Account.objects.all():
        last, before = _usage(account, 30, 0, people), _usage(account, 60, 30, people)
        logins = _usage(account, 30, 0, ["login"])
        shapes.setdefault(account.traits["demo_pattern"], []).append((last, before, logins))
    assert any(
        last >= 0.6 * before and logins and before for last, before, logins in shapes["healthy"]
    )
    assert any(before and last <= 0.6 * before for last, before, _ in shapes["declining"])
    # Dormant: they used the product, then nobody did anything for at least 30 days.
    dormant = Account.objects.filter(traits__demo_pattern="dormant")
    assert dormant.exists()
    for account in dormant:
        assert _usage(account, 30, 0, people) == 0
        assert _usage(account, 600, 30, people) > 0


def test_risky_situations_exist_to_exercise_alerts():
    seed(accounts=40)
    assert Ticket.objects.filter(
        status="open", priority__in=["high", "urgent"], opened_at__lt=NOW - dt.timedelta(days=14)
    ).exists()
    next_month = (TODAY.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    expiring = Q(card_exp_year=TODAY.year, card_exp_month=TODAY.month) | Q(
        card_exp_year=next_month.year, card_exp_month=next_month.month
    )
    assert Account.objects.filter(expiring).exists()
    assert Account.objects.filter(
        failed_payments__gt=0, last_payment_failed_at__isnull=False
    ).exists()
    assert Account.objects.filter(renewal_date__lte=TODAY + dt.timedelta(days=90)).exists()
    assert Ticket.objects.filter(status="closed", closed_at__gte=F("opened_at")).exists()


def test_names_read_like_a_real_book_of_business():
    """Ampersands, apostrophes and non-Latin scripts, as real customers' names have them; no
    markup or stray quotes (escaping is tested with data the tests make themselves)."""
    seed(accounts=40)
    names = set(Account.objects.values_list("name", flat=True))
    assert any("&" in n for n in names)
    assert any("'" in n for n in names)
    assert {"Ærlig Økonomi AS", "Ладога Аналитика ООО", "北京星云数据科技有限公司"} <= names
    texts = [*names, *Contact.objects.values_list("name", flat=True)]
    texts += [*Ticket.objects.values_list("subject", flat=True)]
    texts += [*Note.objects.values_list("body", flat=True)]
    assert not [text for text in texts if re.search(r'[<>"]', text)]
    traits = Account.objects.values_list("traits", flat=True)
    assert not [t for t in traits if re.search(r'[<>]|\\"', json.dumps(t, ensure_ascii=False))]


def test_foreign_currency_accounts_have_exchange_rates():
    seed(accounts=40)
    currencies = set(Account.objects.values_list("currency", flat=True)) - {"USD"}
    assert currencies
    for currency in currencies:
        assert ExchangeRate.objects.filter(currency=currency, valid_from__lte=TODAY).exists()
    assert set(ExchangeRate.objects.values_list("currency", flat=True)) == {
        "EUR",
        "GBP",
        "NOK",
        "SEK",
    }


def test_the_csm_team_exists_with_unusable_passwords():
    seed(accounts=40)
    csms = User.objects.filter(email__in=[email for email, _ in customer_demo.CSMS])
    assert csms.count() == len(customer_demo.CSMS)
    for user in csms:
        assert user.has_role(Role.CSM) and not user.is_staff
        assert not user.has_usable_password()
        assert user.full_name
    assert Account.objects.filter(owner__in=csms).exists()
    assert Account.objects.filter(owner__isnull=True).exists()


# --- the command ------------------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_progress_and_a_summary():
    output = run("--accounts", "12", "--seed", "3")
    assert Account.objects.count() == 12
    assert "accounts 12/12" in output
    assert f"Demo data: 12 accounts, {Contact.objects.count()} contacts" in output
    assert f"{UsageEvent.objects.count()} events" in output
    assert " s." in output


def test_if_empty_does_nothing_when_accounts_exist():
    Account.objects.create(external_id="acme", name="Acme")
    output = run("--if-empty", "--accounts", "5")
    assert "demo data not loaded" in output
    assert list(Account.objects.values_list("external_id", flat=True)) == ["acme"]
    assert not UsageEvent.objects.exists()


def test_if_empty_seeds_an_empty_database():
    run("--if-empty", "--accounts", "5")
    assert Account.objects.count() == 5


def test_it_refuses_a_database_with_accounts_unless_told_to_flush_demo_data():
    Account.objects.create(external_id="acme", name="Acme")
    with pytest.raises(CommandError, match="--flush-demo"):
        run("--accounts", "5")
    assert Account.objects.count() == 1


def test_flush_demo_replaces_demo_data_and_never_touches_other_data():
    acme = Account.objects.create(external_id="acme", name="Acme")
    person = Contact.objects.create(account=acme, external_id="acme-1", email="a@acme.test")
    UsageEvent.objects.create(
        account=acme, contact=person, type="login", occurred_at=NOW, source="api", event_id="x1"
    )
    DailyUsage.objects.create(account=acme, day=TODAY, type="login", count=1)
    run("--flush-demo", "--accounts", "10", "--seed", "1")
    counts = (Account.objects.count(), UsageEvent.objects.count(), Contact.objects.count())
    output = run("--flush-demo", "--accounts", "10", "--seed", "1")
    assert "Removed 10 earlier demo accounts" in output
    assert (Account.objects.count(), UsageEvent.objects.count(), Contact.objects.count()) == counts
    assert Account.objects.filter(external_id="acme").exists()
    assert UsageEvent.objects.filter(source="api", event_id="x1", contact=person).exists()
    assert DailyUsage.objects.filter(account=acme).count() == 1


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--accounts", "0"], "--accounts"),
        (["--months", "0"], "--months"),
        (["--events-per-account", "-1"], "--events-per-account"),
        (["--chunk-size", "0"], "--chunk-size"),
    ],
)
def test_bad_options_are_refused_by_name(args, flag):
    with pytest.raises(CommandError, match=flag):
        run(*args)
    assert not Account.objects.exists()


def test_a_failure_half_way_leaves_nothing_behind(monkeypatch):
    real_render = seeding._render
    calls = []

    def failing_render(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_render(*args, **kwargs)

    monkeypatch.setattr(seeding, "_render", failing_render)
    with pytest.raises(RuntimeError, match="disk full"):
        seed(accounts=20, chunk_size=10)
    assert not Account.objects.exists()
    assert not UsageEvent.objects.exists()


def test_a_database_error_while_loading_surfaces_and_leaves_nothing_behind():
    """A clash with an existing row fails the load (on PostgreSQL inside the COPY thread)."""
    Account.objects.create(external_id="acme", name="Acme")
    Contact.objects.create(account_id=Account.objects.get().pk, external_id="demo-000015-c0")
    with pytest.raises(IntegrityError):
        seed(accounts=20, chunk_size=5)
    assert list(Account.objects.values_list("external_id", flat=True)) == ["acme"]
    assert not UsageEvent.objects.exists()


calls: list[tuple] = []


def recording_seeder(*, rng: random.Random, now: dt.datetime, stdout) -> None:
    calls.append((rng.random(), now, Account.objects.count()))
    stdout.write("recorded")


def test_app_seeders_run_in_order_with_their_own_rng_and_missing_ones_are_skipped(monkeypatch):
    calls.clear()
    here = f"{__name__}.recording_seeder"
    monkeypatch.setattr(seed_demo, "APP_SEEDERS", [here, "no_such_app.demo.seed_things", here])
    output = run("--accounts", "6", "--seed", "11")
    assert [c[0] for c in calls] == [random.Random(12).random(), random.Random(14).random()]
    assert all(c[1] == customer_demo.demo_now() and c[2] == 6 for c in calls)
    assert "no_such_app.demo.seed_things: not available yet, skipped" in output
    assert output.count("recorded") == 2


def test_a_broken_app_seeder_is_an_error_not_a_skip(monkeypatch):
    monkeypatch.setattr(seed_demo, "APP_SEEDERS", ["customers.models.no_such_function"])
    with pytest.raises(CommandError, match="no_such_function"):
        run("--accounts", "3")
    assert not Account.objects.exists()


# --- PostgreSQL bulk loading ---------------------------------------------------------------------


@postgres_only
def test_bulk_loading_restores_every_index_and_constraint_exactly():
    before = schema_of(customer_demo.BULK_MODELS)
    stats = seed(accounts=20)
    assert Account._meta.db_table in stats.bulk_tables
    assert UsageEvent._meta.db_table in stats.bulk_tables
    assert schema_of(customer_demo.BULK_MODELS) == before


@postgres_only
def test_a_failed_bulk_load_leaves_the_schema_as_it_was(monkeypatch):
    before = schema_of(customer_demo.BULK_MODELS)
    real = seeding.accounts_refresh_revenue

    def fail(**kwargs):
        real(**kwargs)
        raise RuntimeError("boom")

    monkeypatch.setattr(seeding, "accounts_refresh_revenue", fail)
    with pytest.raises(RuntimeError, match="boom"):
        seed(accounts=10)
    assert schema_of(customer_demo.BULK_MODELS) == before
    assert not Account.objects.exists()


def test_ids_keep_flowing_from_the_sequences_after_a_seed():
    seed(accounts=10)
    highest = Account.objects.aggregate(m=Max("id"))["m"]
    created = Account.objects.create(external_id="after", name="After")
    assert created.id > highest
    contact = Contact.objects.create(account=created, external_id="after-1")
    assert contact.id > Contact.objects.exclude(pk=contact.pk).aggregate(m=Max("id"))["m"]


def test_non_empty_tables_are_loaded_with_their_indexes_in_place():
    acme = Account.objects.create(external_id="acme", name="Acme")
    UsageEvent.objects.create(account=acme, type="login", occurred_at=NOW, event_id="e1")
    stats = seed(accounts=10)
    assert UsageEvent._meta.db_table not in stats.bulk_tables
    assert Account.objects.count() == 11
    assert Decimal(Account.objects.get(external_id="acme").mrr) == 0
