"""The score's inputs for a chunk of accounts (a fixed handful of queries whatever its
size), the overrides and frozen scores the recompute needs, and an account's history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import (
    Avg,
    Count,
    F,
    Max,
    Min,
    Q,
    Sum,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from customers.ingest import BILLING_EVENT_TYPES
from customers.models import (
    Account,
    Contact,
    DailyUsage,
    StageChange,
    Ticket,
    UsageEvent,
)
from health.models import (
    CsmSentiment,
    HealthOverride,
    HealthSnapshot,
    MeasureKind,
)
from surveys.models import Response, SurveyKind

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
