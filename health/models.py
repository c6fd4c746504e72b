"""Health profiles (set up in the admin), one snapshot per account per day, manual overrides
and the CSM's own sentiment (docs/domain/health-scores.md)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from customers.models import Account, Contact, LifecycleStage
from health import scoring


class MeasureKind(models.TextChoices):
    """The inputs a measure can read; each is computed for every account set-based."""

    DAYS_SINCE_ACTIVITY = "days_since_activity", "Days since last activity"
    ACTIVE_CONTACTS = "active_contacts", "Contacts active in the last 30 days"
    USAGE_TREND = "usage_trend", "Usage, last 30 days against the 30 before (%)"
    USAGE_BREADTH = "usage_breadth", "Event types used in the last 30 days"
    SEATS_USED = "seats_used", "Seats used (% of seats, from traits)"
    NPS_LATEST = "nps_latest", "Latest NPS answer (0–10)"
    CSAT_AVERAGE = "csat_average", "CSAT average, last 90 days (1–5)"
    OPEN_TICKETS = "open_tickets", "Open tickets"
    OLDEST_OPEN_TICKET_DAYS = "oldest_open_ticket_days", "Age of the oldest open ticket (days)"
    FAILED_PAYMENTS = "failed_payments", "Failed payments"
    CARD_EXPIRY_DAYS = "card_expiry_days", "Days until the card expires"
    CSM_SENTIMENT = "csm_sentiment", "CSM sentiment (0 poor, 50 fair, 100 good)"
    LIFECYCLE_STAGE = "lifecycle_stage", "Lifecycle stage"


class Mapping(models.TextChoices):
    LINEAR = scoring.LINEAR, "Linear between worst and best"
    BANDS = scoring.BANDS, "Bands"
    CHOICES = scoring.CHOICES, "Named values"


class Band(models.TextChoices):
    RED = scoring.RED, "Red"
    YELLOW = scoring.YELLOW, "Yellow"
    GREEN = scoring.GREEN, "Green"


class HealthProfile(models.Model):
    """A way of scoring a segment of accounts. The first profile by ``priority`` whose segment
    an account is in scores it; a default profile takes the rest."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    priority = models.PositiveSmallIntegerField(
        default=100, help_text="Profiles are tried from the lowest number up."
    )
    is_default = models.BooleanField(
        default=False, help_text="Scores the accounts no other profile's segment takes."
    )
    max_account_age_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Only accounts younger than this many days (e.g. 90 for onboarding).",
    )
    stages = models.JSONField(
        default=list, blank=True, help_text="Only accounts in these lifecycle stages; empty: any."
    )
    red_max = models.PositiveSmallIntegerField(
        default=50, validators=[MaxValueValidator(99)], help_text="Scores up to this are red."
    )
    yellow_max = models.PositiveSmallIntegerField(
        default=75,
        validators=[MaxValueValidator(99)],
        help_text="Up to this, yellow; above, green.",
    )

    class Meta:
        ordering = ["priority", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="health_one_default_profile",
            ),
            models.CheckConstraint(
                condition=models.Q(red_max__lt=models.F("yellow_max")),
                name="health_bands_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if None not in (self.red_max, self.yellow_max) and self.red_max >= self.yellow_max:
            raise ValidationError({"yellow_max": "Yellow must start above red."})
        unknown = set(self.stages or []) - set(LifecycleStage.values)
        if unknown:
            raise ValidationError({"stages": f"Unknown stages: {', '.join(sorted(unknown))}."})


class MeasureGroup(models.Model):
    profile = models.ForeignKey(HealthProfile, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=60)
    weight = models.DecimalField(
        max_digits=6, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["profile", "name"], name="health_group_name_once"),
            models.CheckConstraint(condition=models.Q(weight__gt=0), name="health_group_weight"),
        ]

    def __str__(self) -> str:
        return f"{self.profile} · {self.name}"


