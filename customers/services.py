"""Writes for customers. Keyword-only ``<noun>_<verb>`` functions; views, the API, CSV import
and the demo seeder all come through here so the invariants hold whoever writes."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, NullIf
from django.db.models.lookups import Exact
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
    accounts_refresh_revenue(accounts=Account.objects.filter(pk=account.pk))
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
