"""A deterministic demo SaaS company, fast enough to build 100k accounts for the benchmarks.

Why it is built this way:

- **Deterministic.** One ``random.Random`` per account, seeded from ``(seed, index)``, and a
  ``now`` passed in by the caller (the command uses today's midnight UTC): the same seed on the
  same day gives the same rows however the work is chunked.
- **A story per account, then rows.** Each account gets a history first (signup, trial,
  revenue changes, lifecycle moves, usage pattern, payments, tickets); rows are rendered from
  it. Derived columns are never computed here: ``Account.mrr`` and friends come from
  :func:`customers.services.accounts_refresh_revenue`, last activity and last seen from
  aggregates over the loaded events — set-based, after loading, so they agree with the
  histories by construction.
- **Bulk loading.** Rows stream in chunks of accounts (memory stays bounded): PostgreSQL gets
  ``COPY``, SQLite ``executemany``. On PostgreSQL, tables that are empty when seeding starts
  are loaded without their secondary indexes and foreign keys, which are recreated from the
  catalog's own definitions at the end — in the same transaction, so a failure leaves the
  schema exactly as it was (PostgreSQL's "Populating a Database" advice).

Demo rows are recognisable: external ids start with :data:`DEMO_PREFIX` and usage events have
``source = DEMO_SOURCE``; :func:`demo_flush` removes exactly those accounts (and what hangs off
them) and nothing else.

The summaries follow :mod:`customers.ingest`, so the demo looks as if its events had been
ingested: ``Account.last_activity_at`` is the latest event that is not a billing event
(``BILLING_EVENT_TYPES``: a dormant account whose card is still charged is not active),
``Contact.last_seen_at`` the latest such event of that person, ``failed_payments`` the number
of ``payment_failed`` events and the card the one the latest ``card_updated`` event reported.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import itertools
import json
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from accounts.models import User
from accounts.roles import Role
from accounts.services import user_create
from customers.ingest import BILLING_EVENT_TYPES
from customers.models import (
    Account,
    Contact,
    DailyUsage,
    ExchangeRate,
    LifecycleStage,
    Locale,
    Note,
    RevenueChange,
    RevenueKind,
    StageChange,
    Ticket,
    TicketPriority,
    UsageEvent,
)
from customers.services import accounts_refresh_revenue, money

DEMO_PREFIX = "demo-"
DEMO_SOURCE = "demo"
DAY = 86_400
DEFAULT_EVENTS_PER_ACCOUNT = 100  # 300 accounts → ~30k events; 100k accounts → ~10M
EVENTS_PER_ACTIVE_DAY = [3, 4, 6, 8]  # by tier: events cluster on the days people use it
NORMALISE_SAMPLE = 1000  # accounts whose mean weight sets the events-per-account scale

# --- the company's catalogue -------------------------------------------------------------------

TIERS = [("Starter", 49), ("Growth", 199), ("Scale", 799), ("Enterprise", 2500)]
TIER_WEIGHTS = [45, 30, 18, 7]
TIER_SIZE = [0.5, 1.0, 2.0, 4.0]  # relative usage volume
TIER_CHURN = [0.035, 0.02, 0.012, 0.006]  # per month
TIER_TICKETS = [0.1, 0.2, 0.35, 0.6]  # per active month
CSMS = [
    ("csm1@example.com", "Maya Lindqvist"),
    ("csm2@example.com", "Jonas Berg"),
    ("csm3@example.com", "Priya Natarajan"),
    ("csm4@example.com", "Tom Okafor"),
    ("csm5@example.com", "Ingrid Sæther"),
    ("csm6@example.com", "Wei Chen"),
]
# (code, units per USD, weight, region, top-level domain, rounding of list prices)
CURRENCIES = [
    ("USD", Decimal("1"), 86, "North America", "com", Decimal("1")),
    ("EUR", Decimal("0.92"), 5, "Europe", "de", Decimal("1")),
    ("GBP", Decimal("0.79"), 3, "United Kingdom", "co.uk", Decimal("1")),
    ("NOK", Decimal("10.6"), 3, "Norway", "no", Decimal("10")),
    ("SEK", Decimal("10.4"), 3, "Sweden", "se", Decimal("10")),
]
INDUSTRIES = [
    "Software",
    "E-commerce",
    "Healthcare",
    "Logistics",
    "Financial services",
    "Education",
    "Manufacturing",
    "Media",
    "Hospitality",
    "Professional services",
]
PREFIXES = [
    "Acme",
    "Northwind",
    "Bluebird",
    "Bright",
    "Cedar",
    "Summit",
    "Polar",
    "Nimbus",
    "Quantum",
    "Granite",
    "Harbor",
    "Lumen",
    "Maple",
    "Nova",
    "Orbit",
    "Pioneer",
    "Redwood",
    "Silverline",
    "Swift",
    "Vertex",
    "Atlas",
    "Beacon",
    "Cobalt",
    "Crimson",
    "Delta",
    "Ember",
    "Falcon",
    "Golden",
    "Horizon",
    "Ironwood",
    "Juniper",
    "Keystone",
    "Lighthouse",
    "Meridian",
    "Nordic",
    "Oakridge",
    "Pacific",
    "Prairie",
    "Riverbend",
    "Sage",
    "Sierra",
    "Solstice",
    "Bedrock",
    "Sunrise",
    "Tidal",
    "Timber",
    "Union",
    "Velvet",
    "Willow",
    "Zenith",
    "Aurora",
    "Birch",
    "Canyon",
    "Copper",
    "Evergreen",
    "Fjord",
    "Glacier",
    "Highland",
    "Ivory",
    "Lakeside",
    "Mosaic",
    "Nimble",
    "Opal",
    "Paragon",
    "Quartz",
    "Radiant",
    "Sparrow",
    "Tundra",
    "Upland",
    "Vantage",
    "Westwind",
    "Yonder",
]
NOUNS = [
    "Analytics",
    "Labs",
    "Systems",
    "Software",
    "Logistics",
    "Health",
    "Foods",
    "Media",
    "Robotics",
    "Energy",
    "Finance",
    "Retail",
    "Studios",
    "Networks",
    "Dynamics",
    "Works",
    "Cloud",
    "Data",
    "Security",
    "Payments",
    "Learning",
    "Travel",
    "Motors",
    "Bio",
    "Capital",
    "Design",
    "Freight",
    "Games",
    "Insights",
    "Kitchens",
    "Legal",
    "Marine",
    "Mobility",
    "Optics",
    "Partners",
    "Pharma",
    "Realty",
    "Solar",
    "Sports",
    "Textiles",
    "Tools",
    "Ventures",
    "Wellness",
    "Apparel",
    "Consulting",
    "Devices",
    "Farms",
    "Outdoor",
    "Print",
    "Telecom",
]
LEGAL = {
    "USD": ["Inc", "LLC", "", "", "Co"],
    "EUR": ["GmbH", "SE", "", "BV"],
    "GBP": ["Ltd", "plc", ""],
    "NOK": ["AS", "ASA", ""],
    "SEK": ["AB", ""],
}
# Names that exercise escaping and non-Latin scripts: (name, domain, currency, traits).
SPECIAL_ACCOUNTS = [
    ("Johnson & Johansson Consulting", "johnsonjohansson.com", "USD", {}),
    ("<b>Bold</b> Moves Media", "boldmoves.io", "USD", {}),
    ('"Quoted" Analytics Ltd', "quotedanalytics.co.uk", "GBP", {}),
    ("O'Reilly's Kitchen Supply", "oreillyskitchen.com", "USD", {}),
    ("Ærlig Økonomi AS", "aerligokonomi.no", "NOK", {"kommune": "Tromsø"}),
    ("Åkerström & Söner AB", "akerstrom.se", "SEK", {}),
    ("Рога и копыта ООО", "roga-kopyta.ru", "EUR", {"город": "Санкт-Петербург"}),
    ("北京星云数据科技有限公司", "xingyun-data.cn", "USD", {"城市": "北京"}),
    (
        "<script>alert('tenure')</script> Labs",
        "scriptlabs.io",
        "USD",
        {"tagline": "<img src=x onerror=alert(1)>", "motto": 'Fish & "chips" <i>daily</i>'},
    ),
]
# First names (display, ascii, feminine) and last names (display, ascii) per locale.
PEOPLE: dict[str, tuple[list[tuple[str, str, bool]], list[tuple[str, str]]]] = {
    "en": (
        [
            ("James", "james", False),
            ("Mary", "mary", True),
            ("Olivia", "olivia", True),
            ("Liam", "liam", False),
            ("Noah", "noah", False),
            ("Emma", "emma", True),
            ("Ava", "ava", True),
            ("Sophia", "sophia", True),
            ("Lucas", "lucas", False),
            ("Mia", "mia", True),
            ("Ethan", "ethan", False),
            ("Amelia", "amelia", True),
            ("Harper", "harper", True),
            ("Elijah", "elijah", False),
            ("Grace", "grace", True),
            ("Daniel", "daniel", False),
            ("Chloe", "chloe", True),
            ("Samuel", "samuel", False),
            ("Zoe", "zoe", True),
            ("Henry", "henry", False),
        ],
        [
            ("Smith", "smith"),
            ("Johnson", "johnson"),
            ("Brown", "brown"),
            ("Taylor", "taylor"),
            ("Miller", "miller"),
            ("Davis", "davis"),
            ("Wilson", "wilson"),
            ("Moore", "moore"),
            ("Clark", "clark"),
            ("Lewis", "lewis"),
            ("Walker", "walker"),
            ("Hall", "hall"),
            ("Young", "young"),
            ("King", "king"),
            ("O'Connor", "oconnor"),
            ("Nguyen", "nguyen"),
            ("Garcia", "garcia"),
            ("Patel", "patel"),
        ],
    ),
    "nb": (
        [
            ("Ørjan", "orjan", False),
            ("Åse", "ase", True),
            ("Kari", "kari", True),
            ("Ole", "ole", False),
            ("Ingrid", "ingrid", True),
            ("Håkon", "hakon", False),
            ("Solveig", "solveig", True),
            ("Bjørn", "bjorn", False),
            ("Sigrid", "sigrid", True),
            ("Eirik", "eirik", False),
        ],
        [
            ("Ås", "as"),
            ("Hansen", "hansen"),
            ("Johansen", "johansen"),
            ("Olsen", "olsen"),
            ("Sæther", "saether"),
            ("Bråten", "braten"),
            ("Østby", "ostby"),
            ("Dahl", "dahl"),
            ("Løvås", "lovas"),
        ],
    ),
    "sv": (
        [
            ("Åsa", "asa", True),
            ("Björn", "bjorn", False),
            ("Linnéa", "linnea", True),
            ("Göran", "goran", False),
            ("Maja", "maja", True),
            ("Elin", "elin", True),
            ("Oskar", "oskar", False),
            ("Sofia", "sofia", True),
            ("Erik", "erik", False),
            ("Märta", "marta", True),
        ],
        [
            ("Ström", "strom"),
            ("Lindqvist", "lindqvist"),
            ("Åberg", "aberg"),
            ("Nyström", "nystrom"),
            ("Bergström", "bergstrom"),
            ("Söderberg", "soderberg"),
            ("Karlsson", "karlsson"),
            ("Ek", "ek"),
            ("Lundgren", "lundgren"),
        ],
    ),
    "zh-hans": (
        [
            ("伟", "wei", False),
            ("芳", "fang", True),
            ("娜", "na", True),
            ("敏", "min", True),
            ("静", "jing", True),
            ("磊", "lei", False),
            ("洋", "yang", False),
            ("勇", "yong", False),
            ("军", "jun", False),
            ("丽", "li", True),
        ],
        [
            ("王", "wang"),
            ("李", "li"),
            ("张", "zhang"),
            ("刘", "liu"),
            ("陈", "chen"),
            ("杨", "yang"),
            ("黄", "huang"),
            ("赵", "zhao"),
            ("周", "zhou"),
            ("吴", "wu"),
        ],
    ),
    "ru": (
        [
            ("Иван", "ivan", False),
            ("Мария", "maria", True),
            ("Алексей", "alexey", False),
            ("Ольга", "olga", True),
            ("Дмитрий", "dmitry", False),
            ("Анна", "anna", True),
            ("Сергей", "sergey", False),
            ("Елена", "elena", True),
            ("Никита", "nikita", False),
            ("Татьяна", "tatiana", True),
        ],
        [
            ("Иванов", "ivanov"),
            ("Смирнов", "smirnov"),
            ("Кузнецов", "kuznetsov"),
            ("Попов", "popov"),
            ("Соколов", "sokolov"),
            ("Лебедев", "lebedev"),
            ("Козлов", "kozlov"),
            ("Новиков", "novikov"),
            ("Морозов", "morozov"),
            ("Волков", "volkov"),
        ],
    ),
}
LOCALES = list(Locale.values)  # en, nb, sv, zh-hans, ru
# Locale mix by account currency (weights in LOCALES order).
LOCALE_WEIGHTS = {
    "USD": [84, 3, 3, 6, 4],
    "EUR": [70, 3, 4, 5, 18],
    "GBP": [90, 2, 2, 4, 2],
    "NOK": [25, 70, 5, 0, 0],
    "SEK": [25, 5, 70, 0, 0],
}
ROLES = [
    "CEO",
    "Head of Operations",
    "Customer Success Lead",
    "Product Manager",
    "Engineering Manager",
    "Developer",
    "Finance Manager",
    "Office Manager",
    "Data Analyst",
    "Marketing Manager",
]
TICKET_SUBJECTS = [
    "Cannot export report to CSV",
    "SSO login fails for new users",
    "Invoice shows the wrong VAT number",
    "Dashboard is slow to load",
    "How do I add a teammate?",
    "API rate limit exceeded",
    "Feature request: Slack alerts",
    "Webhook deliveries failing",
    "Data import stuck at 90%",
    "Billing: charged twice this month",
    "Password reset email never arrives",
    "Chart colours unreadable in dark mode",
    "Need help setting up the integration",
    "Users see a 500 error on the settings page",
]
PRIORITY_WEIGHTS = [(TicketPriority.LOW, 30), (TicketPriority.NORMAL, 50)]
PRIORITY_WEIGHTS += [(TicketPriority.HIGH, 15), (TicketPriority.URGENT, 5)]
NOTE_TEMPLATES = [
    "Kick-off call done; {name} wants weekly usage reports.",
    "QBR held with {name}: happy with reporting, asked about SSO.",
    "{name} mentioned budget review next quarter — watch renewal.",
    "Champion {name} is moving teams; need a new sponsor.",
    "Discussed expansion to the next plan with {name}.",
    "Sent onboarding checklist to {name}.",
]
FEATURES = ["reports", "dashboards", "integrations", "alerts", "api", "automation", "sharing"]
# What people do, as (type, properties) "kinds"; billing and ticket kinds are added per story.
USER_KINDS = [("login", {}, 33.0), ("data_export", {"format": "csv"}, 2.0)]
USER_KINDS += [("data_export", {"format": "xlsx"}, 1.0)]
USER_KINDS += [
    ("feature_used", {"feature": f}, w)
    for f, w in zip(FEATURES, [18, 14, 8, 8, 6, 5, 4], strict=True)
]
PATTERN_WEIGHTS = [("healthy", 62), ("rising", 10), ("declining", 18), ("dormant", 10)]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# Event "kinds" are (type, properties as JSON) pairs. The fixed ones are indexed here; kinds
# that carry per-account properties (tickets, payment amounts) are appended per account.
FIXED_KINDS = [(t, _json(p)) for t, p, _ in USER_KINDS]
USER_KIND_IDS = list(range(len(USER_KINDS)))
USER_KIND_CUM = list(itertools.accumulate(w for _, _, w in USER_KINDS))
EXPORT_CSV = 1
CANCEL_PAGE = len(FIXED_KINDS)
FIXED_KINDS.append(("cancel_page_visit", "{}"))
FIXED_TYPES = [t for t, _ in FIXED_KINDS]
FIXED_PROPS = [p for _, p in FIXED_KINDS]

# Accounts 0–7 always tell these stories, so even a tiny seed shows every pattern.
SHOWCASE: dict[int, dict[str, Any]] = {
    0: {"tier": 3, "pattern": "healthy", "age": 0.95, "loyal": True},
    1: {"tier": 2, "pattern": "declining", "age_days": 320, "annual": True, "stale_ticket": True},
    2: {"tier": 1, "pattern": "dormant", "age": 0.7, "card_months": 0},
    3: {"tier": 1, "pattern": "healthy", "age": 0.9, "churn_month": 4, "back_after": 3},
    4: {"tier": 1, "pattern": "rising", "age": 0.6, "upgrade_month": 3},
    5: {"tier": 1, "pattern": "healthy", "age": 0.5, "card_months": -1},
    6: {"tier": 0, "age": 0.8, "churn_month": 6},
    7: {"tier": 0, "age_days": 5, "trial": True},
}


# --- time ----------------------------------------------------------------------------------------


def demo_now(today: dt.date | None = None) -> dt.datetime:
    """Midnight UTC of ``today``: the fixed "now" that makes a day's reruns identical."""
    today = today or dt.datetime.now(dt.UTC).date()
    return dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC)


