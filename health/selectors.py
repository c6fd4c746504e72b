"""Reads for health: every input of the score for a chunk of accounts, a fixed handful of
queries whatever the chunk's size, and the snapshots' history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from customers.ingest import BILLING_EVENT_TYPES
from customers.models import (
    Account,
    Contact,
    DailyUsage,
    Note,
    StageChange,
    Ticket,
    TicketStatus,
    UsageEvent,
)
from health.models import (
    SEVERITY_ORDER,
    Alert,
    AlertEvent,
    AlertStatus,
    CsmSentiment,
    EmailStatus,
    HealthOverride,
    HealthSnapshot,
    MeasureKind,
    PlaybookEmail,
    PlaybookRun,
    Task,
)
from surveys.models import FollowUp, Response, SurveyKind

WINDOW = dt.timedelta(days=30)
CSAT_WINDOW = dt.timedelta(days=90)


def _days_between(later: dt.date, earlier: dt.date) -> int:
    return (later - earlier).days


def _card_expiry_days(month: int | None, year: int | None, day: dt.date) -> int | None:
    """Days from ``day`` to the end of the card's expiry month (negative once expired)."""
    if not month or not year or not 1 <= month <= 12:
        return None
    first_of_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return _days_between(first_of_next - dt.timedelta(days=1), day)


def _seats_used(traits: Any, used_key: str = "seats_used", of_key: str = "seats") -> float | None:
    """Seats in use as a share of seats bought, when the account's traits say both (and the
    same for any used/limit pair of traits, e.g. the plan's usage against its limit)."""
    if not isinstance(traits, dict):
        return None
    used, seats = traits.get(used_key), traits.get(of_key)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (used, seats)):
        return None
    return None if seats <= 0 else round(100.0 * used / seats, 1)


def chunk_filter(ids: Sequence[int], span: tuple[int, int] | None, field: str = "account_id") -> Q:
    """The rows of a chunk's accounts. When the chunk is every account with an id between two
    bounds (the nightly run's chunks are), the bounds: one index range for PostgreSQL and two
    parameters instead of thousands for Django and psycopg to build and send, per query."""
    if span is not None:
        return Q(**{f"{field}__gte": span[0], f"{field}__lte": span[1]})
    return Q(**{f"{field}__in": list(ids)})


