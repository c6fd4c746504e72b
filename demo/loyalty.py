"""The demo company's loyalty program: settings, earning rules, tiers, a reward catalog and
13 months of members earning, redeeming and losing points to expiry, so /loyalty/ and the
account pages show a program with a history on a fresh ``make run``.

Built month by month, oldest first, as the ledger would have recorded it: each month's earns
(revenue, onboarding, integrations, reviews, referrals, anniversaries, birthdays, survey
answers) and redemptions are written in bulk as valid ledger rows (entries, lots, allocations
from the lots expiring first, the members' cached balances), then the ledger's own set-based
expiry runs at the month's end. Bulk rows rather than one service call per award keep
``seed_demo`` fast (600 accounts give some 4,000 entries); the rows obey the same invariants,
which ``reconcile_loyalty`` proves (0 mismatches, tested). A few late redemptions are
cancelled through the service, and the tiers are computed by the ledger's own recalculation.
"""

from __future__ import annotations

import datetime as dt
import random
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from customers.models import Account, Contact, RevenueChange
from loyalty.earning_dates import yearly_date
from loyalty.models import (
    EarningRule,
    EntryKind,
    LedgerEntry,
    Lot,
    LotAllocation,
    LotState,
    LoyaltyProgram,
    Member,
    Redemption,
    RedemptionState,
    Reward,
    RewardKind,
    RuleKind,
    Tier,
)
from loyalty.services import lots_expire, redemption_cancel, tiers_recalculate
from loyalty.services.clock import add_months

HISTORY_MONTHS = 13
JOIN_SHARE = 0.7
REVENUE_RATE = Decimal("0.1")  # points per unit of base currency of MRR, each month

RULES = [
    # name, kind, event type, points, extra fields
    ("Paid revenue", RuleKind.REVENUE, "", 0, {"points_per_unit": REVENUE_RATE}),
    ("Onboarding completed", RuleKind.EVENT, "onboarding_completed", 500, {}),
    (
        "Integration connected",
        RuleKind.EVENT,
        "integration_connected",
        200,
        {"cap_count": 5, "cap_period": "year"},
    ),
    ("Review posted", RuleKind.EVENT, "review_posted", 300, {}),
    ("Case study", RuleKind.EVENT, "case_study_published", 1500, {}),
    ("Referral", RuleKind.REFERRAL, "referral", 1000, {"referred_points": 500}),
    ("Customer anniversary", RuleKind.ANNIVERSARY, "", 1000, {}),
    ("Birthday", RuleKind.BIRTHDAY, "", 100, {"cap_count": 3, "cap_period": "year"}),
    ("Survey answered", RuleKind.SURVEY, "", 50, {"cap_count": 4, "cap_period": "year"}),
]
TIERS = [
    ("Silver", 2000, "1.00", "A named contact in our success team."),
    ("Gold", 6000, "1.25", "Quarterly business reviews; 25 % more points."),
    ("Platinum", 15000, "1.50", "Roadmap sessions with product; 50 % more points."),
]
REWARDS = [
    # name, kind, cost, value, extra
    ("Conference hoodie", RewardKind.PHYSICAL, 1500, None, {"stock": 60}),
    ("Early access: AI insights beta", RewardKind.EARLY_ACCESS, 2000, None, {"feature": "ai"}),
    ("10 % off the next renewal", RewardKind.PERCENT_DISCOUNT, 3000, Decimal("10"), {}),
    ("Two training hours", RewardKind.TRAINING_HOURS, 4000, Decimal("2"), {}),
    (
        "USD 100 invoice credit",
        RewardKind.INVOICE_CREDIT,
        5000,
        Decimal("100"),
        {"currency": "USD"},
    ),
    ("A free month", RewardKind.FREE_MONTH, 8000, Decimal("1"), {"per_account_limit": 1}),
]
EVENT_ODDS = {  # chance per member per month
    "Integration connected": 0.18,
    "Review posted": 0.04,
    "Case study": 0.01,
    "Referral": 0.015,
    "Survey answered": 0.2,
}
REDEEM_ODDS = 0.14


