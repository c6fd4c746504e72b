"""The loyalty program: settings, earning rules, tiers, rewards, and the points ledger.

The ledger (docs/domain/loyalty.md, DESIGN §6) is three tables that always agree:

* ``LedgerEntry`` — every movement of points, immutable, with a unique idempotency key.
* ``Lot`` — points earned together: ``remaining`` of ``amount`` is still held. Spends, expiry
  and clawbacks take from lots (``LotAllocation`` says which entry took how much from which lot).
* ``Member`` — the account's cached ``balance`` (spendable: active lots), ``pending`` (points in
  pending lots) and ``debt`` (points a clawback could not take).

Invariants, proven by ``manage.py reconcile_loyalty``: ``balance + pending == sum(entries)``,
``balance == sum(remaining of active lots)``, ``pending == sum(remaining of pending lots)``;
with nothing pending the balance is exactly the sum of the entries. Every write goes through
``loyalty.services``, which locks the member row for any balance change.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from customers.models import Account, Contact

# ---------------------------------------------------------------------------------------------
# Program setup (edited in the admin; every change is kept in the admin's LogEntry history)
# ---------------------------------------------------------------------------------------------


class ExpiryPolicy(models.TextChoices):
    NEVER = "never", "Points never expire"
    MONTHS_AFTER_EARNING = "months", "Months after earning"


class TierWindow(models.TextChoices):
    ROLLING_12_MONTHS = "rolling", "Rolling 12 months"
    CALENDAR_YEAR = "calendar", "Calendar year"


def _base_currency() -> str:
    return settings.TENURE_BASE_CURRENCY


class LoyaltyProgram(models.Model):
    """The program's settings: one row (pk 1), read with :meth:`current`."""

    SINGLETON_PK = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_PK, editable=False)
    name = models.CharField(max_length=100, default="Rewards")
    enabled = models.BooleanField(default=True)
    point_name = models.CharField(max_length=40, default="point")
    point_name_plural = models.CharField(max_length=40, default="points")
    point_value = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        default=Decimal("0.01"),
        help_text="What one point is worth, in the currency below (for the liability figure).",
    )
    currency = models.CharField(max_length=3, default=_base_currency)
    pending_days = models.PositiveSmallIntegerField(
        default=0, help_text="Days before earned points become spendable (0 = at once)."
    )
    expiry_policy = models.CharField(
        max_length=10, choices=ExpiryPolicy.choices, default=ExpiryPolicy.MONTHS_AFTER_EARNING
    )
    expiry_months = models.PositiveSmallIntegerField(
        default=12, help_text="With 'months after earning': how long a lot of points lives."
    )
    expiry_warning_days = models.PositiveSmallIntegerField(
        default=30, help_text="Warn contacts this many days before their points expire."
    )
    tier_window = models.CharField(
        max_length=10, choices=TierWindow.choices, default=TierWindow.ROLLING_12_MONTHS
    )
    downgrade_grace_days = models.PositiveSmallIntegerField(
        default=30,
        help_text="Days after the window's end before a tier that no longer qualifies is lowered.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "loyalty program"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="loyalty_program_singleton"),
            models.CheckConstraint(
                condition=Q(point_value__gte=0),
                name="loyalty_program_point_value_non_negative",
                violation_error_message="A point's value cannot be negative.",
            ),
            models.CheckConstraint(
                condition=~Q(expiry_policy="months") | Q(expiry_months__gte=1),
                name="loyalty_program_expiry_months_positive",
                violation_error_message="Points that expire after some months need the number of months (1 or more).",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def current(cls) -> LoyaltyProgram:
        """The settings row, created with the defaults the first time it is read."""
        program, _ = cls.objects.get_or_create(pk=cls.SINGLETON_PK)
        return program


class RuleKind(models.TextChoices):
    EVENT = "event", "Product event"
    REVENUE = "revenue", "Paid revenue"
    ANNIVERSARY = "anniversary", "Customer anniversary"
    BIRTHDAY = "birthday", "Contact birthday"
    SURVEY = "survey", "Survey answered"
    REFERRAL = "referral", "Referral"
    MANUAL = "manual", "Manual award"


class CapPeriod(models.TextChoices):
    DAY = "day", "Per day"
    MONTH = "month", "Per month"
    YEAR = "year", "Per year"
    LIFETIME = "lifetime", "Ever"


class EarningRule(models.Model):
    """How points are earned. The engine that applies rules lives beside the services; this is
    only their definition. Rules are disabled, never deleted, once entries refer to them."""

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=RuleKind.choices)
    event_type = models.CharField(
        max_length=100, blank=True, help_text="For product events: the event type that earns."
    )
    points = models.PositiveIntegerField(
        default=0, help_text="Points per occurrence (for referrals: the referrer's points)."
    )
    points_per_unit = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="For paid revenue: points per unit of the base currency paid.",
    )
    referred_points = models.PositiveIntegerField(
        default=0, help_text="For referrals: the referred account's points."
    )
    applies_tier_multiplier = models.BooleanField(default=True)
    cap_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many awards per account per period."
    )
    cap_points = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many points per account per period."
    )
    cap_period = models.CharField(max_length=10, choices=CapPeriod.choices, blank=True)
    active_from = models.DateTimeField(null=True, blank=True)
    active_until = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        indexes = [models.Index(fields=["kind", "event_type"], name="loyalty_rule_kind_event")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="event") | ~Q(event_type=""),
                name="loyalty_rule_event_needs_type",
                violation_error_message="An event rule needs the event type it pays for.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="revenue")
                | Q(points_per_unit__isnull=False, points_per_unit__gt=0),
                name="loyalty_rule_revenue_needs_rate",
                violation_error_message="A revenue rule needs its points per unit of revenue (above 0).",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["revenue", "manual"]) | Q(points__gt=0),
                name="loyalty_rule_points_positive",
                violation_error_message="Give the points this rule pays (above 0).",
            ),
            models.CheckConstraint(
                condition=(Q(cap_count__isnull=True) & Q(cap_points__isnull=True))
                | ~Q(cap_period=""),
                name="loyalty_rule_cap_needs_period",
                violation_error_message="A cap needs the period it counts over (day, week, month, year or lifetime).",
            ),
            models.CheckConstraint(
                condition=Q(active_from__isnull=True)
                | Q(active_until__isnull=True)
                | Q(active_until__gt=F("active_from")),
                name="loyalty_rule_window_ordered",
                violation_error_message="The rule must end after it starts.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def is_active_at(self, when) -> bool:
        return (
            self.enabled
            and (self.active_from is None or self.active_from <= when)
            and (self.active_until is None or when < self.active_until)
        )


class Tier(models.Model):
    """A VIP level, reached by points earned in the program's window. Tiers rank by
    ``threshold`` (unique), so there is no separate order to keep consistent."""

    name = models.CharField(max_length=60, unique=True)
    threshold = models.PositiveIntegerField(
        unique=True, help_text="Points earned in the window to qualify."
    )
    multiplier = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("1.00"),
        help_text="Earned points are multiplied by this (rules may opt out).",
    )
    benefits = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["threshold"]
        constraints = [
            models.CheckConstraint(
                condition=Q(multiplier__gte=1),
                name="loyalty_tier_multiplier_at_least_one",
                violation_error_message="A tier's earn multiplier is 1 or more (1 = no bonus).",
            )
        ]

    def __str__(self) -> str:
        return self.name