def health_inputs(
    *, account_ids: Sequence[int], day: dt.date, span: tuple[int, int] | None = None
) -> dict[int, dict[str, Any]]:
    """Each account's raw inputs on ``day``, keyed by :class:`MeasureKind` (missing data is
    simply absent), plus ``_account`` facts the profile choice and freezing need. ``span``:
    the chunk is every account with an id in these bounds (see :func:`chunk_filter`); rows of
    an account that appears in them after the accounts were read are ignored."""
    ids = list(account_ids)
    of_chunk = chunk_filter(ids, span)
    recent_from = day - WINDOW + dt.timedelta(days=1)  # the 30 days ending on ``day``
    prior_from = recent_from - WINDOW
    since = timezone.make_aware(dt.datetime.combine(day, dt.time.min)) - WINDOW
    end = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))

    inputs: dict[int, dict[str, Any]] = {}
    active_since: list[int] = []  # accounts active after ``day``: their columns are too new
    for row in Account.objects.filter(chunk_filter(ids, span, "pk")).values(
        "pk",
        "created_at",
        "stage",
        "churned_at",
        "last_activity_at",
        "card_exp_month",
        "card_exp_year",
        "traits",
        "renewal_date",
        "owner_id",
    ):
        raw: dict[str, Any] = {
            MeasureKind.LIFECYCLE_STAGE: row["stage"] or None,
            MeasureKind.CARD_EXPIRY_DAYS: _card_expiry_days(
                row["card_exp_month"], row["card_exp_year"], day
            ),
            MeasureKind.SEATS_USED: _seats_used(row["traits"]),
            MeasureKind.OPEN_TICKETS: 0,
            MeasureKind.ACTIVE_CONTACTS: 0,
            MeasureKind.FAILED_PAYMENTS: 0,
            "_account": {
                "age_days": _days_between(day, timezone.localtime(row["created_at"]).date()),
                "stage": row["stage"],
                "churned": row["churned_at"] is not None and row["churned_at"] < end,
                "renewal_date": row["renewal_date"],
                "owner_id": row["owner_id"],
                "plan_used": _seats_used(row["traits"], "plan_usage", "plan_limit"),
                "usage_recent": 0,
                "usage_prior": 0,
            },
        }
        if row["last_activity_at"] is not None:
            last = row["last_activity_at"].astimezone(dt.UTC).date()
            if last <= day:
                raw[MeasureKind.DAYS_SINCE_ACTIVITY] = _days_between(day, last)
            else:  # active since: what was the latest activity by ``day``? (below)
                active_since.append(row["pk"])
        inputs[row["pk"]] = raw

    _as_of_day(inputs, active_since, day=day, end=end, of_chunk=of_chunk)

    # The latest NPS answer of each account: a window over the chunk's answers, not a
    # correlated subquery per account (ten times slower on PostgreSQL).
    for account_id, score, answered in (
        Response.objects.filter(
            of_chunk,
            survey__kind=SurveyKind.NPS,
            score__isnull=False,
            created_at__lt=end,
        )
        .annotate(
            newest=Window(
                RowNumber(),
                partition_by=[F("account_id")],
                order_by=[F("created_at").desc(), F("pk").desc()],
            )
        )
        .filter(newest=1)
        .values_list("account_id", "score", "created_at")
    ):
        if account_id not in inputs:
            continue
        inputs[account_id][MeasureKind.NPS_LATEST] = score
        inputs[account_id]["_account"]["nps"] = (score, answered.astimezone(dt.UTC).date())

    # A contact last seen after ``day`` may have been active then too: their events say
    # (none such on the nightly run, when nobody has been seen since, so no query).
    seen_later: set[int] = set()
    for account_id, active, later in (
        Contact.objects.filter(of_chunk, last_seen_at__gte=since)
        .values("account_id")
        .annotate(
            n=Count("pk", filter=Q(last_seen_at__lt=end)),
            later=Count("pk", filter=Q(last_seen_at__gte=end)),
        )
        .values_list("account_id", "n", "later")
    ):
        if account_id not in inputs:
            continue
        inputs[account_id][MeasureKind.ACTIVE_CONTACTS] = active
        if later:
            seen_later.add(account_id)
    if seen_later:
        for account_id, active in (
            UsageEvent.objects.filter(
                account_id__in=seen_later,
                contact__last_seen_at__gte=end,
                occurred_at__gte=since,
                occurred_at__lt=end,
            )
            .exclude(type__in=BILLING_EVENT_TYPES)
            .values("account_id")
            .annotate(n=Count("contact_id", distinct=True))
            .values_list("account_id", "n")
        ):
            inputs[account_id][MeasureKind.ACTIVE_CONTACTS] += active

    product = ~Q(type__in=BILLING_EVENT_TYPES)
    in_recent = Q(day__gte=recent_from, day__lte=day)
    in_prior = Q(day__gte=prior_from, day__lt=recent_from)
    for account_id, recent, prior, breadth, failed in (
        DailyUsage.objects.filter(of_chunk, day__gte=prior_from, day__lte=day)
        .values("account_id")
        .annotate(
            recent=Sum("count", filter=product & in_recent, default=0),
            prior=Sum("count", filter=product & in_prior, default=0),
            breadth=Count("type", filter=product & in_recent, distinct=True),
            failed=Sum("count", filter=Q(type="payment_failed") & in_recent, default=0),
        )
        .values_list("account_id", "recent", "prior", "breadth", "failed")
    ):
        raw = inputs.get(account_id)
        if raw is None:
            continue
        raw[MeasureKind.USAGE_BREADTH] = breadth
        raw[MeasureKind.FAILED_PAYMENTS] = failed
        raw["_account"]["usage_recent"], raw["_account"]["usage_prior"] = recent, prior
        if prior:
            raw[MeasureKind.USAGE_TREND] = round(100.0 * (recent - prior) / prior, 1)
    for raw in inputs.values():  # no product events in 30 days is data: nothing was used
        raw.setdefault(MeasureKind.USAGE_BREADTH, 0)

    for account_id, average in (
        Response.objects.filter(
            of_chunk,
            survey__kind=SurveyKind.CSAT,
            score__isnull=False,
            created_at__gte=end - CSAT_WINDOW,
            created_at__lt=end,
        )
        .values("account_id")
        .annotate(average=Avg("score"))
        .values_list("account_id", "average")
    ):
        if account_id not in inputs:
            continue
        inputs[account_id][MeasureKind.CSAT_AVERAGE] = round(float(average), 2)

    # Open on ``day``: opened by then and not closed by then (closed since counts as open).
    open_then = Q(closed_at__isnull=True) | Q(closed_at__gte=end)
    for account_id, count, oldest in (
        Ticket.objects.filter(open_then, of_chunk, opened_at__lt=end)
        .values("account_id")
        .annotate(n=Count("pk"), oldest=Min("opened_at"))
        .values_list("account_id", "n", "oldest")
    ):
        if account_id not in inputs:
            continue
        inputs[account_id][MeasureKind.OPEN_TICKETS] = count
        age = _days_between(day, oldest.astimezone(dt.UTC).date())
        inputs[account_id][MeasureKind.OLDEST_OPEN_TICKET_DAYS] = max(0, age)

    for account_id, value in CsmSentiment.objects.filter(of_chunk).values_list(
        "account_id", "value"
    ):
        if account_id in inputs:
            inputs[account_id][MeasureKind.CSM_SENTIMENT] = value
    return inputs


