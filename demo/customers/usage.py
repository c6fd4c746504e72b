"""An account's usage events and tickets, drawn from its story."""

from __future__ import annotations

import bisect
import functools
import itertools
import random

from customers.models import (
    TicketPriority,
)
from demo.customers.catalogue import (
    CANCEL_PAGE,
    DAY,
    EVENTS_PER_ACTIVE_DAY,
    EXPORT_CSV,
    FIXED_KINDS,
    PRIORITY_WEIGHTS,
    TICKET_SUBJECTS,
    TIER_TICKETS,
    USER_KIND_CUM,
    USER_KIND_IDS,
    compact_json,
)
from demo.customers.story import Company, Span, Story

# --- usage ---------------------------------------------------------------------------------------


def _intensity(story: Story, span: Span, t: float, now: int) -> float:
    """Relative usage at ``t``: slower in the first weeks, growing with adoption over the first
    year, a gentle 90-day rhythm, and the pattern's trend (winding down before leaving, growing for rising accounts)."""
    tenure = (t - story.signup) / DAY
    w = (0.6 if tenure < 21 else 1.0 + min(tenure / 365, 1.0)) * (
        1.0 + 0.15 * ((t // (45 * DAY)) % 2)
    )
    if span.fades:
        left = (span.end - t) / (span.fade_days * DAY)
        if left < 1:
            # A long drift towards a churn wears usage down month after month, the steepest
            # share early on (people stop one by one); a short fade drops nearer the end.
            w *= 0.08 + 0.92 * max(left, 0.0) ** (1.5 if span.fade_days <= 60 else 2.5)
    elif story.pattern == "rising":
        grown = (t - (now - 60 * DAY)) / (60 * DAY)
        if grown > 0:
            w *= 1 + 1.5 * min(grown, 1.0)
    return w


@functools.lru_cache(maxsize=4096)
def _props_json(items: tuple) -> str:
    return compact_json(dict(items))


def usage_draw(company: Company, story: Story, tickets: list[dict], rng: random.Random):
    """One account's events as parallel lists (day, second, kind, contact index; -1 = nobody)
    plus the per-account kinds (index ≥ len(FIXED_KINDS))."""
    clock = company.clock
    now = clock.now
    extra: list[tuple[str, str]] = []

    def kind(type_: str, props: dict) -> int:
        extra.append((type_, _props_json(tuple(sorted(props.items())))))
        return len(FIXED_KINDS) + len(extra) - 1

    specials: list[tuple[int, int, int]] = []  # at, kind, contact
    for at, amount in story.billing:
        specials.append(
            (at, kind("payment_succeeded", {"amount": str(amount), "currency": story.currency}), -1)
        )
    for at, amount in story.failures:
        props = {"amount": str(amount), "currency": story.currency, "reason": "card_declined"}
        specials.append((at, kind("payment_failed", props), -1))
    month, year = story.card or (None, None)
    card = kind("card_updated", {"exp_month": month, "exp_year": year})
    specials.extend((at, card, -1) for at in story.card_updates)
    specials.extend((at, CANCEL_PAGE, 0) for at in story.cancel_visits)
    specials.extend((at, EXPORT_CSV, 0) for at in story.exports)
    for ticket in tickets:
        specials.append(
            (
                ticket["opened"],
                kind(
                    "ticket_opened",
                    {"priority": ticket["priority"], "ticket": ticket["external_id"]},
                ),
                ticket["contact"],
            )
        )
        if ticket["closed"] is not None:
            specials.append(
                (ticket["closed"], kind("ticket_closed", {"ticket": ticket["external_id"]}), -1)
            )

    target = company.events_per_account * story.weight / company.scale * rng.uniform(0.8, 1.2)
    user_events = max(0, round(target) - len(specials))
    days: list[int] = []
    secs: list[int] = []
    kinds: list[int] = []
    who: list[int] = []
    # Active days: weeks weighted by intensity, then a day in the week (weekends are quiet).
    week_lo: list[int] = []
    week_hi: list[int] = []
    cum: list[float] = []
    total = 0.0
    for span in story.spans:
        d, last_day = span.start // DAY + 1, min(span.end, now) // DAY  # days strictly inside
        while d < last_day:
            hi = min(last_day, (d // 7 + 1) * 7)
            total += (hi - d) * _intensity(story, span, (d + hi) / 2 * DAY, now)
            week_lo.append(d)
            week_hi.append(hi)
            cum.append(total)
            d = hi
    if user_events and cum:
        # Stratified draws along the cumulative intensity spread the active days the way the
        # pattern says without clumping (i.i.d. draws made healthy accounts look erratic);
        # each active day then gets a share of the events, bigger accounts doing more a day.
        weekday0 = clock.d0.weekday()
        active_days = max(1, round(user_events / EVENTS_PER_ACTIVE_DAY[story.tier]))
        pool = []
        for j in range(active_days):
            w = bisect.bisect_left(cum, (j + rng.random()) / active_days * total)
            lo, hi = week_lo[w], week_hi[w]
            for _ in range(3):
                day = lo + int(rng.random() * (hi - lo))
                if (day + weekday0) % 7 < 5 or rng.random() < 0.25:
                    break
            pool.append(day)
        shares = [0.5 + rng.random() for _ in pool]
        scale = user_events / sum(shares)
        counts = [int(share * scale) for share in shares]
        for j in rng.sample(range(active_days), user_events - sum(counts)):
            counts[j] += 1
        for day, count in zip(pool, counts, strict=True):
            days.extend([day] * count)
        people = list(itertools.accumulate(c["activity"] for c in story.contacts))
        secs = rng.choices(SECONDS_OF_DAY, k=user_events)
        kinds = rng.choices(USER_KIND_IDS, cum_weights=USER_KIND_CUM, k=user_events)
        who = rng.choices(range(len(story.contacts)), cum_weights=people, k=user_events)
        if story.quits:  # what a contact would have done after quitting, the champion does
            for n, (day, person) in enumerate(zip(days, who, strict=True)):
                quit_at = story.quits.get(person)
                if quit_at is not None and day * DAY >= quit_at:
                    who[n] = 0
    for at, k, contact in specials:
        days.append(at // DAY)
        secs.append(at % DAY)
        kinds.append(k)
        who.append(contact)
    return days, secs, kinds, who, extra


def tickets_draw(company: Company, story: Story, rng: random.Random) -> list[dict]:
    """Support tickets while they used the product; declining accounts may have a stale
    high-priority one."""
    now = company.clock.now
    spans = [s for s in story.spans if min(s.end, now) - s.start > DAY]
    if not spans or not story.contacts:
        return []
    months = sum(s.end - s.start for s in spans) / (30 * DAY)
    count = min(12, sum(rng.random() < TIER_TICKETS[story.tier] for _ in range(int(months) + 1)))
    tickets = []
    for _ in range(count):
        span = rng.choice(spans)
        opened = rng.randrange(span.start, min(span.end, now) - 3600)
        priority = rng.choices(*zip(*PRIORITY_WEIGHTS, strict=True))[0]
        hours = rng.expovariate(1 / 30) + 0.5
        if priority in (TicketPriority.HIGH, TicketPriority.URGENT):
            hours /= 3
        closed = opened + int(hours * 3600)
        tickets.append(
            {"opened": opened, "closed": closed if closed < now else None, "priority": priority}
        )
    stale = story.show.get("stale_ticket") or (story.pattern == "declining" and rng.random() < 0.35)
    if stale:
        opened = now - rng.randrange(15, 45) * DAY - rng.randrange(DAY)
        if opened > spans[-1].start:
            tickets.append({"opened": opened, "closed": None, "priority": TicketPriority.HIGH})
    tickets.sort(key=lambda t: t["opened"])
    for n, ticket in enumerate(tickets):
        ticket["external_id"] = f"{story.external_id}-t{n:03d}"
        ticket["subject"] = rng.choice(TICKET_SUBJECTS)
        ticket["contact"] = rng.randrange(len(story.contacts))
    return tickets


def _business_seconds(rng: random.Random, size: int = 4096) -> list[int]:
    """Seconds of the day people work: most between 07:00 and 18:00 UTC, some in the evening."""
    out = []
    for _ in range(size):
        hour = rng.triangular(7, 18, 11) if rng.random() < 0.85 else rng.uniform(0, 24)
        out.append(min(DAY - 1, int(hour * 3600 + rng.random() * 60)))
    return out


SECONDS_OF_DAY = _business_seconds(random.Random("tenure-demo:seconds"))
