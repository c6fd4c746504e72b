"""The story of one demo account, told before any row is written: who they are, when they
signed up, their revenue, lifecycle stages, payments and people. Times are integer seconds on
the run's :class:`Clock`."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from customers.models import (
    LifecycleStage,
    RevenueKind,
)
from customers.services import money
from demo.customers.catalogue import (
    CSMS,
    CURRENCIES,
    DAY,
    DEMO_PREFIX,
    INDUSTRIES,
    LEGAL,
    LOCALE_WEIGHTS,
    LOCALES,
    NOUNS,
    PATTERN_WEIGHTS,
    PEOPLE,
    PREFIXES,
    ROLES,
    SHOWCASE,
    SPECIAL_ACCOUNTS,
    TIER_CHURN,
    TIER_SIZE,
    TIER_WEIGHTS,
    TIERS,
)

# --- time ----------------------------------------------------------------------------------------


def demo_now(today: dt.date | None = None) -> dt.datetime:
    """Midnight UTC of ``today``: the fixed "now" that makes a day's reruns identical."""
    today = today or dt.datetime.now(dt.UTC).date()
    return dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC)


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


class Clock:
    """Times inside a story are integer seconds since ``t0`` (the window's first midnight)."""

    def __init__(self, now: dt.datetime, months: int):
        now = now.astimezone(dt.UTC)
        self.now_dt = now
        start = add_months(now.date(), -months)
        self.t0 = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)
        self.d0 = start
        self.now = int((now - self.t0).total_seconds())
        self.span = self.now
        self._months: dict[tuple[int, int], int] = {}

    def at(self, seconds: int) -> dt.datetime:
        return self.t0 + dt.timedelta(seconds=seconds)

    def day(self, seconds: int) -> dt.date:
        return self.d0 + dt.timedelta(days=seconds // DAY)

    def seconds(self, day: dt.date) -> int:
        return (day - self.d0).days * DAY

    def plus_months(self, seconds: int, months: int) -> int:
        """The same day of the month (clamped) and time, ``months`` later: billing dates."""
        key = (seconds // DAY, months)
        day = self._months.get(key)
        if day is None:
            day = self._months[key] = self.seconds(add_months(self.day(seconds), months)) // DAY
        return day * DAY + seconds % DAY


# --- the story of one account --------------------------------------------------------------------


@dataclass(slots=True)
class Span:
    """A stretch of time the account's people used the product."""

    start: int
    end: int
    fades: bool = False  # usage winds down towards ``end`` (they were about to leave)
    fade_days: int = 60  # over how long before ``end`` it winds down


@dataclass(slots=True)
class Story:
    index: int
    external_id: str
    name: str
    domain: str
    currency: str
    traits: dict
    tier: int
    signup: int
    show: dict[str, Any]
    owner: int | None = None
    pattern: str = "healthy"
    plan: str = "Trial"
    # (kind, at, mrr in the account's currency, plan)
    revenue: list[tuple[str, int, Decimal, str]] = field(default_factory=list)
    stages: list[tuple[int, str, str, bool]] = field(default_factory=list)  # at, from, to, by owner
    spans: list[Span] = field(default_factory=list)
    billing: list[tuple[int, Decimal]] = field(default_factory=list)  # paid invoices
    failures: list[tuple[int, Decimal]] = field(default_factory=list)  # failed charges
    card_updates: list[int] = field(default_factory=list)
    # Before a churn: when the account began to drift away (the decline its usage, people,
    # payments and answers show), and when each contact (by index) stopped using the product.
    drift_from: int | None = None
    quits: dict[int, int] = field(default_factory=dict)
    cancel_visits: list[int] = field(default_factory=list)
    exports: list[int] = field(default_factory=list)
    renewal_date: dt.date | None = None
    card: tuple[int, int] | None = None  # month, year
    contacts: list[dict] = field(default_factory=list)
    weight: float = 0.0

    @property
    def paying(self) -> bool:
        return bool(self.revenue) and self.revenue[-1][0] != RevenueKind.CANCELLED


class Company:
    """Everything shared by the stories of one run."""

    def __init__(self, *, seed: int, now: dt.datetime, months: int, events_per_account: int):
        self.seed = seed
        self.clock = Clock(now, months)
        self.events_per_account = events_per_account
        self.base = settings.TENURE_BASE_CURRENCY
        self.per_usd = {code: per_usd for code, per_usd, *_ in CURRENCIES}
        # Foreign currencies only when their rate to the base currency can be derived.
        if self.base in self.per_usd:
            self.currencies = list(CURRENCIES)
        else:
            self.currencies = [(self.base, Decimal("1"), 1, "Worldwide", "com", Decimal("1"))]
        self.codes = {c[0] for c in self.currencies}
        self.scale = 1.0  # mean story weight, set from a sample before writing
        self._prices: dict[tuple, Decimal] = {}

    def rng(self, index: int, stream: str = "story") -> random.Random:
        return random.Random(f"tenure-demo:{self.seed}:{index}:{stream}")

    def price(self, tier: int, qty: int, discount: Decimal, currency: str, bespoke: Decimal):
        """MRR in the account's currency, rounded like a price list (list prices are set per
        currency, not converted daily)."""
        key = (tier, qty, discount, currency, bespoke)
        if key not in self._prices:
            usd = Decimal(TIERS[tier][1]) * qty * (1 - discount) * bespoke
            row = next((c for c in self.currencies if c[0] == currency), None)
            per_usd, step = (
                (row[1], row[5]) if row and currency in self.per_usd else (1, Decimal(1))
            )
            self._prices[key] = money((usd * per_usd / step).quantize(Decimal("1")) * step)
        return self._prices[key]


def story_tell(company: Company, index: int) -> Story:
    rng = company.rng(index)
    clock = company.clock
    show = SHOWCASE.get(index, {})

    # Who they are.
    currency_row = rng.choices(company.currencies, weights=[c[2] for c in company.currencies])[0]
    special = None
    if 8 <= index < 8 + len(SPECIAL_ACCOUNTS):
        special = SPECIAL_ACCOUNTS[index - 8]
        currency_row = next((c for c in company.currencies if c[0] == special[2]), currency_row)
    if index == 3 and "NOK" in company.codes:
        currency_row = next(c for c in company.currencies if c[0] == "NOK")
    currency, _, _, region, tld, _ = currency_row
    combos = len(PREFIXES) * len(NOUNS)
    slot = (index * 7919 + company.seed * 104_729) % combos  # a permutation of the combos
    prefix, noun = PREFIXES[slot // len(NOUNS)], NOUNS[slot % len(NOUNS)]
    name = " ".join(p for p in (prefix, noun, rng.choice(LEGAL.get(currency, [""]))) if p)
    domain = f"{prefix}{noun}{index // combos or ''}.{tld}".lower()
    traits: dict[str, Any] = {"industry": rng.choice(INDUSTRIES), "region": region}
    if special:
        name, domain, _, extra = special
        traits.update(extra)
    tier = show.get("tier", rng.choices(range(len(TIERS)), weights=TIER_WEIGHTS)[0])
    traits["employees"] = rng.choice([5, 10, 25, 50, 120, 300, 800]) * (1 + tier)

    # When they signed up: more often lately, as the company grows.
    span, latest = clock.now, max(0, clock.now - DAY)
    signup = min(latest, int(span * (1 - (1 - rng.random()) ** 1.6)))
    if "age" in show or "age_days" in show:
        age = int(show["age"] * span) if "age" in show else min(show["age_days"] * DAY, span)
        signup = min(latest, max(0, clock.now - age) + rng.randrange(8 * 3600, 17 * 3600))

    story = Story(
        index=index,
        external_id=f"{DEMO_PREFIX}{index:06d}",
        name=name,
        domain=domain,
        currency=currency,
        traits=traits,
        tier=tier,
        signup=signup,
        show=show,
    )
    _revenue(company, story, rng)
    _usage_spans(company, story, rng)
    # Owners: every paying account above Starter, half the Starters; trials are tech-touch.
    if (story.revenue and (story.tier > 0 or rng.random() < 0.5)) or show:
        story.owner = rng.choices(range(len(CSMS)), weights=[3, 3, 2, 2, 2, 1])[0]
    _stages(company, story, rng)
    _payments(company, story, rng)
    _contacts(story, rng)
    story.traits["demo_pattern"] = story.pattern
    active_days = sum(s.end - s.start for s in story.spans) / DAY
    story.weight = TIER_SIZE[story.tier] * active_days
    return story


def _revenue(company: Company, story: Story, rng: random.Random) -> None:
    """A trial, then a month-by-month walk: churn, upgrades, downgrades, reactivation."""
    clock, show = company.clock, story.show
    trial_end = story.signup + rng.choice([7, 14, 14, 14, 21, 30]) * DAY
    first_paid = trial_end + rng.randrange(0, 3 * DAY)
    converts = not show.get("trial") if show else rng.random() < 0.85
    if not converts or first_paid >= clock.now:
        if trial_end > clock.now or (converts and first_paid >= clock.now):
            story.pattern = "trial"
            story.spans.append(Span(story.signup, clock.now))
        else:
            story.pattern = "lapsed"
            end = min(clock.now, trial_end + rng.randrange(DAY, 10 * DAY))
            story.spans.append(Span(story.signup, end, fades=True))
        return
    story.spans.append(Span(story.signup, first_paid))

    tier, qty = story.tier, rng.choice([1, 1, 1, 2, 3]) if story.tier in (1, 2) else 1
    discount = rng.choices([Decimal("0"), Decimal("0.1"), Decimal("0.2")], weights=[70, 20, 10])[0]
    bespoke = Decimal(rng.randrange(80, 250)) / 100 if tier == 3 else Decimal(1)
    mrr = company.price(tier, qty, discount, story.currency, bespoke)
    story.revenue.append((RevenueKind.STARTED, first_paid, mrr, TIERS[tier][0]))
    periods: list[list] = [[first_paid, None]]  # paid periods: [start, end or None]
    drifts: dict[int, int] = {}  # period index → how long its decline before the churn lasted
    anchor, month, months_out = first_paid, 0, 0
    while True:
        month += 1
        at = clock.plus_months(anchor, month)
        if at >= clock.now:
            break
        if periods[-1][1] is None:  # paying: what happens at this renewal?
            first_period = len(periods) == 1
            roll = rng.random()
            churn = 0.0 if show else TIER_CHURN[tier]
            if first_period and show.get("churn_month") == month:
                roll, churn = 0.0, 1.0
            if first_period and show.get("upgrade_month") == month:
                roll, churn = 0.0, 0.0
            if roll < churn:
                cancel = at - rng.randrange(0, 5 * DAY)
                story.revenue.append(
                    (RevenueKind.CANCELLED, cancel, Decimal("0.00"), TIERS[tier][0])
                )
                periods[-1][1] = cancel
                drifts[len(periods) - 1] = _drift_days(rng) * DAY
                months_out = 0
                continue
            if roll < churn + 0.025:  # expansion: the next plan or another seat
                if tier < 3 and (qty == 1 or rng.random() < 0.6):
                    tier, qty = tier + 1, 1
                    bespoke = Decimal(rng.randrange(80, 200)) / 100 if tier == 3 else bespoke
                else:
                    qty += 1
            elif roll < churn + 0.035 and not show:  # contraction
                if qty > 1:
                    qty -= 1
                elif tier > 0:
                    tier, bespoke = tier - 1, Decimal(1)
            new = company.price(tier, qty, discount, story.currency, bespoke)
            if new != mrr:
                mrr = new
                story.revenue.append((RevenueKind.CHANGED, at, mrr, TIERS[tier][0]))
        else:  # churned: do they come back?
            months_out += 1
            back = show.get("back_after") == months_out if show else rng.random() < 0.04
            if back:
                start = at + rng.randrange(0, 3 * DAY)
                if start < clock.now:
                    story.revenue.append((RevenueKind.REACTIVATED, start, mrr, TIERS[tier][0]))
                    periods.append([start, None])
                    anchor, month = start, 0
    story.tier, story.plan = tier, TIERS[tier][0]

    # Invoices: monthly from the start of each paid period, with the MRR in force then.
    changes = [(at, amount) for _, at, amount, _ in story.revenue]
    for start, end in periods:
        month = 0
        while True:
            at = clock.plus_months(start, month)
            if at >= clock.now or (end is not None and at >= end):
                break
            amount = next(a for t, a in reversed(changes) if t <= at)
            story.billing.append((at, amount))
            month += 1
    story.spans.extend(
        Span(
            start,
            end if end else clock.now,
            fades=bool(end),
            fade_days=drifts.get(n, 0) // DAY or 60,
        )
        for n, (start, end) in enumerate(periods)
    )
    _troubled_payments(company, story, periods, drifts, rng)

    if story.paying:
        # Declining or dormant takes a history: accounts paying < 90 days are still fresh.
        settled = clock.now - periods[-1][0] >= 90 * DAY
        patterns = PATTERN_WEIGHTS if settled else PATTERN_WEIGHTS[:2]
        story.pattern = show.get("pattern") or rng.choices(*zip(*patterns, strict=True))[0]
        annual = tier >= 2 or (tier == 1 and rng.random() < 0.4) or show.get("annual", False)
        period_day = clock.day(periods[-1][0])
        step = 12 if annual else 1
        months_ahead = step
        while add_months(period_day, months_ahead) <= clock.now_dt.date():
            months_ahead += step
        story.renewal_date = add_months(period_day, months_ahead)
        story.traits["contract"] = "annual" if annual else "monthly"
    else:
        story.pattern = "churned"


def _drift_days(rng: random.Random) -> int:
    """How long a customer about to churn shows it. Most drift away over months (the
    champion leaves, the team uses it less, the budget review looms); some leave suddenly (a
    takeover, a cut from above) and give little warning. Decided by the story alone."""
    return rng.randint(20, 45) if rng.random() < 0.15 else rng.randint(120, 270)


def _troubled_payments(
    company: Company, story: Story, periods: list[list], drifts: dict[int, int], rng: random.Random
) -> None:
    """While drifting towards a churn, some accounts' charges bounce (the card nobody
    renewed, the invoice nobody chases) before going through on a retry days later."""
    for n, (_, end) in enumerate(periods):
        drift = drifts.get(n)
        if end is None or drift is None or rng.random() >= 0.45:
            continue
        window = [k for k, (at, _) in enumerate(story.billing) if end - drift <= at < end - 3 * DAY]
        for k in window:
            if rng.random() >= 0.6:
                continue
            at, amount = story.billing[k]
            retried = at + rng.randint(2, 6) * DAY
            if retried >= company.clock.now:
                continue
            story.failures.append((at, amount))
            story.billing[k] = (retried, amount)
    for n, (_, end) in enumerate(periods):
        if end is not None and n in drifts:
            story.drift_from = end - drifts[n]  # the latest churn's drift, for the contacts


def _usage_spans(company: Company, story: Story, rng: random.Random) -> None:
    """Fit the usage to the pattern, and add the tell-tale signs of leaving."""
    now = company.clock.now
    last = story.spans[-1]
    if story.pattern == "dormant":
        last.end = max(last.start + DAY, now - rng.randrange(35, 120) * DAY)
        if rng.random() < 0.5:
            story.cancel_visits.append(last.end - rng.randrange(3600, 3 * DAY))
    elif story.pattern == "declining":
        last.fades = True
        story.exports.append(now - rng.randrange(DAY, 20 * DAY))
        story.cancel_visits.extend(
            now - rng.randrange(DAY, 14 * DAY) for _ in range(rng.randint(1, 3))
        )
    for span in story.spans:
        if span.fades and span.end < now and story.revenue:  # they left at the end of this span
            story.exports.extend(
                span.end - rng.randrange(DAY, 25 * DAY) for _ in range(rng.randint(1, 2))
            )
            story.cancel_visits.append(span.end - rng.randrange(3600, 5 * DAY))
    story.spans = [s for s in story.spans if s.end - s.start >= 2 * DAY]
    inside = [(s.start, s.end) for s in story.spans]

    def used(t: int) -> bool:
        return any(a < t < b for a, b in inside)

    story.exports = [t for t in story.exports if used(t)]
    story.cancel_visits = [t for t in story.cancel_visits if used(t)]


def _stages(company: Company, story: Story, rng: random.Random) -> None:
    """Lifecycle moves that agree with the revenue history."""
    now = company.clock.now
    current = LifecycleStage.AWARENESS

    def move(at: int, to: str, by_owner: bool = False) -> None:
        nonlocal current
        later = not story.stages or at > story.stages[-1][0]
        if at < now and to != current and later:
            story.stages.append((at, current, to, by_owner and story.owner is not None))
            current = to

    if story.revenue or rng.random() < 0.7:  # trials that engaged moved on from awareness
        move(story.signup + rng.randrange(3600, 2 * DAY), LifecycleStage.CONVERSION)
    starts = [
        (k, at) for k, at, _, _ in story.revenue if k != RevenueKind.CHANGED and k != "cancelled"
    ]
    ends = [at for k, at, _, _ in story.revenue if k == RevenueKind.CANCELLED]
    for n, (kind, start) in enumerate(starts):
        end = next((e for e in ends if e > start), now)
        if kind == RevenueKind.STARTED:
            move(start, LifecycleStage.PURCHASE)
        move(start + DAY, LifecycleStage.ONBOARDING, by_owner=kind == RevenueKind.REACTIVATED)
        renew = start + rng.randrange(60, 90) * DAY
        if renew < end:
            move(renew, LifecycleStage.RENEWAL, by_owner=True)
        still_paying = n == len(starts) - 1 and end == now
        if still_paying and story.pattern in ("healthy", "rising"):
            if story.show.get("loyal"):
                move(max(renew + DAY, now - 30 * DAY), LifecycleStage.LOYALTY, by_owner=True)
            elif rng.random() < 0.45:
                move(start + rng.randrange(270, 420) * DAY, LifecycleStage.LOYALTY, by_owner=True)


def _payments(company: Company, story: Story, rng: random.Random) -> None:
    """Cards and failed charges of accounts paying now; big customers may pay by invoice."""
    if not story.paying or not story.billing:
        return
    if story.tier == 3 and rng.random() < 0.6 and not story.show:
        story.traits["billing"] = "invoice"
        return
    today = company.clock.now_dt.date()
    months_left = rng.randint(-2, 48) if rng.random() > 0.06 else rng.choice([0, 1])
    months_left = story.show.get("card_months", months_left)
    expiry = add_months(dt.date(today.year, today.month, 1), months_left)
    story.card = (expiry.month, expiry.year)
    unpaid = months_left < 0 or rng.random() < 0.03
    if unpaid and len(story.billing) > 1:
        # The latest charge bounced and the retries too: outstanding until the card changes.
        at, amount = story.billing.pop()
        retries = [at + r * 3 * DAY for r in range(rng.randint(1, 3))]
        story.failures.extend((t, amount) for t in retries if t < company.clock.now)
    elif len(story.billing) >= 3 and rng.random() < 0.05:
        # An old charge failed once and went through after the card was updated.
        n = rng.randrange(1, len(story.billing) - 1)
        at, amount = story.billing[n]
        story.failures.append((at, amount))
        story.card_updates.append(at + DAY)
        story.billing[n] = (at + DAY + 3600, amount)


def _contacts(story: Story, rng: random.Random) -> None:
    low, high = [(1, 3), (2, 5), (3, 7), (4, 8)][story.tier]
    weights = LOCALE_WEIGHTS.get(story.currency, LOCALE_WEIGHTS["USD"])
    emails: set[str] = set()
    for j in range(rng.randint(low, high)):
        locale = rng.choices(LOCALES, weights=weights)[0]
        if j == 0 and story.index < len(LOCALES):
            locale = LOCALES[story.index]  # every language appears, however small the seed
        firsts, lasts = PEOPLE[locale]
        first, first_ascii, feminine = rng.choice(firsts)
        last, last_ascii = rng.choice(lasts)
        if locale == "ru" and feminine:
            last, last_ascii = last + "а", last_ascii + "a"
        email = f"{first_ascii}.{last_ascii}@{story.domain}"
        if email in emails:
            email = f"{first_ascii}.{last_ascii}{j}@{story.domain}"
        emails.add(email)
        birthday = None
        if rng.random() < 0.85:
            birthday = dt.date(rng.randint(1958, 2001), 1, 1) + dt.timedelta(
                days=rng.randrange(365)
            )
        story.contacts.append(
            {
                "external_id": f"{story.external_id}-c{j}",
                "email": email,
                "name": f"{last}{first}" if locale == "zh-hans" else f"{first} {last}",
                "role": ROLES[rng.randrange(len(ROLES))],
                "locale": locale,
                "birthday": birthday,
                "do_not_survey": rng.random() < 0.03,
                "created_at": story.signup + (rng.randrange(0, 14 * DAY) if j else 0),
                # Their share of the account's activity; some people never log in.
                "activity": 4.0
                if j == 0
                else (0.0 if rng.random() < 0.15 else rng.uniform(0.3, 2)),
            }
        )
    if story.pattern == "churned" and story.drift_from is not None and story.spans:
        # Drifting away, people stop logging in one by one; the champion stays to the end.
        end = story.spans[-1].end
        for j in range(1, len(story.contacts)):
            if rng.random() < 0.8:
                latest = story.drift_from + int(0.6 * (end - story.drift_from))
                story.quits[j] = rng.randrange(story.drift_from, max(story.drift_from + 1, latest))
