"""The nightly run: set-based activation and expiry, safe to rerun, and the expiry-warning
selector."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty import services
from loyalty.models import EntryKind, LedgerEntry, Lot, LotAllocation, LotState, Member
from loyalty.selectors import expiring_points, ledger_mismatches
from loyalty.tasks import run_nightly_ledger
from tests.customers.factories import make_account
from tests.loyalty.factories import T0, days, make_reward

pytestmark = pytest.mark.django_db

YEAR = T0.replace(year=2027)  # when lots earned at T0 expire


def balances() -> dict[str, int]:
    return dict(Member.objects.values_list("account__name", "balance"))


def test_expiry_empties_every_lapsed_lot_in_one_pass_and_a_rerun_changes_nothing():
    a, b, c = make_account(name="A"), make_account(name="B"), make_account(name="C")
    services.award(a, 100, reason="x", idempotency_key="a1", now=T0)
    services.award(a, 40, reason="x", idempotency_key="a2", now=T0 + days(1))
    services.award(b, 70, reason="x", idempotency_key="b1", now=T0)
    services.redeem(b, make_reward(30), idempotency_key="rb", now=T0)  # b's lot: 40 left
    services.award(c, 25, reason="x", idempotency_key="c1", now=T0 + days(2))
    assert services.lots_expire(now=YEAR) == 2  # a1 and b1 lapse exactly now
    assert balances() == {"A": 40, "B": 0, "C": 25}
    lot = Lot.objects.get(source_entry__idempotency_key="b1")
    assert (lot.state, lot.remaining) == (LotState.EXPIRED, 0)
    expired = LedgerEntry.objects.get(idempotency_key=f"expire:lot:{lot.pk}")
    assert (expired.kind, expired.points, expired.member.account) == (EntryKind.EXPIRE, -40, b)
    assert list(LotAllocation.objects.filter(entry=expired).values_list("lot", "points")) == [
        (lot.pk, 40)
    ]
    entries = LedgerEntry.objects.count()
    assert services.lots_expire(now=YEAR) == 0
    assert services.lots_expire(now=YEAR + days(1)) == 1  # a2
    assert services.lots_expire(now=YEAR + days(1)) == 0
    assert LedgerEntry.objects.count() == entries + 1
    assert balances() == {"A": 0, "B": 0, "C": 25}
    assert ledger_mismatches().total == 0


def test_a_lot_one_second_short_of_its_expiry_is_kept():
    account = make_account()
    services.award(account, 10, reason="x", idempotency_key="x", now=T0)
    assert services.lots_expire(now=YEAR - days(1 / 86400)) == 0
    assert services.balance(account) == 10


def test_a_fully_spent_lot_is_closed_without_an_entry():
    account = make_account()
    services.award(account, 10, reason="x", idempotency_key="x", now=T0)
    services.redeem(account, make_reward(10), idempotency_key="r", now=T0)
    assert services.lots_expire(now=YEAR) == 0
    assert Lot.objects.get().state == LotState.EXPIRED
    assert not LedgerEntry.objects.filter(kind=EntryKind.EXPIRE).exists()


def test_activation_moves_due_pending_points_to_the_balance_only():
    a, b = make_account(name="A"), make_account(name="B")
    services.award(a, 30, reason="x", idempotency_key="a", pending_days=7, now=T0)
    services.award(b, 50, reason="x", idempotency_key="b", pending_days=30, now=T0)
    assert services.lots_activate(now=T0 + days(7)) == 1
    assert dict(Member.objects.values_list("account__name", "pending")) == {"A": 0, "B": 50}
    assert balances() == {"A": 30, "B": 0}
    assert ledger_mismatches().total == 0


def test_the_nightly_task_activates_then_expires(monkeypatch):
    account = make_account()
    services.award(account, 30, reason="x", idempotency_key="a", pending_days=7, now=T0)
    services.award(account, 20, reason="x", idempotency_key="b", now=T0)
    monkeypatch.setattr(timezone, "now", lambda: YEAR + days(3))  # a lives to YEAR+7d
    assert run_nightly_ledger.delay().get() == {"activated": 1, "expired": 1}
    assert run_nightly_ledger.delay().get() == {"activated": 0, "expired": 0}
    assert services.balance(account) == 30


def test_the_nightly_run_costs_the_same_queries_for_three_lots_or_thirty():
    def seed(n: int, prefix: str) -> None:
        for i in range(n):
            services.award(make_account(), 5, reason="x", idempotency_key=f"{prefix}{i}", now=T0)

    seed(3, "s")
    with CaptureQueriesContext(connection) as small:
        assert services.lots_expire(now=YEAR) == 3
    seed(30, "l")
    with CaptureQueriesContext(connection) as large:
        assert services.lots_expire(now=YEAR) == 30
    assert len(large.captured_queries) == len(small.captured_queries)


def test_the_warning_selector_finds_points_expiring_within_the_days():
    soon, later, spent = make_account(name="Soon"), make_account(name="Later"), make_account()
    services.award(soon, 40, reason="x", idempotency_key="s1", now=T0)
    services.award(soon, 15, reason="x", idempotency_key="s2", now=T0 + days(10))
    services.award(soon, 99, reason="x", idempotency_key="s3", now=T0 + days(60))
    services.award(later, 40, reason="x", idempotency_key="l1", now=T0 + days(45))
    services.award(spent, 40, reason="x", idempotency_key="p1", now=T0)
    services.redeem(spent, make_reward(40), idempotency_key="pr", now=T0)
    now = YEAR - days(30)

    def found(within: int, at):
        return {
            m.account.name: (m.expiring_points, m.expires_first_at)
            for m in expiring_points(within_days=within, now=at)
        }

    assert found(30, now) == {"Soon": (40, YEAR)}  # s2 lapses at YEAR + 10 days
    assert found(40, now) == {"Soon": (55, YEAR)}  # l1 (YEAR + 45 days) still outside
    # At YEAR, s1 has lapsed (no longer the member's to save): only s2 is ahead.
    assert found(30, YEAR) == {"Soon": (15, YEAR + days(10))}


def test_the_beat_runs_the_nightly_ledger_and_the_tiers_daily_each_with_an_expiry():
    from celery import current_app

    from config.celery import app

    by_task = {entry["task"]: entry for entry in app.conf.beat_schedule.values()}
    nightly = by_task["loyalty.tasks.run_nightly_ledger"]
    tiers = by_task["loyalty.tasks.recalculate_tiers"]
    assert nightly["options"]["expires"] > 0 and tiers["options"]["expires"] > 0
    assert nightly["schedule"] == tiers["schedule"] == 24 * 60 * 60  # run_scheduled needs
    # fixed intervals (the embedded mode)
    assert {"loyalty.tasks.run_nightly_ledger", "loyalty.tasks.recalculate_tiers"} <= set(
        current_app.tasks
    )
