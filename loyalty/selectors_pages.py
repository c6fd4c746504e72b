"""Reads for the loyalty pages: one account's standing (balance, tier, progress, history,
what it may redeem) and the redemptions waiting for a CSM. The program dashboard's figures
are in :mod:`loyalty.selectors_dashboard`.

Each function is a fixed number of queries, whatever the length of the history or catalog.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone

from customers.models import Account
from loyalty.models import (
    LedgerEntry,
    LoyaltyProgram,
    Member,
    Redemption,
    RedemptionState,
    Reward,
    Tier,
    TierChange,
)
from loyalty.services.ledger import window_points

HISTORY_SHOWN = 25


@dataclass(frozen=True)
class Progress:
    tier: Tier | None
    next_tier: Tier | None
    window_points: int
    to_next: int  # points still to earn in the window for the next tier (0 at the top)
    percent: int  # 0-100 of the way from the current threshold to the next


def tier_progress(*, tiers: list[Tier], tier: Tier | None, window_points: int) -> Progress:
    """How far the member is from the next tier above the one it holds. Tiers rank by
    threshold; the way is measured from the current tier's threshold (0 without one)."""
    base = tier.threshold if tier is not None else 0
    above = [t for t in tiers if t.threshold > base]
    next_tier = above[0] if above else None
    if next_tier is None:
        return Progress(tier, None, window_points, 0, 100)
    span = next_tier.threshold - base
    done = min(max(window_points - base, 0), span)
    return Progress(
        tier,
        next_tier,
        window_points,
        max(next_tier.threshold - window_points, 0),
        int(100 * done / span) if span else 100,
    )


@dataclass
class Standing:
    """An account in the program, as its loyalty panel and its customer page show it."""

    program: LoyaltyProgram
    member: Member | None
    progress: Progress
    entries: list[LedgerEntry] = field(default_factory=list)
    rewards: list[dict] = field(default_factory=list)
    redemptions: list[Redemption] = field(default_factory=list)
    tier_changes: list[TierChange] = field(default_factory=list)

    @property
    def balance(self) -> int:
        return self.member.balance if self.member else 0

    @property
    def pending(self) -> int:
        return self.member.pending if self.member else 0


def rewards_for(member: Member | None, *, tiers: list[Tier]) -> list[dict]:
    """The active catalog as this member sees it: each reward with whether it may be
    requested now and, if not, why (tier, limit, stock, balance)."""
    balance = member.balance if member else 0
    rank = {t.pk: t.threshold for t in tiers}
    held = rank.get(member.tier_id) if member and member.tier_id else None
    taken: dict[int, int] = {}
    if member is not None:
        taken = dict(
            Redemption.objects.filter(member=member)
            .exclude(state=RedemptionState.CANCELLED)
            .order_by()
            .values("reward_id")
            .annotate(n=Count("id"))
            .values_list("reward_id", "n")
        )
    out = []
    for reward in Reward.objects.filter(active=True).select_related("min_tier"):
        reason = reward.refusal(tier_threshold=held, taken=taken.get(reward.pk, 0), balance=balance)
        out.append({"reward": reward, "available": not reason, "reason": reason})
    return out


def account_standing(
    account: Account, *, now: dt.datetime | None = None, history: int = HISTORY_SHOWN
) -> Standing:
    """Balance, tier, progress to the next tier, recent history, the catalog and the open
    redemptions of one account (a non-member shows as zero, with the catalog)."""
    now = now or timezone.now()
    program = LoyaltyProgram.current()
    member = Member.objects.select_related("tier").filter(account=account).first()
    tiers = list(Tier.objects.order_by("threshold"))
    progress = tier_progress(
        tiers=tiers,
        tier=member.tier if member else None,
        # The tier engine's own count, so the bar shows what the next recalculation decides.
        window_points=window_points(member, program, now) if member else 0,
    )
    standing = Standing(program=program, member=member, progress=progress)
    standing.rewards = rewards_for(member, tiers=tiers)
    if member is not None:
        standing.entries = list(
            LedgerEntry.objects.filter(member=member).order_by("-created_at", "-id")[:history]
        )
        standing.redemptions = list(
            Redemption.objects.filter(member=member)
            .select_related("reward")
            .order_by("-requested_at", "-id")[:10]
        )
        standing.tier_changes = list(
            TierChange.objects.filter(member=member)
            .select_related("from_tier", "to_tier")
            .order_by("-changed_at", "-id")[:10]
        )
    return standing


def redemption_list(*, user, state: str | None = None, limit: int = 200) -> list[Redemption]:
    """Redemptions of the accounts the user may see, oldest open first: what the CSMs work
    through (approve, fulfil, cancel)."""
    queryset = Redemption.objects.filter(
        member__account__in=Account.objects.visible_to(user)
    ).select_related("reward", "member__account", "member__account__owner")
    if state:
        queryset = queryset.filter(state=state)
    else:
        queryset = queryset.filter(
            Q(state=RedemptionState.REQUESTED) | Q(state=RedemptionState.APPROVED)
        )
    return list(queryset.order_by("requested_at", "id")[:limit])


def timeline_loyalty(account: Account, *, limit: int) -> list:
    """Tier changes and redemptions on the account timeline (two bounded queries)."""
    from customers.timeline import TimelineItem

    items = []
    for change in (
        TierChange.objects.filter(member__account=account)
        .select_related("from_tier", "to_tier")
        .order_by("-changed_at", "-id")[:limit]
    ):
        before = change.from_tier.name if change.from_tier else "no tier"
        after = change.to_tier.name if change.to_tier else "no tier"
        items.append(
            TimelineItem(
                at=change.changed_at,
                kind="loyalty_tier",
                title=f"Loyalty tier: {before} → {after}",
                body=change.get_reason_display(),
            )
        )
    for redemption in (
        Redemption.objects.filter(member__account=account)
        .select_related("reward")
        .order_by("-requested_at", "-id")[:limit]
    ):
        items.append(
            TimelineItem(
                at=redemption.requested_at,
                kind="loyalty_redemption",
                title=f"Reward redeemed: {redemption.reward.name} ({redemption.points} points)",
                body=redemption.get_state_display(),
            )
        )
    return items


def header_fact(account: Account) -> str:
    """The account header's loyalty fact: spendable points and tier, one query."""
    row = Member.objects.filter(account_id=account.pk).values_list("balance", "tier__name").first()
    if row is None:
        return "Not a member yet"
    balance, tier = row
    return f"{balance:,} points · {tier or 'no tier'}"
