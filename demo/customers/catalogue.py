"""The demo company's catalogue: plans and prices, currencies, names, people, roles, ticket
subjects, note templates, what people do in the product, and the showcase stories."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

from customers.models import (
    Locale,
    TicketPriority,
)

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
# Accounts 8 onwards: names as a real book of business has them, with ampersands, apostrophes,
# Nordic letters and non-Latin scripts: (name, domain, currency, extra traits). Hostile input
# (markup, stray quotes) is the tests' business, not the first screen a new user sees.
SPECIAL_ACCOUNTS = [
    ("Johnson & Johansson Consulting", "johnsonjohansson.com", "USD", {}),
    ("Bold Moves Media", "boldmoves.io", "USD", {}),
    ("O'Reilly's Kitchen Supply", "oreillyskitchen.com", "USD", {}),
    ("Ærlig Økonomi AS", "aerligokonomi.no", "NOK", {"kommune": "Tromsø"}),
    ("Åkerström & Söner AB", "akerstrom.se", "SEK", {}),
    ("Ладога Аналитика ООО", "ladoga-analitika.ru", "EUR", {"город": "Санкт-Петербург"}),
    ("北京星云数据科技有限公司", "xingyun-data.cn", "USD", {"城市": "北京"}),
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


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# Event "kinds" are (type, properties as JSON) pairs. The fixed ones are indexed here; kinds
# that carry per-account properties (tickets, payment amounts) are appended per account.
FIXED_KINDS = [(t, compact_json(p)) for t, p, _ in USER_KINDS]
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