class Measure(models.Model):
    group = models.ForeignKey(MeasureGroup, on_delete=models.CASCADE, related_name="measures")
    kind = models.CharField(max_length=40, choices=MeasureKind.choices)
    weight = models.DecimalField(
        max_digits=6, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    mapping = models.CharField(max_length=10, choices=Mapping.choices, default=Mapping.LINEAR)
    worst = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text="Linear: scores 0."
    )
    best = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text="Linear: scores 100."
    )
    bands = models.JSONField(
        default=list,
        blank=True,
        help_text="Bands: [[upper bound, score], …] ascending, e.g. [[0, 100], [2, 50]].",
    )
    above = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)], help_text="Bands: score above the last."
    )
    choices = models.JSONField(
        default=dict, blank=True, help_text='Named values: {"onboarding": 60, "loyalty": 100}.'
    )

    class Meta:
        ordering = ["group", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(weight__gt=0), name="health_measure_weight"),
        ]

    def __str__(self) -> str:
        return f"{self.group} · {self.get_kind_display()}"

    def clean(self) -> None:
        if self.mapping == Mapping.LINEAR:
            if self.worst is None or self.best is None:
                raise ValidationError({"best": "A linear measure needs a worst and a best value."})
            if self.worst == self.best:
                raise ValidationError({"best": "Best must differ from worst."})
        elif self.mapping == Mapping.BANDS:
            bands = self.bands
            valid = (
                isinstance(bands, list)
                and bands
                and all(
                    isinstance(b, list | tuple)
                    and len(b) == 2
                    and all(isinstance(x, int | float) and not isinstance(x, bool) for x in b)
                    and 0 <= b[1] <= 100
                    for b in bands
                )
            )
            if not valid:
                raise ValidationError(
                    {"bands": "Give [[upper bound, score 0–100], …], e.g. [[0, 100], [2, 50]]."}
                )
            uppers = [b[0] for b in bands]
            if uppers != sorted(set(uppers)):
                raise ValidationError({"bands": "Upper bounds must rise from band to band."})
        elif self.mapping == Mapping.CHOICES:
            choices = self.choices
            if (
                not isinstance(choices, dict)
                or not choices
                or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 100
                    for v in choices.values()
                )
            ):
                raise ValidationError({"choices": 'Give {"value": score 0–100, …}.'})

    def spec(self) -> scoring.MeasureSpec:
        return scoring.MeasureSpec(
            key=f"m{self.pk}",
            kind=self.kind,
            weight=float(self.weight),
            mapping=self.mapping,
            worst=None if self.worst is None else float(self.worst),
            best=None if self.best is None else float(self.best),
            bands=[(float(u), float(s)) for u, s in self.bands or []],
            above=float(self.above),
            choices={str(k): float(v) for k, v in (self.choices or {}).items()},
        )


class Source(models.TextChoices):
    COMPUTED = "computed", "Computed"
    OVERRIDE = "override", "Manual override"
    FROZEN = "frozen", "Frozen (churned)"


class HealthSnapshot(models.Model):
    """An account's health on one day. A recompute on the same day replaces it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="health_snapshots")
    day = models.DateField()
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    band = models.CharField(max_length=10, choices=Band.choices, blank=True)
    components = models.JSONField(default=dict, blank=True)
    profile = models.ForeignKey(
        HealthProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.COMPUTED)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "day"], name="health_one_snapshot_a_day"),
        ]
        indexes = [models.Index(fields=["day", "band"], name="health_day_band")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day}: {self.score} {self.band}"


class HealthOverride(models.Model):
    """A CSM's judgement that replaces the computed score until it expires."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="health_overrides")
    score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    reason = models.TextField()
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["account", "-expires_at"], name="health_override_live")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__lte=100), name="health_override_score"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.score} until {self.expires_at:%Y-%m-%d}"

    def clean(self) -> None:
        if not (self.reason or "").strip():
            raise ValidationError({"reason": "Say why the score is overridden."})
        if self.expires_at and self.expires_at <= timezone.now():
            raise ValidationError({"expires_at": "An override must end in the future."})


class Sentiment(models.IntegerChoices):
    POOR = 0, "Poor"
    FAIR = 50, "Fair"
    GOOD = 100, "Good"


