"""A hypothesis state machine over earn / spend / expire / reverse / cancel / replay: whatever
the order, the ledger stays whole — ``balance == sum of entries`` (with pending points apart),
nothing negative, every lot and debt rebuilt from the entries — and a replay changes nothing."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from loyalty import services
from loyalty.models import LedgerEntry, Member, Reward, RewardKind
from loyalty.selectors import ledger_mismatches
from tests.customers.factories import make_account
from tests.loyalty.factories import T0, days

pytestmark = pytest.mark.django_db

_runs = itertools.count()


class LedgerMachine(RuleBasedStateMachine):
    earned = Bundle("earned")
    redeemed = Bundle("redeemed")

    def __init__(self) -> None:
        super().__init__()
        run = next(_runs)
        self.account = make_account()
        self.keys = (f"{run}:{n}" for n in itertools.count())
        self.now = T0

    def _member(self) -> Member:
        return Member.objects.get_or_create(account=self.account)[0]

    def _reward(self, cost: int) -> Reward:
        return Reward.objects.get_or_create(
            name=f"Cost {cost}", defaults={"kind": RewardKind.PHYSICAL, "cost_points": cost}
        )[0]

    @rule(target=earned, points=st.integers(1, 400), pending=st.sampled_from([0, 0, 0, 10]))
    def earn(self, points: int, pending: int):
        key = next(self.keys)
        services.award(
            self.account,
            points,
            reason="earn",
            idempotency_key=key,
            pending_days=pending,
            now=self.now,
        )
        return (key, points, pending)

    @rule(target=redeemed, share=st.integers(1, 130))
    def spend(self, share: int):
        """Spend ``share`` percent of the balance: mostly what there is, sometimes more."""
        before = self._member()
        cost = max(1, before.balance * share // 100)
        key = next(self.keys)
        try:
            redemption = services.redeem(
                self.account, self._reward(cost), idempotency_key=key, now=self.now
            )
        except services.InsufficientPoints:
            # Refused exactly when the spendable points (after settling due lots) fall short.
            after = self._member()
            assert after.balance < cost
            assert after.balance <= before.balance + before.pending
            return None
        assert self._member().balance >= 0
        return redemption

    @rule(redemption=consumes(redeemed))
    def cancel(self, redemption):
        if redemption is None:
            return
        before = self._member().balance
        debt = self._member().debt
        services.redemption_cancel(redemption=redemption, now=self.now)
        after = self._member()
        assert after.balance - before == redemption.points - (debt - after.debt)

    @rule(days_ahead=st.integers(1, 200))
    def time_passes_and_the_night_runs(self, days_ahead: int):
        self.now += days(days_ahead)
        services.lots_activate(now=self.now)
        services.lots_expire(now=self.now)
        services.tiers_recalculate(now=self.now)

    @rule(earning=earned, part=st.one_of(st.none(), st.integers(1, 400)))
    def reverse(self, earning, part):
        key, points, _ = earning
        try:
            services.reverse(
                key, points=part, reason="refund", idempotency_key=next(self.keys), now=self.now
            )
        except services.NotReversible:
            clawed = sum(
                e.debt - e.points
                for e in LedgerEntry.objects.filter(
                    related_entry__idempotency_key=key, kind="reverse"
                )
            )
            assert clawed == points or (part is not None and part > points - clawed)

    @rule(earning=earned)
    def replay(self, earning):
        key, points, pending = earning
        count = LedgerEntry.objects.count()
        member = self._member()
        entry = services.award(
            self.account,
            points,
            reason="earn",
            idempotency_key=key,
            pending_days=pending,
            now=self.now,
        )
        assert entry.idempotency_key == key
        assert LedgerEntry.objects.count() == count
        again = self._member()
        assert (again.balance, again.pending, again.debt) == (
            member.balance,
            member.pending,
            member.debt,
        )

    @invariant()
    def the_ledger_is_whole(self):
        member = self._member()
        entries = list(LedgerEntry.objects.filter(member=member).values_list("points", "debt"))
        assert member.balance >= 0 and member.pending >= 0 and member.debt >= 0
        assert member.balance + member.pending == sum(p for p, _ in entries)
        assert member.debt == sum(d for _, d in entries)
        found = ledger_mismatches()
        assert not found.members.filter(pk=member.pk).exists()
        assert not found.lots.filter(member=member).exists()


def test_the_ledger_stays_whole_whatever_happens():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
