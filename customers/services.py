"""Writes for customers. Keyword-only ``<noun>_<verb>`` functions; views, the API, CSV import
and the demo seeder all come through here so the invariants hold whoever writes."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, NullIf
from django.db.models.lookups import Exact
from django.utils import timezone

from customers.models import (
    MRR_LIMIT,
    Account,
    ApiKey,
    ExchangeRate,
    LifecycleStage,
    Note,
    RevenueChange,
    RevenueKind,
    Segment,
    SegmentMember,
    StageChange,
)
from customers.segments import match_clean, rules_clean, rules_q
from customers.signals import accounts_touched_on_commit, segment_entered_on_commit

CENT = Decimal("0.01")
NOTE_MAX_LENGTH = 10_000


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


# currency -> [(valid_from, per_base)] sorted by date; see exchange_rates_load.
RateTable = dict[str, list[tuple[dt.date, Decimal]]]
_RATE_MAX = Decimal("Infinity")


def exchange_rates_load(*, currencies: Iterable[str]) -> RateTable:
    """Every rate of the given currencies in one query, for converting a batch of amounts."""
    table: RateTable = {}
    rows = (
        ExchangeRate.objects.filter(currency__in={c.upper() for c in currencies})
        .order_by("currency", "valid_from")
        .values_list("currency", "valid_from", "per_base")
    )
    for currency, valid_from, per_base in rows:
        table.setdefault(currency, []).append((valid_from, per_base))
    return table


def currency_to_base(
    *, amount: Decimal, currency: str, on: dt.date, rates: RateTable | None = None
) -> Decimal:
    """Convert ``amount`` into the base currency with the rate in force on ``on``.

    A missing rate is an error, not a silent 1:1, because a wrong MRR is worse than a refused row.
    ``rates`` (from :func:`exchange_rates_load`) spares a query per amount in batches.
    """
    currency = currency.upper()
    base = settings.TENURE_BASE_CURRENCY
    if currency == base:
        return money(amount)
    if rates is None:
        rate = (
            ExchangeRate.objects.filter(currency=currency, valid_from__lte=on)
            .order_by("-valid_from")
            .values_list("per_base", flat=True)
            .first()
        )
    else:
        table = rates.get(currency, [])
        index = bisect_right(table, (on, _RATE_MAX))
        rate = table[index - 1][1] if index else None
    if rate is None:
        raise ValidationError(
            {"currency": f"No exchange rate from {currency} to {base} on or before {on}."}
        )
    return money(Decimal(amount) / rate)


@transaction.atomic
def account_change_stage(
    *, account: Account, to_stage: str, actor=None, source: str = "user", at=None
) -> Account:
    """Move an account to another lifecycle stage and record who moved it."""
    if to_stage not in LifecycleStage.values:
        raise ValidationError({"stage": f"Unknown lifecycle stage {to_stage!r}."})
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.stage == to_stage:
        return account
    StageChange.objects.create(
        account=account,
        from_stage=account.stage,
        to_stage=to_stage,
        changed_by=actor,
        source=source,
        changed_at=at or timezone.now(),
    )
    account.stage = to_stage
    account.save(update_fields=["stage", "updated_at"])
    return account


def accounts_refresh_revenue(*, accounts=None, now: dt.datetime | None = None) -> int:
    """Re-derive MRR, plan, first payment and churn from the revenue history, set-based.

    The one place these derived columns are computed (never typed twice): used after every
    recorded change, and hourly by a task so future-dated changes take effect on their date.
    """
    now = now or timezone.now()
    effective = RevenueChange.objects.filter(account=OuterRef("pk"), effective_at__lte=now)
    latest = effective.order_by("-effective_at", "-id")
    first_paid = (
        effective.filter(mrr__gt=0).order_by("effective_at", "id").values("effective_at")[:1]
    )
    queryset = accounts if accounts is not None else Account.objects.all()
    latest_mrr = Subquery(latest.values("mrr")[:1])
    return queryset.update(
        mrr=Coalesce(latest_mrr, Value(Decimal("0"))),
        mrr_base=Coalesce(Subquery(latest.values("mrr_base")[:1]), Value(Decimal("0"))),
        plan=Coalesce(NullIf(Subquery(latest.values("plan")[:1]), Value("")), F("plan")),
        first_paid_at=Subquery(first_paid),
        churned_at=Case(
            When(
                Q(Exists(effective.filter(mrr__gt=0))) & Q(Exact(latest_mrr, Decimal("0"))),
                then=Subquery(latest.values("effective_at")[:1]),
            ),
            default=None,
        ),
        updated_at=now,
    )


@dataclass(frozen=True)
class RevenueChangeInput:
    """One dated MRR change to record, in the account's currency."""

    account_id: int
    mrr: Decimal
    effective_at: dt.datetime
    kind: str | None = None
    plan: str = ""
    external_id: str | None = None


