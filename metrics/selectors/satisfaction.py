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

from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When, Window
from django.db.models.functions import Coalesce, RowNumber

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


def _last_words(
    at_risk: QuerySet[Account] | None, *, start: dt.datetime, end: dt.datetime
) -> QuerySet:
    """Per account at risk and survey kind (NPS, CSAT), its latest scored answer given before
    it churned and before the period's end (what it said before it left, not after), with
    whether it churned in the period: ``(account_id, kind, score, churned, rn)`` rows where
    ``rn = 1`` marks the latest. A window over the answers in one pass, not a lookup per
    account: at 100k accounts the per-account subqueries took seconds. ``at_risk`` None: every
    account paying at ``start``, tested on the account each answer already joins rather than
    by a second pass over the accounts (~25 ms at 100k accounts)."""
    churned = Case(
        When(account__churned_at__gte=start, account__churned_at__lt=end, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    if at_risk is None:
        answers = Response.objects.filter(
            Q(account__churned_at__isnull=True) | Q(account__churned_at__gte=start),
            account__first_paid_at__lt=start,
        )
    else:
        answers = Response.objects.filter(account__in=at_risk.values("pk"))
    return (
        answers.filter(
            survey__kind__in=[SurveyKind.NPS, SurveyKind.CSAT],
            score__isnull=False,
            created_at__lt=end,
        )
        .filter(created_at__lt=Coalesce(F("account__churned_at"), Value(end)))
        .annotate(
            kind=F("survey__kind"),
            churned=churned,
            rn=Window(
                RowNumber(),
                partition_by=[F("account_id"), F("survey__kind")],
                order_by=[F("created_at").desc(), F("id").desc()],
            ),
        )
        .order_by()
        .values("account_id", "kind", "score", "churned", "rn")
    )


def satisfaction_churn(
    *, start: dt.datetime, end: dt.datetime, accounts: QuerySet[Account] | None = None
) -> SatisfactionChurn:
    """Churn rate by latest NPS category and by latest CSAT band (docs/domain/
    satisfaction-churn.md). At risk: accounts paying at ``start`` (first paid before it, not
    churned before it). Churned: ``churned_at`` in [start, end). Grouped by the latest answer
    each account gave before it churned (or before ``end``). Two queries: the accounts at risk
    and how many churned, then the latest answers counted per kind, score and outcome (the
    accounts without an answer are the difference)."""
    base = accounts if accounts is not None else Account.objects.all()
    at_risk = base.filter(first_paid_at__lt=start).filter(
        Q(churned_at__isnull=True) | Q(churned_at__gte=start)
    )
    totals = at_risk.order_by().aggregate(
        n=Count("pk"), churned=Count("pk", filter=Q(churned_at__gte=start, churned_at__lt=end))
    )
    last_words = _last_words(None if accounts is None else at_risk, start=start, end=end)
    inner, params = last_words.query.sql_with_params()
    counted: dict[tuple[str, int, int], int] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kind, score, churned, COUNT(*) FROM ("  # noqa: S608 - the ORM's own SQL
            f"{inner}) last_words WHERE rn = 1 GROUP BY kind, score, churned",
            params,
        )
        for kind, score, churned, n in cursor.fetchall():
            counted[(kind, int(score), int(churned))] = n
    n, lost = totals["n"] or 0, totals["churned"] or 0

    def grouped(kind: str) -> list[ChurnByGroup]:
        groups, answered, answered_lost = [], 0, 0
        for name, (low, high) in metrics.CATEGORIES[kind].items():
            in_group = sum(
                v for (k, score, _), v in counted.items() if k == kind and low <= score <= high
            )
            churned = sum(
                v
                for (k, score, c), v in counted.items()
                if k == kind and c and low <= score <= high
            )
            answered, answered_lost = answered + in_group, answered_lost + churned
            groups.append(
                ChurnByGroup(name, metrics.CATEGORY_LABELS[kind][name], in_group, churned)
            )
        groups.append(ChurnByGroup(NO_ANSWER, NO_ANSWER_LABEL, n - answered, lost - answered_lost))
        return groups

    return SatisfactionChurn(
        start=start,
        end=end,
        accounts=n,
        churned=lost,
        nps=grouped(SurveyKind.NPS),
        csat=grouped(SurveyKind.CSAT),
    )