def _add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


class _Clock:
    """Times inside a story are integer seconds since ``t0`` (the window's first midnight)."""

    def __init__(self, now: dt.datetime, months: int):
        now = now.astimezone(dt.UTC)
        self.now_dt = now
        start = _add_months(now.date(), -months)
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
            day = self._months[key] = self.seconds(_add_months(self.day(seconds), months)) // DAY
        return day * DAY + seconds % DAY


# --- the story of one account --------------------------------------------------------------------


@dataclass(slots=True)
class Span:
    """A stretch of time the account's people used the product."""

    start: int
    end: int
    fades: bool = False  # usage winds down towards ``end`` (they were about to leave)


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
    cancel_visits: list[int] = field(default_factory=list)
    exports: list[int] = field(default_factory=list)
    renewal_date: dt.date | None = None
    card: tuple[int, int] | None = None  # month, year
    contacts: list[dict] = field(default_factory=list)
    weight: float = 0.0

    @property
    def paying(self) -> bool:
        return bool(self.revenue) and self.revenue[-1][0] != RevenueKind.CANCELLED


class _Company:
    """Everything shared by the stories of one run."""

    def __init__(self, *, seed: int, now: dt.datetime, months: int, events_per_account: int):
        self.seed = seed
        self.clock = _Clock(now, months)
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


