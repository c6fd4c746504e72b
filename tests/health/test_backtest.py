"""The backtest: AUC and churn by band worked out by hand, and which snapshot stands for
each account."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Account
from health.backtest import backtest, churn_by_band, roc_auc
from health.models import HealthProfile, HealthSnapshot
from tests.customers.factories import make_account

# --- roc_auc -----------------------------------------------------------------------------


def test_auc_counts_the_stayer_over_churner_pairs_with_ties_as_half():
    # Stayers 80 and 60, churners 40 and 60: 80>40, 80>60, 60>40 win; 60=60 is half.
    pairs = [(80, False), (60, False), (40, True), (60, True)]

    assert roc_auc(pairs) == pytest.approx(3.5 / 4)


def test_auc_is_one_when_every_stayer_outscores_every_churner_and_zero_when_reversed():
    assert roc_auc([(90, False), (70, False), (30, True)]) == 1.0
    assert roc_auc([(10, False), (70, True), (30, True)]) == 0.0


def test_auc_of_all_tied_scores_is_a_coin_toss():
    assert roc_auc([(50, False), (50, True), (50, True), (50, False), (50, False)]) == 0.5


def test_auc_with_one_class_alone_is_none():
    assert roc_auc([(50, False), (70, False)]) is None
    assert roc_auc([(50, True)]) is None
    assert roc_auc([]) is None


def test_auc_agrees_with_comparing_every_pair_on_random_scores():
    rng = random.Random(5)
    pairs = [(rng.randint(0, 20), rng.random() < 0.3) for _ in range(300)]
    stayers = [s for s, churned in pairs if not churned]
    churners = [s for s, churned in pairs if churned]
    wins = sum(
        1.0 if s > c else 0.5 if s == c else 0.0 for s, c in itertools.product(stayers, churners)
    )

    assert roc_auc(pairs) == pytest.approx(wins / (len(stayers) * len(churners)))


# --- churn_by_band -----------------------------------------------------------------------


def test_churn_by_band_counts_each_band_and_keeps_empty_ones():
    pairs = [("red", True), ("red", True), ("red", False), ("green", False), ("green", True)]

    red, yellow, green = churn_by_band(pairs)

    assert (red.band, red.accounts, red.churned, red.stayed) == ("red", 3, 2, 1)
    assert red.churn_rate == pytest.approx(2 / 3)
    assert (yellow.band, yellow.accounts, yellow.churn_rate) == ("yellow", 0, None)
    assert (green.accounts, green.churned, green.churn_rate) == (2, 1, 0.5)


# --- the selector ------------------------------------------------------------------------

START = dt.date(2025, 1, 1)
END = dt.date(2025, 12, 31)


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def customer(*, churned_on: dt.date | None = None, paid_on: dt.date = dt.date(2023, 1, 1)):
    """A paying account, churned on ``churned_on`` if given (the columns the revenue history
    derives, set directly)."""
    account = make_account()
    Account.objects.filter(pk=account.pk).update(
        first_paid_at=at(paid_on), churned_at=at(churned_on) if churned_on else None
    )
    return account


def scored(account, day: dt.date, score: int | None, band: str = "") -> None:
    band = band or ("red" if score is not None and score <= 50 else "green")
    HealthSnapshot.objects.create(
        account=account,
        day=day,
        score=score,
        band=band if score is not None else "",
        profile=HealthProfile.objects.get(name="Standard"),
    )


def rows_by_account(result) -> dict[int, tuple]:
    return {row.account_id: (row.churned, row.day, row.score) for row in result.rows}


@pytest.mark.django_db
def test_a_churner_is_read_on_the_day_n_days_before_its_churn_not_after():
    churn = dt.date(2025, 6, 30)
    wanted = churn - dt.timedelta(days=90)
    account = customer(churned_on=churn)
    scored(account, wanted - dt.timedelta(days=5), 70)
    scored(account, wanted, 30)
    scored(account, wanted + dt.timedelta(days=1), 99)  # closer to the churn: not a forecast

    result = backtest(days_before=90, period_start=START, period_end=END)

    assert rows_by_account(result) == {account.pk: (True, wanted, 30)}
    assert result.rows[0].wanted_day == wanted


@pytest.mark.django_db
def test_without_a_snapshot_that_day_the_latest_within_a_week_before_stands_in():
    churn = dt.date(2025, 6, 30)
    wanted = churn - dt.timedelta(days=30)
    near, far = customer(churned_on=churn), customer(churned_on=churn)
    scored(near, wanted - dt.timedelta(days=9), 80)
    scored(near, wanted - dt.timedelta(days=3), 40)
    scored(far, wanted - dt.timedelta(days=8), 40)  # more than a week before: too old

    result = backtest(days_before=30, period_start=START, period_end=END)

    assert rows_by_account(result) == {near.pk: (True, wanted - dt.timedelta(days=3), 40)}
    assert (result.churners, result.unscored_churners) == (1, 1)


@pytest.mark.django_db
def test_stayers_are_read_n_days_before_the_period_ends_and_others_are_left_out():
    wanted = END - dt.timedelta(days=90)
    stayer = customer()
    churned_later = customer(churned_on=END + dt.timedelta(days=3))  # still paying at the end
    churned_before = customer(churned_on=START - dt.timedelta(days=1))
    trial = make_account()  # never paid: neither a stayer nor a churner
    unscored = customer()
    blank = customer()
    for account in (stayer, churned_later, churned_before, trial):
        scored(account, wanted, 60)
    scored(blank, wanted, None)  # a snapshot without a score does not count

    result = backtest(days_before=90, period_start=START, period_end=END)

    assert rows_by_account(result) == {
        stayer.pk: (False, wanted, 60),
        churned_later.pk: (False, wanted, 60),
    }
    assert (result.stayers, result.unscored_stayers, result.churners) == (2, 2, 0)
    assert unscored.pk not in rows_by_account(result)
    assert result.auc is None  # nobody churned: nothing to rank


@pytest.mark.django_db
def test_the_figures_come_from_the_rows_used():
    wanted_stayer = END - dt.timedelta(days=90)
    for score in (90, 80, 40):
        scored(customer(), wanted_stayer, score)
    for churn, score in ((dt.date(2025, 5, 1), 30), (dt.date(2025, 9, 1), 85)):
        scored(customer(churned_on=churn), churn - dt.timedelta(days=90), score)

    result = backtest(period_start=START, period_end=END)

    # Stayers 90, 80, 40 against churners 30, 85: 90 beats both, 80 and 40 beat 30 only.
    assert result.auc == pytest.approx(4 / 6)
    red, _, green = result.bands
    assert (red.accounts, red.churned) == (2, 1)  # 40 stayed, 30 churned
    assert (green.accounts, green.churned) == (3, 1)
    assert (result.accounts, result.churn_rate) == (5, pytest.approx(2 / 5))


@pytest.mark.django_db
def test_the_number_of_queries_does_not_grow_with_the_accounts():
    def queries_for(accounts: int) -> int:
        for n in range(accounts):
            churn = dt.date(2025, 3, 1) + dt.timedelta(days=n)
            scored(customer(churned_on=churn), churn - dt.timedelta(days=90), 20 + n)
            scored(customer(), END - dt.timedelta(days=90), 60 + n)
        with CaptureQueriesContext(connection) as captured:
            backtest(period_start=START, period_end=END)
        return len(captured.captured_queries)

    few = queries_for(2)
    many = queries_for(40)

    assert few == many == 2
