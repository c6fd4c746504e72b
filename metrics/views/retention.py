"""The Retention dashboard: cohort heatmaps (logo and net MRR retention by start month ×
months since start), GRR and NRR by month, and a cohort's sBG projection (``?cohort=YYYY-MM``)
with each cohort's fit and expected lifetime value."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from metrics.charts import heatmap_figure, lines_figure, projection_figure
from metrics.selectors.cohorts import (
    ANNUAL_DISCOUNT_RATE,
    MONTHLY_DISCOUNT_RATE,
    PROJECTED_MONTHS,
    Cohort,
    cohort_rows,
    cohorts,
)
from metrics.selectors.revenue import (
    RevenueReport,
    report_first_month,
    revenue_report,
    sum_by_month,
)
from metrics.tables import Chart, ChartTable, Link
from metrics.views.common import dashboard_filters, dashboard_response
from metrics.views.formatting import pct
from metrics.views.revenue import NO_HISTORY

NO_COHORT = "No cohort started paying in this period (with these filters)."


def _heatmap(key: str, title: str, groups: list[Cohort], attr: str) -> Chart:
    width = max((len(getattr(c, attr)) for c in groups), default=0)
    rows = [
        [f"{c.start:%Y-%m}", c.size, *[pct(v) for v in getattr(c, attr)]]
        + [None] * (width - len(getattr(c, attr)))
        for c in groups
    ]
    table = ChartTable(
        key=key,
        title=title,
        columns=["Cohort", "Accounts", *[f"Month {k} (%)" for k in range(width)]],
        rows=rows,
    )
    figure = heatmap_figure(
        [r[0] for r in rows], list(range(width)), [r[2:] for r in rows], label=title
    )
    return Chart(table=table, figure=figure if rows else None, empty="" if rows else NO_COHORT)


def _retention_lines(report: RevenueReport) -> Chart:
    months = [f"{m.month:%Y-%m}" for m in report.months]
    rows = [
        [
            f"{m.month:%Y-%m}",
            pct(m.grr),
            pct(m.nrr),
            pct(m.logo_retention),
            pct(m.annual_nrr),
        ]
        for m in report.months
    ]
    figure = lines_figure(
        months,
        {
            "GRR": [r[1] for r in rows],
            "NRR": [r[2] for r in rows],
            "Logo retention": [r[3] for r in rows],
        },
        unit="%",
        percent=True,
    )
    return Chart(
        table=ChartTable(
            key="retention",
            title="GRR, NRR and logo retention by month",
            columns=["Month", "GRR (%)", "NRR (%)", "Logo retention (%)", "Annual NRR (%)"],
            rows=rows,
        ),
        figure=figure,
        empty="" if report.has_history else NO_HISTORY,
    )


def _projection(groups: list[Cohort], chosen: Cohort | None, query: str, currency: str) -> Chart:
    rows = []
    for c in groups:
        label = f"{c.start:%Y-%m}"
        rows.append(
            [
                Link(label, f"{query}&cohort={label}"),
                c.size,
                round(c.fit.alpha, 3) if c.fit else None,
                round(c.fit.beta, 3) if c.fit else None,
                pct(c.fit.survival(12)) if c.fit else None,
                round(c.fit.discounted_expected_lifetime(MONTHLY_DISCOUNT_RATE), 1)
                if c.fit
                else None,
                c.clv,
                c.clv_reason or c.fit_problem,
            ]
        )
    figure = None
    if chosen is not None and chosen.fit is not None:
        actual = [pct(s / chosen.size) for s in chosen.survivors]
        figure = projection_figure(
            actual,
            chosen.projected(max(PROJECTED_MONTHS, len(actual) + 6)),
            cohort=f"{chosen.start:%Y-%m}",
        )
    empty = ""
    if not groups:
        empty = NO_COHORT
    elif figure is None:
        empty = (
            "No cohort in this period can be fitted yet: sBG needs a cohort observed for two "
            "months or more with at least one account lost."
        )
    title = "Projected retention (sBG)" + (
        f", cohort {chosen.start:%Y-%m}" if chosen is not None and chosen.fit else ""
    )
    return Chart(
        table=ChartTable(
            key="projection",
            title=title,
            columns=[
                "Cohort",
                "Accounts",
                "α",
                "β",
                "Projected still paying at month 12 (%)",
                "Discounted expected lifetime (months)",
                f"CLV per account ({currency})",
                "Why no CLV",
            ],
            rows=rows,
        ),
        figure=figure,
        empty=empty if not groups else "",
        note=(
            f"Survivors are accounts never churned yet; the dashed line is the fitted sBG "
            f"curve. CLV = starting ARPA × gross margin × discounted expected lifetime at "
            f"{ANNUAL_DISCOUNT_RATE:.0%} a year. Choose a cohort in the table."
            + (f" {empty}" if groups and empty else "")
        ),
    )


def retention(request: HttpRequest) -> HttpResponse:
    state = dashboard_filters(request)
    # One read of the facts per (cohort, month) feeds both the cohorts and the month totals.
    rows = cohort_rows(
        filters=state.filters, user=request.user, first=report_first_month(state.filters)
    )
    report = revenue_report(filters=state.filters, user=request.user, rows=sum_by_month(rows))
    margin = report.months[-1].gross_margin if report.months else None
    groups = cohorts(filters=state.filters, user=request.user, gross_margin=margin, rows=rows)
    wanted = request.GET.get("cohort", "")
    fitted = [c for c in groups if c.fit is not None]
    chosen = next((c for c in groups if f"{c.start:%Y-%m}" == wanted), None)
    chosen = chosen if chosen is not None and chosen.fit else (fitted[0] if fitted else None)
    query = state.filters.query_string()
    charts = {
        "logo_cohorts": _heatmap(
            "logo_cohorts", "Logo retention by cohort", groups, "logo_retention"
        ),
        "mrr_cohorts": _heatmap(
            "mrr_cohorts", "Net MRR retention by cohort", groups, "mrr_retention"
        ),
        "retention": _retention_lines(report),
        "projection": _projection(groups, chosen, query, report.currency),
    }
    keep = {"cohort": f"{chosen.start:%Y-%m}"} if chosen else {}
    return dashboard_response(
        request,
        state,
        tab="retention",
        title="Retention",
        body="metrics/retention_body.html",
        charts=charts,
        context={"chosen": chosen, "report": report},
        keep=keep,
    )