def _story(company: _Company, index: int) -> Story:
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


def _revenue(company: _Company, story: Story, rng: random.Random) -> None:
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
        Span(start, end if end else clock.now, fades=bool(end)) for start, end in periods
    )

    if story.paying:
        # Declining or dormant takes a history: accounts paying < 90 days are still fresh.
        settled = clock.now - periods[-1][0] >= 90 * DAY
        patterns = PATTERN_WEIGHTS if settled else PATTERN_WEIGHTS[:2]
        story.pattern = show.get("pattern") or rng.choices(*zip(*patterns, strict=True))[0]
        annual = tier >= 2 or (tier == 1 and rng.random() < 0.4) or show.get("annual", False)
        period_day = clock.day(periods[-1][0])
        step = 12 if annual else 1
        months_ahead = step
        while _add_months(period_day, months_ahead) <= clock.now_dt.date():
            months_ahead += step
        story.renewal_date = _add_months(period_day, months_ahead)
        story.traits["contract"] = "annual" if annual else "monthly"
    else:
        story.pattern = "churned"


def _usage_spans(company: _Company, story: Story, rng: random.Random) -> None:
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


def _stages(company: _Company, story: Story, rng: random.Random) -> None:
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


def _payments(company: _Company, story: Story, rng: random.Random) -> None:
    """Cards and failed charges of accounts paying now; big customers may pay by invoice."""
    if not story.paying or not story.billing:
        return
    if story.tier == 3 and rng.random() < 0.6 and not story.show:
        story.traits["billing"] = "invoice"
        return
    today = company.clock.now_dt.date()
    months_left = rng.randint(-2, 48) if rng.random() > 0.06 else rng.choice([0, 1])
    months_left = story.show.get("card_months", months_left)
    expiry = _add_months(dt.date(today.year, today.month, 1), months_left)
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


