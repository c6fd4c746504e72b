"""Does the health score see churn coming? A backtest over accounts whose outcome is known.

Take the accounts that churned within a period and those still paying at its end, read each
one's score ``N`` days before its outcome (the churn day for a churner, the period's end for
a stayer) and ask two questions:

- **churn rate by band**: of the accounts that were red (yellow, green) N days before, how
  many churned? A score worth having puts far more churn in red than in green;
- **ROC AUC**: the probability that a stayer picked at random had a higher score than a
  churner picked at random (ties count half). 0.5 is a coin toss, 1.0 a perfect warning.

The arithmetic (:func:`roc_auc`, :func:`churn_by_band`) is pure, so it is tested without a
database; :func:`backtest` gathers the scores in a fixed number of queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from core import db
from customers.models import Account
from health import scoring
from health.models import HealthSnapshot

DEFAULT_DAYS_BEFORE = 90
# Snapshots are daily when the nightly recompute runs, but a missed night (or a history scored
# weekly, as the demo's is) must not drop the account: the latest snapshot this many days
# before the wanted day still stands for it.
SNAPSHOT_TOLERANCE_DAYS = 7
BANDS = (scoring.RED, scoring.YELLOW, scoring.GREEN)


def roc_auc(pairs: Iterable[tuple[float, bool]]) -> float | None:
    """The ROC AUC of ``(score, churned)`` pairs, read as the Mann–Whitney statistic: the
    probability that a random stayer scored higher than a random churner, a tie counting ½.
    None when there are no churners or no stayers: with one class alone nothing is ranked.

    Computed from mid-ranks (tied scores share the mean of their ranks), so it costs a sort
    rather than comparing every stayer with every churner."""
    ordered = sorted(pairs, key=lambda pair: pair[0])
    stayers = sum(1 for _, churned in ordered if not churned)
    churners = len(ordered) - stayers
    if not stayers or not churners:
        return None
    stayer_rank_sum = 0.0
    start = 0
    while start < len(ordered):
        end = start
        while end < len(ordered) and ordered[end][0] == ordered[start][0]:
            end += 1
        mid_rank = (start + 1 + end) / 2  # ranks start+1 … end share their mean
        stayer_rank_sum += mid_rank * sum(1 for _, churned in ordered[start:end] if not churned)
        start = end
    wins = stayer_rank_sum - stayers * (stayers + 1) / 2  # stayer-over-churner pairs, ties ½
    return wins / (stayers * churners)


@dataclass(frozen=True)
class BandOutcome:
    """How the accounts in one band N days before turned out."""

    band: str
    accounts: int
    churned: int

    @property
    def stayed(self) -> int:
        return self.accounts - self.churned

    @property
    def churn_rate(self) -> float | None:
        """Churned accounts as a share (0–1) of the band's; None for an empty band."""
        return self.churned / self.accounts if self.accounts else None


def churn_by_band(pairs: Iterable[tuple[str, bool]]) -> list[BandOutcome]:
    """Accounts and churners per band from ``(band, churned)`` pairs: always red, yellow and
    green in that order (an empty band says so rather than vanishing from the table)."""
    accounts = dict.fromkeys(BANDS, 0)
    churned = dict.fromkeys(BANDS, 0)
    for band, did_churn in pairs:
        if band not in accounts:
            continue
        accounts[band] += 1
        churned[band] += int(did_churn)
    return [BandOutcome(band, accounts[band], churned[band]) for band in BANDS]


@dataclass(frozen=True)
class BacktestRow:
    """One account as the backtest used it: its outcome, the day its score was wanted, and
    the snapshot read for it (the latest on or up to a few days before that day)."""

    account_id: int
    churned: bool
    wanted_day: dt.date
    day: dt.date
    score: int
    band: str


@dataclass(frozen=True)
class Backtest:
    days_before: int
    period_start: dt.date
    period_end: dt.date
    rows: list[BacktestRow]
    bands: list[BandOutcome]
    auc: float | None
    churners: int  # scored churners, i.e. in ``rows``
    stayers: int
    unscored_churners: int  # no snapshot near the day their score was wanted
    unscored_stayers: int

    @property
    def accounts(self) -> int:
        return self.churners + self.stayers

    @property
    def churn_rate(self) -> float | None:
        return self.churners / self.accounts if self.accounts else None


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _as_date(value: dt.date | str) -> dt.date:
    """A raw cursor gives SQLite's dates back as text, PostgreSQL's as dates."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def backtest(
    *,
    days_before: int = DEFAULT_DAYS_BEFORE,
    period_start: dt.date,
    period_end: dt.date,
    tolerance_days: int = SNAPSHOT_TOLERANCE_DAYS,
) -> Backtest:
    """Compare the scores, ``days_before`` days ahead of the outcome, of the accounts that
    churned between ``period_start`` and ``period_end`` (both included) with those of the
    accounts still paying at ``period_end``.

    A churner's score is read ``days_before`` days before its churn day, a stayer's that many
    days before ``period_end``: each is what a CSM would have seen that far ahead. An account
    with no snapshot on that day or in the ``tolerance_days`` before it is counted as unscored
    and left out of the figures. Two queries on PostgreSQL (the accounts, then their
    snapshots joined to the wanted days); SQLite sends the second in chunks of a few hundred
    accounts, its limit on parameters."""
    starts, ends = _day_start(period_start), _day_start(period_end + dt.timedelta(days=1))
    churned_in_period = Q(churned_at__gte=starts, churned_at__lt=ends)
    paying_at_end = Q(first_paid_at__lt=ends) & (
        Q(churned_at__isnull=True) | Q(churned_at__gte=ends)
    )
    stayers_day = period_end - dt.timedelta(days=days_before)
    wanted: dict[int, tuple[dt.date, bool]] = {}
    for pk, churned_at in Account.objects.filter(churned_in_period | paying_at_end).values_list(
        "pk", "churned_at"
    ):
        if churned_at is not None and churned_at < ends:
            churn_day = timezone.localdate(churned_at)
            wanted[pk] = (churn_day - dt.timedelta(days=days_before), True)
        else:
            wanted[pk] = (stayers_day, False)

    table = HealthSnapshot._meta.db_table
    found = db.run_with_rows(
        f"SELECT s.account_id, s.day, s.score, s.band FROM {{rows}} "  # noqa: S608
        f"JOIN {table} s ON s.account_id = v.account_id "
        "AND s.day >= v.earliest AND s.day <= v.wanted WHERE s.score IS NOT NULL",
        [("account_id", "bigint"), ("earliest", "date"), ("wanted", "date")],
        [
            (pk, day - dt.timedelta(days=tolerance_days), day)
            for pk, (day, _) in sorted(wanted.items())
        ],
    )
    latest: dict[int, tuple[dt.date, int, str]] = {}
    for account_id, day, score, band in found:
        day = _as_date(day)
        if account_id not in latest or day > latest[account_id][0]:
            latest[account_id] = (day, score, band)

    rows = [
        BacktestRow(pk, churned, wanted_day, *latest[pk])
        for pk, (wanted_day, churned) in sorted(wanted.items())
        if pk in latest
    ]
    churners = sum(row.churned for row in rows)
    all_churners = sum(churned for _, churned in wanted.values())
    return Backtest(
        days_before=days_before,
        period_start=period_start,
        period_end=period_end,
        rows=rows,
        bands=churn_by_band((row.band, row.churned) for row in rows),
        auc=roc_auc((row.score, row.churned) for row in rows),
        churners=churners,
        stayers=len(rows) - churners,
        unscored_churners=all_churners - churners,
        unscored_stayers=len(wanted) - all_churners - (len(rows) - churners),
    )
