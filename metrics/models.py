"""Stored figures for the revenue dashboards (docs/domain/revenue.md, "Monthly revenue facts").

``AccountMonth`` and ``RevenueMonth`` are derived from ``customers.RevenueChange`` by one
set-based rebuild (``metrics.services.account_months_rebuild``) and never edited by hand: a
rebuild deletes and reinserts them, so rerunning it gives the same rows. ``PeriodFinance``
is entered in the admin: what the revenue history cannot know (gross margin, CAC).
``AccountRfm`` holds each account's latest RFM scores (docs/domain/rfm.md), replaced as a
whole by the nightly ``metrics.rfm.rfm_recompute``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce

from customers.models import Account

MOVEMENT_KINDS = [
    ("new", "New"),
    ("expansion", "Expansion"),
    ("contraction", "Contraction"),
    ("churn", "Churn"),
    ("reactivation", "Reactivation"),
]


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"), **kwargs)


class AccountMonth(models.Model):
    """One account in one calendar month: its MRR (base currency) at the month's start and
    end and the month's net movement. Rows exist from the account's first paid month on,
    for the months it pays at either end (or paid twelve months before, for annual NRR).
    ``plan`` and ``owner`` are the account's at the rebuild, like the dashboards' filters."""

    # No index of its own: the (account, month) unique constraint's index serves the joins,
    # and every index costs the rebuild (~600k rows at 100k accounts) time to maintain.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    month = models.DateField(help_text="First day of the month.")
    cohort_month = models.DateField(help_text="First month the account ended paying.")
    plan = models.CharField(max_length=100, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,  # a snapshot: a deleted user must not block or rewrite history
        db_index=False,  # owner filters read RevenueMonth, never these rows by owner
    )
    opening_mrr = _money()
    closing_mrr = _money()
    movement = models.CharField(max_length=12, choices=MOVEMENT_KINDS, blank=True)
    movement_mrr = _money()
    first_churn = models.BooleanField(
        default=False, help_text="This month's churn is the account's first (sBG survival)."
    )
    year_ago_mrr = _money(help_text="Closing MRR twelve months before (annual NRR).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "month"], name="account_month_unique"),
            models.CheckConstraint(
                condition=Q(opening_mrr__gte=0, closing_mrr__gte=0, movement_mrr__gte=0),
                name="account_month_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(movement="", movement_mrr=0) | ~Q(movement=""),
                name="account_month_no_movement_no_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["month", "movement"], name="account_month_movement_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.month:%Y-%m}"


class RevenueMonth(models.Model):
    """``AccountMonth`` summed per (month, cohort, plan, owner): the unfiltered and the plan-
    or owner-filtered dashboards read a few hundred of these rows instead of every account."""

    month = models.DateField()
    cohort_month = models.DateField()
    plan = models.CharField(max_length=100, blank=True)
    owner_id = models.BigIntegerField(null=True, blank=True)
    opening_mrr = _money()
    closing_mrr = _money()
    new_mrr = _money()
    expansion_mrr = _money()
    contraction_mrr = _money()
    churn_mrr = _money()
    reactivation_mrr = _money()
    paying_start = models.PositiveIntegerField(default=0)
    paying_end = models.PositiveIntegerField(default=0)
    new_logos = models.PositiveIntegerField(default=0)
    churned_logos = models.PositiveIntegerField(default=0)
    reactivated_logos = models.PositiveIntegerField(default=0)
    first_churns = models.PositiveIntegerField(default=0)
    year_ago_mrr = _money(help_text="MRR twelve months before of the accounts paying then.")
    year_ago_now_mrr = _money(help_text="Their MRR this month (annual NRR's numerator).")

    class Meta:
        constraints = [
            # No owner counts as one owner (0): NULLs would otherwise never collide.
            models.UniqueConstraint(
                "month",
                "cohort_month",
                "plan",
                Coalesce("owner_id", Value(0)),
                name="revenue_month_unique",
            )
        ]
        indexes = [models.Index(fields=["month"], name="revenue_month_month_idx")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} cohort {self.cohort_month:%Y-%m}"


class PeriodFinance(models.Model):
    """Per month, what finance knows and the revenue history does not: the gross margin (for
    LTV) and the cost to acquire a customer (for LTV:CAC). A month without a row uses the
    latest earlier one."""

    month = models.DateField(unique=True, help_text="First day of the month.")
    gross_margin = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="A fraction: 0.80 is 80 %.",
    )
    cac = models.DecimalField(
        "CAC",
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Cost to acquire one customer, in the base currency.",
    )

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.CheckConstraint(
                condition=Q(gross_margin__gte=0, gross_margin__lte=1),
                name="period_finance_margin_fraction",
            ),
            models.CheckConstraint(
                condition=Q(cac__isnull=True) | Q(cac__gt=0), name="period_finance_cac_positive"
            ),
            models.CheckConstraint(condition=Q(month__day=1), name="period_finance_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"

    def clean(self) -> None:
        if self.month and self.month.day != 1:
            raise ValidationError({"month": "Enter the first day of the month."})


class RfmSegment(models.TextChoices):
    """The ten segments of DESIGN §4's (R, F) map, in the order the pages list them (best
    first). Keys are what URLs and segment rules carry."""

    CHAMPIONS = "champions", "Champions"
    LOYAL = "loyal", "Loyal"
    POTENTIAL_LOYALIST = "potential_loyalist", "Potential loyalist"
    NEW = "new", "New"
    PROMISING = "promising", "Promising"
    NEED_ATTENTION = "need_attention", "Need attention"
    ABOUT_TO_SLEEP = "about_to_sleep", "About to sleep"
    AT_RISK = "at_risk", "At risk"
    CANT_LOSE_THEM = "cant_lose_them", "Can't lose them"
    HIBERNATING = "hibernating", "Hibernating"


class RfmBasis(models.TextChoices):
    """What R and F were measured on: payments for paying accounts, product activity for free
    ones. Quintiles are ranked within each basis (docs/domain/rfm.md)."""

    PAYING = "paying", "Payments"
    FREE = "free", "Activity (free account)"


class AccountRfm(models.Model):
    """An account's latest RFM scores, replaced as a whole by ``metrics.rfm.rfm_recompute``.
    Accounts with no payment and no activity in the 12-month window have no row: they are
    not scored."""

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, primary_key=True, related_name="rfm"
    )
    basis = models.CharField(max_length=10, choices=RfmBasis.choices)
    last_on = models.DateField(help_text="The last payment (paying) or active day (free).")
    recency_days = models.PositiveIntegerField()
    frequency = models.PositiveIntegerField()
    monetary = models.DecimalField(
        max_digits=16, decimal_places=2, help_text="Revenue in the window, base currency."
    )
    r = models.PositiveSmallIntegerField()
    f = models.PositiveSmallIntegerField()
    m = models.PositiveSmallIntegerField(null=True, blank=True, help_text="None for free accounts.")
    segment = models.CharField(max_length=20, choices=RfmSegment.choices)
    as_of = models.DateField(help_text="The day the scores describe.")
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = "account RFM score"
        indexes = [
            # The portfolio's ?rfm= filter and the dashboard's per-segment counts.
            models.Index(fields=["segment", "account"], name="rfm_segment_account_idx"),
            models.Index(fields=["r", "f"], name="rfm_r_f_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(r__gte=1, r__lte=5), name="rfm_r_1_5"),
            models.CheckConstraint(condition=Q(f__gte=1, f__lte=5), name="rfm_f_1_5"),
            models.CheckConstraint(
                condition=Q(m__isnull=True) | Q(m__gte=1, m__lte=5), name="rfm_m_1_5"
            ),
            models.CheckConstraint(
                condition=Q(monetary__gte=Decimal("0")), name="rfm_monetary_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(segment__in=RfmSegment.values), name="rfm_segment_known"
            ),
            models.CheckConstraint(condition=Q(basis__in=RfmBasis.values), name="rfm_basis_known"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: R{self.r} F{self.f} M{self.m or '-'} {self.segment}"


class RfmRun(models.Model):
    """One completed ``rfm_recompute``, written in the same transaction as the scores: tells
    "never computed" apart from "computed, and nobody had a payment or activity"."""

    as_of = models.DateField()
    computed_at = models.DateTimeField()
    scored = models.PositiveIntegerField()

    class Meta:
        ordering = ["-computed_at", "-id"]
        get_latest_by = ["computed_at", "id"]

    def __str__(self) -> str:
        return f"RFM for {self.as_of}: {self.scored} accounts"