# --- usage ---------------------------------------------------------------------------------------


def _intensity(story: Story, span: Span, t: float, now: int) -> float:
    """Relative usage at ``t``: slower in the first weeks, growing with adoption over the first
    year, a gentle 90-day rhythm, and the pattern's trend (winding down before leaving, growing for rising accounts)."""
    tenure = (t - story.signup) / DAY
    w = (0.6 if tenure < 21 else 1.0 + min(tenure / 365, 1.0)) * (
        1.0 + 0.15 * ((t // (45 * DAY)) % 2)
    )
    if span.fades:
        left = (span.end - t) / (60 * DAY)
        if left < 1:
            w *= 0.08 + 0.92 * max(left, 0.0) ** 1.5
    elif story.pattern == "rising":
        grown = (t - (now - 60 * DAY)) / (60 * DAY)
        if grown > 0:
            w *= 1 + 1.5 * min(grown, 1.0)
    return w


@functools.lru_cache(maxsize=4096)
def _props_json(items: tuple) -> str:
    return _json(dict(items))


def _usage(company: _Company, story: Story, tickets: list[dict], rng: random.Random):
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
    for at, k, contact in specials:
        days.append(at // DAY)
        secs.append(at % DAY)
        kinds.append(k)
        who.append(contact)
    return days, secs, kinds, who, extra


def _tickets(company: _Company, story: Story, rng: random.Random) -> list[dict]:
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


# --- writing --------------------------------------------------------------------------------------

ACCOUNT_COLUMNS = [
    "id",
    "external_id",
    "name",
    "domain",
    "plan",
    "currency",
    "owner_id",
    "stage",
    "renewal_date",
    "traits",
    "mrr",
    "mrr_base",
    "card_exp_month",
    "card_exp_year",
    "failed_payments",
    "last_payment_failed_at",
    "last_activity_at",
    "created_at",
    "updated_at",
]
CONTACT_COLUMNS = [
    "id",
    "account_id",
    "external_id",
    "email",
    "name",
    "role",
    "locale",
    "birthday",
    "do_not_survey",
    "traits",
    "last_seen_at",
    "created_at",
    "updated_at",
]
REVENUE_COLUMNS = [
    "account_id",
    "external_id",
    "kind",
    "effective_at",
    "mrr",
    "currency",
    "mrr_base",
    "plan",
    "created_at",
]
STAGE_COLUMNS = ["account_id", "from_stage", "to_stage", "changed_by_id", "source", "changed_at"]
TICKET_COLUMNS = [
    "account_id",
    "contact_id",
    "external_id",
    "subject",
    "priority",
    "status",
    "opened_at",
    "closed_at",
]
NOTE_COLUMNS = ["account_id", "author_id", "body", "created_at"]
EVENT_COLUMNS = [
    "account_id",
    "contact_id",
    "occurred_at",
    "received_at",
    "source",
    "type",
    "properties",
    "event_id",
]
DAILY_COLUMNS = ["account_id", "day", "type", "count"]
# Loaded without secondary indexes when empty (PostgreSQL). Account comes last: its indexes
# are rebuilt after the revenue derivation has updated every row.
BULK_MODELS = [RevenueChange, Contact, UsageEvent, DailyUsage, StageChange, Ticket, Note, Account]


def _copy_text(value: str) -> str:
    """Escape for COPY's text format (backslash first)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


@dataclass
class Batch:
    """One chunk's rows, parents first. ``rows`` hold Python values; ``rendered`` rows already
    in the sink's load format (COPY text lines, or tuples for SQLite); ``binary`` Python
    values of each column's own type (for JSON, its text or a value to serialise), which
    PostgreSQL gets in COPY's binary format: several times cheaper to encode than text when
    rows carry timestamps. Public, with :func:`demo_sink`, for other apps' demo seeders."""

    rows: list[tuple[Any, list[str], list]] = field(default_factory=list)
    rendered: list[tuple[Any, list[str], list]] = field(default_factory=list)
    binary: list[tuple[Any, list[str], list]] = field(default_factory=list)


class _Sink:
    """Where rows go: COPY on PostgreSQL, executemany on SQLite.

    Ids of accounts and contacts are allocated here, not by the database, so a chunk can be
    rendered without a round trip; the tables are locked against other writers meanwhile.
    Timestamps are rendered as text in the database's own format from two lookup tables.
    """

    tz_suffix = ""

    def __init__(self, clock: _Clock | None = None):
        self.cursor = connection.cursor()
        self.dates: list[str] = []
        self.hms: list[str] = []
        if clock is not None:  # only rendered rows need them; other apps' rows are values
            days = clock.now // DAY + 2
            self.dates = [(clock.d0 + dt.timedelta(days=d)).isoformat() for d in range(days)]
            suffix = self.tz_suffix
            self.hms = [
                f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{suffix}" for s in range(DAY)
            ]
        self.next_id: dict[Any, int] = {}

    def start(self, models: Iterable) -> None:
        for model in models:
            self.next_id[model] = self._highest_id(model) + 1

    def allocate(self, model, count: int) -> int:
        first = self.next_id[model]
        self.next_id[model] += count
        return first

    def submit(self, batch: Batch) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Wait for everything submitted to be written."""

    def close(self) -> None:
        """After a successful load: hand id allocation back to the database."""

    def _highest_id(self, model) -> int:
        raise NotImplementedError


class _PostgresSink(_Sink):
    """COPY from a writer thread, so the server loads one chunk while Python renders the next.
    The thread uses the psycopg connection of this transaction; the main thread does not touch
    it until :meth:`finish`."""

    tz_suffix = "+00"
    kind_text = [_copy_text(f"{DEMO_SOURCE}\t{t}\t{p}") for t, p in FIXED_KINDS]

    def __init__(self, clock: _Clock | None = None):
        super().__init__(clock)
        connection.ensure_connection()
        self.raw = connection.connection
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.column_types: dict[tuple[str, tuple[str, ...]], list[int]] = {}

    def _highest_id(self, model) -> int:
        table = model._meta.db_table
        self.cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        self.cursor.execute(
            f"SELECT GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), "  # noqa: S608
            f"(SELECT last_value FROM {self._sequence(table)}))"
        )
        return self.cursor.fetchone()[0]

    def _sequence(self, table: str) -> str:
        self.cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        return self.cursor.fetchone()[0]

    def submit(self, batch: Batch) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._write_all, name="seed-demo-copy")
            self.thread.start()
        while True:
            self._raise_writer_error()
            try:
                self.queue.put(batch, timeout=0.5)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None
        self._raise_writer_error()

    def close(self) -> None:
        """Move the id sequences past the ids allocated here."""
        for model, next_id in self.next_id.items():
            sequence = self._sequence(model._meta.db_table)
            self.cursor.execute(
                "SELECT setval(%s, GREATEST(%s, 1), %s)", [sequence, next_id - 1, next_id > 1]
            )

    def _raise_writer_error(self) -> None:
        error, self.error = self.error, None
        if error is not None:
            raise error

    def _write_all(self) -> None:
        from psycopg.types.json import set_json_dumps

        try:
            with connection.wrap_database_errors, self.raw.cursor() as cursor:
                set_json_dumps(_json_text, cursor)  # binary JSON columns: text as it is
                while (batch := self.queue.get()) is not None:
                    for model, columns, rows in batch.rows:
                        if rows:
                            with cursor.copy(self._copy_sql(model, columns)) as copy:
                                for row in rows:
                                    copy.write_row(row)
                    for model, columns, lines in batch.rendered:
                        if lines:
                            with cursor.copy(self._copy_sql(model, columns)) as copy:
                                for start in range(0, len(lines), 20_000):
                                    copy.write("".join(lines[start : start + 20_000]))
                    for model, columns, rows in batch.binary:
                        if rows:
                            types = self._column_types(cursor, model._meta.db_table, columns)
                            sql = f"{self._copy_sql(model, columns)} (FORMAT BINARY)"
                            with cursor.copy(sql) as copy:
                                copy.set_types(types)
                                for row in rows:
                                    copy.write_row(row)
        except BaseException as error:  # handed to the main thread, which raises it
            self.error = error
            while self.queue.get() is not None:  # let the producer finish or fail fast
                pass

    def _column_types(self, cursor, table: str, columns: list[str]) -> list[int]:
        """The columns' type oids, from the catalog: binary COPY applies no casts."""
        key = (table, tuple(columns))
        if key not in self.column_types:
            cursor.execute(
                "SELECT attname, atttypid FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                [table],
            )
            oids = dict(cursor.fetchall())
            self.column_types[key] = [oids[column] for column in columns]
        return self.column_types[key]

    @staticmethod
    def _copy_sql(model, columns: list[str]) -> str:
        return f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"


def _json_text(value: Any) -> str:
    """JSON for a binary COPY: text is taken as JSON already (what SQLite stores), so a row
    can carry a constant instead of a value serialised again for every row."""
    return value if isinstance(value, str) else json.dumps(value)


class _SqliteSink(_Sink):
    def _highest_id(self, model) -> int:
        table = model._meta.db_table
        self.cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
        highest = self.cursor.fetchone()[0]
        self.cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = self.cursor.fetchone()
        return max(highest, row[0] if row else 0)

    def submit(self, batch: Batch) -> None:
        for model, columns, rows in [*batch.rows, *batch.binary]:
            self._insert(model, columns, [tuple(map(self._adapt, row)) for row in rows])
        for model, columns, rows in batch.rendered:
            self._insert(model, columns, rows)

    def _insert(self, model, columns: list[str], rows: list[tuple]) -> None:
        if rows:
            marks = ", ".join(["%s"] * len(columns))
            table = model._meta.db_table
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
            self.cursor.executemany(sql, rows)

    @staticmethod
    def _adapt(value):
        """What Django's SQLite backend stores: naive UTC text timestamps, text decimals."""
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, dict | list):
            return json.dumps(value)
        return value


def demo_sink(clock: _Clock | None = None) -> _Sink:
    """The bulk writer for this database (COPY on PostgreSQL, executemany on SQLite), for
    this module and for other apps' demo seeders. ``clock`` only for rows rendered as text."""
    if connection.vendor == "postgresql":
        return _PostgresSink(clock)
    return _SqliteSink(clock)


@dataclass
class SeedStats:
    accounts: int = 0
    contacts: int = 0
    events: int = 0
    daily_rows: int = 0
    revenue_changes: int = 0
    tickets: int = 0
    seconds: float = 0.0
    bulk_tables: list[str] = field(default_factory=list)


def _postgres_strip(cursor, table: str) -> list[str]:
    """Drop a table's secondary indexes, unique constraints and foreign keys; return the
    statements that recreate them exactly as the catalog describes them now."""
    cursor.execute(
        """
        SELECT c.conname, pg_get_constraintdef(c.oid), c.contype
        FROM pg_constraint c
        WHERE c.conrelid = %s::regclass AND c.contype IN ('u', 'f')
          AND NOT (c.contype = 'u' AND EXISTS (
            SELECT 1 FROM pg_constraint r WHERE r.contype = 'f' AND r.conindid = c.conindid
          ))
        ORDER BY c.contype DESC, c.conname
        """,
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = %s::regclass AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1
        """,
        [table],
    )
    indexes = cursor.fetchall()
    quote = connection.ops.quote_name
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    for name, _, _ in constraints:
        cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    add = f"ALTER TABLE {quote(table)} ADD CONSTRAINT"
    restore = [f"{add} {quote(name)} {sql}" for name, sql, kind in constraints if kind == "u"]
    restore += [sql for _, sql in indexes]
    restore += [f"{add} {quote(name)} {sql}" for name, sql, kind in constraints if kind == "f"]
    return restore


def postgres_prepare(cursor, models: Iterable = BULK_MODELS) -> dict[str, list[str]]:
    """Strip the tables that are empty for a bulk load; returns how to restore each (other
    apps' demo seeders use it for theirs).

    Constraints are made immediate for the load: checks queued by earlier work in this
    transaction (a flush of old demo data) run now, since PostgreSQL refuses to alter a table
    with pending trigger events, and tables that already hold rows, which keep their indexes
    and foreign keys, are checked row by row instead of queueing millions of deferred checks
    in the server's memory until commit.
    """
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    restore = {}
    for model in models:
        table = model._meta.db_table
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")  # noqa: S608
        if not cursor.fetchone()[0]:
            restore[table] = _postgres_strip(cursor, table)
    return restore


def _ensure_csms() -> list[User]:
    """The demo's customer success team: CSM role, no usable password (the demo admin can set
    one to log in as them)."""
    users = []
    for email, full_name in CSMS:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = user_create(email=email, password=None, role=Role.CSM, full_name=full_name)
        users.append(user)
    return users


def _exchange_rates(company: _Company) -> dict[str, tuple[list[dt.date], list[Decimal]]]:
    """Monthly rates for the demo currencies (existing ones are kept), read back so MRR in the
    base currency is computed with exactly the rates the services would use."""
    clock = company.clock
    rng = random.Random(f"tenure-demo:{company.seed}:fx")
    base_per_usd = company.per_usd.get(company.base, Decimal(1))
    months = []
    day = _add_months(dt.date(clock.d0.year, clock.d0.month, 1), -1)
    while day <= clock.now_dt.date():
        months.append(day)
        day = _add_months(day, 1)
    rows = []
    foreign = [c[0] for c in company.currencies if c[0] != company.base]
    for code in foreign:
        drift = Decimal(1)
        for month in months:
            drift *= Decimal(1 + rng.uniform(-0.02, 0.02)).quantize(Decimal("0.0001"))
            rate = (company.per_usd[code] / base_per_usd * drift).quantize(Decimal("0.0001"))
            rows.append(ExchangeRate(currency=code, per_base=rate, valid_from=month))
    ExchangeRate.objects.bulk_create(rows, ignore_conflicts=True)
    rates: dict[str, tuple[list[dt.date], list[Decimal]]] = {}
    for code in foreign:
        found = ExchangeRate.objects.filter(currency=code).order_by("valid_from")
        pairs = list(found.values_list("valid_from", "per_base"))
        rates[code] = ([d for d, _ in pairs], [r for _, r in pairs])
    return rates


def _to_base(rates, currency: str, base: str, amount: Decimal, on: dt.date) -> Decimal:
    """:func:`customers.services.currency_to_base`, without a query per row."""
    if currency == base:
        return money(amount)
    days, values = rates[currency]
    position = bisect.bisect_right(days, on) - 1
    if position < 0:
        raise ValueError(f"No {currency} rate on or before {on}")
    return money(Decimal(amount) / values[position])


def demo_seed(
    *,
    accounts: int,
    seed: int,
    now: dt.datetime,
    months: int = 18,
    events_per_account: int = DEFAULT_EVENTS_PER_ACCOUNT,
    chunk_size: int = 1000,
    progress: Callable[[str], None] | None = None,
) -> SeedStats:
    """Build the demo company in one transaction: nothing half-written if it fails.

    Call it on a database without demo accounts (see :func:`demo_flush`).
    """
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress:
            progress(f"{message}  ({time.perf_counter() - started:.1f} s)")

    company = _Company(seed=seed, now=now, months=months, events_per_account=events_per_account)
    stats = SeedStats()
    postgres = connection.vendor == "postgresql"
    with transaction.atomic():
        csms = _ensure_csms()
        rates = _exchange_rates(company)
        # The events-per-account scale: the mean weight of the first stories (all of them for
        # small seeds), so the total lands near accounts × events_per_account.
        sample = [_story(company, i) for i in range(min(accounts, NORMALISE_SAMPLE))]
        company.scale = sum(s.weight for s in sample) / len(sample) or 1.0
        sink = demo_sink(company.clock)
        restore: dict[str, list[str]] = {}
        if postgres:
            restore = postgres_prepare(sink.cursor)
            stats.bulk_tables = list(restore)
            if restore:
                say(f"loading empty tables without secondary indexes: {', '.join(restore)}")
        sink.start([Account, Contact])
        first_id = sink.next_id[Account]
        try:
            for chunk_start in range(0, accounts, chunk_size):
                stories = [
                    sample[i] if i < len(sample) else _story(company, i)
                    for i in range(chunk_start, min(accounts, chunk_start + chunk_size))
                ]
                sink.submit(_render(company, sink, stories, csms, rates, stats))
                say(
                    f"accounts {stats.accounts}/{accounts}, contacts {stats.contacts}, "
                    f"events {stats.events}, daily rows {stats.daily_rows}"
                )
        finally:
            sink.finish()
        sink.close()
        account_table = Account._meta.db_table
        if postgres:
            sink.cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            rebuilt = []
            for table, statements in restore.items():
                if table != account_table:
                    table_started = time.perf_counter()
                    for statement in statements:
                        sink.cursor.execute(statement)
                    rebuilt.append(f"{table} {time.perf_counter() - table_started:.1f} s")
            if rebuilt:
                say(f"indexes and constraints rebuilt: {', '.join(rebuilt)}")
            for model in BULK_MODELS:
                sink.cursor.execute(f"ANALYZE {model._meta.db_table}")
        # MRR, plan, first payment and churn: derived set-based by the service that owns them.
        accounts_refresh_revenue(
            accounts=Account.objects.filter(pk__gte=first_id, pk__lt=sink.next_id[Account]),
            now=company.clock.now_dt,
        )
        for statement in restore.get(account_table, []):
            sink.cursor.execute(statement)
        say("revenue derived")
    stats.seconds = time.perf_counter() - started
    return stats


def _render(company, sink: _Sink, stories: list[Story], csms, rates, stats) -> Batch:
    """A chunk of stories as rows in load order (parents first)."""
    clock, at, now_dt = company.clock, company.clock.at, company.clock.now_dt
    accounts, contacts, revenue, stages, tickets, notes, events, daily = ([] for _ in range(8))
    dates, hms, postgres = sink.dates, sink.hms, isinstance(sink, _PostgresSink)
    for story in stories:
        account_id = sink.allocate(Account, 1)
        first_contact = sink.allocate(Contact, len(story.contacts))
        ids = list(range(first_contact, first_contact + len(story.contacts)))
        rng = company.rng(story.index, "rows")
        owner = csms[story.owner].pk if story.owner is not None else None
        story_tickets = _tickets(company, story, rng)

        # Usage events and their daily rollups, rendered straight into the load format; the
        # latest event of each person gives last seen and the account's last activity.
        days, secs, kinds, who, extra = _usage(company, story, story_tickets, rng)
        types = FIXED_TYPES + [t for t, _ in extra]
        activity = [t not in BILLING_EVENT_TYPES for t in types]
        prefix = f"{story.external_id}-e"
        last_seen = [-1] * (len(ids) + 1)  # the extra slot collects events by nobody
        if postgres:
            head = f"{account_id}\t"
            person = [*map(str, ids), "\\N"]
            kind_text = sink.kind_text + [_copy_text(f"{DEMO_SOURCE}\t{t}\t{p}") for t, p in extra]
            for n, (d, s, k, c) in enumerate(zip(days, secs, kinds, who, strict=True)):
                stamp = f"{dates[d]} {hms[s]}"
                events.append(f"{head}{person[c]}\t{stamp}\t{stamp}\t{kind_text[k]}\t{prefix}{n}\n")
                if activity[k] and d * DAY + s > last_seen[c]:
                    last_seen[c] = d * DAY + s
        else:
            person = [*ids, None]
            props = FIXED_PROPS + [p for _, p in extra]
            for n, (d, s, k, c) in enumerate(zip(days, secs, kinds, who, strict=True)):
                stamp = f"{dates[d]} {hms[s]}"
                events.append(
                    (account_id, person[c], stamp, stamp, DEMO_SOURCE, types[k], props[k], f"{prefix}{n}")
                )  # fmt: skip
                if activity[k] and d * DAY + s > last_seen[c]:
                    last_seen[c] = d * DAY + s
        counts = sorted(Counter(zip(days, map(types.__getitem__, kinds), strict=True)).items())
        if postgres:
            daily.extend(f"{account_id}\t{dates[d]}\t{t}\t{c}\n" for (d, t), c in counts)
        else:
            daily.extend((account_id, dates[d], t, c) for (d, t), c in counts)
        stats.events += len(days)
        last_activity = max(last_seen)
        last_seen.pop()

        month, year = story.card or (None, None)
        stage = story.stages[-1][2] if story.stages else LifecycleStage.AWARENESS
        accounts.append(
            (account_id, story.external_id, story.name, story.domain, story.plan, story.currency,
             owner, stage, story.renewal_date, _json(story.traits), Decimal(0), Decimal(0), month,
             year, len(story.failures), at(max(story.failures)[0]) if story.failures else None,
             at(last_activity) if last_activity >= 0 else None, at(story.signup), now_dt)
        )  # fmt: skip
        for contact, contact_id, seen in zip(story.contacts, ids, last_seen, strict=True):
            contacts.append(
                (contact_id, account_id, contact["external_id"], contact["email"], contact["name"],
                 contact["role"], contact["locale"], contact["birthday"], contact["do_not_survey"],
                 "{}", at(seen) if seen >= 0 else None, at(min(contact["created_at"], clock.now - 1)),
                 now_dt)
            )  # fmt: skip
        for n, (kind, when, mrr, plan) in enumerate(story.revenue):
            effective = at(when)
            base = _to_base(rates, story.currency, company.base, mrr, effective.date())
            revenue.append(
                (account_id, f"{story.external_id}-r{n:03d}", kind, effective, mrr,
                 story.currency, base, plan, effective)
            )  # fmt: skip
        for when, from_stage, to_stage, by_owner in story.stages:
            by = owner if by_owner else None
            stages.append((account_id, from_stage, to_stage, by, DEMO_SOURCE, at(when)))
        for t in story_tickets:
            closed = at(t["closed"]) if t["closed"] is not None else None
            tickets.append(
                (account_id, ids[t["contact"]], t["external_id"], t["subject"], t["priority"],
                 "open" if closed is None else "closed", at(t["opened"]), closed)
            )  # fmt: skip
        if owner and story.contacts and rng.random() < 0.25:
            for _ in range(rng.randint(1, 3)):
                body = rng.choice(NOTE_TEMPLATES).format(name=rng.choice(story.contacts)["name"])
                notes.append((account_id, owner, body, at(rng.randrange(story.signup, clock.now))))

    stats.accounts += len(accounts)
    stats.contacts += len(contacts)
    stats.revenue_changes += len(revenue)
    stats.tickets += len(tickets)
    stats.daily_rows += len(daily)
    return Batch(
        rows=[
            (Account, ACCOUNT_COLUMNS, accounts),
            (Contact, CONTACT_COLUMNS, contacts),
            (RevenueChange, REVENUE_COLUMNS, revenue),
            (StageChange, STAGE_COLUMNS, stages),
            (Ticket, TICKET_COLUMNS, tickets),
            (Note, NOTE_COLUMNS, notes),
        ],
        rendered=[(UsageEvent, EVENT_COLUMNS, events), (DailyUsage, DAILY_COLUMNS, daily)],
    )


def demo_flush() -> int:
    """Remove every demo account and what hangs off it; nothing else. Events and rollups go
    first as plain DELETEs (Django's fast path) so the cascade does not walk millions of rows
    in Python."""
    demo_accounts = Account.objects.filter(external_id__startswith=DEMO_PREFIX)
    with transaction.atomic():
        UsageEvent.objects.filter(account__in=demo_accounts).delete()
        DailyUsage.objects.filter(account__in=demo_accounts).delete()
        count = demo_accounts.count()
        demo_accounts.delete()
    return count
