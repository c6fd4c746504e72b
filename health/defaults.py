"""The health profiles Tenure ships (docs/domain/health-scores.md): Standard for every account
and Onboarding for accounts younger than 90 days. Created by migration 0002 and, when no
profile exists at all (a flushed test database), again after migrate."""

from decimal import Decimal

STAGE_SCORES = {
    "awareness": 50,
    "conversion": 50,
    "purchase": 60,
    "onboarding": 60,
    "renewal": 70,
    "loyalty": 100,
}

# (group, weight, [(kind, weight, mapping, options)])
STANDARD = [
    (
        "Activity",
        25,
        [
            ("days_since_activity", 2, "linear", {"worst": 30, "best": 0}),
            ("active_contacts", 1, "linear", {"worst": 0, "best": 5}),
        ],
    ),
    (
        "Usage",
        25,
        [
            ("usage_trend", 2, "linear", {"worst": -40, "best": 10}),
            ("usage_breadth", 1, "linear", {"worst": 0, "best": 5}),
            ("seats_used", 1, "linear", {"worst": 20, "best": 80}),
        ],
    ),
    (
        "Voice of the customer",
        20,
        [
            ("nps_latest", 2, "bands", {"bands": [[6, 0], [8, 60]], "above": 100}),
            ("csat_average", 1, "linear", {"worst": 1, "best": 5}),
            ("open_tickets", 1, "bands", {"bands": [[0, 100], [2, 70], [5, 30]], "above": 0}),
            ("oldest_open_ticket_days", 1, "linear", {"worst": 30, "best": 0}),
        ],
    ),
    (
        "Billing",
        20,
        [
            ("failed_payments", 2, "bands", {"bands": [[0, 100], [1, 40]], "above": 0}),
            ("card_expiry_days", 1, "bands", {"bands": [[0, 0], [30, 40]], "above": 100}),
        ],
    ),
    (
        "Relationship",
        10,
        [
            ("csm_sentiment", 1, "linear", {"worst": 0, "best": 100}),
            ("lifecycle_stage", 1, "choices", {"choices": STAGE_SCORES}),
        ],
    ),
]

ONBOARDING = [
    (
        "Activity",
        40,
        [
            ("days_since_activity", 2, "linear", {"worst": 14, "best": 0}),
            ("active_contacts", 1, "linear", {"worst": 0, "best": 3}),
        ],
    ),
    (
        "Usage",
        30,
        [
            ("usage_breadth", 1, "linear", {"worst": 0, "best": 4}),
        ],
    ),
    (
        "Voice of the customer",
        15,
        [
            ("csat_average", 1, "linear", {"worst": 1, "best": 5}),
            ("open_tickets", 1, "bands", {"bands": [[0, 100], [2, 70], [5, 30]], "above": 0}),
        ],
    ),
    (
        "Billing",
        15,
        [
            ("failed_payments", 1, "bands", {"bands": [[0, 100], [1, 40]], "above": 0}),
        ],
    ),
]


def profiles_create(Profile, Group, Measure, using: str = "default") -> None:
    """Create the shipped profiles with the given model classes (historical ones in the data
    migration, the real ones after a flush)."""
    for name, description, priority, is_default, age, groups in [
        ("Standard", "Every account not in a more specific segment.", 100, True, None, STANDARD),
        (
            "Onboarding",
            "Accounts younger than 90 days: activity and breadth count most.",
            10,
            False,
            90,
            ONBOARDING,
        ),
    ]:
        profile = Profile.objects.using(using).create(
            name=name,
            description=description,
            priority=priority,
            is_default=is_default,
            max_account_age_days=age,
        )
        for order, (group_name, group_weight, measures) in enumerate(groups):
            group = Group.objects.using(using).create(
                profile=profile, name=group_name, weight=Decimal(group_weight), order=order
            )
            for kind, weight, mapping, options in measures:
                Measure.objects.using(using).create(
                    group=group,
                    kind=kind,
                    weight=Decimal(weight),
                    mapping=mapping,
                    worst=options.get("worst"),
                    best=options.get("best"),
                    bands=options.get("bands", []),
                    above=options.get("above", 0),
                    choices=options.get("choices", {}),
                )


def profiles_ensure(sender=None, using: str = "default", **kwargs) -> None:
    """post_migrate: put the shipped profiles back when there is no profile at all."""
    from health.models import HealthProfile, Measure, MeasureGroup

    if not HealthProfile.objects.using(using).exists():
        profiles_create(HealthProfile, MeasureGroup, Measure, using=using)


# The signal rules Tenure ships (docs/domain/health.md): every one enabled, editable in the
# admin. (kind, severity, threshold, window days, event types, bands)
SIGNAL_RULES = [
    ("inactive", "high", 30, 30, ["login"], []),
    ("usage_drop", "medium", 40, 30, [], []),
    ("detractor", "high", 6, 90, [], []),
    ("low_csat", "medium", 2, 90, [], []),
    ("low_ces", "medium", 3, 90, [], []),
    ("card_expiring", "low", 30, 30, [], []),
    ("failed_payment", "high", None, 30, ["payment_failed"], []),
    ("data_export", "medium", None, 7, ["data_export"], []),
    ("cancel_page", "high", None, 7, ["cancel_page_visit"], []),
    ("renewal_at_risk", "high", 90, 30, [], ["red", "yellow"]),
    ("stale_ticket", "medium", 14, 30, [], []),
    ("no_csm_touch", "low", 45, 30, [], []),
    ("expansion", "low", 20, 90, [], []),
]


def signal_rules_create(Rule, *, using: str = "default") -> None:
    """Add the shipped rule of every signal that has none; an edited rule is left as it is."""
    have = set(Rule.objects.using(using).values_list("kind", flat=True))
    Rule.objects.using(using).bulk_create(
        [
            Rule(
                kind=kind,
                severity=severity,
                threshold=None if threshold is None else Decimal(threshold),
                window_days=window,
                event_types=types,
                bands=bands,
            )
            for kind, severity, threshold, window, types, bands in SIGNAL_RULES
            if kind not in have
        ]
    )


def signal_rules_ensure(sender=None, using: str = "default", **kwargs) -> None:
    """post_migrate: a flushed test database gets the shipped rules back."""
    from health.models import SignalRule

    signal_rules_create(SignalRule, using=using)