def _as_of_day(
    inputs: dict[int, dict[str, Any]],
    active_since: Sequence[int],
    *,
    day: dt.date,
    end: dt.datetime,
    of_chunk: Q,
) -> None:
    """Put back what the account's columns say about now but not about a past ``day``: the
    lifecycle stage then (the stage a later move started from) and, for accounts active
    after ``day``, the latest activity by then (from the daily rollups). On the nightly run
    nothing has happened since, so the first query finds no row and the second is not sent.
    This is what makes a past day's score (a backtest's) honest: no input knows the future."""
    for account_id, stage in (
        StageChange.objects.filter(of_chunk, changed_at__gte=end)
        .exclude(from_stage="")
        .annotate(
            first=Window(
                RowNumber(),
                partition_by=[F("account_id")],
                order_by=[F("changed_at").asc(), F("pk").asc()],
            )
        )
        .filter(first=1)
        .values_list("account_id", "from_stage")
    ):
        if account_id not in inputs:
            continue
        inputs[account_id][MeasureKind.LIFECYCLE_STAGE] = stage
        inputs[account_id]["_account"]["stage"] = stage
    if not active_since:
        return
    for account_id, last in (
        DailyUsage.objects.filter(account_id__in=list(active_since), day__lte=day)
        .exclude(type__in=BILLING_EVENT_TYPES)
        .values("account_id")
        .annotate(last=Max("day"))
        .values_list("account_id", "last")
    ):
        inputs[account_id][MeasureKind.DAYS_SINCE_ACTIVITY] = _days_between(day, last)


def overrides_in_force(
    *, account_ids: Sequence[int], at: dt.datetime, span: tuple[int, int] | None = None
) -> dict[int, HealthOverride]:
    """The newest unexpired override of each account."""
    found: dict[int, HealthOverride] = {}
    for override in HealthOverride.objects.filter(
        chunk_filter(account_ids, span), expires_at__gt=at, created_at__lte=at
    ).order_by("account_id", "-created_at", "-pk"):
        found.setdefault(override.account_id, override)
    return found


