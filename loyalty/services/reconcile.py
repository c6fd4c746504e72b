"""Rebuild the members' cached figures from the ledger (``reconcile_loyalty --fix``)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from loyalty.models import LedgerEntry, Lot, LotState, Member


def _total(model, field: str, **filters) -> Coalesce:
    rows = (
        model.objects.filter(member=OuterRef("pk"), **filters)
        .order_by()
        .values("member")
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(rows[:1], output_field=IntegerField()), Value(0))


def members_rebuild(*, member_ids: list[int] | None = None) -> int:
    """Set every member's (or these members') pending points to what its pending lots hold,
    its balance to the sum of its entries less that, and its debt to the sum of its entries'
    debt: one UPDATE, under the members' row locks. Returns the rows updated."""
    with transaction.atomic():
        members = Member.objects.all()
        if member_ids is not None:
            members = members.filter(pk__in=member_ids)
        list(members.select_for_update().order_by("pk").values_list("pk", flat=True))
        return members.update(
            pending=_total(Lot, "remaining", state=LotState.PENDING),
            balance=_total(LedgerEntry, "points")
            - _total(Lot, "remaining", state=LotState.PENDING),
            debt=_total(LedgerEntry, "debt"),
        )
