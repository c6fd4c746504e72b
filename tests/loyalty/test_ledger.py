"""Award, adjust, reverse and the balance: hand-computed cases of the ledger rules."""

from __future__ import annotations

import datetime as dt

import pytest

from loyalty import services
from loyalty.models import (
    EntryKind,
    ExpiryPolicy,
    LedgerEntry,
    Lot,
    LotAllocation,
    LotState,
    LoyaltyProgram,
    Member,
)
from loyalty.selectors import ledger_mismatches
from tests.customers.factories import make_account
from tests.loyalty.factories import T0, days, make_reward

pytestmark = pytest.mark.django_db


def member_of(account) -> Member:
    return Member.objects.get(account=account)


def assert_reconciled() -> None:
    found = ledger_mismatches()
    assert list(found.members) == []
    assert list(found.lots) == []


def entry_sum(account) -> int:
    return sum(LedgerEntry.objects.filter(member__account=account).values_list("points", flat=True))


# --- award ----------------------------------------------------------------------------------


def test_an_award_puts_its_points_in_a_lot_that_expires_twelve_months_later():
    account = make_account()
    entry = services.award(account, 120, reason="Onboarding done", idempotency_key="k1", now=T0)
    assert (entry.kind, entry.points, entry.tier_points) == (EntryKind.EARN, 120, 120)
    lot = Lot.objects.get(source_entry=entry)
    assert (lot.amount, lot.remaining, lot.state) == (120, 120, LotState.ACTIVE)
    assert lot.expires_at == dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
    assert services.balance(account) == 120
    assert_reconciled()


def test_the_same_key_twice_writes_one_entry_and_returns_the_first():
    account = make_account()
    first = services.award(account, 50, reason="Review", idempotency_key="review:1", now=T0)
    again = services.award(account, 999, reason="Review", idempotency_key="review:1", now=T0)
    assert again.pk == first.pk
    assert LedgerEntry.objects.count() == 1
    assert services.balance(account) == 50


def test_it_refuses_a_key_already_used_for_another_account():
    services.award(make_account(), 50, reason="x", idempotency_key="shared", now=T0)
    other = make_account()
    with pytest.raises(services.IdempotencyConflict):
        services.award(other, 50, reason="x", idempotency_key="shared", now=T0)
    assert services.balance(other) == 0


@pytest.mark.parametrize("points", [0, -5, 1.5, "10", True, None])
def test_it_refuses_points_that_are_not_a_positive_whole_number(points):
    account = make_account()
    with pytest.raises(services.InvalidRequest):
        services.award(account, points, reason="x", idempotency_key="k", now=T0)
    assert not LedgerEntry.objects.exists()
    assert not Member.objects.exists()


@pytest.mark.parametrize("key", ["", "   ", "k" * 181])
def test_it_refuses_an_empty_or_overlong_key(key):
    with pytest.raises(services.InvalidRequest):
        services.award(make_account(), 10, reason="x", idempotency_key=key, now=T0)


def test_balance_of_an_account_that_never_earned_is_zero():
    assert services.balance(make_account()) == 0


# --- spending order -------------------------------------------------------------------------


def test_spends_take_from_the_lots_that_expire_first_not_those_earned_first():
    account = make_account()
    program = LoyaltyProgram.current()
    a = services.award(account, 100, reason="a", idempotency_key="a", now=T0)  # exp T0+12m
    b = services.award(account, 50, reason="b", idempotency_key="b", now=T0 + days(31))
    program.expiry_policy = ExpiryPolicy.NEVER
    program.save()
    c = services.award(account, 80, reason="c", idempotency_key="c", now=T0 + days(40))
    program.expiry_policy, program.expiry_months = ExpiryPolicy.MONTHS_AFTER_EARNING, 1
    program.save()
    d = services.award(account, 10, reason="d", idempotency_key="d", now=T0 + days(59))
    # Expiry order: d (T0+59d+1m), a (T0+12m), b (T0+31d+12m), c (never).
    services.redeem(account, make_reward(130), idempotency_key="r1", now=T0 + days(60))
    remaining = {
        key: Lot.objects.get(source_entry=e).remaining
        for key, e in {"a": a, "b": b, "c": c, "d": d}.items()
    }
    assert remaining == {"d": 0, "a": 0, "b": 30, "c": 80}
    services.redeem(account, make_reward(60), idempotency_key="r2", now=T0 + days(61))
    remaining = {k: Lot.objects.get(source_entry=e).remaining for k, e in {"b": b, "c": c}.items()}
    assert remaining == {"b": 0, "c": 50}
    spend = LedgerEntry.objects.get(idempotency_key="redeem:r2")
    taken = dict(
        LotAllocation.objects.filter(entry=spend).values_list("lot__source_entry", "points")
    )
    assert taken == {b.pk: 30, c.pk: 30}
    assert services.balance(account) == 50
    assert_reconciled()


