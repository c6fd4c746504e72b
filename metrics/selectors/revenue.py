"""Reads for the Revenue and Overview dashboards: per month, MRR and its movements and every
figure derived from them (docs/domain/revenue.md, "Figures").

One query per figure family, whatever the number of accounts. Without a segment filter the
month totals come from ``RevenueMonth`` (a few hundred rows: month × cohort × plan × owner);
with one, from ``AccountMonth`` joined to the segment's members. The sums are handed to
``metrics.formulas``, where every definition lives.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Case, IntegerField, Q, QuerySet, Sum, Value, When

from customers.models import Account
from metrics import formulas as f
from metrics.filters import DashboardFilters, add_months
from metrics.models import AccountMonth, PeriodFinance, RevenueMonth

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MONEY_FIELDS = (
    "opening_mrr",
    "closing_mrr",
    "new_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churn_mrr",
    "reactivation_mrr",
    "year_ago_mrr",
    "year_ago_now_mrr",
)
COUNT_FIELDS = (
    "paying_start",
    "paying_end",
    "new_logos",
    "churned_logos",
    "reactivated_logos",
    "first_churns",
)


def money(value: object) -> Decimal:
    """A database sum as Decimal cents (SQLite sums decimals as floats)."""
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(CENT)


def _account_month_sums() -> dict:
    """The RevenueMonth columns as aggregates over AccountMonth rows (the segment path)."""

    def count(q: Q):
        return Sum(Case(When(q, then=Value(1)), default=Value(0), output_field=IntegerField()))

    def mrr(kind: str):
        return Sum("movement_mrr", filter=Q(movement=kind))

    return {
        "opening_mrr": Sum("opening_mrr"),
        "closing_mrr": Sum("closing_mrr"),
        "new_mrr": mrr("new"),
        "expansion_mrr": mrr("expansion"),
        "contraction_mrr": mrr("contraction"),
        "churn_mrr": mrr("churn"),
        "reactivation_mrr": mrr("reactivation"),
        "year_ago_mrr": Sum("year_ago_mrr"),
        "year_ago_now_mrr": Sum("closing_mrr", filter=Q(year_ago_mrr__gt=0)),
        "paying_start": count(Q(opening_mrr__gt=0)),
        "paying_end": count(Q(closing_mrr__gt=0)),
        "new_logos": count(Q(movement="new")),
        "churned_logos": count(Q(movement="churn")),
        "reactivated_logos": count(Q(movement="reactivation")),
        "first_churns": count(Q(first_churn=True)),
    }


def _rollup_sums() -> dict:
    return {name: Sum(name) for name in (*MONEY_FIELDS, *COUNT_FIELDS)}


def facts_rows(
    *,
    filters: DashboardFilters,
    user,
    first: dt.date,
    last: dt.date,
    by: tuple[str, ...],
    cohorts_from: dt.date | None = None,
) -> list[dict]:
    """Month totals grouped by ``by`` (e.g. ``("month",)`` or ``("cohort_month", "month")``)
    for months in [first, last] (and cohorts from ``cohorts_from`` on), restricted as
    ``filters`` says: one query. Keys are the ``RevenueMonth`` column names."""
    if filters.segment is not None:
        accounts = filters.restrict(Account.objects.all(), user=user)
        base = AccountMonth.objects.filter(account__in=accounts.values("pk"))
        sums = _account_month_sums()
    else:
        base = RevenueMonth.objects.all()
        if not Account.objects.visible_to(user).query.is_empty():
            if filters.plan:
                base = base.filter(plan=filters.plan)
            if filters.owner is not None:
                base = base.filter(owner_id=filters.owner)
        else:
            base = base.none()
        sums = _rollup_sums()
    base = base.filter(month__gte=first, month__lte=last)
    if cohorts_from is not None:
        base = base.filter(cohort_month__gte=cohorts_from)
    # Aggregates get a prefix: an alias equal to a column would shadow it for the others.
    rows = base.order_by().values(*by).annotate(**{f"t_{k}": v for k, v in sums.items()})
    return [
        {key[2:] if key.startswith("t_") else key: value for key, value in row.items()}
        for row in rows.order_by(*by)
    ]


@dataclass(frozen=True)
class MonthFigures:
    """One month's revenue figures; rates are Decimal fractions, ``None`` when undefined."""

    month: dt.date
    opening: Decimal
    closing: Decimal
    movements: f.Movements
    paying_start: int
    paying_end: int
    new_logos: int
    churned_logos: int
    reactivated_logos: int
    year_ago_mrr: Decimal
    year_ago_now_mrr: Decimal
    gross_margin: Decimal | None = None
    cac: Decimal | None = None
    ltv: Decimal | None = None
    ltv_reason: str = ""

    @property
    def net_new(self) -> Decimal:
        return self.movements.net_new

    @property
    def logo_churn(self) -> Decimal | None:
        return f.logo_churn_rate(churned=self.churned_logos, paying_at_start=self.paying_start)

    @property
    def logo_retention(self) -> Decimal | None:
        return f.logo_retention_rate(churned=self.churned_logos, paying_at_start=self.paying_start)

    @property
    def revenue_churn(self) -> Decimal | None:
        m = self.movements
        return f.revenue_churn_rate(opening=self.opening, contraction=m.contraction, churn=m.churn)

    @property
    def grr(self) -> Decimal | None:
        m = self.movements
        return f.grr(opening=self.opening, contraction=m.contraction, churn=m.churn)

    @property
    def nrr(self) -> Decimal | None:
        m = self.movements
        return f.nrr(
            opening=self.opening,
            expansion=m.expansion,
            contraction=m.contraction,
            churn=m.churn,
        )

    @property
    def grr_annualised(self) -> Decimal | None:
        return f.annualised(self.grr)

    @property
    def nrr_annualised(self) -> Decimal | None:
        return f.annualised(self.nrr)

    @property
    def annual_nrr(self) -> Decimal | None:
        return f.annual_nrr(mrr_then=self.year_ago_mrr, mrr_now=self.year_ago_now_mrr)

    @property
    def arpa(self) -> Decimal | None:
        return f.arpa(mrr=self.closing, paying=self.paying_end)

    @property
    def quick_ratio(self) -> Decimal | None:
        return f.quick_ratio(self.movements)

    @property
    def ltv_to_cac(self) -> Decimal | None:
        return f.ltv_to_cac(ltv=self.ltv, cac=self.cac)