def program_ensure() -> tuple[dict[str, EarningRule], list[Reward]]:
    """The program's settings, rules, tiers and rewards (kept over ``--flush-demo``)."""
    program = LoyaltyProgram.current()
    program.name = "Tenure Rewards"
    program.pending_days = 0
    program.save()
    rules = {}
    for name, kind, event_type, points, extra in RULES:
        rules[name] = EarningRule.objects.get_or_create(
            name=name, defaults={"kind": kind, "event_type": event_type, "points": points, **extra}
        )[0]
    for name, threshold, multiplier, benefits in TIERS:
        Tier.objects.get_or_create(
            name=name,
            defaults={
                "threshold": threshold,
                "multiplier": Decimal(multiplier),
                "benefits": benefits,
            },
        )
    rewards = []
    for order, (name, kind, cost, value, extra) in enumerate(REWARDS):
        rewards.append(
            Reward.objects.get_or_create(
                name=name,
                defaults={
                    "kind": kind,
                    "cost_points": cost,
                    "value": value,
                    "order": order,
                    **extra,
                },
            )[0]
        )
    return rules, rewards


@dataclass
class _Lot:
    row: Lot
    remaining: int


@dataclass
class _Member:
    row: Member
    lots: list[_Lot] = field(default_factory=list)
    balance: int = 0


class _Book:
    """The rows of one month, written in a few bulk inserts."""

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []
        self.lots: list[tuple[LedgerEntry, _Lot, _Member]] = []
        self.spends: list[tuple[LedgerEntry, list[tuple[_Lot, int]], Redemption]] = []

    def earn(self, member: _Member, points: int, *, rule, key: str, reason: str, at, expiry):
        entry = LedgerEntry(
            member=member.row,
            kind=EntryKind.EARN,
            points=points,
            tier_points=points,
            idempotency_key=key,
            reason=reason,
            rule=rule,
            created_at=at,
        )
        lot = _Lot(
            Lot(
                member=member.row,
                amount=points,
                remaining=points,
                state=LotState.ACTIVE,
                earned_at=at,
                activates_at=at,
                expires_at=expiry,
            ),
            points,
        )
        self.entries.append(entry)
        self.lots.append((entry, lot, member))
        member.lots.append(lot)
        member.balance += points

    def spend(self, member: _Member, reward: Reward, *, at, key: str, state: str) -> None:
        usable = sorted(
            (
                lot
                for lot in member.lots
                if lot.remaining > 0 and lot.row.earned_at <= at < lot.row.expires_at
            ),
            key=lambda lot: (lot.row.expires_at, lot.row.earned_at),
        )
        left, taken = reward.cost_points, []
        for lot in usable:
            part = min(left, lot.remaining)
            lot.remaining -= part
            taken.append((lot, part))
            left -= part
            if not left:
                break
        entry = LedgerEntry(
            member=member.row,
            kind=EntryKind.SPEND,
            points=-reward.cost_points,
            idempotency_key=f"redeem:{key}",
            reason=f"Redeemed: {reward.name}",
            metadata={"reward": reward.pk},
            created_at=at,
        )
        later = at + dt.timedelta(days=3)
        redemption = Redemption(
            member=member.row,
            reward=reward,
            points=reward.cost_points,
            state=state,
            idempotency_key=key,
            requested_at=at,
            approved_at=later if state != RedemptionState.REQUESTED else None,
            fulfilled_at=later if state == RedemptionState.FULFILLED else None,
        )
        self.entries.append(entry)
        self.spends.append((entry, taken, redemption))
        member.balance -= reward.cost_points

    def write(self) -> None:
        LedgerEntry.objects.bulk_create(self.entries, batch_size=1000)
        for entry, lot, _member in self.lots:
            lot.row.source_entry = entry
        Lot.objects.bulk_create([lot.row for _, lot, _ in self.lots], batch_size=1000)
        allocations, redemptions, changed = [], [], {}
        for entry, taken, redemption in self.spends:
            for lot, part in taken:
                allocations.append(LotAllocation(entry=entry, lot=lot.row, points=part))
                changed[lot.row.pk] = lot
            redemption.spend_entry = entry
            redemptions.append(redemption)
        LotAllocation.objects.bulk_create(allocations, batch_size=1000)
        Redemption.objects.bulk_create(redemptions, batch_size=1000)
        for lot in changed.values():
            lot.row.remaining = lot.remaining
        Lot.objects.bulk_update(
            [lot.row for lot in changed.values()], ["remaining"], batch_size=1000
        )