class CsmSentiment(models.Model):
    """How the account's CSM feels about it, set by hand; one of the score's measures."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="csm_sentiment")
    value = models.PositiveSmallIntegerField(choices=Sentiment.choices)
    note = models.CharField(max_length=500, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.account_id}: {self.get_value_display()}"


class HealthDirty(models.Model):
    """An account whose inputs changed since its score was last computed: the incremental
    recompute takes these rows, scores the accounts and deletes the rows it covered."""

    account = models.OneToOneField(
        Account, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    marked_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.account_id} since {self.marked_at:%Y-%m-%d %H:%M:%S}"


# --- risk signals and alerts (docs/domain/health.md) -----------------------------------------


class SignalKind(models.TextChoices):
    """What a signal watches. Each has one rule row (SignalRule) holding its settings."""

    INACTIVE = "inactive", "Inactive"
    USAGE_DROP = "usage_drop", "Usage falling"
    DETRACTOR = "detractor", "Detractor answer"
    LOW_CSAT = "low_csat", "Low CSAT answer"
    LOW_CES = "low_ces", "Low CES answer"
    CARD_EXPIRING = "card_expiring", "Card expiring"
    FAILED_PAYMENT = "failed_payment", "Failed payment"
    DATA_EXPORT = "data_export", "Data export"
    CANCEL_PAGE = "cancel_page", "Cancel-page visit"
    RENEWAL_AT_RISK = "renewal_at_risk", "Renewal at risk"
    STALE_TICKET = "stale_ticket", "Stale high-priority ticket"
    NO_CSM_TOUCH = "no_csm_touch", "No CSM touch"
    EXPANSION = "expansion", "Expansion opportunity"


# The one positive signal: it flags an opportunity, not a risk.
POSITIVE_SIGNALS = frozenset({SignalKind.EXPANSION})


class Severity(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


SEVERITY_ORDER = {Severity.HIGH: 0, Severity.MEDIUM: 1, Severity.LOW: 2}

# What each rule's threshold and window mean, shown in the admin beside the rule.
RULE_HELP: dict[str, str] = {
    SignalKind.INACTIVE: "Threshold: days without one of the event types (login).",
    SignalKind.USAGE_DROP: "Threshold: % fall of the last 30 days' events against the 30 before.",
    SignalKind.DETRACTOR: "Threshold: highest NPS that counts (6). Window: days an answer counts.",
    SignalKind.LOW_CSAT: "Threshold: highest CSAT (1–5) that counts. Window: days it counts.",
    SignalKind.LOW_CES: "Threshold: highest CES (1–7) that counts. Window: days it counts.",
    SignalKind.CARD_EXPIRING: "Threshold: days before the card's expiry month ends.",
    SignalKind.FAILED_PAYMENT: "Window: days a failure counts unless a payment succeeds after it.",
    SignalKind.DATA_EXPORT: "Window: days one of the event types counts.",
    SignalKind.CANCEL_PAGE: "Window: days one of the event types counts.",
    SignalKind.RENEWAL_AT_RISK: "Threshold: days before the renewal date. Bands: which count.",
    SignalKind.STALE_TICKET: "Threshold: days a high or urgent ticket has been open.",
    SignalKind.NO_CSM_TOUCH: "Threshold: days since a CSM's note, follow-up or alert action.",
    SignalKind.EXPANSION: "Threshold: % rise of usage; the account must also be green and "
    "near its seats or plan limit (≥ 90 % used; traits seats_used/seats, "
    "plan_usage/plan_limit), a promoter or CSAT ≥ 4. Window: days an answer counts.",
}
EVENT_SIGNALS = frozenset(
    {
        SignalKind.INACTIVE,
        SignalKind.FAILED_PAYMENT,
        SignalKind.DATA_EXPORT,
        SignalKind.CANCEL_PAGE,
    }
)
THRESHOLD_SIGNALS = frozenset(SignalKind.values) - {
    SignalKind.FAILED_PAYMENT,
    SignalKind.DATA_EXPORT,
    SignalKind.CANCEL_PAGE,
}


class SignalRule(models.Model):
    """The settings of one signal, edited in the admin; the next recompute applies them."""

    kind = models.CharField(max_length=30, choices=SignalKind.choices, unique=True)
    enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    threshold = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    window_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    event_types = models.JSONField(
        default=list, blank=True, help_text='Event types it watches, e.g. ["data_export"].'
    )
    bands = models.JSONField(default=list, blank=True, help_text='e.g. ["red", "yellow"].')

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.get_kind_display()

    @property
    def help(self) -> str:
        return RULE_HELP.get(self.kind, "")

    def clean(self) -> None:
        if self.kind in THRESHOLD_SIGNALS and self.threshold is None:
            raise ValidationError({"threshold": f"This signal needs one. {self.help}"})
        if self.threshold is not None and self.threshold < 0:
            raise ValidationError({"threshold": "A threshold cannot be negative."})
        if self.kind in EVENT_SIGNALS:
            types = self.event_types
            if (
                not isinstance(types, list)
                or not types
                or not all(isinstance(t, str) and t.strip() and len(t) <= 100 for t in types)
            ):
                raise ValidationError(
                    {"event_types": 'Give a list of event types, e.g. ["data_export"].'}
                )
        if self.kind == SignalKind.RENEWAL_AT_RISK:
            bands = self.bands
            if (
                not isinstance(bands, list)
                or not bands
                or not set(map(str, bands)) <= set(Band.values)
            ):
                raise ValidationError({"bands": 'Give bands from "red", "yellow", "green".'})


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    SNOOZED = "snoozed", "Snoozed"
    CLOSED = "closed", "Closed"


LIVE_ALERT = ~models.Q(status=AlertStatus.CLOSED)


class AlertQuerySet(models.QuerySet):
    def live(self) -> AlertQuerySet:
        return self.exclude(status=AlertStatus.CLOSED)

    def for_owner(self, user) -> AlertQuerySet:
        return self.filter(owner=user)

    def worst_first(self) -> AlertQuerySet:
        """Risks before opportunities, then by severity, newest first: the order CSMs read
        alerts in, on the account page and on their day alike."""
        positive = models.Case(models.When(kind__in=list(POSITIVE_SIGNALS), then=1), default=0)
        severity = models.Case(
            *(models.When(severity=s, then=rank) for s, rank in SEVERITY_ORDER.items()),
            default=len(SEVERITY_ORDER),
        )
        return self.order_by(positive, severity, "-opened_at", "-pk")


class Alert(models.Model):
    """A signal that fired for an account. At most one open or snoozed alert per account and
    signal; it closes itself when the signal's condition clears."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=30, choices=SignalKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    reason = models.CharField(max_length=500)
    facts = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=AlertStatus.choices, default="open")
    snoozed_until = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind"], condition=LIVE_ALERT, name="health_one_live_alert"
            ),
            models.CheckConstraint(
                condition=~models.Q(status=AlertStatus.SNOOZED)
                | models.Q(snoozed_until__isnull=False),
                name="health_snooze_has_end",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "status", "opened_at"], name="health_alert_owner"),
            models.Index(fields=["status", "opened_at"], name="health_alert_status"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.account_id} ({self.status})"

    @property
    def positive(self) -> bool:
        return self.kind in POSITIVE_SIGNALS


