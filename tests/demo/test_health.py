"""The demo's health history: scored weekly as the nightly run would have, churned accounts
frozen at their last score, and a backtest on it that tells churners from stayers."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest
from django.db.models import F

from customers.models import Account
from demo.customers import demo_seed
from demo.health import HISTORY_STEP_DAYS, history_days, seed_health
from demo.surveys import seed_surveys
from health.backtest import backtest
from health.models import HealthSnapshot, Source

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 6, 15, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture
def demo():
    """The demo company as ``seed_demo`` builds it by default (600 accounts: a year holds
    enough churners, about 40, for the AUC to mean something)."""
    demo_seed(accounts=600, seed=42, now=NOW)
    seed_surveys(rng=random.Random(43), now=NOW)
    seed_health(rng=random.Random(44), now=NOW)


def test_the_history_is_weekly_up_to_today():
    days = history_days(TODAY)

    assert TODAY - days[0] > dt.timedelta(days=390)  # a year of outcomes, 90 days before each
    assert days[-1] == TODAY - dt.timedelta(days=HISTORY_STEP_DAYS)
    assert {later - earlier for earlier, later in itertools.pairwise(days)} == {
        dt.timedelta(days=HISTORY_STEP_DAYS)
    }


def test_on_the_demo_the_score_90_days_ahead_tells_churners_from_stayers(demo):
    result = backtest(days_before=90, period_start=TODAY - dt.timedelta(days=364), period_end=TODAY)

    assert result.churners >= 30
    assert result.auc > 0.6
    red, _, green = result.bands
    assert red.churn_rate > 2 * green.churn_rate


def test_no_account_is_scored_before_it_existed_and_churned_ones_stay_frozen(demo):
    assert not HealthSnapshot.objects.filter(day__lt=F("account__created_at__date")).exists()
    churned = Account.objects.filter(
        churned_at__isnull=False, churned_at__date__lt=TODAY - dt.timedelta(days=14)
    )
    assert churned.count() >= 20
    for account in churned:
        before = (
            HealthSnapshot.objects.filter(account=account, day__lt=account.churned_at.date())
            .order_by("-day")
            .first()
        )
        after = list(
            HealthSnapshot.objects.filter(account=account, day__gt=account.churned_at.date())
        )
        if before is None:
            continue
        assert after, account  # still scored every week: frozen, not dropped
        assert {(s.score, s.band, s.source) for s in after} == {
            (before.score, before.band, Source.FROZEN)
        }


def test_the_demo_keeps_saved_segments_with_members_and_seeding_again_keeps_them_once(demo):
    from customers.models import Segment, SegmentMember
    from demo.health import DEMO_SEGMENTS, seed_segments

    seed_segments(rng=random.Random(45), now=NOW)
    seed_segments(rng=random.Random(45), now=NOW)

    from customers.models import Account
    from customers.segments import rules_q

    names = set(Segment.objects.values_list("name", flat=True))
    assert names == {name for name, _, _ in DEMO_SEGMENTS}
    for segment in Segment.objects.all():  # members are exactly who matches the rules
        members = set(
            SegmentMember.objects.filter(segment=segment).values_list("account_id", flat=True)
        )
        matching = Account.objects.filter(rules_q(segment.rules, match=segment.match, now=NOW))
        assert members == set(matching.values_list("pk", flat=True)), segment.name
    promoters = Segment.objects.get(name="Enterprise promoters")
    assert SegmentMember.objects.filter(segment=promoters).exists()
