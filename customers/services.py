"""Writes for customers. Keyword-only ``<noun>_<verb>`` functions; views, the API, CSV import
and the demo seeder all come through here so the invariants hold whoever writes."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from customers.models import (
    Account,
    ExchangeRate,
    LifecycleStage,
    Note,
    RevenueChange,
    RevenueKind,
    StageChange,
)

CENT = Decimal("0.01")
NOTE_MAX_LENGTH = 10_000


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def currency_to_base(*, amount: Decimal, currency: str, on: dt.date) -> Decimal:
    """Convert ``amount`` into the base currency with the rate in force on ``on``.

    A missing rate is an error, not a silent 1:1, because a wrong MRR is worse than a refused row.
    """
    currency = currency.upper()
    base = settings.TENURE_BASE_CURRENCY
    if currency == base:
        return money(amount)
    rate = (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=on)
        .order_by("-valid_from")
        .values_list("per_base", flat=True)
        .first()
    )
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


def _refresh_account_revenue(account: Account) -> None:
    """Re-derive MRR, first payment and churn from the revenue history (never typed twice)."""
    changes = list(
        RevenueChange.objects.filter(account=account)
        .order_by("effective_at", "id")
        .values("mrr", "mrr_base", "effective_at", "plan")
    )
    now = timezone.now()
    current = [c for c in changes if c["effective_at"] <= now]
    latest = current[-1] if current else None
    account.mrr = latest["mrr"] if latest else Decimal("0")
    account.mrr_base = latest["mrr_base"] if latest else Decimal("0")
    if latest and latest["plan"]:
        account.plan = latest["plan"]
    paid = [c for c in current if c["mrr"] > 0]
    account.first_paid_at = paid[0]["effective_at"] if paid else None
    account.churned_at = latest["effective_at"] if latest and paid and latest["mrr"] == 0 else None
    account.save(
        update_fields=["mrr", "mrr_base", "plan", "first_paid_at", "churned_at", "updated_at"]
    )


@transaction.atomic
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
    """
    if timezone.is_naive(effective_at):
        raise ValidationError({"effective_at": "Timestamps must carry a timezone."})
    mrr = money(mrr)
    if mrr < 0:
        raise ValidationError({"mrr": "MRR cannot be negative."})
    account = Account.objects.select_for_update().get(pk=account.pk)
    previous = (
        RevenueChange.objects.filter(account=account, effective_at__lte=effective_at)
        .order_by("-effective_at", "-id")
        .first()
    )
    inferred = _infer_kind(previous=previous, account=account, mrr=mrr)
    if kind is None:
        kind = inferred
    elif kind not in RevenueKind.values:
        raise ValidationError({"kind": f"Unknown revenue change kind {kind!r}."})
    if kind == RevenueKind.CANCELLED and mrr != 0:
        raise ValidationError({"mrr": "A cancellation sets MRR to 0."})
    change = RevenueChange.objects.create(
        account=account,
        external_id=external_id or None,
        kind=kind,
        effective_at=effective_at,
        mrr=mrr,
        currency=account.currency,
        mrr_base=currency_to_base(amount=mrr, currency=account.currency, on=effective_at.date()),
        plan=plan,
    )
    _refresh_account_revenue(account)
    return change


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