class AlertAction(models.TextChoices):
    OPENED = "opened", "Opened"
    SNOOZED = "snoozed", "Snoozed"
    WOKE = "woke", "Snooze ended"
    CLOSED = "closed", "Closed"
    CLEARED = "cleared", "Closed: condition cleared"


class AlertEvent(models.Model):
    """What happened to an alert and who did it: the account timeline reads these."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=10, choices=AlertAction.choices)
    note = models.CharField(max_length=500, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["account", "-at"], name="health_alert_event_account")]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.action} {self.at:%Y-%m-%d %H:%M}"


# --- playbooks, CSM tasks and playbook emails (docs/domain/playbooks.md) ---------------------


class Trigger(models.TextChoices):
    ALERT_OPENED = "alert_opened", "An alert opens"
    ALERT_CLEARED = "alert_cleared", "An alert clears by itself"
    SEGMENT_ENTRY = "segment_entry", "An account enters a segment"
    STAGE_CHANGE = "stage_change", "The lifecycle stage changes to"
    CHURNED = "churned", "The account churns"
    SCHEDULE = "schedule", "On a schedule"


class Playbook(models.Model):
    """A trigger and the steps it starts for the account: CSM tasks and emails to its
    contacts. A trigger that fires twice for the same cause starts the play once."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    alert_kind = models.CharField(
        max_length=30, choices=SignalKind.choices, blank=True, help_text="Alert triggers."
    )
    min_alert_days = models.PositiveSmallIntegerField(
        default=0,
        help_text="Alert cleared: only if it had been open at least this many days "
        "(a long pause, for welcome-back).",
    )
    stage = models.CharField(
        max_length=20, choices=LifecycleStage.choices, blank=True, help_text="Stage changes."
    )
    segment = models.ForeignKey(
        "customers.Segment",
        null=True,
        blank=True,
        # A play keyed to a segment loses its trigger if the segment goes: refuse the delete
        # (the segment page names who keeps it), as campaigns do.
        on_delete=models.PROTECT,
        related_name="playbooks",
        help_text="Segment entries.",
    )
    every_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Schedule: every this many days, for every live account."
    )
    churned_within_days = models.PositiveSmallIntegerField(
        default=30, help_text="Churn: accounts that churned this recently (a later sweep)."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        needs = {
            Trigger.ALERT_OPENED: ("alert_kind", self.alert_kind),
            Trigger.ALERT_CLEARED: ("alert_kind", self.alert_kind),
            Trigger.STAGE_CHANGE: ("stage", self.stage),
            Trigger.SEGMENT_ENTRY: ("segment", self.segment_id),
            Trigger.SCHEDULE: ("every_days", self.every_days),
        }.get(self.trigger)
        if needs is not None and not needs[1]:
            raise ValidationError({needs[0]: "This trigger needs it."})


class StepKind(models.TextChoices):
    TASK = "task", "CSM task"
    EMAIL = "email", "Email to the account's contacts"


class PlaybookStep(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=StepKind.choices)
    days_after = models.PositiveSmallIntegerField(
        default=0, help_text="Task: due this many days after the trigger. Email: sent then."
    )
    title = models.CharField(max_length=200, help_text="Task title (or the email's name).")
    body = models.TextField(blank=True, help_text="Task: what to do.")
    contact_roles = models.JSONField(
        default=list,
        blank=True,
        help_text='Email: only contacts with these roles, e.g. ["admin"]; empty: every contact.',
    )

    class Meta:
        ordering = ["playbook", "order", "pk"]

    def __str__(self) -> str:
        return f"{self.playbook} · {self.title}"


class PlaybookEmailText(models.Model):
    """An email step's subject and body in one language. Placeholders: {contact_name},
    {account_name}, {csm_name}. The contact's language is used, else English."""

    step = models.ForeignKey(PlaybookStep, on_delete=models.CASCADE, related_name="texts")
    language = models.CharField(max_length=10, choices=settings.LANGUAGES)
    subject = models.CharField(max_length=200)
    body = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["step", "language"], name="health_step_text_once")
        ]

    def __str__(self) -> str:
        return f"{self.step} [{self.language}]"


