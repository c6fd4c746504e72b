"""The CSM's day: one task list (playbook tasks and survey follow-ups), open alerts, the
accounts whose health fell this week, renewals ahead."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import (
    Case,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from customers.models import (
    Account,
)
from health.models import (
    Alert,
    AlertStatus,
    HealthSnapshot,
    Task,
)
from surveys.models import FollowUp

FELL_POINTS = 10  # a fall of this many points in a week is news, even within one band
BAND_RANK = Case(When(band="red", then=0), When(band="yellow", then=1), When(band="green", then=2))


def work_items(*, owner=None, done: bool = False, due_until: dt.date | None = None):
    """One task list: playbook and hand-written tasks and open survey follow-ups, as rows
    ``(source, id, account_id, account_name, title, due, detail)``, soonest first. A follow-up
    is due the day its unhappy answer came. One query (a UNION), paginated by the caller."""
    tasks = Task.objects.filter(status="done" if done else "open")
    follow_ups = FollowUp.objects.filter(status="handled" if done else "open")
    if owner is not None:
        tasks, follow_ups = tasks.filter(owner=owner), follow_ups.filter(owner=owner)
    if due_until is not None:
        tasks = tasks.filter(due_on__lte=due_until)
    columns = WORK_COLUMNS
    rows = (
        tasks.annotate(
            source=Value("task"),
            account_name=F("account__name"),
            due=F("due_on"),
            detail=F("body"),
        )
        .order_by()
        .values_list(*columns)
    )
    follow = (
        follow_ups.annotate(
            source=Value("follow_up"),
            account_name=F("account__name"),
            title=F("reason"),
            due=TruncDate("created_at"),
            detail=F("response__comment"),
        )
        .order_by()
        .values_list(*columns)
    )
    return rows.union(follow, all=True).order_by("due", "source", "pk")


WORK_COLUMNS = ("source", "pk", "account_id", "account_name", "title", "due", "detail")


def work_item_dicts(rows) -> list[dict[str, Any]]:
    """:func:`work_items` rows as dicts for templates, with the overdue ones marked."""
    today = timezone.localdate()
    items = [dict(zip(WORK_COLUMNS, row, strict=True)) for row in rows]
    for item in items:
        item["overdue"] = item["due"] < today
    return items


def alerts_for_day(*, owner=None, limit: int = 10) -> tuple[list[Alert], int]:
    """Open (not snoozed) alerts, worst first, and how many there are."""
    rows = Alert.objects.filter(status=AlertStatus.OPEN)
    if owner is not None:
        rows = rows.filter(owner=owner)
    rank = Case(When(severity="high", then=0), When(severity="medium", then=1), default=2)
    positive = Case(When(kind="expansion", then=1), default=0)
    listed = list(
        rows.select_related("account", "owner").order_by(positive, rank, "-opened_at", "-pk")[
            :limit
        ]
    )
    return listed, rows.count()


def health_fell(*, owner=None, days: int = 7, limit: int = 10) -> list[dict[str, Any]]:
    """Accounts whose score fell at least FELL_POINTS, or whose band worsened, between the
    snapshot ``days`` days ago and today's: biggest fall first. One query."""
    today = timezone.localdate()
    earlier = HealthSnapshot.objects.filter(
        account=OuterRef("account"), day=today - dt.timedelta(days=days)
    )
    rows = (
        HealthSnapshot.objects.filter(
            day=today, score__isnull=False, account__churned_at__isnull=True
        )
        .annotate(
            before=Subquery(earlier.values("score")[:1]),
            before_band=Subquery(earlier.values("band")[:1]),
        )
        .filter(before__isnull=False)
        .annotate(
            drop=F("before") - F("score"),
            rank=BAND_RANK,
            before_rank=Case(
                When(before_band="red", then=0),
                When(before_band="yellow", then=1),
                When(before_band="green", then=2),
            ),
        )
        .filter(Q(drop__gte=FELL_POINTS) | Q(rank__lt=F("before_rank")))
    )
    if owner is not None:
        rows = rows.filter(account__owner=owner)
    return list(
        rows.order_by("-drop", "account_id").values(
            "account_id", "account__name", "score", "band", "before", "before_band", "drop"
        )[:limit]
    )


def renewals_ahead(*, owner=None, days: int = 90, limit: int = 10) -> tuple[list[Account], int]:
    """Live accounts renewing in the next ``days`` days with their band, soonest first."""
    today = timezone.localdate()
    rows = Account.objects.filter(
        renewal_date__gte=today,
        renewal_date__lte=today + dt.timedelta(days=days),
        churned_at__isnull=True,
    )
    if owner is not None:
        rows = rows.filter(owner=owner)
    return list(rows.order_by("renewal_date", "pk")[:limit]), rows.count()