def revenue_change_record(
    *,
    account: Account,
    mrr: Decimal,
    effective_at: dt.datetime,
    kind: str | None = None,
    plan: str = "",
    external_id: str | None = None,
) -> RevenueChange:
    """Record a dated MRR change in the account's currency.

    ``kind`` is inferred from the previous MRR when not given (0 → paid is a start or a
    reactivation, paid → 0 a cancellation), so importers cannot contradict the numbers.
    The rules live in :func:`revenue_changes_record`; this is its batch of one.
    """
    change = RevenueChangeInput(
        account_id=account.pk,
        mrr=mrr,
        effective_at=effective_at,
        kind=kind,
        plan=plan,
        external_id=external_id,
    )
    (result,) = revenue_changes_record(changes=[change])
    if isinstance(result, ValidationError):
        raise result
    return result


@transaction.atomic
def revenue_changes_record(
    *, changes: Sequence[RevenueChangeInput]
) -> list[RevenueChange | ValidationError]:
    """Record many dated MRR changes by one set of rules, in a fixed number of queries.

    Returns, in input order, the created change or the ValidationError that refused it: a
    refused change writes nothing and the others still land. Within an account the batch is
    applied in date order, so each change's kind is inferred from the MRR in force just before
    it, whichever order the caller sent them in. Derived MRR is refreshed once at the end.
    """
    results: list[RevenueChange | ValidationError | None] = [None] * len(changes)
    valid: list[tuple[int, RevenueChangeInput, Decimal]] = []
    for index, change in enumerate(changes):
        if timezone.is_naive(change.effective_at):
            results[index] = ValidationError({"effective_at": "Timestamps must carry a timezone."})
            continue
        # Bounded before rounding: quantizing 1e30 to cents overflows Decimal's precision
        # (and 999999999999.995 rounds up to the limit).
        raw = Decimal(change.mrr)
        mrr = money(raw) if raw.copy_abs() < MRR_LIMIT else raw
        if mrr < 0:
            results[index] = ValidationError({"mrr": "MRR cannot be negative."})
        elif mrr >= MRR_LIMIT:
            results[index] = ValidationError({"mrr": f"MRR must be below {MRR_LIMIT:,}."})
        elif change.kind is not None and change.kind not in RevenueKind.values:
            results[index] = ValidationError(
                {"kind": f"Unknown revenue change kind {change.kind!r}."}
            )
        else:
            valid.append((index, change, mrr))
    account_ids = sorted({change.account_id for _, change, _ in valid})
    # Lock the accounts in one order so concurrent batches queue instead of deadlocking.
    currency_of = dict(
        Account.objects.select_for_update()
        .filter(pk__in=account_ids)
        .order_by("pk")
        .values_list("pk", "currency")
    )
    history: dict[int, list[tuple[dt.datetime, int, Decimal]]] = {}
    recorded = (
        RevenueChange.objects.filter(account_id__in=account_ids)
        .order_by("effective_at", "id")
        .values_list("account_id", "effective_at", "id", "mrr")
    )
    for account_id, effective_at, pk, mrr in recorded:
        history.setdefault(account_id, []).append((effective_at, pk, mrr))
    rates = exchange_rates_load(currencies=set(currency_of.values()))
    sequence = 1 + max((pk for rows in history.values() for _, pk, _ in rows), default=0)
    created: list[tuple[int, RevenueChange]] = []
    for index, change, mrr in sorted(valid, key=lambda v: (v[1].account_id, v[1].effective_at)):
        currency = currency_of.get(change.account_id)
        if currency is None:
            results[index] = ValidationError({"account": "Unknown account."})
            continue
        timeline = history.setdefault(change.account_id, [])
        position = bisect_right(timeline, (change.effective_at, sequence))
        previous = RevenueChange(mrr=timeline[position - 1][2]) if position else None
        kind = change.kind or _infer_kind(previous=previous, account=None, mrr=mrr)
        try:
            if kind == RevenueKind.CANCELLED and mrr != 0:
                raise ValidationError({"mrr": "A cancellation sets MRR to 0."})
            mrr_base = currency_to_base(
                amount=mrr, currency=currency, on=change.effective_at.date(), rates=rates
            )
        except ValidationError as error:
            results[index] = error
            continue
        timeline.insert(position, (change.effective_at, sequence, mrr))
        sequence += 1
        row = RevenueChange(
            account_id=change.account_id,
            external_id=change.external_id or None,
            kind=kind,
            effective_at=change.effective_at,
            mrr=mrr,
            currency=currency,
            mrr_base=mrr_base,
            plan=change.plan,
        )
        created.append((index, row))
        results[index] = row
    if created:
        RevenueChange.objects.bulk_create([row for _, row in created])
        touched = {row.account_id for _, row in created}
        accounts_refresh_revenue(accounts=Account.objects.filter(pk__in=touched))
        accounts_touched_on_commit(touched)
    return results  # type: ignore[return-value]