def snapshots_before(*, account_ids: Sequence[int], day: dt.date) -> dict[int, HealthSnapshot]:
    """Each account's last snapshot before ``day`` (what a churned account is frozen at)."""
    latest = (
        HealthSnapshot.objects.filter(account_id__in=list(account_ids), day__lt=day)
        .values("account_id")
        .annotate(last=Max("day"))
    )
    wanted = {(row["account_id"], row["last"]) for row in latest}
    if not wanted:
        return {}
    rows = HealthSnapshot.objects.filter(
        account_id__in={a for a, _ in wanted}, day__in={d for _, d in wanted}
    )
    return {s.account_id: s for s in rows if (s.account_id, s.day) in wanted}


def health_history(
    *, account_id: int, days: int = 120, until: dt.date | None = None
) -> list[HealthSnapshot]:
    """An account's snapshots over the ``days`` days up to ``until`` (today), oldest first:
    the chart, the trend arrows and "why it changed" all read this one list."""
    until = until or timezone.localdate()
    return list(
        HealthSnapshot.objects.filter(
            account_id=account_id, day__gt=until - dt.timedelta(days=days), day__lte=until
        )
        .select_related("profile")
        .order_by("day")
    )


def change_since(history: Sequence[HealthSnapshot], *, days: int) -> dict[str, Any] | None:
    """How the latest snapshot of ``history`` (oldest first) differs from the last scored one
    at least ``days`` days older: the score's move, and each measure whose mapped score moved,
    largest move first ("why it changed"). None when there is nothing to compare."""
    scored = [s for s in history if s.score is not None]
    if not scored:
        return None
    now = scored[-1]
    cutoff = now.day - dt.timedelta(days=days)
    earlier = [s for s in scored if s.day <= cutoff]
    if not earlier or history[-1] is not now:
        return None
    then = earlier[-1]
    before = then.components.get("measures", {})
    moves = []
    for key, measure in now.components.get("measures", {}).items():
        old = before.get(key, {}).get("score")
        new = measure.get("score")
        if old is not None and new is not None and old != new:
            moves.append({"kind": measure["kind"], "from": old, "to": new, "by": new - old})
    moves.sort(key=lambda move: -abs(move["by"]))
    return {
        "days": days,
        "from": then.score,
        "to": now.score,
        "by": now.score - then.score,
        "since": then.day,
        "measures": moves,
    }


# --- facts the risk signals read (health.risk) ------------------------------------------------

URGENT_PRIORITIES = ("high", "urgent")


def _day_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.UTC).date()


