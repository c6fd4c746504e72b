"""The Overview dashboard (``/metrics/``, URL name ``metrics:index``): the headline figures
of the period's last month with their change since the month before, MRR over the period,
MRR by plan today, and links to the other dashboards."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from customers.models import Account
from metrics.charts import bar_figure, lines_figure
from metrics.filters import month_start
from metrics.selectors import mrr_by_plan_today
from metrics.selectors.revenue import MonthFigures, RevenueReport, revenue_report
from metrics.tables import Chart, ChartTable
from metrics.views.common import dashboard_filters, dashboard_response
from metrics.views.formatting import cents, pct, ratio
from metrics.views.revenue import NO_HISTORY


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    value: Decimal | int | None
    change: Decimal | int | None  # against the previous month, same unit; None: not defined
    unit: str = ""
    reason: str = ""  # why the value is "—"


def _kpis(report: RevenueReport) -> list[Kpi]:
    if not report.months:
        return []
    now = report.months[-1]
    before = report.previous(now)
    currency = report.currency

    def kpi(key: str, label: str, read, unit: str = "", reason: str = "") -> Kpi:
        value = read(now)
        old = read(before) if before is not None else None
        change = None if value is None or old is None else value - old
        return Kpi(key, label, value, change, unit, reason if value is None else "")

    return [
        kpi("mrr", f"MRR ({currency})", lambda m: m.closing, currency),
        kpi("net-new", f"Net new MRR ({currency})", lambda m: m.net_new, currency),
        kpi("paying", "Paying accounts", lambda m: m.paying_end),
        kpi(
            "logo-churn",
            "Logo churn (%)",
            lambda m: pct(m.logo_churn),
            "pp",
            "no paying account at the month's start",
        ),
        kpi("nrr", "NRR (%)", lambda m: pct(m.nrr), "pp", "no MRR at the month's start"),
        kpi("arpa", f"ARPA ({currency})", lambda m: cents(m.arpa), currency, "nobody pays"),
        kpi("ltv", f"LTV ({currency})", lambda m: m.ltv, currency, now.ltv_reason),
        kpi(
            "quick-ratio",
            "Quick ratio",
            lambda m: ratio(m.quick_ratio),
            "",
            "no MRR lost this month",
        ),
    ]


def _mrr_chart(months: list[MonthFigures], currency: str, has_history: bool) -> Chart:
    rows = [[f"{m.month:%Y-%m}", m.closing, m.paying_end] for m in months]
    return Chart(
        table=ChartTable(
            key="mrr",
            title=f"MRR by month ({currency})",
            columns=["Month", f"MRR at end ({currency})", "Paying accounts"],
            rows=rows,
        ),
        figure=lines_figure([r[0] for r in rows], {"MRR": [r[1] for r in rows]}, unit=currency),
        empty="" if has_history else NO_HISTORY,
    )


def overview(request: HttpRequest) -> HttpResponse:
    state = dashboard_filters(request)
    report = revenue_report(filters=state.filters, user=request.user)
    accounts = state.filters.restrict(Account.objects.all(), user=request.user)
    currency = report.currency
    plans = mrr_by_plan_today(accounts=accounts)
    table = ChartTable(
        key="mrr_by_plan",
        title=f"MRR by plan today ({currency})",
        columns=["Plan", "Paying accounts", f"MRR ({currency})"],
        rows=[[row.plan or "(no plan)", row.paying, row.mrr] for row in plans],
    )
    by_plan = Chart(
        table=table,
        figure=bar_figure([r[0] for r in table.rows], [r[2] for r in table.rows], unit=currency)
        if plans
        else None,
        empty="" if plans else "No paying account matches these filters: no revenue recorded yet.",
    )
    charts = {
        "mrr": _mrr_chart(report.months, currency, report.has_history),
        "mrr_by_plan": by_plan,
    }
    return dashboard_response(
        request,
        state,
        tab="overview",
        title="Overview",
        body="metrics/overview_body.html",
        charts=charts,
        context={
            "currency": currency,
            "kpis": _kpis(report),
            "report": report,
            # The current month is still running: say so beside figures compared with a
            # whole month before it.
            "month_to_date": state.filters.end == month_start(timezone.localdate()),
        },
    )
