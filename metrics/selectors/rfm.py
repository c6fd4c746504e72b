"""Reads for the RFM dashboard: the stored scores (metrics.AccountRfm) counted and summed by
segment and by (R, F) cell, one aggregate query each, over the accounts the filters keep."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from customers.models import Account
from metrics.models import AccountRfm, RfmRun, RfmSegment

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
    run = RfmRun.objects.order_by("-computed_at", "-id").first()
    if run is None:
        return RunSummary(as_of=None, computed_at=None, scored=0)
    return RunSummary(as_of=run.as_of, computed_at=run.computed_at, scored=run.scored)


def _scores(accounts: QuerySet[Account], basis: str) -> QuerySet[AccountRfm]:
    scores = AccountRfm.objects.filter(account__in=accounts.order_by().values("pk"))
    return scores.filter(basis=basis) if basis else scores


def rfm_segment_totals(*, accounts: QuerySet[Account], basis: str = "") -> list[SegmentTotal]:
    """Every segment in the map's order, with zeros for the empty ones (one query)."""
    rows = {
        row["segment"]: row
        for row in _scores(accounts, basis)
        .order_by()
        .values("segment")
        .annotate(n=Count("pk"), mrr=Sum("account__mrr_base"), monetary=Sum("monetary"))
    }
    totals = []
    for key, label in RfmSegment.choices:
        row = rows.get(key, {})
        totals.append(
            SegmentTotal(
                key=key,
                label=label,
                accounts=row.get("n", 0),
                mrr=_cents(row.get("mrr")),
                monetary=_cents(row.get("monetary")),
            )
        )
    return totals


def rfm_segment_totals_empty() -> list[SegmentTotal]:
    """Every segment with nothing in it: the table's rows before anything is scored."""
    return [SegmentTotal(key, label, 0, ZERO, ZERO) for key, label in RfmSegment.choices]


def rfm_grid(*, accounts: QuerySet[Account], basis: str = "") -> dict[tuple[int, int], int]:
    """Accounts per (R, F) score pair; pairs nobody has are left out (one query)."""
    rows = _scores(accounts, basis).order_by().values("r", "f").annotate(n=Count("pk"))
    return {(row["r"], row["f"]): row["n"] for row in rows}