def test_points_past_their_expiry_are_not_spent_even_before_the_nightly_run():
    account = make_account()
    services.award(account, 100, reason="x", idempotency_key="x", now=T0)
    later = T0 + days(400)
    with pytest.raises(services.InsufficientPoints) as refused:
        services.redeem(account, make_reward(50), idempotency_key="r", now=later)
    assert (refused.value.needed, refused.value.available) == (50, 0)
    # The refused redemption rolled back its settlement too; the nightly run expires the lot.
    lot = Lot.objects.get()
    assert not LedgerEntry.objects.filter(idempotency_key=f"expire:lot:{lot.pk}").exists()
    assert services.lots_expire(now=later) == 1
    assert services.balance(account) == 0
    assert_reconciled()


# --- pending points -------------------------------------------------------------------------


def test_pending_points_wait_their_days_then_become_spendable_and_live_their_full_life():
    account = make_account()
    services.award(account, 100, reason="x", idempotency_key="x", pending_days=14, now=T0)
    member = member_of(account)
    assert (member.balance, member.pending) == (0, 100)
    assert entry_sum(account) == member.balance + member.pending
    with pytest.raises(services.InsufficientPoints):
        services.redeem(account, make_reward(100), idempotency_key="r0", now=T0 + days(13))
    lot = Lot.objects.get()
    assert lot.state == LotState.PENDING
    assert lot.expires_at == dt.datetime(2027, 1, 24, 9, 0, tzinfo=dt.UTC)  # 12 months from T0+14d
    assert services.lots_activate(now=T0 + days(14)) == 1
    member.refresh_from_db()
    assert (member.balance, member.pending) == (100, 0)
    assert services.lots_activate(now=T0 + days(14)) == 0
    services.redeem(account, make_reward(100), idempotency_key="r1", now=T0 + days(14))
    assert services.balance(account) == 0
    assert_reconciled()


def test_the_program_pending_days_apply_when_the_caller_gives_none():
    program = LoyaltyProgram.current()
    program.pending_days = 7
    program.save()
    account = make_account()
    services.award(account, 40, reason="x", idempotency_key="x", now=T0)
    assert (member_of(account).balance, member_of(account).pending) == (0, 40)
    assert Lot.objects.get().activates_at == T0 + days(7)


# --- adjust ---------------------------------------------------------------------------------


def test_an_adjustment_up_adds_spendable_points_that_do_not_count_toward_tiers():
    account = make_account()
    entry = services.adjust(account, 30, reason="Goodwill", idempotency_key="adj1", now=T0)
    assert (entry.kind, entry.points, entry.tier_points) == (EntryKind.ADJUST, 30, 0)
    assert services.balance(account) == 30
    assert services.adjust(account, 30, reason="Goodwill", idempotency_key="adj1").pk == entry.pk


def test_an_adjustment_down_takes_points_and_never_past_the_balance():
    account = make_account()
    services.award(account, 50, reason="x", idempotency_key="x", now=T0)
    services.adjust(account, -20, reason="Typo", idempotency_key="adj1", now=T0)
    assert services.balance(account) == 30
    with pytest.raises(services.InsufficientPoints):
        services.adjust(account, -31, reason="Too much", idempotency_key="adj2", now=T0)
    assert services.balance(account) == 30
    with pytest.raises(services.InvalidRequest):
        services.adjust(account, 5, reason=" ", idempotency_key="adj3", now=T0)
    assert_reconciled()


# --- reverse and debt -----------------------------------------------------------------------


def test_a_clawback_with_points_to_spare_takes_the_earned_lot_first():
    account = make_account()
    first = services.award(account, 100, reason="Invoice 1", idempotency_key="inv1", now=T0)
    services.award(account, 50, reason="Invoice 2", idempotency_key="inv2", now=T0 - days(30))
    reversal = services.reverse(first, reason="Refund", idempotency_key="refund:inv1", now=T0)
    assert (reversal.kind, reversal.points, reversal.debt, reversal.tier_points) == (
        EntryKind.REVERSE,
        -100,
        0,
        -100,
    )
    assert Lot.objects.get(source_entry=first).remaining == 0
    assert services.balance(account) == 50
    assert member_of(account).debt == 0
    assert_reconciled()


