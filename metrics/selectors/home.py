"""Reads for dashboards. Each figure is one aggregate query, never a loop over accounts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from customers.models import Account


@dataclass(frozen=True)
class HomeFigures:
    accounts: int
    paying_accounts: int
    mrr: Decimal
    currency: str
    my_accounts: int
    renewals_90d: int
    arpa: Decimal | None


def home_figures(*, user) -> HomeFigures:
    today = timezone.now().date()
    row = Account.objects.visible_to(user).aggregate(
        accounts=Count("id"),
        paying=Count("id", filter=Q(mrr_base__gt=0)),
        mrr=Sum("mrr_base", filter=Q(mrr_base__gt=0)),
        mine=Count("id", filter=Q(owner=user)),
        renewals=Count(
            "id",
            filter=Q(renewal_date__gte=today, renewal_date__lte=today + dt.timedelta(days=90)),
        ),
    )
    mrr = row["mrr"] or Decimal("0")
    paying = row["paying"]
    return HomeFigures(
        accounts=row["accounts"],
        paying_accounts=paying,
        mrr=mrr,
        currency=settings.TENURE_BASE_CURRENCY,
        my_accounts=row["mine"],
        renewals_90d=row["renewals"],
        arpa=(mrr / paying).quantize(Decimal("0.01")) if paying else None,
    )


@dataclass(frozen=True)
class PlanMrr:
    plan: str
    paying: int
    mrr: Decimal


def mrr_by_plan_today(*, accounts) -> list[PlanMrr]:
    """Paying accounts and their MRR (base currency) per plan, largest first: one grouped
    query over ``accounts`` (already restricted to what the user may see and the filters)."""
    rows = (
        accounts.filter(mrr_base__gt=0)
        .order_by()
        .values("plan")
        .annotate(paying=Count("id"), mrr=Sum("mrr_base"))
    )
    result = [
        PlanMrr(row["plan"], row["paying"], Decimal(str(row["mrr"])).quantize(Decimal("0.01")))
        for row in rows
    ]
    return sorted(result, key=lambda r: (-r.mrr, r.plan))
