"""The CSM's day: one task list (playbook tasks and survey follow-ups), open alerts, the
accounts whose health fell this week, renewals ahead."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Value, Window
from django.db.models.functions import TruncDate
from django.utils import timezone

from customers.models import Account
from health import scoring
from health.models import Alert, AlertStatus, HealthSnapshot, Task
from surveys.models import FollowUp

FELL_POINTS = 10  # a fall of this many points in a week is news, even within one band
BANDS = (scoring.RED, scoring.YELLOW, scoring.GREEN)  # worst first


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
    listed = list(rows.select_related("account", "owner").worst_first()[:limit])
    return listed, rows.count()


def health_fell(
    *,
    accounts: QuerySet[Account] | None = None,
    days: int = 7,
    limit: int = 10,
    by: str = "drop",
    today: dt.date | None = None,
) -> tuple[int, list[HealthSnapshot]]:
    """The live accounts (of ``accounts``; all when None) whose health fell over the last
    ``days`` days: today's band worse than the one ``days`` days before, or today's score
    FELL_POINTS or more below it. Compares the two days' snapshots: an account without either
    did not fall. Returns how many fell and the first ``limit``, biggest fall first or, with
    ``by="mrr"``, largest MRR first; each carries ``band_before`` and ``score_before``.

    One query: today's snapshots joined to the earlier ones (one join: every condition on
    the earlier snapshot is in one filter() call), the count a window over the rows."""
    today = today or timezone.localdate()
    earlier = "account__health_snapshots__"
    worse = Q(score__lte=F(f"{earlier}score") - FELL_POINTS)
    for i, band in enumerate(BANDS[:-1]):
        worse |= Q(band=band, **{f"{earlier}band__in": BANDS[i + 1 :]})
    live = (accounts if accounts is not None else Account.objects).filter(churned_at__isnull=True)
    fell = HealthSnapshot.objects.filter(
        worse,
        day=today,
        score__isnull=False,
        account__in=live,
        **{f"{earlier}day": today - dt.timedelta(days=days)},
    ).annotate(
        band_before=F(f"{earlier}band"),
        score_before=F(f"{earlier}score"),
        drop=F(f"{earlier}score") - F("score"),
    )
    order = ("-account__mrr_base", "account__name") if by == "mrr" else ("-drop", "account__name")
    listed = list(
        fell.select_related("account")
        .annotate(fell_count=Window(Count("id")))
        .order_by(*order)[:limit]
    )
    return (listed[0].fell_count if listed else 0), listed


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
