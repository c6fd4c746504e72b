"""Satisfaction ↔ churn and the score trends of the Satisfaction dashboard (``metrics:
satisfaction``), read set-based: each figure family is one query.

The survey figures come from ``surveys.selectors`` (metrics may import surveys, never the
reverse); the churn side reads ``Account.first_paid_at`` and ``churned_at``, which the
customers services derive from the revenue history. Definitions: docs/domain/
satisfaction-churn.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from customers.models import Account
from surveys import metrics
from surveys.models import Response, SurveyKind

NO_ANSWER = "no_answer"
NO_ANSWER_LABEL = "No answer"


@dataclass(frozen=True)
class ChurnByGroup:
    """Accounts paying at the period's start whose latest answer falls in one group, and how
    many of them churned during the period."""

    key: str  # promoter / passive / detractor, satisfied / neutral / unsatisfied, no_answer
    label: str
    accounts: int
    churned: int

    @property
    def rate(self) -> Decimal | None:
        return metrics.churn_rate(accounts=self.accounts, churned=self.churned)


@dataclass(frozen=True)
class SatisfactionChurn:
    start: dt.datetime
    end: dt.datetime
    accounts: int  # paying at the start
    churned: int  # of those, churned in [start, end)
    nps: list[ChurnByGroup]
    csat: list[ChurnByGroup]

    @property
    def rate(self) -> Decimal | None:
        return metrics.churn_rate(accounts=self.accounts, churned=self.churned)

    @property
    def answered(self) -> bool:
        """Any account at risk had an NPS or CSAT answer to group it by."""
        return any(g.accounts for g in [*self.nps, *self.csat] if g.key != NO_ANSWER)


def _latest_score(kind: str, end: dt.datetime):
    """The score of an account's latest answer of ``kind`` given before it churned and
    before the period's end (what it said before it left, not after)."""
    return Subquery(
        Response.objects.filter(
            account=OuterRef("pk"),
            survey__kind=kind,
            score__isnull=False,
            created_at__lt=end,
        )
        .filter(created_at__lt=Coalesce(OuterRef("churned_at"), Value(end)))
        .order_by("-created_at", "-id")
        .values("score")[:1]
    )


def satisfaction_churn(
    *, start: dt.datetime, end: dt.datetime, accounts: QuerySet[Account] | None = None
) -> SatisfactionChurn:
    """Churn rate by latest NPS category and by latest CSAT band (docs/domain/
    satisfaction-churn.md). At risk: accounts paying at ``start`` (first paid before it, not
    churned before it). Churned: ``churned_at`` in [start, end). Grouped by the latest answer
    each account gave before it churned (or before ``end``). One aggregate query over the
    accounts, each latest answer a correlated subquery on the (account, created_at) index."""
    base = accounts if accounts is not None else Account.objects.all()
    at_risk = base.filter(first_paid_at__lt=start).filter(
        Q(churned_at__isnull=True) | Q(churned_at__gte=start)
    )
    churned = Q(churned_at__gte=start, churned_at__lt=end)
    aggs: dict = {"n": Count("pk"), "churned": Count("pk", filter=churned)}
    groups: dict[str, list[tuple[str, str, Q]]] = {}
    for kind in (SurveyKind.NPS, SurveyKind.CSAT):
        column = f"latest_{kind}"
        groups[kind] = [
            (
                name,
                metrics.CATEGORY_LABELS[kind][name],
                Q(**{f"{column}__gte": low, f"{column}__lte": high}),
            )
            for name, (low, high) in metrics.CATEGORIES[kind].items()
        ] + [(NO_ANSWER, NO_ANSWER_LABEL, Q(**{f"{column}__isnull": True}))]
        for name, _label, q in groups[kind]:
            aggs[f"{kind}_{name}_n"] = Count("pk", filter=q)
            aggs[f"{kind}_{name}_churned"] = Count("pk", filter=q & churned)
    row = (
        at_risk.annotate(
            latest_nps=_latest_score(SurveyKind.NPS, end),
            latest_csat=_latest_score(SurveyKind.CSAT, end),
        )
        .order_by()
        .aggregate(**aggs)
    )

    def grouped(kind: str) -> list[ChurnByGroup]:
        return [
            ChurnByGroup(
                name, label, row[f"{kind}_{name}_n"] or 0, row[f"{kind}_{name}_churned"] or 0
            )
            for name, label, _q in groups[kind]
        ]

    return SatisfactionChurn(
        start=start,
        end=end,
        accounts=row["n"] or 0,
        churned=row["churned"] or 0,
        nps=grouped(SurveyKind.NPS),
        csat=grouped(SurveyKind.CSAT),
    )