class RewardKind(models.TextChoices):
    PERCENT_DISCOUNT = "discount", "Percent discount"
    INVOICE_CREDIT = "credit", "Invoice credit"
    FREE_MONTH = "free_month", "Free month"
    EARLY_ACCESS = "early_access", "Early access to a feature"
    TRAINING_HOURS = "training", "Training hours"
    PHYSICAL = "physical", "Physical goods"


class Reward(models.Model):
    """Something in the catalog. ``value`` means: percent (discount), money in ``currency``
    (credit), months (free month), hours (training); unused for early access and goods."""

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=RewardKind.choices)
    description = models.TextField(blank=True)
    cost_points = models.PositiveIntegerField()
    value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, help_text="For invoice credits.")
    feature = models.CharField(max_length=120, blank=True, help_text="For early access.")
    min_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="rewards"
    )
    per_account_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Redemptions per account, ever (cancelled ones aside)."
    )
    stock = models.PositiveIntegerField(
        null=True, blank=True, help_text="Units left; empty = unlimited."
    )
    active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "cost_points", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cost_points__gt=0),
                name="loyalty_reward_cost_positive",
                violation_error_message="A reward costs at least 1 point.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="discount") | Q(value__isnull=False, value__gt=0, value__lte=100),
                name="loyalty_reward_discount_is_percent",
                violation_error_message="A discount needs its percentage: above 0 and at most 100.",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["credit", "free_month", "training"])
                | Q(value__isnull=False, value__gt=0),
                name="loyalty_reward_needs_value",
                violation_error_message="This kind of reward needs its value: the credit's amount, the free months or the training hours (above 0).",
            ),
            models.CheckConstraint(
                condition=~Q(kind="credit") | Q(currency__regex=r"^[A-Z]{3}$"),
                name="loyalty_reward_credit_needs_currency",
                violation_error_message="An invoice credit needs its currency as a three-letter code, e.g. USD.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="early_access") | ~Q(feature=""),
                name="loyalty_reward_early_access_needs_feature",
                violation_error_message="Early access needs the feature it opens.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def refusal(self, *, tier_threshold: int | None, taken: int, balance: int | None = None) -> str:
        """Why a member may not request this reward now, or "" when it may: "inactive",
        "tier" (``tier_threshold`` is the member's tier's, None without one), "limit"
        (``taken`` = its redemptions of this reward, cancelled aside), "stock", "balance"
        (skipped when ``balance`` is None). One rule for the catalogue pages and for
        ``loyalty.services.redeem``, which checks the balance itself after settling lots.
        Needs ``min_tier`` loaded."""
        if not self.active:
            return "inactive"
        if self.min_tier_id is not None and (
            tier_threshold is None or tier_threshold < self.min_tier.threshold
        ):
            return "tier"
        if self.per_account_limit is not None and taken >= self.per_account_limit:
            return "limit"
        if self.stock is not None and self.stock <= 0:
            return "stock"
        if balance is not None and self.cost_points > balance:
            return "balance"
        return ""


# ---------------------------------------------------------------------------------------------
# Members and the ledger
# ---------------------------------------------------------------------------------------------


class Member(models.Model):
    """The account in the program. Its row is the lock every balance change takes."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="loyalty_member")
    balance = models.IntegerField(default=0, editable=False)
    pending = models.IntegerField(default=0, editable=False)
    debt = models.IntegerField(
        default=0,
        editable=False,
        help_text="Points a clawback could not take; paid first from later earnings.",
    )
    tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        editable=False,
    )
    tier_qualified_at = models.DateTimeField(null=True, blank=True, editable=False)
    tier_review_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="The tier may be lowered from this moment on (window end plus grace).",
    )
    tier_floor = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A manual tier: the member never falls below it while it lasts.",
    )
    tier_floor_expires_at = models.DateTimeField(null=True, blank=True)
    window_points = models.IntegerField(
        default=0,
        editable=False,
        help_text="Points earned in the tier window, as of window_points_at.",
    )
    window_points_at = models.DateTimeField(null=True, blank=True, editable=False)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["tier"], name="loyalty_member_tier")]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="loyalty_balance_gte_0"),
            models.CheckConstraint(condition=Q(pending__gte=0), name="loyalty_pending_gte_0"),
            models.CheckConstraint(condition=Q(debt__gte=0), name="loyalty_debt_gte_0"),
            models.CheckConstraint(
                condition=Q(tier_floor__isnull=False) | Q(tier_floor_expires_at__isnull=True),
                name="loyalty_floor_expiry_needs_floor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} ({self.balance} points)"


class LotState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class EntryKind(models.TextChoices):
    EARN = "earn", "Earned"
    SPEND = "spend", "Spent"
    EXPIRE = "expire", "Expired"
    ADJUST = "adjust", "Adjusted"
    REVERSE = "reverse", "Reversed"


class LedgerEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Ledger entries are immutable: write a new entry instead.")

    def delete(self):
        raise TypeError("Ledger entries are immutable: write a reversing entry instead.")


class LedgerEntry(models.Model):
    """One movement of points, never changed or deleted (refused here, and by a trigger on
    PostgreSQL and SQLite). ``points`` is signed: earn > 0; spend, expire < 0; adjust and
    reverse either way. ``tier_points`` is what the entry adds to the points that qualify for
    a tier (earns, minus clawed-back earns), so a tier window is one indexed sum. ``debt`` is
    what the entry adds to (clawback short of points) or repays from (later credit) the
    member's debt."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    points = models.IntegerField()
    tier_points = models.IntegerField(default=0)
    debt = models.IntegerField(
        default=0,
        help_text="Debt this entry records (a clawback the balance could not cover, > 0) or "
        "repays (< 0); the member's debt is the sum.",
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    reason = models.CharField(max_length=255, blank=True)
    rule = models.ForeignKey(
        EarningRule, null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    # CASCADE only ever acts when the whole member goes (entries are otherwise never
    # deleted): PROTECT would refuse to delete an account that has a reversal.
    related_entry = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reversals",
        help_text="For a reversal: the entry it undoes.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["member", "-created_at"], name="loyalty_entry_member_time"),
            models.Index(fields=["kind", "created_at"], name="loyalty_entry_kind_time"),
            models.Index(fields=["rule", "member", "created_at"], name="loyalty_entry_rule"),
        ]
        constraints = [
            # A clawback that finds nothing to take still records its debt (points 0).
            models.CheckConstraint(
                condition=~Q(points=0) | ~Q(debt=0), name="loyalty_entry_moves_something"
            ),
            models.CheckConstraint(
                condition=~Q(kind="earn") | Q(points__gt=0), name="loyalty_entry_earn_positive"
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["spend", "expire"]) | Q(points__lt=0),
                name="loyalty_entry_spend_expire_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind="reverse") | Q(related_entry__isnull=False),
                name="loyalty_entry_reverse_names_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points:+d}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise TypeError("Ledger entries are immutable: write a new entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Ledger entries are immutable: write a reversing entry instead.")


class Lot(models.Model):
    """Points earned together (by an earn or a positive adjust entry, ``source_entry``).
    Spends take from the active lots that expire first; expiry empties what is left."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="lots")
    source_entry = models.OneToOneField(LedgerEntry, on_delete=models.CASCADE, related_name="lot")
    amount = models.PositiveIntegerField()
    remaining = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=LotState.choices, default=LotState.ACTIVE)
    earned_at = models.DateTimeField(default=timezone.now)
    activates_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["expires_at", "id"]
        indexes = [
            # Spends: a member's active lots, soonest expiry first.
            models.Index(fields=["member", "state", "expires_at"], name="loyalty_lot_spend"),
            # The nightly jobs: due activations and due expiries.
            models.Index(fields=["state", "activates_at"], name="loyalty_lot_activation"),
            models.Index(fields=["state", "expires_at"], name="loyalty_lot_expiry"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="loyalty_lot_amount_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("amount")),
                name="loyalty_lot_remaining_in_range",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["expired", "cancelled"]) | Q(remaining=0),
                name="loyalty_lot_closed_is_empty",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=F("activates_at")),
                name="loyalty_lot_expires_after_activation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.amount} ({self.get_state_display()})"


class LotAllocation(models.Model):
    """How many points an outgoing entry (spend, expire, reverse, negative adjust) took from a
    lot. Points coming back (a cancelled redemption) make a new lot instead of refilling old
    ones, so a lot only ever shrinks."""

    entry = models.ForeignKey(LedgerEntry, on_delete=models.CASCADE, related_name="allocations")
    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="allocations")
    points = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entry", "lot"], name="loyalty_allocation_once"),
            models.CheckConstraint(condition=Q(points__gt=0), name="loyalty_allocation_positive"),
        ]
        indexes = [models.Index(fields=["lot"], name="loyalty_allocation_lot")]

    def __str__(self) -> str:
        return f"{self.points} from lot {self.lot_id}"


class RedemptionState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    FULFILLED = "fulfilled", "Fulfilled"
    CANCELLED = "cancelled", "Cancelled"


class Redemption(models.Model):
    """A reward taken with points: requested → approved → fulfilled, or cancelled (its points
    come back through a reversing entry). The points leave the balance when it is requested."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="redemptions")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    points = models.PositiveIntegerField()
    state = models.CharField(
        max_length=10, choices=RedemptionState.choices, default=RedemptionState.REQUESTED
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    spend_entry = models.OneToOneField(
        LedgerEntry, on_delete=models.CASCADE, related_name="redemption"
    )
    refund_entry = models.OneToOneField(
        LedgerEntry,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="refunded_redemption",
    )
    task = models.ForeignKey(
        "health.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    fulfilled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancel_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["member", "-requested_at"], name="loyalty_redemption_member"),
            models.Index(fields=["state", "requested_at"], name="loyalty_redemption_state"),
            models.Index(fields=["reward", "member"], name="loyalty_redemption_reward"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gt=0), name="loyalty_redemption_points_positive"
            ),
            models.CheckConstraint(
                condition=~Q(state="requested")
                | Q(approved_at__isnull=True, fulfilled_at__isnull=True, cancelled_at__isnull=True),
                name="loyalty_redemption_requested_is_open",
            ),
            models.CheckConstraint(
                condition=~Q(state="approved")
                | Q(
                    approved_at__isnull=False, fulfilled_at__isnull=True, cancelled_at__isnull=True
                ),
                name="loyalty_redemption_approved_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state="fulfilled")
                | Q(fulfilled_at__isnull=False, cancelled_at__isnull=True),
                name="loyalty_redemption_fulfilled_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state="cancelled")
                | Q(
                    cancelled_at__isnull=False,
                    fulfilled_at__isnull=True,
                    refund_entry__isnull=False,
                ),
                name="loyalty_redemption_cancelled_is_refunded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reward} ({self.get_state_display()})"


class TierChangeReason(models.TextChoices):
    UPGRADE = "upgrade", "Qualified for a higher tier"
    DOWNGRADE = "downgrade", "No longer qualified after the window and grace"
    MANUAL = "manual", "Set by hand (tier floor)"
    FLOOR_EXPIRED = "floor_expired", "Manual tier floor ended"


class TierChange(models.Model):
    """The member's tier history, for the account page and its timeline."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=20, choices=TierChangeReason.choices)
    window_points = models.IntegerField(default=0)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["member", "-changed_at"], name="loyalty_tierchange_member")]

    def __str__(self) -> str:
        return f"{self.from_tier or '—'} → {self.to_tier or '—'}"


class LoyaltyLink(models.Model):
    """A contact's link to the customer-facing loyalty page. Only the SHA-256 of the token
    (``secrets.token_urlsafe(32)``) is stored, as for survey links."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="loyalty_links")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["contact", "-created_at"], name="loyalty_link_contact")]

    def __str__(self) -> str:
        return f"Loyalty link for {self.contact}"


class ExpiryWarning(models.Model):
    """One contact warned (or to be warned) about an account's points expiring on one day.

    The row is the durable "warned" mark: it is written before the email goes out and stamped
    ``sent_at`` in the same transaction as the send, so a rerun on the same day (or after the
    cache was lost, or a worker died) never warns twice, and a send that failed is tried again
    by the next run while the expiry is still ahead."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    expires_on = models.DateField(help_text="The UTC day the points expire.")
    points = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "expires_on"], name="loyalty_expiry_warning_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["expires_on"],
                condition=models.Q(sent_at__isnull=True),
                name="loyalty_expiry_warning_unsent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact} — {self.points} points expiring {self.expires_on}"
