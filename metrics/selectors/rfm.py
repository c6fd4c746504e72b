"""Reads for the RFM dashboard: the stored scores (metrics.AccountRfm) counted and summed by
(R, F) cell and by segment in one aggregate query over the accounts the filters keep, and the
last run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from customers.models import Account
from metrics.models import RfmSegment
from metrics.rfm import rfm_latest_run, segment_key

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def _cents(value: Decimal | None) -> Decimal:
    """A sum to the cent on both databases (SQLite's SUM drops trailing zeros)."""
    return ZERO if value is None else Decimal(value).quantize(CENT)


@dataclass(frozen=True)
class RunSummary:
    """The stored run: the day it describes, when it was written, how many accounts it
    scored in all (before any filter). ``as_of`` None: RFM has never run."""

    as_of: dt.date | None
    computed_at: dt.datetime | None
    scored: int


@dataclass(frozen=True)
class SegmentTotal:
    key: str
    label: str
    accounts: int
    mrr: Decimal  # the accounts' MRR today (base currency)
    monetary: Decimal  # their revenue in the 12-month window


def rfm_run() -> RunSummary:
    """The last completed run (one query)."""
    run = rfm_latest_run()
    if run is None:
        return RunSummary(as_of=None, computed_at=None, scored=0)
    return RunSummary(as_of=run.as_of, computed_at=run.computed_at, scored=run.scored)


@dataclass(frozen=True)
class RfmBreakdown:
    """The scored accounts the filters keep: per segment (in the map's order, empty ones
    included) and per (R, F) cell (cells nobody is in left out)."""

    segments: list[SegmentTotal]
    grid: dict[tuple[int, int], int]

    @property
    def scored(self) -> int:
        return sum(total.accounts for total in self.segments)


def rfm_breakdown(*, accounts: QuerySet[Account], basis: str = "") -> RfmBreakdown:
    """One query: the accounts joined to their scores, grouped by (R, F) — at most 25 rows —
    then summed per segment here, since a segment is a function of (R, F)."""
    scored = accounts.filter(rfm__isnull=False)
    if basis:
        scored = scored.filter(rfm__basis=basis)
    cells = (
        scored.order_by()
        .values("rfm__r", "rfm__f")
        .annotate(n=Count("pk"), mrr=Sum("mrr_base"), monetary=Sum("rfm__monetary"))
    )
    grid: dict[tuple[int, int], int] = {}
    sums: dict[str, list] = {key: [0, ZERO, ZERO] for key in RfmSegment.values}
    for cell in cells:
        r, f = cell["rfm__r"], cell["rfm__f"]
        grid[(r, f)] = cell["n"]
        total = sums[segment_key(r, f)]
        total[0] += cell["n"]
        total[1] += cell["mrr"] or ZERO
        total[2] += cell["monetary"] or ZERO
    segments = [
        SegmentTotal(key, label, sums[key][0], _cents(sums[key][1]), _cents(sums[key][2]))
        for key, label in RfmSegment.choices
    ]
    return RfmBreakdown(segments=segments, grid=grid)


def rfm_breakdown_empty() -> RfmBreakdown:
    """Every segment with nothing in it: the tables' rows before anything is scored."""
    return RfmBreakdown(
        segments=[SegmentTotal(key, label, 0, ZERO, ZERO) for key, label in RfmSegment.choices],
        grid={},
    )
