"""Points in and out of the ledger: award, adjust, reverse (clawback), and the balance.

Every function here runs in one transaction and locks the member row (``SELECT … FOR UPDATE``)
before it reads the balance, so two writers for one account are serialised: the second sees
the first's result. Before anything else a locked member's own due lots are settled (pending
lots activated, expired lots expired, with the same deterministic entries the nightly job
writes), so a spend never uses points that have lapsed.

Idempotency: the caller's key is stored on the entry (unique). The same key again returns the
first entry and writes nothing, also when two calls race: the second waits on the member lock,
then finds the entry. A key already used for another account or another kind of movement is
refused (:class:`IdempotencyConflict`), never silently answered with someone else's entry.

Tier multipliers are the caller's job (the earning rules know whether a rule applies them):
``award`` writes exactly the points it is given; :func:`tier_multiplier` and
:func:`multiplied` help the caller.

Debt: a clawback takes what it can (first from the clawed lot, then from the lots expiring
first) and records the rest as debt on its entry. Any later credit to the member (an award, a
positive adjustment, a cancelled redemption's refund) pays the debt first, through an
``adjust`` entry of its own (key ``<credit key>:debt``), so the balance never goes below zero
and every point is accounted for by an entry.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from customers.models import Account
from loyalty.models import (
    EarningRule,
    EntryKind,
    LedgerEntry,
    Lot,
    LotAllocation,
    LotState,
    LoyaltyProgram,
    Member,
    Tier,
    TierChange,
    TierChangeReason,
)
from loyalty.services import clock
from loyalty.services.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    InvalidRequest,
    NotReversible,
)

# Room for the suffixes derived keys add (":debt").
MAX_KEY_LENGTH = 180
MAX_POINTS = 1_000_000_000


def balance(account: Account) -> int:
    """Spendable points (active lots); 0 for an account that never earned."""
    return (
        Member.objects.filter(account_id=account.pk).values_list("balance", flat=True).first() or 0
    )


def tier_multiplier(account: Account) -> Decimal:
    """The earn multiplier of the account's tier (1 without a tier)."""
    value = (
        Member.objects.filter(account_id=account.pk, tier__isnull=False)
        .values_list("tier__multiplier", flat=True)
        .first()
    )
    return value or Decimal(1)


def multiplied(points: int, multiplier: Decimal) -> int:
    """``points`` times the multiplier, rounded down: a multiplier never invents a fraction."""
    return math.floor(Decimal(points) * multiplier)


# --- locking and the shared steps -------------------------------------------------------------


def member_lock(account_id: int) -> Member:
    """The account's member row, locked for this transaction; created on first use (two
    first uses at once: the unique account makes one row, the other waits and reads it)."""
    member = Member.objects.select_for_update().filter(account_id=account_id).first()
    if member is None:
        Member.objects.get_or_create(account_id=account_id)
        member = Member.objects.select_for_update().get(account_id=account_id)
    return member


