"""Reads over the ledger, set-based: what is about to expire, and where the cached balances
and lots disagree with the entries (what ``reconcile_loyalty`` reports)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import F, IntegerField, Min, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty.models import LedgerEntry, Lot, LotAllocation, LotState, LoyaltyProgram, Member


def expiring_points(
    *, within_days: int | None = None, now: dt.datetime | None = None
) -> QuerySet[Member]:
    """Members with points that expire in the next ``within_days`` (default: the program's
    warning days), annotated with ``expiring_points`` and ``expires_first_at``: what the
    warning email says. Points already past their expiry (the nightly run not yet done) are
    left out: they are no longer the member's to save."""
    now = now or timezone.now()
    days = LoyaltyProgram.current().expiry_warning_days if within_days is None else within_days
    until = now + dt.timedelta(days=days)
    soon = Q(
        lots__state=LotState.ACTIVE,
        lots__remaining__gt=0,
        lots__expires_at__gt=now,
        lots__expires_at__lte=until,
    )
    return (
        Member.objects.annotate(
            expiring_points=Sum("lots__remaining", filter=soon),
            expires_first_at=Min("lots__expires_at", filter=soon),
        )
        .filter(expiring_points__gt=0)
        .select_related("account")
        .order_by("expires_first_at", "pk")
    )


@dataclass(frozen=True)
class Mismatches:
    members: QuerySet[Member]
    lots: QuerySet[Lot]

    @property
    def total(self) -> int:
        return self.members.count() + self.lots.count()


def ledger_mismatches() -> Mismatches:
    """Members whose cached balance, pending points or debt differ from what their entries and
    lots say, and lots whose ``remaining`` differs from their amount less their allocations.
    Each member/lot is annotated with the rebuilt figures."""

    def total(model, filters: dict, field: str) -> Coalesce:
        rows = (
            model.objects.filter(**filters)
            .order_by()
            .values(next(iter(filters)))
            .annotate(total=Sum(field))
            .values("total")
        )
        return Coalesce(Subquery(rows[:1], output_field=IntegerField()), Value(0))

    members = Member.objects.annotate(
        entries_points=total(LedgerEntry, {"member": OuterRef("pk")}, "points"),
        entries_debt=total(LedgerEntry, {"member": OuterRef("pk")}, "debt"),
        active_points=total(Lot, {"member": OuterRef("pk"), "state": LotState.ACTIVE}, "remaining"),
        pending_points=total(
            Lot, {"member": OuterRef("pk"), "state": LotState.PENDING}, "remaining"
        ),
    ).filter(
        ~Q(balance=F("active_points"))
        | ~Q(pending=F("pending_points"))
        | ~Q(debt=F("entries_debt"))
        | ~Q(entries_points=F("balance") + F("pending"))
    )
    lots = Lot.objects.annotate(
        allocated=total(LotAllocation, {"lot": OuterRef("pk")}, "points")
    ).exclude(remaining=F("amount") - F("allocated"))
    return Mismatches(members=members.select_related("account"), lots=lots)