def _infer_kind(*, previous: RevenueChange | None, account: Account, mrr: Decimal) -> str:
    if mrr == 0:
        return RevenueKind.CANCELLED
    if previous is None:
        return RevenueKind.STARTED
    if previous.mrr == 0:
        return RevenueKind.REACTIVATED
    return RevenueKind.CHANGED


def note_create(*, account: Account, author, body: str) -> Note:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "A note cannot be empty."})
    if len(body) > NOTE_MAX_LENGTH:
        raise ValidationError({"body": f"A note is at most {NOTE_MAX_LENGTH} characters."})
    return Note.objects.create(account=account, author=author, body=body)


# --- API keys ------------------------------------------------------------------------------
# A key is shown once, when created; only its SHA-256 is stored, so a stolen database does not
# hand out working keys.

API_KEY_PREFIX = "tk_"
API_KEY_TOUCH_EVERY = dt.timedelta(minutes=1)


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(*, name: str, created_by=None) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is never stored or shown again."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the key a name that says who uses it."})
    if len(name) > 100:
        raise ValidationError({"name": "A key's name is at most 100 characters."})
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        name=name,
        prefix=key[: len(API_KEY_PREFIX) + 7],
        key_hash=api_key_hash(key),
        created_by=created_by,
    )
    return api_key, key