@dataclass(frozen=True)
class RevenueReport:
    months: list[MonthFigures]  # the period's months, oldest first
    currency: str
    has_history: bool  # any monthly fact at all (else: no revenue recorded or not rebuilt)
    finance_missing: bool = False  # no gross margin entered for the period
    all_months: list[MonthFigures] = field(default_factory=list, repr=False)

    def previous(self, figures: MonthFigures) -> MonthFigures | None:
        index = self.all_months.index(figures)
        return self.all_months[index - 1] if index else None


def _finance_by_month(months: list[dt.date]) -> dict[dt.date, PeriodFinance | None]:
    """Each month's finance row: its own or the latest earlier one (one query)."""
    rows = list(PeriodFinance.objects.filter(month__lte=months[-1]).order_by("month"))
    result: dict[dt.date, PeriodFinance | None] = {}
    current, i = None, 0
    for month in months:
        while i < len(rows) and rows[i].month <= month:
            current, i = rows[i], i + 1
        result[month] = current
    return result


def report_first_month(filters: DashboardFilters) -> dt.date:
    """The first month a report reads: six before the period, for LTV's mean churn."""
    return add_months(filters.start, -f.LTV_CHURN_MONTHS)


def sum_by_month(rows: list[dict]) -> list[dict]:
    """Finer rows (e.g. per cohort and month) added up per month, as ``by=("month",)``
    would give them: lets a page that needs both read the facts once."""
    totals: dict[dt.date, dict] = {}
    for row in rows:
        total = totals.setdefault(row["month"], {"month": row["month"]})
        for key in (*MONEY_FIELDS, *COUNT_FIELDS):
            value = row.get(key)
            if value is not None:
                total[key] = total.get(key, 0) + (money(value) if key in MONEY_FIELDS else value)
    return [totals[month] for month in sorted(totals)]


