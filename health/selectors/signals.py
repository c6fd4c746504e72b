"""The facts the risk signals read (health.risk), built on the score's inputs with a few
more set-based reads per chunk."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import (
    F,
    Max,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from customers.models import (
    DailyUsage,
    Note,
    Ticket,
    TicketStatus,
)
from health.models import (
    AlertEvent,
    MeasureKind,
)
from health.selectors.inputs import chunk_filter
from surveys.models import FollowUp, Response, SurveyKind

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
