"""Set-based reads for the customer pages: the portfolio, the account 360 and its timeline.

Every function here does a fixed number of queries whatever the size of the book, so the
pages built on them stay fast at 100k accounts (guarded by query-count tests).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Lower
from django.http import Http404
from django.utils import timezone

from accounts.roles import Role
from customers.models import (
    Account,
    Contact,
    DailyUsage,
    ImportJob,
    ImportStatus,
    LifecycleStage,
    Note,
    RevenueChange,
    Segment,
    StageChange,
    Ticket,
    TicketStatus,
)
from customers.segments import SegmentRulesError, rule_describe, rules_q
from customers.timeline import TimelineItem, register_source

# --- portfolio ---------------------------------------------------------------------------

OWNER_ME = "me"
OWNER_ALL = "all"
OWNER_NONE = "none"

# Public sort keys (what the URL carries) → ORDER BY. A whitelist: nothing from the query
# string ever reaches order_by() unless it is a key of this mapping. ``id`` breaks ties so
# pages never repeat or skip a row.
SORTS: dict[str, tuple[Any, ...]] = {
    "name": (F("name").asc(), F("id").asc()),
    "-name": (F("name").desc(), F("id").desc()),
    "mrr": (F("mrr_base").asc(), F("id").asc()),
    "-mrr": (F("mrr_base").desc(), F("id").desc()),
    "renewal": (F("renewal_date").asc(nulls_last=True), F("id").asc()),
    "-renewal": (F("renewal_date").desc(nulls_last=True), F("id").desc()),
    "stage": (F("stage_order").asc(), F("name").asc(), F("id").asc()),
    "-stage": (F("stage_order").desc(), F("name").asc(), F("id").asc()),
    "activity": (F("last_activity_at").asc(nulls_last=True), F("id").asc()),
    "-activity": (F("last_activity_at").desc(nulls_last=True), F("id").desc()),
    "health": (F("health_score").asc(nulls_last=True), F("id").asc()),
    "-health": (F("health_score").desc(nulls_last=True), F("id").desc()),
}
# The health filter's values: a band, or accounts not scored yet.
HEALTH_BANDS = ("red", "yellow", "green")
HEALTH_NONE = "none"
DEFAULT_SORT = "name"


@dataclass(frozen=True)
class PortfolioFilters:
    """What a portfolio view shows, already validated (see ``PortfolioFilterForm``).

    ``owner`` is ``"me"``, ``"all"``, ``"none"`` (unassigned) or a user id.
    ``mrr_min``/``mrr_max`` are in the base currency so accounts billed in different
    currencies compare fairly.
    """

    owner: str | int = OWNER_ALL
    plan: str = ""
    stage: str = ""
    renewal_days: int | None = None
    mrr_min: Decimal | None = None
    mrr_max: Decimal | None = None
    q: str = ""
    health: str = ""
    # The chosen saved segment's rules, compiled (customers.segments.rules_q) by the form.
    segment_q: Q | None = field(default=None, compare=False)
    # Filters that apps above customers contribute (segment fields with a portfolio_param).
    registered_q: Q | None = field(default=None, compare=False)
    sort: str = DEFAULT_SORT


def portfolio_default_owner(*, user) -> str:
    """CSMs open their own book; admins and viewers the whole one."""
    return OWNER_ME if getattr(user, "is_csm", False) else OWNER_ALL


def _stage_order() -> Case:
    """Lifecycle order, so sorting by stage follows the journey, not the alphabet."""
    return Case(
        *[When(stage=stage, then=Value(i)) for i, stage in enumerate(LifecycleStage.values)],
        default=Value(len(LifecycleStage.values)),
        output_field=IntegerField(),
    )


def portfolio_accounts(
    *, user, filters: PortfolioFilters, today: dt.date | None = None
) -> QuerySet:
    """The accounts a portfolio view lists, filtered and sorted, with the owner joined and the
    number of open tickets annotated (PostgreSQL evaluates that subquery only for the page's
    rows when a LIMIT follows the sort)."""
    today = today or timezone.localdate()
    qs = Account.objects.visible_to(user).select_related("owner")

    if filters.owner == OWNER_ME:
        qs = qs.filter(owner=user)
    elif filters.owner == OWNER_NONE:
        qs = qs.filter(owner__isnull=True)
    elif filters.owner not in (OWNER_ALL, "", None):
        qs = qs.filter(owner_id=int(filters.owner))
    if filters.plan:
        qs = qs.filter(plan=filters.plan)
    if filters.stage:
        qs = qs.filter(stage=filters.stage)
    if filters.renewal_days is not None:
        qs = qs.filter(
            renewal_date__gte=today,
            renewal_date__lte=today + dt.timedelta(days=filters.renewal_days),
        )
    if filters.mrr_min is not None:
        qs = qs.filter(mrr_base__gte=filters.mrr_min)
    if filters.mrr_max is not None:
        qs = qs.filter(mrr_base__lte=filters.mrr_max)
    if filters.q:
        qs = qs.filter(Q(name__icontains=filters.q) | Q(domain__icontains=filters.q))
    if filters.health == HEALTH_NONE:
        qs = qs.filter(health_band="")
    elif filters.health in HEALTH_BANDS:
        qs = qs.filter(health_band=filters.health)
    if filters.segment_q is not None:
        qs = qs.filter(filters.segment_q)
    if filters.registered_q is not None:
        qs = qs.filter(filters.registered_q)

    open_tickets = (
        Ticket.objects.filter(account=OuterRef("pk"), status=TicketStatus.OPEN)
        .order_by()
        .values("account")
        .annotate(n=Count("id"))
        .values("n")
    )
    qs = qs.annotate(open_tickets=Coalesce(Subquery(open_tickets), Value(0)))
    if filters.sort.lstrip("-") == "stage":
        qs = qs.annotate(stage_order=_stage_order())
    return qs.order_by(*SORTS.get(filters.sort, SORTS[DEFAULT_SORT]))


def portfolio_page(*, user, filters: PortfolioFilters, number: int = 1, per_page: int = 50) -> Page:
    """One page of :func:`portfolio_accounts`, as a deferred join: sort and slice only the
    ids, then load those rows whole. Sorting 100k narrow (key, id) tuples instead of 100k
    full rows joined to their owners is what keeps an unindexed sort quick (three queries:
    count, ids, rows)."""
    accounts = portfolio_accounts(user=user, filters=filters)
    page = Paginator(accounts.values_list("pk", flat=True), per_page).get_page(number)
    ids = list(page.object_list)
    by_id = {account.pk: account for account in accounts.filter(pk__in=ids).order_by()}
    page.object_list = [by_id[pk] for pk in ids if pk in by_id]
    return page


# A loose index scan: one probe of the plan index per distinct plan, instead of reading every
# account to find the handful of plans in use. Plain SQL because the ORM has no recursive CTE;
# SQLite and PostgreSQL both run it.
_PLANS_SQL = """
WITH RECURSIVE plans(plan) AS (
    SELECT MIN(plan) FROM customers_account WHERE plan > ''
    UNION ALL
    SELECT (SELECT MIN(a.plan) FROM customers_account a WHERE a.plan > plans.plan)
    FROM plans WHERE plans.plan IS NOT NULL
)
SELECT plan FROM plans WHERE plan IS NOT NULL
"""


def portfolio_plans() -> list[str]:
    """Plans in use, for the plan filter, in order."""
    with connection.cursor() as cursor:
        cursor.execute(_PLANS_SQL)
        return [row[0] for row in cursor.fetchall()]


def portfolio_owners() -> QuerySet:
    """People who can own accounts: CSMs and admins."""
    user_model = get_user_model()
    return (
        user_model.objects.filter(
            Q(groups__name__in=[Role.CSM, Role.ADMIN]) | Q(is_superuser=True), is_active=True
        )
        .distinct()
        .order_by("full_name", "email")
        .only("id", "email", "full_name")
    )


# --- account 360 -------------------------------------------------------------------------


def account_get(*, user, account_id: int) -> Account:
    """One account with its owner, or 404 when it does not exist or is not visible."""
    account = Account.objects.visible_to(user).select_related("owner").filter(pk=account_id).first()
    if account is None:
        raise Http404("No such account.")
    return account


def account_traits(*, account: Account, limit: int = 50) -> list[tuple[str, str]]:
    """Custom traits as sorted ``(key, text)`` pairs; nested values shown as JSON. Templates
    escape both."""
    traits = account.traits if isinstance(account.traits, dict) else {}
    pairs = []
    for key in sorted(traits, key=str)[:limit]:
        value = traits[key]
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        pairs.append((str(key), text))
    return pairs


def account_contacts(*, account: Account, limit: int = 100) -> tuple[list[Contact], int]:
    """The first ``limit`` contacts by name, and how many there are in all."""
    contacts = list(account.contacts.order_by("name", "email", "id")[:limit])
    total = len(contacts) if len(contacts) < limit else account.contacts.count()
    return contacts, total


def account_usage_series(
    *, account: Account, days: int = 90, today: dt.date | None = None, max_types: int = 6
) -> dict[str, Any]:
    """Daily event counts for the last ``days`` days, one zero-filled series per event type.

    The busiest ``max_types`` types keep their own series; the rest are summed as "other" so
    the chart stays readable whatever a customer sends. Read from the daily rollup, never from
    raw events.
    """
    today = today or timezone.localdate()
    start = today - dt.timedelta(days=days - 1)
    rows = DailyUsage.objects.filter(account=account, day__gte=start, day__lte=today).values_list(
        "day", "type", "count"
    )
    by_type: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    for day, kind, count in rows:
        by_type[kind][day] += count
        totals[kind] += count
    ranked = sorted(totals, key=lambda kind: (-totals[kind], kind))
    kept, rest = ranked[:max_types], ranked[max_types:]
    if rest:
        other: dict[dt.date, int] = defaultdict(int)
        for kind in rest:
            for day, count in by_type[kind].items():
                other[day] += count
        by_type["other"] = other
        kept.append("other")
    day_list = [start + dt.timedelta(days=i) for i in range(days)]
    return {
        "days": day_list,
        "series": {kind: [by_type[kind].get(day, 0) for day in day_list] for kind in kept},
        "total": sum(totals.values()),
    }


def account_revenue_series(*, account: Account, now: dt.datetime | None = None) -> dict[str, Any]:
    """MRR over time as steps: each recorded change holds until the next one. A last point
    at ``now`` carries the current MRR to today; future-dated changes are left out."""
    now = now or timezone.now()
    changes = list(
        RevenueChange.objects.filter(account=account, effective_at__lte=now)
        .order_by("effective_at", "id")
        .values_list("effective_at", "mrr", "kind", "plan")
    )
    points = [(at, mrr, kind, plan) for at, mrr, kind, plan in changes]
    if points:
        points.append((now, points[-1][1], "", points[-1][3]))
    return {"points": points, "currency": account.currency}


# --- timeline sources --------------------------------------------------------------------


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def timeline_usage(account: Account, *, limit: int) -> list[TimelineItem]:
    """Events summarized by day (two queries: the days, then their rows)."""
    days = list(
        DailyUsage.objects.filter(account=account)
        .order_by("-day")
        .values_list("day", flat=True)
        .distinct()[:limit]
    )
    if not days:
        return []
    per_day: dict[dt.date, list[tuple[str, int]]] = defaultdict(list)
    for day, kind, count in (
        DailyUsage.objects.filter(account=account, day__gte=days[-1])
        .order_by("-day", "-count", "type")
        .values_list("day", "type", "count")
    ):
        per_day[day].append((kind, count))
    items = []
    for day in days:
        counts = per_day[day]
        total = sum(count for _, count in counts)
        body = ", ".join(f"{kind} {count}" for kind, count in counts[:8])
        if len(counts) > 8:
            body += f", and {len(counts) - 8} more types"
        items.append(
            TimelineItem(
                at=_day_start(day),
                kind="usage",
                title=f"{total} event{'s' if total != 1 else ''}",
                body=body,
                extra={"day": day},
            )
        )
    return items


def timeline_tickets(account: Account, *, limit: int) -> list[TimelineItem]:
    items = []
    for ticket in Ticket.objects.filter(account=account).order_by("-opened_at", "-id")[:limit]:
        items.append(
            TimelineItem(
                at=ticket.opened_at,
                kind="ticket_opened",
                title=f"Ticket opened: {ticket.subject}",
                body=f"Priority {ticket.get_priority_display().lower()}",
            )
        )
    closed = Ticket.objects.filter(account=account, closed_at__isnull=False).order_by(
        "-closed_at", "-id"
    )[:limit]
    for ticket in closed:
        items.append(
            TimelineItem(
                at=ticket.closed_at, kind="ticket_closed", title=f"Ticket closed: {ticket.subject}"
            )
        )
    return items


def timeline_stage_changes(account: Account, *, limit: int) -> list[TimelineItem]:
    changes = (
        StageChange.objects.filter(account=account)
        .select_related("changed_by")
        .order_by("-changed_at", "-id")[:limit]
    )
    labels = dict(LifecycleStage.choices)
    items = []
    for change in changes:
        who = str(change.changed_by) if change.changed_by else change.source
        items.append(
            TimelineItem(
                at=change.changed_at,
                kind="stage_change",
                title=f"Stage: {labels.get(change.from_stage, '—')} → "
                f"{labels.get(change.to_stage, change.to_stage)}",
                body=f"by {who}",
            )
        )
    return items


def timeline_notes(account: Account, *, limit: int) -> list[TimelineItem]:
    notes = Note.objects.filter(account=account).select_related("author")[:limit]
    return [
        TimelineItem(
            at=note.created_at,
            kind="note",
            title=f"Note by {note.author or 'a former user'}",
            body=note.body,
        )
        for note in notes
    ]


def timeline_revenue(account: Account, *, limit: int) -> list[TimelineItem]:
    now = timezone.now()
    changes = RevenueChange.objects.filter(account=account).order_by("-effective_at", "-id")[:limit]
    items = []
    for change in changes:
        title = f"{change.get_kind_display()}: MRR {change.mrr:,.2f} {change.currency}"
        if change.effective_at > now:
            title += " (scheduled)"
        items.append(
            TimelineItem(
                at=change.effective_at,
                kind="revenue",
                title=title,
                body=f"Plan {change.plan}" if change.plan else "",
            )
        )
    return items


def register_timeline_sources() -> None:
    """Called from ``CustomersConfig.ready``; other apps register theirs the same way."""
    register_source("customers.usage", timeline_usage)
    register_source("customers.tickets", timeline_tickets)
    register_source("customers.stage_changes", timeline_stage_changes)
    register_source("customers.notes", timeline_notes)
    register_source("customers.revenue", timeline_revenue)


# --- CSV imports ------------------------------------------------------------------------------

# An import whose task has not finished it this long after it was queued lost its task (the
# broker was down at commit, say): the repair job queues it again. Running twice is safe.
IMPORT_STALL_AFTER = dt.timedelta(minutes=10)


def import_jobs_stalled(*, now: dt.datetime | None = None) -> tuple[list[int], list[int]]:
    """Ids of imports still being checked, and still being written, since before the cutoff."""
    cutoff = (now or timezone.now()) - IMPORT_STALL_AFTER
    checking = ImportJob.objects.filter(status=ImportStatus.VALIDATING, created_at__lt=cutoff)
    writing = ImportJob.objects.filter(status=ImportStatus.IMPORTING, confirmed_at__lt=cutoff)
    return (
        list(checking.order_by("pk").values_list("pk", flat=True)),
        list(writing.order_by("pk").values_list("pk", flat=True)),
    )


def owners_by_email(emails: set[str]) -> dict[str, int]:
    """Active CSMs and admins by lower-case email: the people an account can belong to. The
    ingest API and the CSV import both look owners up this way."""
    if not emails:
        return {}
    users = (
        get_user_model()
        .objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails, is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[Role.CSM, Role.ADMIN]))
        .values_list("email_lower", "pk")
        .distinct()
    )
    return dict(users)


# --- segments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentSummary:
    segment: Segment
    count: int | None  # None when its rules no longer read
    rules: list[str]  # each rule in words
    problem: str = ""


def segments_with_counts(*, user, now: dt.datetime | None = None) -> list[SegmentSummary]:
    """Every segment with how many accounts it matches right now: three queries whatever the
    number of segments and accounts (the segments, one aggregate holding a filtered COUNT per
    segment, and the names of owners that rules mention)."""
    now = now or timezone.now()
    segments = list(Segment.objects.select_related("created_by").order_by("name", "pk"))
    compiled: dict[int, Q] = {}
    problems: dict[int, str] = {}
    for segment in segments:
        try:
            compiled[segment.pk] = rules_q(segment.rules, match=segment.match, now=now)
        except SegmentRulesError as error:
            problems[segment.pk] = " ".join(error.messages)
    counts: dict[str, int] = {}
    if compiled:
        counts = Account.objects.visible_to(user).aggregate(
            **{f"s{pk}": Count("pk", filter=q) for pk, q in compiled.items()}
        )
    names = segment_owner_names(segments)
    return [
        SegmentSummary(
            segment=segment,
            count=counts.get(f"s{segment.pk}"),
            rules=[rule_describe(rule, user_names=names) for rule in _rule_list(segment.rules)],
            problem=problems.get(segment.pk, ""),
        )
        for segment in segments
    ]


def _rule_list(rules: Any) -> list[dict[str, Any]]:
    return [rule for rule in rules if isinstance(rule, dict)] if isinstance(rules, list) else []


def segment_owner_names(segments: list[Segment]) -> dict[int, str]:
    """Names of the users that the segments' owner rules name, in one query (none if no rule
    names an owner)."""
    ids: set[int] = set()
    for segment in segments:
        for rule in _rule_list(segment.rules):
            if rule.get("field") == "owner":
                value = rule.get("value")
                ids.update(
                    v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int)
                )
    if not ids:
        return {}
    return {user.pk: str(user) for user in get_user_model().objects.filter(pk__in=ids)}


def segment_count(*, user, rules: list[dict[str, Any]], match: str) -> int:
    """How many accounts these (already cleaned) rules match: the live preview."""
    return Account.objects.visible_to(user).filter(rules_q(rules, match=match)).count()
