"""The Revenue dashboard (MRR movements as a stacked bar with net new MRR, every monthly
figure in a table) and the page listing the accounts behind one month's movement."""

from __future__ import annotations

import datetime as dt

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from metrics.charts import MOVEMENT_LABELS, movements_figure
from metrics.filters import EARLIEST, add_months, month_parse, month_start
from metrics.selectors.revenue import RevenueReport, movement_accounts, revenue_report
from metrics.tables import Chart, ChartTable, Link
from metrics.views.common import dashboard_filters, dashboard_response
from metrics.views.formatting import cents, pct, ratio

KINDS = ("new", "expansion", "reactivation", "contraction", "churn")
NO_HISTORY = (
    "No revenue history yet: the monthly figures come from the accounts' revenue changes "
    "(API, CSV import), rebuilt nightly and shortly after each change."
)
PAGE_SIZE = 50


def movement_url(month: dt.date, kind: str, query: str) -> str:
    return reverse("metrics:movement_accounts", args=[f"{month:%Y-%m}", kind]) + query


def movements_chart(report: RevenueReport, query: str) -> Chart:
    currency = report.currency
    months = [f"{m.month:%Y-%m}" for m in report.months]
    rows = []
    for m in report.months:
        cells: list = [f"{m.month:%Y-%m}"]
        for kind in KINDS:
            amount = getattr(m.movements, kind)
            cells.append(Link(amount, movement_url(m.month, kind, query)) if amount else amount)
        cells += [m.net_new, m.opening, m.closing]
        rows.append(cells)
    table = ChartTable(
        key="movements",
        title=f"MRR movements ({currency})",
        columns=[
            "Month",
            *[f"{MOVEMENT_LABELS[k]} ({currency})" for k in KINDS],
            f"Net new MRR ({currency})",
            f"MRR at start ({currency})",
            f"MRR at end ({currency})",
        ],
        rows=rows,
    )
    figure = movements_figure(
        months,
        {kind: [getattr(m.movements, kind) for m in report.months] for kind in KINDS},
        [m.net_new for m in report.months],
        unit=currency,
        links={k: [movement_url(m.month, k, query) for m in report.months] for k in KINDS},
    )
    return Chart(
        table=table,
        figure=figure,
        empty="" if report.has_history else NO_HISTORY,
        note="Gains up, losses down; the line is net new MRR. Click a bar or an amount for its "
        "accounts.",
        clickable=True,
    )


def figures_chart(report: RevenueReport) -> Chart:
    currency = report.currency
    rows = [
        [
            f"{m.month:%Y-%m}",
            m.closing,
            m.paying_end,
            m.net_new,
            pct(m.logo_churn),
            pct(m.logo_retention),
            pct(m.revenue_churn),
            pct(m.grr),
            pct(m.grr_annualised),
            pct(m.nrr),
            pct(m.nrr_annualised),
            pct(m.annual_nrr),
            cents(m.arpa),
            m.ltv,
            ratio(m.ltv_to_cac),
            ratio(m.quick_ratio),
        ]
        for m in report.months
    ]
    last = report.months[-1] if report.months else None
    note = "Rates: — when the month started with nothing to lose."
    if last and last.ltv is None:
        note += f" LTV — in {last.month:%Y-%m}: {last.ltv_reason}."
    return Chart(
        table=ChartTable(
            key="figures",
            title="Monthly figures",
            columns=[
                "Month",
                f"MRR ({currency})",
                "Paying accounts",
                f"Net new MRR ({currency})",
                "Logo churn (%)",
                "Logo retention (%)",
                "Revenue churn (%)",
                "GRR (%)",
                "GRR annualised (%)",
                "NRR (%)",
                "NRR annualised (%)",
                "Annual NRR (%)",
                f"ARPA ({currency})",
                f"LTV ({currency})",
                "LTV:CAC",
                "Quick ratio",
            ],
            rows=rows,
        ),
        empty="" if report.has_history else NO_HISTORY,
        note=note,
    )


def revenue(request: HttpRequest) -> HttpResponse:
    state = dashboard_filters(request)
    report = revenue_report(filters=state.filters, user=request.user)
    query = state.filters.query_string()
    charts = {"movements": movements_chart(report, query), "figures": figures_chart(report)}
    return dashboard_response(
        request,
        state,
        tab="revenue",
        title="Revenue",
        body="metrics/revenue_body.html",
        charts=charts,
        context={"report": report},
    )


def movement_accounts_page(request: HttpRequest, month: str, kind: str) -> HttpResponse:
    """The accounts behind one month's movement, with the dashboard's filters (plan, owner,
    segment) applied, largest movement first, 50 a page."""
    if kind not in KINDS:
        raise Http404("no such movement")
    first_day = month_parse(month)
    if first_day is None or not EARLIEST <= first_day <= month_start(timezone.localdate()):
        raise Http404("no such month")
    state = dashboard_filters(request)
    filters = state.filters
    if not filters.start <= first_day <= filters.end:  # keep the month in the back link
        filters = filters.with_(
            start=min(filters.start, first_day), end=max(filters.end, first_day)
        )
        if len(filters.months) > 60:
            filters = filters.with_(start=add_months(first_day, -11), end=first_day)
    rows = movement_accounts(filters=filters, user=request.user, month=first_day, kind=kind)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = filters.query_string()
    context = {
        "month": first_day,
        "kind": kind,
        "label": MOVEMENT_LABELS[kind],
        "page": page,
        "filters": filters,
        "filter_errors": state.errors,
        "back_url": reverse("metrics:revenue") + query,
        "page_query": query,
    }
    return render(
        request, "metrics/movement_accounts.html", context, status=400 if state.errors else 200
    )
