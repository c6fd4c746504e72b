"""Earning under real contention (PostgreSQL, threads on their own connections): a cap holds
when several workers pay the same account at once, and one cause pays once."""

from __future__ import annotations

from django.utils import timezone

from loyalty import earning
from loyalty.models import EarningRule, LedgerEntry, RuleKind
from loyalty.services import balance
from tests.concurrency import POSTGRES_ONLY, run_together
from tests.customers.factories import make_account

pytestmark = POSTGRES_ONLY


def test_a_count_cap_holds_when_workers_pay_the_same_account_at_once():
    rule = EarningRule.objects.create(
        name="Review",
        kind=RuleKind.EVENT,
        event_type="review_posted",
        points=10,
        cap_count=2,
        cap_period="day",
    )
    account = make_account()
    now = timezone.now()
    jobs = [
        lambda i=i: earning.earn(
            rule, [earning.Cause(account.pk, f"rule:{rule.pk}:event:{i}", now, 10, "x")], now=now
        )
        for i in range(6)
    ]

    results = run_together(*jobs)

    assert sorted(results) == [0, 0, 0, 0, 10, 10]
    assert LedgerEntry.objects.filter(member__account=account).count() == 2


def test_one_cause_sent_by_several_workers_at_once_pays_once():
    rule = EarningRule.objects.create(
        name="Case study", kind=RuleKind.EVENT, event_type="case_study", points=700
    )
    account = make_account()
    now = timezone.now()
    cause = earning.Cause(account.pk, f"rule:{rule.pk}:event:1", now, 700, "x")

    run_together(*[lambda: earning.earn(rule, [cause], now=now) for _ in range(5)])

    assert LedgerEntry.objects.filter(member__account=account).count() == 1
    assert balance(account) == 700
