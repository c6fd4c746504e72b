"""Reads for the Retention dashboard: cohorts by the month they started paying, their logo
and net MRR retention by months since start, and the sBG fit of each cohort's survivors
(docs/domain/revenue.md, "Cohorts" and "Projected retention").

One query (cohort × month totals); the fits run in Python on a few numbers per cohort.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache

from metrics import formulas as f
from metrics.filters import DashboardFilters
from metrics.selectors.revenue import facts_rows, money

# CLV discounts future months: 10 % a year, as a monthly rate (1.1^(1/12) − 1 ≈ 0.797 %).
ANNUAL_DISCOUNT_RATE = 0.10
MONTHLY_DISCOUNT_RATE = (1 + ANNUAL_DISCOUNT_RATE) ** (1 / 12) - 1
PROJECTED_MONTHS = 24  # how far the fitted curve is drawn past month 0


def months_since(start: dt.date, month: dt.date) -> int:
    return (month.year - start.year) * 12 + month.month - start.month


@dataclass(frozen=True)
class Cohort:
    """One start month's accounts: size (paying at the end of their first month) and, per
    month since start (0 first), how many still pay, their MRR, and first-churn survivors."""

    start: dt.date
    size: int
    start_mrr: Decimal
    paying: list[int]
    mrr: list[Decimal]
    survivors: list[int]  # never churned yet: what sBG models (reactivations do not return)
    fit: f.SbgFit | None = None
    fit_problem: str = ""
    clv: Decimal | None = None
    clv_reason: str = ""

    @property
    def logo_retention(self) -> list[Decimal | None]:
        return [f._ratio(n, self.size) for n in self.paying]

    @property
    def mrr_retention(self) -> list[Decimal | None]:
        return [f._ratio(m, self.start_mrr) for m in self.mrr]

    @property
    def arpa(self) -> Decimal | None:
        return f.arpa(mrr=self.start_mrr, paying=self.size)

    def projected(self, months: int = PROJECTED_MONTHS) -> list[float]:
        """The fit's survival S(t) for t = 0 … months (empty without a fit)."""
        if self.fit is None:
            return []
        return [self.fit.survival(t) for t in range(months + 1)]


FIT_CACHE_SECONDS = 24 * 60 * 60


def _fit(survivors: list[int]) -> tuple[f.SbgFit | None, str]:
    """The cohort's sBG fit, or why there is none. A fit depends only on the survivor
    counts and takes ~0.1-0.3 s of optimisation, so it is cached under those counts: a page
    with a dozen cohorts fits only those whose counts changed since the last rebuild."""
    if len(survivors) < 3:
        return None, "fewer than two months observed"
    key = "metrics:sbg:" + hashlib.sha256(",".join(map(str, survivors)).encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        fit = f.fit_shifted_beta_geometric(survivors)
    except ValueError as error:
        result: tuple[f.SbgFit | None, str] = (None, str(error))
    else:
        if math.isfinite(fit.alpha) and math.isfinite(fit.beta):
            result = (fit, "")
        else:
            result = (None, "the fit did not converge")
    cache.set(key, result, FIT_CACHE_SECONDS)
    return result


def cohort_rows(*, filters: DashboardFilters, user, first: dt.date | None = None) -> list[dict]:
    """Totals per (cohort, month) for months from ``first`` (default: the period's start)
    to the period's end: one query."""
    return facts_rows(
        filters=filters,
        user=user,
        first=first or filters.start,
        last=filters.end,
        by=("cohort_month", "month"),
    )


def cohorts(
    *,
    filters: DashboardFilters,
    user,
    gross_margin: Decimal | None = None,
    rows: list[dict] | None = None,
) -> list[Cohort]:
    """Cohorts that started in the period, observed up to its end, oldest first. CLV =
    starting ARPA × gross margin × the fit's discounted expected lifetime (months).
    ``rows``: ``cohort_rows`` already read (one query saved on the Retention page)."""
    if rows is None:
        rows = cohort_rows(filters=filters, user=user)
    by_cohort: dict[dt.date, dict[int, dict]] = {}
    for row in rows:
        if not filters.start <= row["cohort_month"] <= filters.end:
            continue
        by_cohort.setdefault(row["cohort_month"], {})[
            months_since(row["cohort_month"], row["month"])
        ] = row
    result = []
    for start, months in sorted(by_cohort.items()):
        span = months_since(start, filters.end) + 1
        first = months.get(0, {})
        size = first.get("paying_end") or 0
        if not size:
            continue
        paying, mrr, survivors, churned = [], [], [], 0
        for k in range(span):
            row = months.get(k, {})
            paying.append(row.get("paying_end") or 0)
            mrr.append(money(row.get("closing_mrr")))
            churned += row.get("first_churns") or 0
            survivors.append(size - churned)
        fit, problem = _fit(survivors)
        cohort = Cohort(start, size, mrr[0], paying, mrr, survivors, fit, problem)
        clv, reason = None, ""
        if fit is None:
            reason = f"no sBG fit: {problem}"
        elif gross_margin is None:
            reason = "no gross margin entered (admin: Period finance)"
        else:
            lifetime = Decimal(str(fit.discounted_expected_lifetime(MONTHLY_DISCOUNT_RATE)))
            clv = (cohort.arpa * gross_margin * lifetime).quantize(Decimal("0.01"))
        result.append(
            Cohort(start, size, mrr[0], paying, mrr, survivors, fit, problem, clv, reason)
        )
    return result


class _WholeBook:
    """Who a background job reads as: the whole book, as every signed-in role does
    (``AccountQuerySet.visible_to``). Only code can pass it; no request carries it."""

    is_authenticated = True
    is_active = True


WHOLE_BOOK = _WholeBook()


def cohort_fits_warm(*, filters: DashboardFilters | None = None) -> int:
    """Fit and cache every cohort of the Retention page as first opened (default filters),
    right after the facts are rebuilt: a dozen sBG optimisations take over a second, which the
    rebuild job pays instead of the first person to open the page. Returns the cohorts seen."""
    from metrics.filters import default_filters

    return len(cohorts(filters=filters or default_filters(), user=WHOLE_BOOK))