def check_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise InvalidRequest("An idempotency key is required.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(f"An idempotency key has at most {MAX_KEY_LENGTH} characters.")
    return key


def check_points(points: object, *, allow_negative: bool = False) -> int:
    if isinstance(points, bool) or not isinstance(points, int):
        raise InvalidRequest("Points must be a whole number.")
    if points == 0 or (points < 0 and not allow_negative):
        raise InvalidRequest(
            "Points must be more than zero." if not allow_negative else "Points must not be zero."
        )
    if abs(points) > MAX_POINTS:
        raise InvalidRequest(f"At most {MAX_POINTS} points at a time.")
    return points


def existing_entry(key: str, *, account_id: int, kinds: set[str]) -> LedgerEntry | None:
    """The entry already written under ``key``, if it is this account's and of these kinds."""
    entry = LedgerEntry.objects.select_related("member").filter(idempotency_key=key).first()
    if entry is None:
        return None
    if entry.member.account_id != account_id or entry.kind not in kinds:
        raise IdempotencyConflict(
            "This idempotency key was already used for a different operation."
        )
    return entry


def settle(member: Member, now: dt.datetime) -> None:
    """Activate and expire the locked member's due lots (the nightly job's work, for one
    member, with the same entry keys), and refresh the instance from its row."""
    from loyalty.services.nightly import lots_activate, lots_expire

    activated = lots_activate(now=now, member_id=member.pk)
    expired = lots_expire(now=now, member_id=member.pk)
    if activated or expired:
        member.refresh_from_db(fields=["balance", "pending", "debt"])


def credit(
    member: Member,
    entry: LedgerEntry,
    *,
    program: LoyaltyProgram,
    now: dt.datetime,
    pending_days: int = 0,
    expires_at: dt.datetime | bool | None = True,
) -> Lot:
    """Put ``entry``'s points into a new lot (pending for ``pending_days``), add them to the
    member's balance or pending points, then pay any debt from that lot. ``expires_at=True``
    means: by the program's policy."""
    activates_at = now + dt.timedelta(days=pending_days)
    if expires_at is True:
        expires_at = clock.lot_expiry(program, activates_at)
    if expires_at is not None and expires_at <= activates_at:
        expires_at = clock.lot_expiry(program, activates_at)
    state = LotState.PENDING if pending_days > 0 else LotState.ACTIVE
    lot = Lot.objects.create(
        member=member,
        source_entry=entry,
        amount=entry.points,
        remaining=entry.points,
        state=state,
        earned_at=now,
        activates_at=activates_at,
        expires_at=expires_at,
    )
    if state == LotState.PENDING:
        member.pending += entry.points
    else:
        member.balance += entry.points
    if member.debt > 0:
        paid = min(member.debt, lot.remaining)
        repayment = LedgerEntry.objects.create(
            member=member,
            kind=EntryKind.ADJUST,
            points=-paid,
            debt=-paid,
            idempotency_key=f"{entry.idempotency_key}:debt",
            reason="Debt repaid from new points",
            related_entry=entry,
            metadata={"debt_repayment": True},
            created_at=now,
        )
        LotAllocation.objects.create(entry=repayment, lot=lot, points=paid)
        lot.remaining -= paid
        lot.save(update_fields=["remaining"])
        member.debt -= paid
        if state == LotState.PENDING:
            member.pending -= paid
        else:
            member.balance -= paid
    member.save(update_fields=["balance", "pending", "debt"])
    return lot


def take(
    member: Member,
    entry: LedgerEntry,
    points: int,
    *,
    now: dt.datetime,
    first: Lot | None = None,
) -> int:
    """Take up to ``points`` from the member's active lots, soonest expiry first (``first``,
    active or pending, before any other), recording the allocations; returns what was taken.
    The member's cached balance/pending are updated in memory (the caller saves)."""
    wanted = points
    changed: list[Lot] = []
    allocations: list[LotAllocation] = []

    def from_lot(lot: Lot) -> None:
        nonlocal wanted
        part = min(lot.remaining, wanted)
        if part <= 0:
            return
        lot.remaining -= part
        wanted -= part
        if lot.state == LotState.PENDING:
            member.pending -= part
            if lot.remaining == 0:
                lot.state = LotState.CANCELLED
        else:
            member.balance -= part
        changed.append(lot)
        allocations.append(LotAllocation(entry=entry, lot=lot, points=part))

    if first is not None and first.state in (LotState.ACTIVE, LotState.PENDING):
        from_lot(first)
    if wanted > 0:
        lots = (
            Lot.objects.filter(member=member, state=LotState.ACTIVE, remaining__gt=0)
            .exclude(pk=getattr(first, "pk", None))
            .order_by(F("expires_at").asc(nulls_last=True), "activates_at", "pk")
        )
        for lot in lots.iterator(chunk_size=200):
            from_lot(lot)
            if wanted == 0:
                break
    Lot.objects.bulk_update(changed, ["remaining", "state"])
    LotAllocation.objects.bulk_create(allocations)
    return points - wanted


def create_entry(**fields) -> LedgerEntry:
    """Insert an entry; a unique-key race lost to another account's write is a conflict."""
    try:
        with transaction.atomic():
            return LedgerEntry.objects.create(**fields)
    except IntegrityError as exc:
        if LedgerEntry.objects.filter(idempotency_key=fields["idempotency_key"]).exists():
            raise IdempotencyConflict(
                "This idempotency key was already used for a different operation."
            ) from exc
        raise


def window_points(member: Member, program: LoyaltyProgram, now: dt.datetime) -> int:
    start = clock.window_start(program, now)
    total = LedgerEntry.objects.filter(
        member=member, created_at__gte=start, created_at__lte=now
    ).aggregate(total=Sum("tier_points"))["total"]
    return max(total or 0, 0)


def upgrade_if_qualified(
    member: Member, *, program: LoyaltyProgram, now: dt.datetime
) -> TierChange | None:
    """Upgrades are immediate: after an award, a member whose window points reach a higher
    tier moves up at once (downgrades wait for the nightly recalculation)."""
    points = window_points(member, program, now)
    target = Tier.objects.filter(threshold__lte=points).order_by("-threshold").first()
    current = member.tier
    change = None
    fields = ["window_points", "window_points_at"]
    if target is not None and (current is None or target.threshold > current.threshold):
        change = TierChange.objects.create(
            member=member,
            from_tier=current,
            to_tier=target,
            reason=TierChangeReason.UPGRADE,
            window_points=points,
            changed_at=now,
        )
        member.tier = target
        member.tier_qualified_at = now
        member.tier_review_at = clock.next_review(program, now)
        fields += ["tier", "tier_qualified_at", "tier_review_at"]
    member.window_points = points
    member.window_points_at = now
    member.save(update_fields=fields)
    return change


# --- the public writes ------------------------------------------------------------------------


def award(
    account: Account,
    points: int,
    *,
    reason: str,
    idempotency_key: str,
    rule: EarningRule | None = None,
    created_by=None,
    pending_days: int | None = None,
    metadata: dict | None = None,
    now: dt.datetime | None = None,
) -> LedgerEntry:
    """Earn ``points`` (already multiplied, if the caller's rule applies the tier multiplier)
    into a new lot, pending for the program's pending days unless ``pending_days`` says
    otherwise. Counts toward tiers; an upgrade it earns happens now."""
    check_key(idempotency_key)
    check_points(points)
    if pending_days is not None and (isinstance(pending_days, bool) or pending_days < 0):
        raise InvalidRequest("Pending days cannot be negative.")
    now = now or timezone.now()
    with transaction.atomic():
        found = existing_entry(idempotency_key, account_id=account.pk, kinds={EntryKind.EARN})
        if found is not None:
            return found
        member = member_lock(account.pk)
        found = existing_entry(idempotency_key, account_id=account.pk, kinds={EntryKind.EARN})
        if found is not None:
            return found
        program = LoyaltyProgram.current()
        settle(member, now)
        entry = create_entry(
            member=member,
            kind=EntryKind.EARN,
            points=points,
            tier_points=points,
            idempotency_key=idempotency_key,
            reason=reason[:255],
            rule=rule,
            created_by=created_by,
            metadata=metadata or {},
            created_at=now,
        )
        days = program.pending_days if pending_days is None else pending_days
        credit(member, entry, program=program, now=now, pending_days=days)
        upgrade_if_qualified(member, program=program, now=now)
        return entry


def adjust(
    account: Account,
    points: int,
    *,
    reason: str,
    idempotency_key: str,
    created_by=None,
    now: dt.datetime | None = None,
) -> LedgerEntry:
    """A correction by hand, either way. Up: a new active lot (expiring by policy), not
    counted toward tiers. Down: taken from the lots expiring first, and refused
    (:class:`InsufficientPoints`) beyond the balance — a clawback with debt is ``reverse``."""
    check_key(idempotency_key)
    check_points(points, allow_negative=True)
    if not (reason or "").strip():
        raise InvalidRequest("An adjustment needs a reason.")
    now = now or timezone.now()
    with transaction.atomic():
        member = member_lock(account.pk)
        found = existing_entry(idempotency_key, account_id=account.pk, kinds={EntryKind.ADJUST})
        if found is not None:
            return found
        program = LoyaltyProgram.current()
        settle(member, now)
        if points < 0 and member.balance < -points:
            raise InsufficientPoints(-points, member.balance)
        entry = create_entry(
            member=member,
            kind=EntryKind.ADJUST,
            points=points,
            idempotency_key=idempotency_key,
            reason=reason[:255],
            created_by=created_by,
            created_at=now,
        )
        if points > 0:
            credit(member, entry, program=program, now=now)
        else:
            take(member, entry, -points, now=now)
            member.save(update_fields=["balance", "pending"])
        return entry


def reverse(
    entry: LedgerEntry | str,
    *,
    reason: str,
    idempotency_key: str,
    points: int | None = None,
    created_by=None,
    now: dt.datetime | None = None,
) -> LedgerEntry:
    """Claw back an earning or a positive adjustment (a refund, a chargeback), by the entry or
    its idempotency key; ``points`` for part of it (default: all not yet clawed back).

    Takes from the clawed entry's own lot first (still pending: cancelled), then from the
    lots expiring first; what the balance cannot cover becomes debt, recorded on this entry
    and paid by later credits. A clawed earning stops counting toward tiers."""
    check_key(idempotency_key)
    if points is not None:
        check_points(points)
    now = now or timezone.now()
    if isinstance(entry, str):
        found = LedgerEntry.objects.filter(idempotency_key=entry).first()
        if found is None:
            raise NotReversible("No ledger entry has that key.")
        entry = found
    if entry.kind not in (EntryKind.EARN, EntryKind.ADJUST) or entry.points <= 0:
        raise NotReversible("Only earned points and positive adjustments can be clawed back.")
    account_id = Member.objects.values_list("account_id", flat=True).get(pk=entry.member_id)
    with transaction.atomic():
        member = member_lock(account_id)
        found = existing_entry(idempotency_key, account_id=account_id, kinds={EntryKind.REVERSE})
        if found is not None:
            if found.related_entry_id != entry.pk:
                raise IdempotencyConflict(
                    "This idempotency key was already used to reverse another entry."
                )
            return found
        settle(member, now)
        clawed_before = (
            LedgerEntry.objects.filter(related_entry=entry, kind=EntryKind.REVERSE).aggregate(
                total=Sum(F("debt") - F("points"))
            )["total"]
            or 0
        )
        open_points = entry.points - clawed_before
        wanted = open_points if points is None else points
        if open_points <= 0 or wanted > open_points:
            raise NotReversible(
                f"Only {max(open_points, 0)} points of this entry are left to claw back."
            )
        own_lot = Lot.objects.filter(source_entry=entry).first()
        available = member.balance + (
            own_lot.remaining if own_lot and own_lot.state == LotState.PENDING else 0
        )
        taken = min(wanted, available)
        reversal = create_entry(
            member=member,
            kind=EntryKind.REVERSE,
            points=-taken,
            debt=wanted - taken,
            tier_points=-wanted if entry.kind == EntryKind.EARN else 0,
            idempotency_key=idempotency_key,
            reason=reason[:255],
            related_entry=entry,
            created_by=created_by,
            created_at=now,
        )
        if taken:
            got = take(member, reversal, taken, now=now, first=own_lot)
            if got != taken:  # the cached balance disagreed with the lots: never write that
                raise RuntimeError("Loyalty lots and the cached balance disagree; reconcile.")
        member.debt += wanted - taken
        member.save(update_fields=["balance", "pending", "debt"])
        return reversal