def api_key_revoke(*, api_key: ApiKey, at: dt.datetime | None = None) -> ApiKey:
    """Stop a key from working, at once and for good; revoking twice keeps the first date."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=at or timezone.now()
    )
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def api_key_authenticate(*, key: str) -> ApiKey | None:
    """The active key behind ``key``, or None. Records when it was last used, at most once a
    minute per key, so busy ingest traffic does not turn into a write per request."""
    if not key or len(key) > 200:
        return None
    api_key = ApiKey.objects.filter(key_hash=api_key_hash(key), revoked_at__isnull=True).first()
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or api_key.last_used_at <= now - API_KEY_TOUCH_EVERY:
        ApiKey.objects.filter(pk=api_key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - API_KEY_TOUCH_EVERY)
        ).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def records_upsert(*, model, objects: list, fields: Sequence[str]) -> None:
    """Insert or update rows by external id in one INSERT … ON CONFLICT (external_id) DO
    UPDATE of ``fields`` (and ``updated_at`` where the model has it); sets pk on every object.
    The API and the CSV import both write this way (``bulk_update`` builds a CASE per field
    per row and took ten times as long)."""
    if objects:
        stamped = any(f.name == "updated_at" for f in model._meta.concrete_fields)
        model.objects.bulk_create(
            objects,
            update_conflicts=True,
            unique_fields=["external_id"],
            update_fields=[*fields, *(["updated_at"] if stamped else [])],
        )


# --- segments -----------------------------------------------------------------------------


def segment_save(
    *,
    name: str,
    rules: Any,
    match: str = "all",
    description: str = "",
    segment: Segment | None = None,
    actor=None,
) -> Segment:
    """Create a segment, or change ``segment``: the rules are read by the one parser
    (customers.segments) and stored in canonical form, so nothing unchecked is ever saved.
    Raises ``ValidationError`` (a name in use, bad rules) with nothing written."""
    segment = segment or Segment(created_by=actor)
    segment.name = (name or "").strip()
    segment.description = (description or "").strip()
    segment.rules = rules_clean(rules, user=actor)
    segment.match = match_clean(match)
    segment.full_clean()
    try:
        with transaction.atomic():
            if segment.pk is None:
                segment.save()
            else:  # only what the editor changes: a refresh may have run since it loaded
                segment.save(update_fields=["name", "description", "rules", "match", "updated_at"])
    except IntegrityError as error:  # the same name saved by someone else meanwhile
        raise ValidationError({"name": "A segment with this name already exists."}) from error
    return segment


def segment_delete(*, segment: Segment) -> None:
    """Delete a segment and its membership rows. Raises ``ProtectedError`` while a survey
    campaign targets it (surveys' foreign key protects it), so a scheduled campaign never
    loses its audience, and while a playbook is keyed to it (health's foreign key)."""
    segment.delete()


def segment_memberships_refresh(*, segment_id: int, now: dt.datetime | None = None) -> list[int]:
    """Bring a segment's ``SegmentMember`` rows in line with who matches now and return the
    ids of the accounts that entered (sorted). The segment's first refresh records its
    members and announces nobody: they did not enter, they were there.

    Set-based: one DELETE of the leavers, one read of the newcomers, bulk INSERTs. The segment
    row is locked for the transaction, so two refreshes of one segment take turns instead of
    both announcing the same entries. ``segment_entered`` is sent after commit. A segment gone
    meanwhile returns []. Raises ``SegmentRulesError`` when its stored rules no longer read
    (a field whose app was removed), leaving its members as they were.
    """
    now = now or timezone.now()
    with transaction.atomic():
        segment = Segment.objects.select_for_update().filter(pk=segment_id).first()
        if segment is None:
            return []
        matching = Account.objects.filter(rules_q(segment.rules, match=segment.match, now=now))
        members = SegmentMember.objects.filter(segment=segment)
        members.exclude(account_id__in=matching.values("pk")).delete()
        entered = list(
            matching.exclude(pk__in=members.values("account_id"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        SegmentMember.objects.bulk_create(
            [SegmentMember(segment=segment, account_id=pk, entered_at=now) for pk in entered],
            batch_size=1000,
        )
        first = segment.members_refreshed_at is None
        segment.members_refreshed_at = now
        segment.save(update_fields=["members_refreshed_at"])
        if first:
            # A new segment's first members were in it before anyone watched: recording them
            # is not news, or a play keyed to it would fire for the whole segment at once.
            return []
        segment_entered_on_commit(segment_id=segment.pk, account_ids=entered)
    return entered
