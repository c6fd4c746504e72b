"""Customers as a SaaS company knows them: accounts, the people at them, what they pay and
what they do in the product.

Invariants that matter enough to be enforced by the database live in ``Meta.constraints``;
everything that writes goes through ``customers.services``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone


class LifecycleStage(models.TextChoices):
    AWARENESS = "awareness", "Awareness"
    CONVERSION = "conversion", "Conversion"
    PURCHASE = "purchase", "Purchase"
    ONBOARDING = "onboarding", "Onboarding"
    RENEWAL = "renewal", "Renewal"
    LOYALTY = "loyalty", "Loyalty (advocate)"

    @classmethod
    def order(cls, stage: str) -> int:
        return list(cls.values).index(stage)


class Locale(models.TextChoices):
    EN = "en", "English"
    NB = "nb", "Norsk bokmål"
    SV = "sv", "Svenska"
    ZH_HANS = "zh-hans", "简体中文"
    RU = "ru", "Русский"


class AccountQuerySet(models.QuerySet):
    def visible_to(self, user) -> AccountQuerySet:
        """Every signed-in role may read the whole book; anonymous users see nothing."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        return self

    def owned_by(self, user) -> AccountQuerySet:
        return self.filter(owner=user)

    def paying(self) -> AccountQuerySet:
        return self.filter(mrr__gt=0)