def test_a_refund_after_a_redemption_leaves_a_debt_that_later_earnings_pay_first():
    account = make_account()
    earned = services.award(account, 100, reason="Invoice", idempotency_key="inv", now=T0)
    services.redeem(account, make_reward(80), idempotency_key="r", now=T0 + days(1))
    reversal = services.reverse("inv", reason="Chargeback", idempotency_key="cb", now=T0 + days(2))
    assert (reversal.points, reversal.debt) == (-20, 80)
    member = member_of(account)
    assert (member.balance, member.debt) == (0, 80)
    assert entry_sum(account) == 0
    services.award(account, 50, reason="Review", idempotency_key="rev", now=T0 + days(3))
    repaid = LedgerEntry.objects.get(idempotency_key="rev:debt")
    assert (repaid.kind, repaid.points, repaid.debt, repaid.related_entry_id) == (
        EntryKind.ADJUST,
        -50,
        -50,
        LedgerEntry.objects.get(idempotency_key="rev").pk,
    )
    member.refresh_from_db()
    assert (member.balance, member.debt) == (0, 30)
    services.award(account, 100, reason="Case study", idempotency_key="cs", now=T0 + days(4))
    member.refresh_from_db()
    assert (member.balance, member.debt) == (70, 0)
    assert entry_sum(account) == 70
    assert earned.pk == reversal.related_entry_id
    assert_reconciled()


def test_a_clawback_that_finds_nothing_still_records_its_debt_once():
    account = make_account()
    services.award(account, 100, reason="x", idempotency_key="inv", now=T0)
    services.redeem(account, make_reward(100), idempotency_key="r", now=T0)
    reversal = services.reverse("inv", reason="Refund", idempotency_key="refund", now=T0)
    assert (reversal.points, reversal.debt) == (0, 100)
    again = services.reverse("inv", reason="Refund", idempotency_key="refund", now=T0)
    assert again.pk == reversal.pk
    assert member_of(account).debt == 100
    with pytest.raises(services.NotReversible):
        services.reverse("inv", reason="Refund twice", idempotency_key="refund-2", now=T0)
    assert_reconciled()


def test_a_partial_clawback_leaves_the_rest_to_claw():
    account = make_account()
    services.award(account, 100, reason="x", idempotency_key="inv", now=T0)
    services.reverse("inv", points=30, reason="Part refund", idempotency_key="p1", now=T0)
    assert services.balance(account) == 70
    with pytest.raises(services.NotReversible, match="Only 70 points"):
        services.reverse("inv", points=71, reason="Too much", idempotency_key="p2", now=T0)
    services.reverse("inv", reason="The rest", idempotency_key="p3", now=T0)
    assert services.balance(account) == 0
    assert_reconciled()


def test_clawing_back_pending_points_cancels_their_lot_without_debt():
    account = make_account()
    services.award(account, 60, reason="x", idempotency_key="inv", pending_days=30, now=T0)
    services.reverse("inv", reason="Refund", idempotency_key="refund", now=T0 + days(1))
    lot = Lot.objects.get()
    assert (lot.state, lot.remaining) == (LotState.CANCELLED, 0)
    member = member_of(account)
    assert (member.balance, member.pending, member.debt) == (0, 0, 0)
    assert_reconciled()


def test_only_earnings_and_positive_adjustments_can_be_clawed_back():
    account = make_account()
    services.award(account, 100, reason="x", idempotency_key="inv", now=T0)
    services.redeem(account, make_reward(10), idempotency_key="r", now=T0)
    with pytest.raises(services.NotReversible):
        services.reverse("redeem:r", reason="no", idempotency_key="nope", now=T0)
    with pytest.raises(services.NotReversible):
        services.reverse("missing", reason="no", idempotency_key="nope2", now=T0)
    down = services.adjust(account, -5, reason="fix", idempotency_key="down", now=T0)
    with pytest.raises(services.NotReversible):
        services.reverse(down, reason="no", idempotency_key="nope3", now=T0)


def test_the_tier_multiplier_is_applied_by_the_caller_and_rounds_down():
    from decimal import Decimal

    from tests.loyalty.factories import make_tier

    account = make_account()
    assert services.tier_multiplier(account) == Decimal(1)
    make_tier("Gold", 100, "1.50")
    services.award(account, 100, reason="x", idempotency_key="x", now=T0)
    assert services.tier_multiplier(account) == Decimal("1.50")
    assert services.multiplied(33, services.tier_multiplier(account)) == 49
