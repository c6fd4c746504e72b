"""Rewards taken with points: redeem, then approve, fulfil or cancel.

The points leave the balance when the redemption is requested (a ``spend`` entry, taken from
the lots expiring first), so two requests can never spend the same points: both lock the member
row, the second sees the first's balance. A reward with stock is locked too (after the member,
always in that order) so two members cannot take its last unit. Cancelling returns the points
with a ``reverse`` entry into a new lot that expires when the latest of the spent lots would
have (or by the program's policy if that has passed), and puts the unit back in stock.
Fulfilling makes a task for the account's owner: the CSM delivers the reward.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from customers.models import Account, Contact
from health.models import Task
from loyalty.models import (
    EntryKind,
    LotAllocation,
    LoyaltyProgram,
    Redemption,
    RedemptionState,
    Reward,
)
from loyalty.services import ledger
from loyalty.services.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    InvalidTransition,
    LimitReached,
    OutOfStock,
    RewardUnavailable,
    TierTooLow,
)

OPEN_STATES = (RedemptionState.REQUESTED, RedemptionState.APPROVED)


def _existing(key: str, account_id: int, reward_id: int) -> Redemption | None:
    found = Redemption.objects.select_related("member").filter(idempotency_key=key).first()
    if found is None:
        return None
    if found.member.account_id != account_id or found.reward_id != reward_id:
        raise IdempotencyConflict("This idempotency key was already used for another redemption.")
    return found


def redeem(
    account: Account,
    reward: Reward,
    *,
    idempotency_key: str,
    requested_by=None,
    requested_by_contact: Contact | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> Redemption:
    """Request ``reward`` for ``account`` (by a CSM, ``requested_by``, or by one of its
    contacts). Refuses, by name, a reward switched off (:class:`RewardUnavailable`), above the
    account's tier (:class:`TierTooLow`), past its per-account limit (:class:`LimitReached`),
    out of stock (:class:`OutOfStock`) or dearer than the balance (:class:`InsufficientPoints`).
    The same key again returns the first redemption."""
    ledger.check_key(idempotency_key)
    now = now or timezone.now()
    with transaction.atomic():
        found = _existing(idempotency_key, account.pk, reward.pk)
        if found is not None:
            return found
        member = ledger.member_lock(account.pk)
        found = _existing(idempotency_key, account.pk, reward.pk)
        if found is not None:
            return found
        reward = (
            Reward.objects.select_for_update(of=("self",))
            .select_related("min_tier")
            .get(pk=reward.pk)
        )
        taken = 0
        if reward.per_account_limit is not None:
            taken = (
                Redemption.objects.filter(member=member, reward=reward)
                .exclude(state=RedemptionState.CANCELLED)
                .count()
            )
        refusal = reward.refusal(
            tier_threshold=member.tier.threshold if member.tier else None, taken=taken
        )
        if refusal == "inactive":
            raise RewardUnavailable(f"{reward.name} is not available.")
        if refusal == "tier":
            raise TierTooLow(f"{reward.name} needs the {reward.min_tier.name} tier.")
        if refusal == "limit":
            raise LimitReached(
                f"{reward.name} can be redeemed {reward.per_account_limit} time(s) per account."
            )
        if refusal == "stock":
            raise OutOfStock(f"{reward.name} is out of stock.")
        ledger.settle(member, now)
        if member.balance < reward.cost_points:
            raise InsufficientPoints(reward.cost_points, member.balance)
        spend = ledger.create_entry(
            member=member,
            kind=EntryKind.SPEND,
            points=-reward.cost_points,
            idempotency_key=f"redeem:{idempotency_key}",
            reason=f"Redeemed: {reward.name}"[:255],
            created_by=requested_by,
            metadata={"reward": reward.pk},
            created_at=now,
        )
        ledger.take(member, spend, reward.cost_points, now=now)
        member.save(update_fields=["balance", "pending"])
        if reward.stock is not None:
            reward.stock -= 1
            reward.save(update_fields=["stock"])
        return Redemption.objects.create(
            member=member,
            reward=reward,
            points=reward.cost_points,
            idempotency_key=idempotency_key,
            requested_by=requested_by,
            requested_by_contact=requested_by_contact,
            spend_entry=spend,
            note=note,
            requested_at=now,
        )


def _locked(redemption: Redemption) -> Redemption:
    return (
        Redemption.objects.select_for_update(of=("self",))
        .select_related("member__account", "reward")
        .get(pk=redemption.pk)
    )


def redemption_approve(
    *, redemption: Redemption, by=None, now: dt.datetime | None = None
) -> Redemption:
    """Requested → approved. Approving an approved redemption again changes nothing."""
    with transaction.atomic():
        redemption = _locked(redemption)
        if redemption.state == RedemptionState.APPROVED:
            return redemption
        if redemption.state != RedemptionState.REQUESTED:
            raise InvalidTransition(
                f"A {redemption.get_state_display().lower()} redemption cannot be approved."
            )
        redemption.state = RedemptionState.APPROVED
        redemption.approved_at = now or timezone.now()
        redemption.approved_by = by
        redemption.save(update_fields=["state", "approved_at", "approved_by"])
        return redemption


def redemption_fulfil(
    *, redemption: Redemption, by=None, now: dt.datetime | None = None
) -> Redemption:
    """Requested or approved → fulfilled, with a task for the account's owner to deliver it
    (due today). Fulfilling again changes nothing and makes no second task."""
    now = now or timezone.now()
    with transaction.atomic():
        redemption = _locked(redemption)
        if redemption.state == RedemptionState.FULFILLED:
            return redemption
        if redemption.state not in OPEN_STATES:
            raise InvalidTransition("A cancelled redemption cannot be fulfilled.")
        account = redemption.member.account
        reward = redemption.reward
        detail = (
            reward.feature
            if reward.feature
            else (f"{reward.value:g}" if reward.value is not None else "")
        )
        task = Task.objects.create(
            account=account,
            owner_id=account.owner_id,
            title=f"Deliver loyalty reward: {reward.name}"[:200],
            body=(
                f"{account.name} redeemed {redemption.points} points for {reward.name}"
                f" ({reward.get_kind_display()}{': ' + detail if detail else ''}). "
                "Deliver it and close this task."
            ),
            due_on=now.astimezone(dt.UTC).date(),
            created_at=now,
        )
        if redemption.approved_at is None:
            redemption.approved_at = now
            redemption.approved_by = by
        redemption.state = RedemptionState.FULFILLED
        redemption.fulfilled_at = now
        redemption.fulfilled_by = by
        redemption.task = task
        redemption.save(
            update_fields=[
                "state",
                "approved_at",
                "approved_by",
                "fulfilled_at",
                "fulfilled_by",
                "task",
            ]
        )
        return redemption


def redemption_cancel(
    *, redemption: Redemption, by=None, reason: str = "", now: dt.datetime | None = None
) -> Redemption:
    """Requested or approved → cancelled: the points come back (a ``reverse`` entry of the
    spend, key ``redeem-cancel:<id>``) and so does the unit of stock. Cancelling again changes
    nothing; a fulfilled redemption cannot be cancelled."""
    now = now or timezone.now()
    with transaction.atomic():
        account_id = (
            Redemption.objects.filter(pk=redemption.pk)
            .values_list("member__account_id", flat=True)
            .get()
        )
        member = ledger.member_lock(account_id)  # member first, then the redemption: one order
        redemption = _locked(redemption)
        if redemption.state == RedemptionState.CANCELLED:
            return redemption
        if redemption.state not in OPEN_STATES:
            raise InvalidTransition("A fulfilled redemption cannot be cancelled.")
        ledger.settle(member, now)
        program = LoyaltyProgram.current()
        refund = ledger.create_entry(
            member=member,
            kind=EntryKind.REVERSE,
            points=redemption.points,
            idempotency_key=f"redeem-cancel:{redemption.pk}",
            reason=(f"Redemption cancelled: {reason}" if reason else "Redemption cancelled")[:255],
            related_entry=redemption.spend_entry,
            created_by=by,
            created_at=now,
        )
        spent = LotAllocation.objects.filter(entry=redemption.spend_entry).aggregate(
            latest=Max("lot__expires_at"),
            never=Count("pk", filter=Q(lot__expires_at__isnull=True)),
        )
        if spent["never"]:
            expires_at = None  # some spent points never expired: neither do the returned ones
        elif spent["latest"] is not None and spent["latest"] > now:
            expires_at = spent["latest"]
        else:
            expires_at = True  # the spent lots have lapsed since: a fresh life by the policy
        ledger.credit(member, refund, program=program, now=now, expires_at=expires_at)
        reward = Reward.objects.select_for_update().get(pk=redemption.reward_id)
        if reward.stock is not None:
            reward.stock += 1
            reward.save(update_fields=["stock"])
        redemption.state = RedemptionState.CANCELLED
        redemption.cancelled_at = now
        redemption.cancelled_by = by
        redemption.cancel_reason = reason[:255]
        redemption.refund_entry = refund
        redemption.save(
            update_fields=["state", "cancelled_at", "cancelled_by", "cancel_reason", "refund_entry"]
        )
        return redemption
