"""The Overview dashboard (``/metrics/``, URL name ``metrics:index``): the headline figures
and links to the other dashboards."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from customers.models import Account
from metrics.charts import bar_figure
from metrics.selectors import home_figures, mrr_by_plan_today
from metrics.tables import Chart, ChartTable
from metrics.views.common import dashboard_filters, dashboard_response


def overview(request: HttpRequest) -> HttpResponse:
    state = dashboard_filters(request)
    accounts = state.filters.restrict(Account.objects.all(), user=request.user)
    currency = settings.TENURE_BASE_CURRENCY
    plans = mrr_by_plan_today(accounts=accounts)
    table = ChartTable(
        key="mrr_by_plan",
        title=f"MRR by plan today ({currency})",
        columns=["Plan", "Paying accounts", f"MRR ({currency})"],
        rows=[[row.plan or "(no plan)", row.paying, row.mrr] for row in plans],
    )
    chart = Chart(
        table=table,
        figure=bar_figure([r[0] for r in table.rows], [r[2] for r in table.rows], unit=currency)
        if plans
        else None,
        empty="" if plans else "No paying account matches these filters: no revenue recorded yet.",
    )
    return dashboard_response(
        request,
        state,
        tab="overview",
        title="Overview",
        body="metrics/overview_body.html",
        charts={chart.key: chart},
        context={"currency": currency, "figures": home_figures(user=request.user)},
    )