def revenue_report(
    *, filters: DashboardFilters, user, rows: list[dict] | None = None
) -> RevenueReport:
    """The period's months (and the six before it, for LTV's mean churn and the change since
    the previous month): two queries, the month totals and the finance rows. ``rows``: month
    totals already read (``sum_by_month``), from ``report_first_month`` on."""
    first = report_first_month(filters)
    if rows is None:
        rows = facts_rows(filters=filters, user=user, first=first, last=filters.end, by=("month",))
    rows = {row["month"]: row for row in rows}
    months = [add_months(first, i) for i in range(len(filters.months) + f.LTV_CHURN_MONTHS)]
    finance = _finance_by_month(months)
    figures: list[MonthFigures] = []
    churn_rates: list[Decimal | None] = []
    for month in months:
        row = rows.get(month, {})
        movements = f.Movements(
            new=money(row.get("new_mrr")),
            expansion=money(row.get("expansion_mrr")),
            contraction=money(row.get("contraction_mrr")),
            churn=money(row.get("churn_mrr")),
            reactivation=money(row.get("reactivation_mrr")),
        )
        fin = finance[month]
        base = MonthFigures(
            month=month,
            opening=money(row.get("opening_mrr")),
            closing=money(row.get("closing_mrr")),
            movements=movements,
            paying_start=row.get("paying_start") or 0,
            paying_end=row.get("paying_end") or 0,
            new_logos=row.get("new_logos") or 0,
            churned_logos=row.get("churned_logos") or 0,
            reactivated_logos=row.get("reactivated_logos") or 0,
            year_ago_mrr=money(row.get("year_ago_mrr")),
            year_ago_now_mrr=money(row.get("year_ago_now_mrr")),
            gross_margin=fin.gross_margin if fin else None,
            cac=fin.cac if fin else None,
        )
        churn_rates.append(base.logo_churn)
        ltv, reason = _ltv(base, churn_rates)
        figures.append(MonthFigures(**{**base.__dict__, "ltv": ltv, "ltv_reason": reason}))
    period = figures[f.LTV_CHURN_MONTHS :]
    return RevenueReport(
        months=period,
        currency=settings.TENURE_BASE_CURRENCY,
        has_history=bool(rows),
        finance_missing=all(m.gross_margin is None for m in period),
        all_months=figures,
    )


def _ltv(month: MonthFigures, churn_rates: list[Decimal | None]) -> tuple[Decimal | None, str]:
    """LTV and, when there is none, why (shown beside the "—")."""
    if month.gross_margin is None:
        return None, "no gross margin entered for this month (admin: Period finance)"
    if month.arpa is None:
        return None, "no paying account"
    value = f.ltv(arpa=month.arpa, gross_margin=month.gross_margin, monthly_churn_rates=churn_rates)
    if value is None:
        return None, "no logo churn in the last six months: the lifetime is not a number"
    return value.quantize(CENT), ""


def movement_accounts(
    *, filters: DashboardFilters, user, month: dt.date, kind: str
) -> QuerySet[AccountMonth]:
    """The accounts behind one month's movement (a bar or a table cell), largest first."""
    accounts = filters.restrict(Account.objects.all(), user=user)
    return (
        AccountMonth.objects.filter(month=month, movement=kind, account__in=accounts.values("pk"))
        .select_related("account", "account__owner")
        .order_by("-movement_mrr", "account__name", "account_id")
    )
