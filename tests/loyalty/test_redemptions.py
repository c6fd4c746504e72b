"""Redeeming rewards: what is refused and why, and requested → approved → fulfilled or
cancelled with the points returned."""

from __future__ import annotations

import pytest

from health.models import Task
from loyalty import services
from loyalty.models import EntryKind, LedgerEntry, Lot, Member, RedemptionState, RewardKind
from loyalty.selectors import ledger_mismatches
from tests.accounts.factories import make_user
from tests.customers.factories import make_account, make_contact
from tests.loyalty.factories import T0, days, make_reward, make_tier

pytestmark = pytest.mark.django_db


def funded(points: int = 500, **fields):
    account = make_account(**fields)
    services.award(account, points, reason="Seed", idempotency_key=f"seed:{account.pk}", now=T0)
    return account


def test_a_redemption_spends_its_points_at_once_and_says_who_asked():
    account = funded(500)
    contact = make_contact(account)
    reward = make_reward(150)
    redemption = services.redeem(
        account, reward, idempotency_key="r1", requested_by_contact=contact, now=T0
    )
    assert (redemption.state, redemption.points) == (RedemptionState.REQUESTED, 150)
    assert redemption.requested_by_contact == contact
    assert (redemption.spend_entry.kind, redemption.spend_entry.points) == (EntryKind.SPEND, -150)
    assert services.balance(account) == 350


def test_the_same_redemption_key_twice_spends_once():
    account = funded(500)
    reward = make_reward(150)
    first = services.redeem(account, reward, idempotency_key="r1", now=T0)
    again = services.redeem(account, reward, idempotency_key="r1", now=T0)
    assert again.pk == first.pk
    assert services.balance(account) == 350
    with pytest.raises(services.IdempotencyConflict):
        services.redeem(account, make_reward(10), idempotency_key="r1", now=T0)


def test_it_refuses_more_than_the_balance_and_says_how_much_there_is():
    account = funded(100)
    with pytest.raises(services.InsufficientPoints, match="needs 150 points; the account has 100"):
        services.redeem(account, make_reward(150), idempotency_key="r", now=T0)
    assert services.balance(account) == 100
    assert not LedgerEntry.objects.filter(kind=EntryKind.SPEND).exists()


def test_it_refuses_a_reward_above_the_account_tier():
    make_tier("Silver", 100)
    gold = make_tier("Gold", 1000)
    account = funded(500)  # Silver
    with pytest.raises(services.TierTooLow, match="Gold"):
        services.redeem(account, make_reward(50, min_tier=gold), idempotency_key="r", now=T0)
    silver_reward = make_reward(50, min_tier=Member.objects.get(account=account).tier)
    services.redeem(account, silver_reward, idempotency_key="r2", now=T0)


def test_it_refuses_past_the_per_account_limit_but_a_cancelled_one_does_not_count():
    account = funded(500)
    reward = make_reward(50, per_account_limit=1)
    first = services.redeem(account, reward, idempotency_key="r1", now=T0)
    with pytest.raises(services.LimitReached):
        services.redeem(account, reward, idempotency_key="r2", now=T0)
    services.redemption_cancel(redemption=first, now=T0)
    services.redeem(account, reward, idempotency_key="r3", now=T0)
    # Another account has its own limit.
    services.redeem(funded(100), reward, idempotency_key="r4", now=T0)


def test_stock_goes_down_with_each_redemption_and_back_when_one_is_cancelled():
    reward = make_reward(10, kind=RewardKind.PHYSICAL, stock=1)
    first = services.redeem(funded(), reward, idempotency_key="r1", now=T0)
    reward.refresh_from_db()
    assert reward.stock == 0
    with pytest.raises(services.OutOfStock):
        services.redeem(funded(), reward, idempotency_key="r2", now=T0)
    services.redemption_cancel(redemption=first, now=T0)
    reward.refresh_from_db()
    assert reward.stock == 1


def test_it_refuses_a_reward_switched_off():
    with pytest.raises(services.RewardUnavailable):
        services.redeem(funded(), make_reward(10, active=False), idempotency_key="r", now=T0)


def test_fulfilling_makes_one_task_for_the_account_owner():
    owner = make_user()
    account = funded(500, owner=owner)
    reward = make_reward(100, kind=RewardKind.EARLY_ACCESS, feature="AI forecasts", value=None)
    redemption = services.redeem(account, reward, idempotency_key="r1", now=T0)
    services.redemption_approve(redemption=redemption, by=owner, now=T0 + days(1))
    redemption.refresh_from_db()
    assert (redemption.state, redemption.approved_by) == (RedemptionState.APPROVED, owner)
    done = services.redemption_fulfil(redemption=redemption, by=owner, now=T0 + days(2))
    assert done.state == RedemptionState.FULFILLED
    task = Task.objects.get()
    assert (task.account, task.owner, task.due_on) == (account, owner, (T0 + days(2)).date())
    assert reward.name in task.title
    assert "AI forecasts" in task.body
    assert done.task == task
    services.redemption_fulfil(redemption=redemption, by=owner, now=T0 + days(3))
    assert Task.objects.count() == 1
    with pytest.raises(services.InvalidTransition):
        services.redemption_cancel(redemption=redemption, now=T0 + days(3))
    with pytest.raises(services.InvalidTransition):
        services.redemption_approve(redemption=redemption, now=T0 + days(3))


def test_cancelling_returns_the_points_in_a_lot_that_expires_when_the_spent_one_would_have():
    account = funded(300)
    seed_lot = Lot.objects.get()
    redemption = services.redeem(account, make_reward(200), idempotency_key="r1", now=T0)
    cancelled = services.redemption_cancel(
        redemption=redemption, reason="Changed mind", now=T0 + days(5)
    )
    assert cancelled.state == RedemptionState.CANCELLED
    assert services.balance(account) == 300
    refund = cancelled.refund_entry
    assert (refund.kind, refund.points, refund.related_entry) == (
        EntryKind.REVERSE,
        200,
        redemption.spend_entry,
    )
    assert Lot.objects.get(source_entry=refund).expires_at == seed_lot.expires_at
    services.redemption_cancel(redemption=redemption, now=T0 + days(6))
    assert services.balance(account) == 300
    with pytest.raises(services.InvalidTransition):
        services.redemption_fulfil(redemption=redemption, now=T0 + days(6))
    assert ledger_mismatches().total == 0


def test_points_returned_after_their_lot_lapsed_get_a_fresh_life():
    account = funded(300)
    redemption = services.redeem(account, make_reward(200), idempotency_key="r1", now=T0)
    later = T0 + days(400)  # the seed lot expired at T0 + 12 months
    services.redemption_cancel(redemption=redemption, now=later)
    refund_lot = Lot.objects.get(source_entry__idempotency_key=f"redeem-cancel:{redemption.pk}")
    assert refund_lot.expires_at == later.replace(year=2028)
    assert services.balance(account) == 200  # the 100 never spent expired on the way
    assert ledger_mismatches().total == 0
