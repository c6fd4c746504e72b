"""The earning engine: turns what happened (events, revenue, anniversaries, birthdays, survey
answers, referrals) into awards through the ledger's ``award`` service.

Every award carries a deterministic idempotency key naming its rule and its cause
(``rule:<id>:event:<event pk>``, ``rule:<id>:birthday:<contact pk>:<year>``,
``rule:<id>:anniversary:<account pk>:<year>``, ``rule:<id>:revenue:<account pk>:<YYYY-MM>``…), so the same
cause never pays twice: a replayed batch, a rerun nightly job or two workers racing all end
at the ledger's unique key. The engine also skips keys already on the ledger in one query,
so a replay costs a read, not a failed write per row.

A rule pays only for causes inside its active window (``active_from`` ≤ cause <
``active_until``), at most ``cap_count`` awards and ``cap_points`` points per account in the
``cap_period`` that holds the moment of the award (counted on the ledger by the entries' rule),
and multiplied by the account's tier multiplier at the time of the award (unless the rule
opts out). Survey
answers pay the same whatever the score: rewarding a score would bias the answers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from customers.models import Account, Contact, RevenueChange, UsageEvent
from loyalty import services
from loyalty.earning_dates import (
    anniversary_years,
    is_yearly_day,
    month_bounds,
    period_bounds,
    previous_month,
    yearly_date,
)
from loyalty.models import EarningRule, EntryKind, LedgerEntry, Member, RuleKind

logger = logging.getLogger(__name__)

# How far back the catch-up looks for events a lost signal left unpaid.
EVENT_LOOKBACK = dt.timedelta(days=2)
REFERRED_PROPERTY = "referred_account"


@dataclass(frozen=True)
class Cause:
    """One reason to pay one account under one rule."""

    account_id: int
    key: str
    at: dt.datetime
    points: int
    reason: str


def rule_key(rule_id: int, *parts: object) -> str:
    return ":".join(["rule", str(rule_id), *(str(p) for p in parts)])


def _rules(kind: str, *, now: dt.datetime) -> list[EarningRule]:
    """The enabled rules of a kind whose window has not ended (the per-cause check is below:
    a replayed old event is judged by its own time)."""
    return list(
        EarningRule.objects.filter(kind=kind, enabled=True)
        .filter(Q(active_until__isnull=True) | Q(active_until__gt=now - EVENT_LOOKBACK))
        .order_by("pk")
    )


def _multipliers(account_ids: Iterable[int]) -> dict[int, Decimal]:
    """Each member's tier multiplier (1 without a tier), one query for the batch."""
    rows = Member.objects.filter(account_id__in=set(account_ids), tier__isnull=False).values_list(
        "account_id", "tier__multiplier"
    )
    return {account_id: Decimal(m) for account_id, m in rows if m is not None}


def _used_in_period(rule: EarningRule, account_ids: set[int], now: dt.datetime) -> dict:
    """What the rule already paid each account in the cap period holding ``now``, as
    ``[awards, points]`` by account: one grouped query on the ledger's rule index."""
    start, end = period_bounds(rule.cap_period, now)
    entries = LedgerEntry.objects.filter(
        rule=rule, kind=EntryKind.EARN, member__account_id__in=account_ids
    )
    if start is not None:
        entries = entries.filter(created_at__gte=start, created_at__lt=end)
    rows = (
        entries.order_by()
        .values("member__account_id")
        .annotate(n=Count("id"), points=Sum("points"))
    )
    return {row["member__account_id"]: [row["n"], row["points"] or 0] for row in rows}


