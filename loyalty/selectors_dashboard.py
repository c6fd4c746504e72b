"""The program dashboard's figures, set-based: a fixed handful of grouped queries whatever
the number of members or entries (a query-count test guards the page).

Definitions (docs/domain/loyalty-program.md, "Dashboard"):

- **Issued** = points of earn entries; **redeemed** = points spent, less spends given back by
  cancelled redemptions (their reversing entries); **expired** = points of expire entries.
- **Redemption rate** = redeemed / issued; **breakage rate** = expired / issued (both over
  all time, none when nothing was issued).
- **Outstanding liability** = (spendable + pending points of every member) × the point's
  money value, in the program's currency.
- **Retention, members vs others**: of the accounts that ever paid, the share not churned,
  for accounts in the program and for the rest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Case, CharField, Count, Exists, OuterRef, Q, Sum, Value, When
from django.db.models.functions import TruncMonth
from django.utils import timezone

from customers.models import Account
from loyalty.models import EntryKind, LedgerEntry, LoyaltyProgram, Member, Tier

CENT = Decimal("0.01")
MONTHS_SHOWN = 12


@dataclass(frozen=True)
class Retention:
    accounts: int  # accounts that ever paid
    retained: int  # of them, not churned

    @property
    def rate(self) -> float | None:
        return self.retained / self.accounts if self.accounts else None


@dataclass(frozen=True)
class Dashboard:
    program: LoyaltyProgram
    members: int
    issued: int
    redeemed: int
    expired: int
    outstanding: int
    liability: Decimal
    tiers: list[tuple[str, int]]  # (tier name or "No tier", members), lowest tier first
    members_retention: Retention
    others_retention: Retention
    months: list[dt.date]
    # issued / redeemed / expired per month, in points; "redeemed" is net of spends given
    # back, so a month whose refunds outweigh its spends shows below 0.
    monthly: dict[str, list[int]]

    @property
    def redemption_rate(self) -> float | None:
        return self.redeemed / self.issued if self.issued else None

    @property
    def breakage_rate(self) -> float | None:
        return self.expired / self.issued if self.issued else None


def _month_starts(today: dt.date, count: int) -> list[dt.date]:
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(months))


def _by_series(entries):
    """Ledger entries labelled with the series they count in (other entries left out): earn →
    issued; spend, and the reversal of a spend → redeemed; expire → expired."""
    series = Case(
        When(kind=EntryKind.EARN, then=Value("issued")),
        When(kind=EntryKind.SPEND, then=Value("redeemed")),
        When(kind=EntryKind.REVERSE, related_entry__kind=EntryKind.SPEND, then=Value("redeemed")),
        When(kind=EntryKind.EXPIRE, then=Value("expired")),
        default=Value(""),
        output_field=CharField(),
    )
    return entries.annotate(series=series).exclude(series="").order_by()


def program_dashboard(*, now: dt.datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    program = LoyaltyProgram.current()
    # Issued, redeemed and expired are signed sums per series; a spend given back (the
    # reversal of a cancelled redemption) counts in "redeemed", in the KPIs and the months alike.
    totals = {
        row["series"]: row["points"] or 0
        for row in _by_series(LedgerEntry.objects.all())
        .values("series")
        .annotate(points=Sum("points"))
    }
    cached = Member.objects.aggregate(
        members=Count("id"), balance=Sum("balance"), pending=Sum("pending")
    )
    outstanding = (cached["balance"] or 0) + (cached["pending"] or 0)
    by_tier = dict(
        Member.objects.order_by()
        .values("tier_id")
        .annotate(n=Count("id"))
        .values_list("tier_id", "n")
    )
    tiers = [("No tier", by_tier.get(None, 0))] + [
        (tier.name, by_tier.get(tier.pk, 0)) for tier in Tier.objects.order_by("threshold")
    ]
    retention = (
        Account.objects.filter(first_paid_at__isnull=False)
        .annotate(member=Exists(Member.objects.filter(account=OuterRef("pk"))))
        .aggregate(
            members=Count("id", filter=Q(member=True)),
            members_kept=Count("id", filter=Q(member=True, churned_at__isnull=True)),
            others=Count("id", filter=Q(member=False)),
            others_kept=Count("id", filter=Q(member=False, churned_at__isnull=True)),
        )
    )
    months = _month_starts(now.astimezone(dt.UTC).date(), MONTHS_SHOWN)
    since = dt.datetime.combine(months[0], dt.time.min, tzinfo=dt.UTC)
    monthly = {
        "issued": [0] * len(months),
        "redeemed": [0] * len(months),
        "expired": [0] * len(months),
    }
    index = {m: i for i, m in enumerate(months)}
    rows = (
        _by_series(LedgerEntry.objects.filter(created_at__gte=since))
        .annotate(month=TruncMonth("created_at", tzinfo=dt.UTC))
        .values("month", "series")
        .annotate(points=Sum("points"))
    )
    for row in rows:
        month = row["month"]
        month = month.date() if isinstance(month, dt.datetime) else month
        if month in index:
            sign = 1 if row["series"] == "issued" else -1
            monthly[row["series"]][index[month]] += sign * (row["points"] or 0)
    return Dashboard(
        program=program,
        members=cached["members"] or 0,
        issued=totals.get("issued", 0),
        redeemed=max(-totals.get("redeemed", 0), 0),
        expired=-totals.get("expired", 0),
        outstanding=outstanding,
        liability=(Decimal(outstanding) * program.point_value).quantize(CENT),
        tiers=tiers,
        members_retention=Retention(retention["members"], retention["members_kept"]),
        others_retention=Retention(retention["others"], retention["others_kept"]),
        months=months,
        monthly=monthly,
    )