def _mrr_lookup(account_ids: list[int]):
    """Each account's MRR in the base currency at a moment, from its revenue history."""
    history: dict[int, tuple[list[dt.datetime], list[Decimal]]] = defaultdict(lambda: ([], []))
    for account_id, at, mrr in (
        RevenueChange.objects.filter(account_id__in=account_ids)
        .order_by("account_id", "effective_at", "pk")
        .values_list("account_id", "effective_at", "mrr_base")
    ):
        history[account_id][0].append(at)
        history[account_id][1].append(Decimal(mrr))

    def mrr_at(account_id: int, at: dt.datetime) -> Decimal:
        times, values = history.get(account_id, ([], []))
        index = bisect_right(times, at)
        return values[index - 1] if index else Decimal(0)

    return mrr_at


@dataclass
class _Seeding:
    rng: random.Random
    now: dt.datetime
    program: LoyaltyProgram
    rules: dict[str, EarningRule]
    members: dict[int, _Member]
    info: dict[int, tuple]
    joined_at: dict[int, dt.datetime]
    birthdays: dict[int, list[tuple[int, dt.date]]]
    mrr_at: object
    open_rewards: list[Reward]
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _member_month(
    s: _Seeding, book: _Book, pk: int, month_start: dt.datetime, month_end: dt.datetime
) -> None:
    """One member's earns and redemption in one month (the rows go to ``book``)."""
    rng, rules, program, now, counts = s.rng, s.rules, s.program, s.now, s.counts
    open_rewards, mrr_at, birthdays = s.open_rewards, s.mrr_at, s.birthdays
    member = s.members[pk]
    first_paid, churned = s.info[pk]
    join = s.joined_at[pk]
    if join >= month_end or (churned is not None and churned < month_start):
        return

    def at() -> dt.datetime:
        low = max(month_start, join)
        span = max(int((month_end - low).total_seconds()) - 1, 1)
        return low + dt.timedelta(seconds=rng.randrange(span))

    def earn(name: str, points: int, when: dt.datetime, suffix: str = "") -> None:
        if points <= 0 or (churned is not None and when >= churned):
            return
        counts[name] += 1
        key = f"demo:{pk}:{name.lower().replace(' ', '-')}:{counts[name]}{suffix}"
        book.earn(
            member,
            points,
            rule=rules[name],
            key=key,
            reason=name,
            at=when,
            expiry=add_months(when, program.expiry_months),
        )

    if join >= month_start:
        earn("Onboarding completed", 500, at())
    mrr = mrr_at(pk, month_end - dt.timedelta(seconds=1))
    if mrr > 0 and month_end < now:
        earn("Paid revenue", int(mrr * REVENUE_RATE), month_end - dt.timedelta(minutes=1))
    for name, odds in EVENT_ODDS.items():
        if rng.random() < odds:
            earn(name, rules[name].points, at())
    for year in {month_start.year, month_end.year}:
        day = yearly_date(first_paid.date(), year)
        when = dt.datetime.combine(day, dt.time(6), tzinfo=dt.UTC)
        if year > first_paid.year and month_start <= when < month_end and when >= join:
            earn("Customer anniversary", 1000, when)
        for contact_id, born in birthdays.get(pk, [])[:2]:
            when = dt.datetime.combine(yearly_date(born, year), dt.time(7), tzinfo=dt.UTC)
            if month_start <= when < month_end and when >= join:
                earn("Birthday", 100, when, f":{contact_id}")
    if rng.random() < REDEEM_ODDS:
        when = at()
        spendable = sum(
            lot.remaining for lot in member.lots if lot.row.earned_at <= when < lot.row.expires_at
        )
        choices = [
            r
            for r in open_rewards
            if r.cost_points <= spendable and (r.stock is None or r.stock > 0)
        ]
        if choices and (churned is None or when < churned):
            reward = rng.choice(choices)
            age = (now - when).days
            state = (
                RedemptionState.FULFILLED
                if age > 30
                else RedemptionState.APPROVED
                if age > 10
                else RedemptionState.REQUESTED
            )
            counts["redeem"] += 1
            if reward.stock is not None:
                reward.stock -= 1
            book.spend(member, reward, at=when, key=f"demo:{pk}:{counts['redeem']}", state=state)