def signal_facts(
    *,
    inputs: dict[int, dict[str, Any]],
    day: dt.date,
    rules: Sequence[Any],
    scores: dict[int, tuple[int | None, str]],
    span: tuple[int, int] | None = None,
) -> dict[int, dict[str, Any]]:
    """Each account's facts for :func:`health.risk.findings`, built on the score's own inputs
    (``inputs`` from :func:`health_inputs`) and ``scores`` (account → today's score, band),
    with a few more set-based reads for the chunk: the last day of each watched event type,
    the latest CSAT and CES answers, the oldest urgent open ticket and the last CSM touch."""
    ids = list(inputs)
    of_chunk = chunk_filter(ids, span)
    end = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))
    kinds = {rule.kind for rule in rules}
    facts: dict[int, dict[str, Any]] = {}
    for account_id, raw in inputs.items():
        account = raw["_account"]
        score, band = scores.get(account_id, (None, ""))
        facts[account_id] = {
            "age_days": account["age_days"],
            "churned": account["churned"],
            "has_owner": account["owner_id"] is not None,
            "owner_id": account["owner_id"],
            "renewal_date": account["renewal_date"],
            "usage_recent": account["usage_recent"],
            "usage_prior": account["usage_prior"],
            "nps": account.get("nps"),
            "card_expiry_days": raw.get(MeasureKind.CARD_EXPIRY_DAYS),
            "seats_used": raw.get(MeasureKind.SEATS_USED),
            "plan_used": account["plan_used"],
            "score": score,
            "band": band,
            "last_event_days": {},
        }
    if not ids or not rules:
        return facts

    # The last day of each watched event type, within the longest window a rule looks back.
    types = {t for rule in rules for t in rule.event_types} | {"payment_succeeded"}
    lookback = max(
        max(rule.window_days for rule in rules),
        max((int(rule.threshold) for rule in rules if rule.kind == "inactive"), default=0),
    )
    for account_id, kind, last in (
        DailyUsage.objects.filter(
            of_chunk,
            type__in=types,
            day__gt=day - dt.timedelta(days=lookback + 1),
            day__lte=day,
        )
        .values("account_id", "type")
        .annotate(last=Max("day"))
        .values_list("account_id", "type", "last")
    ):
        if account_id in facts:
            facts[account_id]["last_event_days"][kind] = last
    inactive = next((rule for rule in rules if rule.kind == "inactive"), None)
    if inactive is not None:
        # Idle past the lookback: find how long, for the reason's numbers (a few accounts).
        idle = [
            pk
            for pk, f in facts.items()
            if not any(t in f["last_event_days"] for t in inactive.event_types)
        ]
        for account_id, kind, last in (
            DailyUsage.objects.filter(
                account_id__in=idle, type__in=inactive.event_types, day__lte=day
            )
            .values("account_id", "type")
            .annotate(last=Max("day"))
            .values_list("account_id", "type", "last")
        ):
            facts[account_id]["last_event_days"][kind] = last

    answer_kinds = {"low_csat": SurveyKind.CSAT, "low_ces": SurveyKind.CES, "expansion": None}
    if kinds & set(answer_kinds):
        window = max(rule.window_days for rule in rules if rule.kind in answer_kinds)
        for account_id, kind, score, answered in (
            Response.objects.filter(
                of_chunk,
                survey__kind__in=[SurveyKind.CSAT, SurveyKind.CES],
                score__isnull=False,
                created_at__gte=end - dt.timedelta(days=window + 1),
                created_at__lt=end,
            )
            .annotate(
                newest=Window(
                    RowNumber(),
                    partition_by=[F("account_id"), F("survey__kind")],
                    order_by=[F("created_at").desc(), F("pk").desc()],
                )
            )
            .filter(newest=1)
            .values_list("account_id", "survey__kind", "score", "created_at")
        ):
            if account_id in facts:
                facts[account_id][kind] = (score, _day_of(answered))

    if "stale_ticket" in kinds:
        for ticket in (
            Ticket.objects.filter(
                of_chunk,
                status=TicketStatus.OPEN,
                priority__in=URGENT_PRIORITIES,
                opened_at__lt=end,
            )
            .annotate(
                oldest=Window(
                    RowNumber(),
                    partition_by=[F("account_id")],
                    order_by=[F("opened_at").asc(), F("pk").asc()],
                )
            )
            .filter(oldest=1)
            .values("account_id", "subject", "priority", "opened_at", "external_id")
        ):
            if ticket["account_id"] not in facts:
                continue
            facts[ticket["account_id"]]["oldest_urgent_ticket"] = {
                "subject": ticket["subject"],
                "priority": ticket["priority"],
                "opened": _day_of(ticket["opened_at"]),
                "external_id": ticket["external_id"],
            }

    if "no_csm_touch" in kinds:
        owned = [pk for pk, f in facts.items() if f["has_owner"]]
        touches = [
            Note.objects.filter(account_id__in=owned, author__isnull=False, created_at__lt=end)
            .values("account_id")
            .annotate(last=Max("created_at")),
            FollowUp.objects.filter(account_id__in=owned, handled_at__lt=end)
            .values("account_id")
            .annotate(last=Max("handled_at")),
            AlertEvent.objects.filter(account_id__in=owned, by__isnull=False, at__lt=end)
            .values("account_id")
            .annotate(last=Max("at")),
        ]
        for query in touches:
            for account_id, last in query.values_list("account_id", "last"):
                touched = _day_of(last)
                known = facts[account_id].get("last_touch")
                facts[account_id]["last_touch"] = max(touched, known) if known else touched
    return facts