class PlaybookRun(models.Model):
    """A play started for an account by one cause (``cause``: e.g. ``alert:41``); unique, so a
    trigger firing twice starts nothing more."""

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="runs")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="playbook_runs")
    cause = models.CharField(max_length=100)
    started_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["playbook", "account", "cause"], name="health_run_once_per_cause"
            )
        ]
        indexes = [models.Index(fields=["account", "-started_at"], name="health_run_account")]

    def __str__(self) -> str:
        return f"{self.playbook} for {self.account_id} ({self.cause})"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"


class Task(models.Model):
    """Work for a CSM on an account: from a playbook step, or written by hand."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tasks")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default="open")
    run = models.ForeignKey(
        PlaybookRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    step = models.ForeignKey(
        PlaybookStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_on", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["run", "step"], name="health_task_once_per_step")
        ]
        indexes = [
            models.Index(fields=["owner", "status", "due_on"], name="health_task_owner"),
            models.Index(fields=["status", "due_on"], name="health_task_status"),
        ]

    def __str__(self) -> str:
        return self.title


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Waiting to go"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Not sent"


class PlaybookEmail(models.Model):
    """One playbook email to one contact: written when the play starts, sent by the outbox
    job when due. Unique per (run, step, contact), so a replay sends nothing twice."""

    run = models.ForeignKey(PlaybookRun, on_delete=models.CASCADE, related_name="emails")
    step = models.ForeignKey(PlaybookStep, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    send_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=EmailStatus.choices, default="pending")
    language = models.CharField(max_length=10, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "step", "contact"], name="health_email_once_per_contact"
            )
        ]
        indexes = [
            models.Index(fields=["status", "send_at"], name="health_email_due"),
            models.Index(fields=["contact", "sent_at"], name="health_email_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.step} to {self.contact_id} ({self.status})"


class EmailOptOut(models.Model):
    """A contact who asked for no more customer-success emails (the unsubscribe link)."""

    contact = models.OneToOneField(
        Contact, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    opted_out_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.contact_id} since {self.opted_out_at:%Y-%m-%d}"