class Account(models.Model):
    """The paying company. ``mrr`` is derived from :class:`RevenueChange` by the services and
    kept here only so the portfolio can sort 100k accounts without a window query."""

    external_id = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255)
    domain = models.CharField(max_length=255, blank=True)
    plan = models.CharField(max_length=100, blank=True, db_index=True)
    currency = models.CharField(max_length=3, default="USD")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_accounts",
    )
    stage = models.CharField(
        max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.AWARENESS
    )
    renewal_date = models.DateField(null=True, blank=True)
    traits = models.JSONField(default=dict, blank=True)

    # Derived state, maintained by services from the histories below.
    mrr = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"), editable=False)
    mrr_base = models.DecimalField(
        "MRR in base currency",
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        editable=False,
    )
    first_paid_at = models.DateTimeField(null=True, blank=True, editable=False)
    churned_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_activity_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Payment state as the billing system reports it.
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    failed_payments = models.PositiveIntegerField(default=0)
    # The latest health score and band, written by the health app's recompute and kept here,
    # like mrr, so the portfolio can filter and sort 100k accounts without a join.
    health_score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    health_band = models.CharField(
        max_length=10, blank=True, default="", db_default="", editable=False
    )
    last_payment_failed_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            # One per portfolio sort, ending in the id tie-breaker the sort uses, so a page
            # of 50 is read off an index instead of sorting the whole book. The activity sort
            # (NULLS LAST, which SQLite cannot index) and the search indexes are created for
            # PostgreSQL only, in migration 0003.
            models.Index(fields=["owner", "name"]),
            models.Index(fields=["name", "id"], name="account_name_id_idx"),
            models.Index(fields=["stage"]),
            models.Index(fields=["renewal_date", "id"], name="account_renewal_id_idx"),
            models.Index(fields=["mrr_base", "id"], name="account_mrr_id_idx"),
            models.Index(fields=["domain"]),
            models.Index(fields=["health_score", "id"], name="account_health_id_idx"),
            models.Index(fields=["health_band"], name="account_health_band_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(mrr__gte=0), name="account_mrr_non_negative"),
            models.CheckConstraint(
                condition=Q(card_exp_month__isnull=True)
                | Q(card_exp_month__gte=1, card_exp_month__lte=12),
                name="account_card_month_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_paying(self) -> bool:
        return self.mrr > 0


class Contact(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    external_id = models.CharField(max_length=255, unique=True)
    email = models.EmailField(blank=True, db_index=True)
    name = models.CharField(max_length=255, blank=True)
    role = models.CharField(max_length=120, blank=True)
    # Empty = unknown: survey pages then follow the respondent's browser, emails go in English.
    locale = models.CharField(max_length=10, choices=Locale.choices, blank=True, default="")
    birthday = models.DateField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    do_not_survey = models.BooleanField(default=False)
    traits = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "email"]
        indexes = [models.Index(fields=["account", "name"])]

    def __str__(self) -> str:
        return self.name or self.email or self.external_id


class StageChange(models.Model):
    """Every lifecycle move, with who or what made it: the audit trail CSMs ask for."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=LifecycleStage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=LifecycleStage.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    source = models.CharField(max_length=40, default="user")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["account", "-changed_at"])]

    def __str__(self) -> str:
        return f"{self.from_stage or '—'} → {self.to_stage}"


class RevenueKind(models.TextChoices):
    STARTED = "started", "Subscription started"
    CHANGED = "changed", "Subscription changed"
    CANCELLED = "cancelled", "Subscription cancelled"
    REACTIVATED = "reactivated", "Subscription reactivated"


# What RevenueChange.mrr (14 digits, 2 after the point) can hold: every writer refuses an MRR
# at or above it, before rounding (1e30 does not round to cents).
MRR_LIMIT = Decimal("1000000000000")


class RevenueChange(models.Model):
    """A dated MRR change. ``mrr`` is the account's MRR from ``effective_at`` on, in the
    account's currency; ``mrr_base`` is that amount converted at entry, so history never moves
    when exchange rates do."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="revenue_changes")
    external_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    kind = models.CharField(max_length=20, choices=RevenueKind.choices)
    effective_at = models.DateTimeField()
    mrr = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    mrr_base = models.DecimalField(max_digits=14, decimal_places=2)
    plan = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["effective_at", "id"]
        indexes = [models.Index(fields=["account", "effective_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(mrr__gte=0), name="revenue_mrr_non_negative"),
            models.CheckConstraint(
                condition=~Q(kind="cancelled") | Q(mrr=0), name="revenue_cancel_is_zero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.mrr} {self.currency}"


class ExchangeRate(models.Model):
    """Units of ``currency`` per one unit of the base currency, from ``valid_from`` on."""

    currency = models.CharField(max_length=3)
    per_base = models.DecimalField(max_digits=18, decimal_places=8)
    valid_from = models.DateField()

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="fx_unique_day"),
            models.CheckConstraint(condition=Q(per_base__gt=0), name="fx_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.per_base} from {self.valid_from}"


class UsageEvent(models.Model):
    """One thing a customer did. ``(source, event_id)`` makes ingestion idempotent."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="events")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL)
    type = models.CharField(max_length=100)
    occurred_at = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=40, default="api")
    event_id = models.CharField(max_length=255)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="usage_event_idempotent")
        ]
        indexes = [models.Index(fields=["account", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.type} at {self.occurred_at:%Y-%m-%d %H:%M}"


class DailyUsage(models.Model):
    """``(account, day, type) -> count``, maintained on ingest; what scores and charts read."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="daily_usage")
    day = models.DateField()
    type = models.CharField(max_length=100)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "day", "type"], name="daily_usage_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.type}: {self.count}"


class TicketPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class TicketStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Ticket(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tickets")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL)
    external_id = models.CharField(max_length=255, unique=True)
    subject = models.CharField(max_length=500)
    priority = models.CharField(
        max_length=10, choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    status = models.CharField(max_length=10, choices=TicketStatus.choices, default="open")
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["account", "-opened_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=models.F("opened_at")),
                name="ticket_closes_after_opening",
            ),
            models.CheckConstraint(
                condition=(Q(status="open") & Q(closed_at__isnull=True))
                | (Q(status="closed") & Q(closed_at__isnull=False)),
                name="ticket_status_matches_closed_at",
            ),
        ]

    def __str__(self) -> str:
        return self.subject


class Note(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="notes"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return self.body[:60]


class ApiKey(models.Model):
    """A bearer key for the ingest API. Only the SHA-256 of the key is stored; the key itself
    is shown once, when it is created."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, to tell keys apart.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ImportKind(models.TextChoices):
    ACCOUNTS = "accounts", "Accounts"
    CONTACTS = "contacts", "Contacts"
    REVENUE = "revenue", "Revenue history"


class ImportStatus(models.TextChoices):
    VALIDATING = "validating", "Validating"
    PREVIEW = "preview", "Ready to confirm"
    INVALID = "invalid", "Has errors"
    IMPORTING = "importing", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """A CSV upload. The file's text is kept in the database, not on a web server's disk, so
    any worker can validate and apply it and nothing is lost when a process dies."""

    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    filename = models.CharField(max_length=255)
    content = models.TextField()
    status = models.CharField(
        max_length=20, choices=ImportStatus.choices, default=ImportStatus.VALIDATING
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_rows = models.PositiveIntegerField(default=0)
    updated_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    preview = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="imports"
    )
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import {self.filename}"


class ParkedMessage(models.Model):
    """A Segment message answered 200 that could not be applied yet: the account or contact it
    names is not known (yet). Segment clients never resend what got a 200, and they send a new
    user's ``identify`` before the ``group`` that creates its account, so such a message is kept
    here and applied when what it waits for appears (customers.ingest.parked). One that waits
    longer than PARKED_MAX_AGE is given up, with its reason kept, never silently deleted."""

    class Waiting(models.TextChoices):
        ACCOUNT = "account", "Account"
        CONTACT = "contact", "Contact"

    source = models.CharField(max_length=40, default="segment")
    kind = models.CharField(max_length=20, help_text="identify, group or track")
    message_id = models.CharField(max_length=255, blank=True, help_text="Segment's messageId.")
    message = models.JSONField(help_text="The message as received (batch context merged in).")
    reason = models.TextField(help_text="Why it could not be applied the last time it was tried.")
    waiting_kind = models.CharField(max_length=10, choices=Waiting.choices)
    waiting_id = models.CharField(max_length=255, help_text="The external id it waits for.")
    received_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_tried_at = models.DateTimeField(null=True, blank=True)
    given_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [
            models.Index(
                fields=["waiting_kind", "waiting_id"],
                condition=Q(given_up_at__isnull=True),
                name="parked_waiting",
            ),
            models.Index(
                fields=["received_at"],
                condition=Q(given_up_at__isnull=True),
                name="parked_pending_age",
            ),
            models.Index(
                fields=["source", "message_id"],
                condition=Q(given_up_at__isnull=True),
                name="parked_pending_message",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} waiting for {self.waiting_kind} {self.waiting_id}"


class Segment(models.Model):
    """A saved, named set of rules over account fields (customers.segments). Who matches is
    computed when asked, never stored here; ``SegmentMember`` records who matched at the last
    membership refresh, so playbooks can act on the accounts that newly entered."""

    class Match(models.TextChoices):
        ALL = "all", "All rules (and)"
        ANY = "any", "Any rule (or)"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, max_length=2000)
    rules = models.JSONField(
        default=list,
        blank=True,
        help_text='A list of {"field", "operator", "value"} objects; see docs/domain/customers.md.',
    )
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="segments",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    members_refreshed_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="The first refresh records who is in; later ones announce who entered.",
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The admin and the segment page both validate through the one rule parser."""
        from customers.segments import rules_clean

        try:
            self.rules = rules_clean(self.rules)
        except ValidationError as error:
            raise ValidationError({"rules": error.messages}) from error


class SegmentMember(models.Model):
    """An account that matched a segment at its last membership refresh, since ``entered_at``.
    Rows are inserted and deleted by ``segment_memberships_refresh`` only."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "account"], name="segment_member_unique")
        ]
        indexes = [models.Index(fields=["account"], name="segment_member_account_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} in {self.segment_id}"