# --- alerts for pages ----------------------------------------------------------------------


def timeline_alerts(account: Account, *, limit: int) -> list:
    """Every alert opened, snoozed, woken and closed, on the account timeline."""
    from customers.timeline import TimelineItem

    items = []
    for event in (
        AlertEvent.objects.filter(account=account)
        .select_related("alert", "by")
        .order_by("-at", "-pk")[:limit]
    ):
        alert = event.alert
        label = alert.get_kind_display()
        who = f" by {event.by}" if event.by_id else ""
        title = {
            "opened": f"Alert opened: {label}",
            "snoozed": f"Alert snoozed{who}: {label}",
            "woke": f"Alert open again after its snooze: {label}",
            "closed": f"Alert closed{who}: {label}",
            "cleared": f"Alert closed by itself, its condition cleared: {label}",
        }.get(event.action, f"Alert {event.action}: {label}")
        body = alert.reason if event.action == "opened" else event.note
        items.append(
            TimelineItem(
                at=event.at,
                kind=f"alert_{event.action}",
                title=title,
                body=body,
                extra={"severity": alert.severity},
            )
        )
    return items


def account_alerts(*, account_id: int, closed: int = 5) -> dict[str, list[Alert]]:
    """An account's open and snoozed alerts (worst first) and its last few closed ones."""
    live = sorted(
        Alert.objects.filter(account_id=account_id).live(),
        key=lambda a: (a.kind == "expansion", SEVERITY_ORDER.get(a.severity, 9), -a.pk),
    )
    done = list(
        Alert.objects.filter(account_id=account_id, status=AlertStatus.CLOSED).order_by(
            "-closed_at", "-pk"
        )[:closed]
    )
    return {"live": live, "closed": done}


def alert_list(
    *,
    owner=None,
    status: str = "live",
    kind: str = "",
    severity: str = "",
):
    """The alerts list page's rows: a queryset the view paginates, the account joined."""
    rows = Alert.objects.select_related("account", "owner")
    if status == "live":
        rows = rows.live()
    elif status:
        rows = rows.filter(status=status)
    if owner is not None:
        rows = rows.filter(owner=owner)
    if kind:
        rows = rows.filter(kind=kind)
    if severity:
        rows = rows.filter(severity=severity)
    return rows.order_by("-opened_at", "-pk")


def timeline_playbooks(account: Account, *, limit: int) -> list:
    """Plays started, their tasks (created and done) and the emails they sent."""
    from customers.timeline import TimelineItem

    items = [
        TimelineItem(at=run.started_at, kind="playbook", title=f"Playbook started: {run.playbook}")
        for run in PlaybookRun.objects.filter(account=account)
        .select_related("playbook")
        .order_by("-started_at", "-pk")[:limit]
    ]
    for task in (
        Task.objects.filter(account=account)
        .select_related("done_by")
        .order_by("-created_at", "-pk")[:limit]
    ):
        items.append(
            TimelineItem(
                at=task.created_at,
                kind="task",
                title=f"Task: {task.title}",
                body=f"due {task.due_on:%Y-%m-%d}",
            )
        )
        if task.done_at is not None:
            who = f" by {task.done_by}" if task.done_by_id else ""
            items.append(
                TimelineItem(
                    at=task.done_at, kind="task_done", title=f"Task done{who}: {task.title}"
                )
            )
    for email in (
        PlaybookEmail.objects.filter(account=account, status=EmailStatus.SENT)
        .select_related("contact")
        .order_by("-sent_at", "-pk")[:limit]
    ):
        items.append(
            TimelineItem(
                at=email.sent_at,
                kind="playbook_email",
                title=f"Email sent: {email.subject}",
                body=f"to {email.contact.name or email.contact.email} ({email.language})",
            )
        )
    return items


# --- the CSM's day -------------------------------------------------------------------------

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