def earn(rule: EarningRule, causes: Sequence[Cause], *, now: dt.datetime | None = None) -> int:
    """Pay the causes that are new, in the rule's window and under its caps; returns the
    points awarded. Causes are judged oldest first, so under a cap the earliest wins; a points
    cap pays what is left of it (the tier multiplier applies before the cap)."""
    now = now or timezone.now()
    if not rule.enabled:
        return 0
    causes = [c for c in causes if c.points > 0 and rule.is_active_at(c.at)]
    if not causes:
        return 0
    paid = set(
        LedgerEntry.objects.filter(idempotency_key__in=[c.key for c in causes]).values_list(
            "idempotency_key", flat=True
        )
    )
    causes = sorted((c for c in causes if c.key not in paid), key=lambda c: (c.at, c.key))
    if not causes:
        return 0
    capped = bool(rule.cap_period) and (rule.cap_count or rule.cap_points)
    multipliers = _multipliers(c.account_id for c in causes) if rule.applies_tier_multiplier else {}
    accounts = Account.objects.in_bulk({c.account_id for c in causes})
    by_account: dict[int, list[Cause]] = {}
    seen: set[str] = set()
    for cause in causes:
        if cause.key not in seen and cause.account_id in accounts:
            seen.add(cause.key)
            by_account.setdefault(cause.account_id, []).append(cause)
    total = 0
    for account_id, own in by_account.items():
        multiplier = multipliers.get(account_id, Decimal(1))
        if not capped:
            for cause in own:
                total += _pay(
                    rule,
                    accounts[account_id],
                    cause,
                    services.multiplied(cause.points, multiplier),
                    now,
                )
            continue
        # Under a cap, the account's member row is locked while its awards in the period are
        # counted and paid, so two workers paying the same account never both pass the cap.
        with transaction.atomic():
            services.member_lock(account_id)
            awards, points_used = _used_in_period(rule, {account_id}, now).get(account_id, [0, 0])
            for cause in own:
                if rule.cap_count and awards >= rule.cap_count:
                    break
                points = services.multiplied(cause.points, multiplier)
                if rule.cap_points:
                    points = min(points, rule.cap_points - points_used)
                paid_now = _pay(rule, accounts[account_id], cause, points, now)
                if paid_now:
                    awards += 1
                    points_used += paid_now
                    total += paid_now
    return total


def _pay(rule: EarningRule, account: Account, cause: Cause, points: int, now: dt.datetime) -> int:
    """Award one cause; returns its points (0 when the ledger handed back an entry another
    worker wrote earlier for the same key; one written at the very same moment cannot be told
    apart and is counted, which can only make a cap pay less, never more)."""
    if points <= 0:
        return 0
    entry = services.award(
        account, points, reason=cause.reason, idempotency_key=cause.key, rule=rule, now=now
    )
    return points if entry.created_at == now else 0


# --- causes ---------------------------------------------------------------------------------


