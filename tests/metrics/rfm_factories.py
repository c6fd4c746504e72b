"""Builders for the RFM tests: revenue history and daily usage written as stored rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from customers.models import Account, DailyUsage, RevenueChange, RevenueKind


def at(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(9), tzinfo=dt.UTC)


def revenue(account: Account, day: str, mrr: str | int, kind: str = RevenueKind.CHANGED) -> None:
    """The account's MRR from ``day`` on (base currency)."""
    amount = Decimal(str(mrr))
    if amount == 0:
        kind = RevenueKind.CANCELLED
    RevenueChange.objects.create(
        account=account,
        kind=kind,
        effective_at=at(day),
        mrr=amount,
        currency="USD",
        mrr_base=amount,
    )


def usage(account: Account, day: str, **counts: int) -> None:
    DailyUsage.objects.bulk_create(
        DailyUsage(account=account, day=dt.date.fromisoformat(day), type=kind, count=count)
        for kind, count in counts.items()
    )


def paid(account: Account, *days: str, count: int = 1) -> None:
    """``payment_succeeded`` events on each day."""
    for day in days:
        usage(account, day, payment_succeeded=count)


# A (R, F) pair inside each segment, for rows whose test does not care which.
SEGMENT_CELL = {
    "champions": (5, 5),
    "loyal": (4, 5),
    "potential_loyalist": (4, 3),
    "new": (5, 1),
    "promising": (4, 1),
    "need_attention": (3, 3),
    "about_to_sleep": (3, 1),
    "at_risk": (2, 3),
    "cant_lose_them": (1, 5),
    "hibernating": (1, 1),
}


def store_rfm(account: Account, segment: str = "champions", **fields):
    """A stored score row and its run, as rfm_recompute would leave them (for page and filter
    tests)."""
    from django.utils import timezone

    from metrics.models import AccountRfm, RfmRun
    from metrics.rfm import segment_key

    r, f = SEGMENT_CELL[segment]
    fields = {"r": r, "f": f} | fields
    assert segment_key(fields["r"], fields["f"]) == segment, "scores outside the segment"

    values = {
        "basis": "paying",
        "last_on": dt.date(2026, 6, 1),
        "recency_days": 14,
        "frequency": 12,
        "monetary": Decimal("1200.00"),
        "m": 4,
        "as_of": dt.date(2026, 6, 15),
        "computed_at": timezone.now(),
    } | fields
    row = AccountRfm.objects.create(account=account, segment=segment, **values)
    RfmRun.objects.update_or_create(
        pk=1,
        defaults={
            "as_of": values["as_of"],
            "computed_at": values["computed_at"],
            "scored": AccountRfm.objects.count(),
        },
    )
    return row