def seed_loyalty(*, rng: random.Random, now: dt.datetime, stdout=None) -> None:
    rules, rewards = program_ensure()
    program = LoyaltyProgram.current()
    start = add_months(now, -HISTORY_MONTHS)
    accounts = list(
        Account.objects.filter(first_paid_at__isnull=False, first_paid_at__lt=now)
        .order_by("pk")
        .values_list("pk", "first_paid_at", "churned_at")
    )
    joining = [row for row in accounts if rng.random() < JOIN_SHARE]
    existing = set(
        Member.objects.filter(account_id__in=[a for a, *_ in joining]).values_list(
            "account_id", flat=True
        )
    )
    joining = [row for row in joining if row[0] not in existing]
    joined_at = {
        pk: max(first_paid, start) + dt.timedelta(days=rng.randint(0, 40))
        for pk, first_paid, _ in joining
    }
    Member.objects.bulk_create(
        [Member(account_id=pk, joined_at=min(joined_at[pk], now)) for pk, *_ in joining],
        batch_size=1000,
    )
    rows = {m.account_id: m for m in Member.objects.filter(account_id__in=list(joined_at))}
    members = {pk: _Member(rows[pk]) for pk in joined_at}
    info = {pk: (first_paid, churned) for pk, first_paid, churned in joining}
    birthdays: dict[int, list[tuple[int, dt.date]]] = defaultdict(list)
    for contact_id, account_id, born in Contact.objects.filter(
        account_id__in=list(joined_at), birthday__isnull=False
    ).values_list("pk", "account_id", "birthday"):
        birthdays[account_id].append((contact_id, born))
    mrr_at = _mrr_lookup(list(joined_at))
    account_ids = sorted(joined_at)
    seeding = _Seeding(
        rng=rng,
        now=now,
        program=program,
        rules=rules,
        members=members,
        info=info,
        joined_at=joined_at,
        birthdays=birthdays,
        mrr_at=mrr_at,
        open_rewards=[r for r in rewards if r.min_tier_id is None and r.per_account_limit is None],
    )

    for step in range(HISTORY_MONTHS):
        month_start = add_months(start, step)
        month_end = min(add_months(start, step + 1), now)
        book = _Book()
        for pk in account_ids:
            _member_month(seeding, book, pk, month_start, month_end)
        book.write()
        Member.objects.bulk_update(
            [m.row for m in members.values() if _sync(m)], ["balance"], batch_size=1000
        )
        lots_expire(now=month_end)
        for member in members.values():
            for lot in member.lots:
                if lot.remaining and lot.row.expires_at <= month_end:
                    member.balance -= lot.remaining
                    lot.remaining = 0
            member.row.balance = member.balance
    Reward.objects.bulk_update([r for r in rewards if r.stock is not None], ["stock"])
    # A few recent requests cancelled by a CSM: the points come back through the service.
    for redemption in Redemption.objects.filter(
        idempotency_key__startswith="demo:", state=RedemptionState.REQUESTED
    ).order_by("pk")[:3]:
        redemption_cancel(redemption=redemption, reason="Asked for another reward", now=now)
    changes = tiers_recalculate(now=now)
    if stdout is not None:
        stdout.write(
            f"Loyalty: {len(members)} members, {LedgerEntry.objects.count()} ledger entries, "
            f"{Redemption.objects.count()} redemptions, {changes} tier changes."
        )


def _sync(member: _Member) -> bool:
    if member.row.balance != member.balance:
        member.row.balance = member.balance
        return True
    return False
