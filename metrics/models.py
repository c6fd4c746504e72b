"""Stored metrics: what is too costly to compute on every page view at 100k accounts."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from customers.models import Account


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