def earn_for_events(
    *,
    account_ids: Iterable[int] | None = None,
    since: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Pay the event and referral rules for stored usage events of these accounts (all when
    None) received since ``since``: one query per rule for the events, whatever the batch."""
    now = now or timezone.now()
    since = since or now - EVENT_LOOKBACK
    ids = None if account_ids is None else sorted(set(account_ids))
    if ids == []:
        return 0
    total = 0
    for rule in _rules(RuleKind.EVENT, now=now) + _rules(RuleKind.REFERRAL, now=now):
        if not rule.event_type:
            continue
        events = UsageEvent.objects.filter(type=rule.event_type, received_at__gte=since)
        if ids is not None:
            events = events.filter(account_id__in=ids)
        rows = list(events.values_list("pk", "account_id", "occurred_at", "properties"))
        if rule.kind == RuleKind.REFERRAL:
            causes = _referral_causes(rule, rows)
        else:
            causes = [
                Cause(account_id, rule_key(rule.pk, "event", pk), at, rule.points, rule.name)
                for pk, account_id, at, _ in rows
            ]
        total += earn(rule, causes, now=now)
    return total


def _referral_causes(rule: EarningRule, rows: list[tuple]) -> list[Cause]:
    """A referral event names the referred account (its external id) in
    ``properties.referred_account``; the referrer (the event's account) earns ``points`` and
    the referred account ``referred_points``. A self-referral, or one naming an account we do
    not know, pays nobody."""
    named = {
        str(props.get(REFERRED_PROPERTY)): (pk, account_id, at)
        for pk, account_id, at, props in rows
        if isinstance(props, dict) and props.get(REFERRED_PROPERTY) not in (None, "")
    }
    referred = dict(
        Account.objects.filter(external_id__in=list(named)).values_list("external_id", "pk")
    )
    causes = []
    for external_id, (pk, account_id, at) in named.items():
        other = referred.get(external_id)
        if other is None or other == account_id:
            continue
        causes.append(Cause(account_id, rule_key(rule.pk, "event", pk), at, rule.points, rule.name))
        causes.append(
            Cause(
                other,
                rule_key(rule.pk, "event", pk, "referred"),
                at,
                rule.referred_points,
                f"{rule.name} (referred)",
            )
        )
    return causes


def earn_for_responses(*, response_ids: Iterable[int], now: dt.datetime | None = None) -> int:
    """Pay the survey rules for answers (first answers and edits alike key on the response, so
    an edit never pays again). The score is not read: every answer pays the same."""
    from surveys.models import Response

    now = now or timezone.now()
    rows = list(
        Response.objects.filter(pk__in=set(response_ids)).values_list(
            "pk", "account_id", "created_at"
        )
    )
    if not rows:
        return 0
    total = 0
    for rule in _rules(RuleKind.SURVEY, now=now):
        causes = [
            Cause(account_id, rule_key(rule.pk, "response", pk), at, rule.points, rule.name)
            for pk, account_id, at in rows
        ]
        total += earn(rule, causes, now=now)
    return total


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _month_day_q(field: str, day: dt.date) -> Q:
    """Rows whose date field falls on ``day``'s month and day, with 29 February matching on 28
    February in a year without one."""
    q = Q(**{f"{field}__month": day.month, f"{field}__day": day.day})
    if yearly_date(dt.date(2000, 2, 29), day.year) == day and day.day == 28:
        q |= Q(**{f"{field}__month": 2, f"{field}__day": 29})
    return q


def earn_anniversaries(*, day: dt.date, now: dt.datetime | None = None) -> int:
    """Pay the anniversary rules to live accounts whose first payment was on this day of an
    earlier year: one query for the accounts, one award per anniversary."""
    now = now or timezone.now()
    rules = _rules(RuleKind.ANNIVERSARY, now=now)
    if not rules:
        return 0
    rows = list(
        Account.objects.filter(
            _month_day_q("first_paid_at", day),
            first_paid_at__date__lt=day.replace(month=1, day=1),
            churned_at__isnull=True,
        ).values_list("pk", "first_paid_at")
    )
    rows = [(pk, first.date()) for pk, first in rows if is_yearly_day(first.date(), day)]
    total = 0
    for rule in rules:
        causes = [
            Cause(
                pk,
                rule_key(rule.pk, "anniversary", pk, day.year),
                _day_start(day),
                rule.points,
                f"{rule.name} ({anniversary_years(first, day)} years)",
            )
            for pk, first in rows
        ]
        total += earn(rule, causes, now=now)
    return total


def earn_birthdays(*, day: dt.date, now: dt.datetime | None = None) -> int:
    """Pay the birthday rules for each contact whose birthday is this day (29 February counts
    on 28 February in a year without one); the account earns, once per contact and year."""
    now = now or timezone.now()
    rules = _rules(RuleKind.BIRTHDAY, now=now)
    if not rules:
        return 0
    rows = list(
        Contact.objects.filter(_month_day_q("birthday", day), account__churned_at__isnull=True)
        .values_list("pk", "account_id", "birthday")
        .order_by("pk")
    )
    rows = [(pk, a) for pk, a, born in rows if is_yearly_day(born, day)]
    total = 0
    for rule in rules:
        causes = [
            Cause(
                account_id,
                rule_key(rule.pk, "birthday", pk, day.year),
                _day_start(day),
                rule.points,
                rule.name,
            )
            for pk, account_id in rows
        ]
        total += earn(rule, causes, now=now)
    return total


def earn_revenue(*, year: int, month: int, now: dt.datetime | None = None) -> int:
    """Pay the revenue rules for a calendar month: ``points_per_unit`` points per unit of the
    base currency of the MRR in force at the month's end (from the revenue history, so a
    month is paid once and a late-recorded change is seen by the next nightly run)."""
    now = now or timezone.now()
    rules = _rules(RuleKind.REVENUE, now=now)
    if not rules:
        return 0
    start, end = month_bounds(year, month)
    in_force = (
        RevenueChange.objects.filter(account=OuterRef("pk"), effective_at__lt=end)
        .order_by("-effective_at", "-pk")
        .values("mrr_base")[:1]
    )
    rows = [
        (pk, mrr)
        for pk, mrr in Account.objects.annotate(month_mrr=Subquery(in_force))
        .filter(month_mrr__gt=0)
        .values_list("pk", "month_mrr")
    ]
    total = 0
    for rule in rules:
        rate = Decimal(rule.points_per_unit or 0)
        causes = [
            Cause(
                pk,
                rule_key(rule.pk, "revenue", pk, f"{year:04d}-{month:02d}"),
                start,
                int((Decimal(str(mrr)) * rate).to_integral_value(rounding=ROUND_DOWN)),
                f"{rule.name} ({year:04d}-{month:02d})",
            )
            for pk, mrr in rows
        ]
        total += earn(rule, causes, now=now)
    return total


def earn_nightly(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The nightly pass: today's anniversaries and birthdays, last month's revenue, and any
    event a lost signal left unpaid. Every part is idempotent, so a rerun pays nothing."""
    now = now or timezone.now()
    today = now.astimezone(dt.UTC).date()
    year, month = previous_month(today)
    return {
        "anniversaries": earn_anniversaries(day=today, now=now),
        "birthdays": earn_birthdays(day=today, now=now),
        "revenue": earn_revenue(year=year, month=month, now=now),
        "events": earn_for_events(now=now),
    }
