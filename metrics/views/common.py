"""What every metrics dashboard view shares: the tabs, the filters and the answer (full
page, the htmx partial, or one chart's CSV).

A dashboard view (Overview, Revenue, Retention, Satisfaction, RFM) is::

    def revenue(request):
        state = dashboard_filters(request)
        charts = {...}  # key -> metrics.tables.Chart, built from selectors with state.filters
        return dashboard_response(
            request, state, tab="revenue", title="Revenue",
            body="metrics/revenue_body.html", charts=charts, context={...},
        )

``dashboard_response`` answers ``?format=csv&chart=<key>`` with that chart's table as CSV,
an htmx request with ``metrics/_dashboard.html`` (tabs, filter form, body: what the filter
form swaps), and anything else with the full page ``metrics/dashboard_base.html``. With bad
filters it still renders (defaults, a message beside each bad field) and answers 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from metrics.filters import DashboardFilters, FilterOptions, filter_options, filters_parse
from metrics.tables import Chart

# (key, label, URL name). A tab whose URL name is not routed (a dashboard not merged yet) is
# left out instead of breaking every page.
TABS = (
    ("overview", "Overview", "metrics:index"),
    ("revenue", "Revenue", "metrics:revenue"),
    ("retention", "Retention", "metrics:retention"),
    ("satisfaction", "Satisfaction", "metrics:satisfaction"),
    ("rfm", "RFM", "metrics:rfm"),
)


@dataclass(frozen=True)
class FilterState:
    filters: DashboardFilters
    errors: dict[str, str]
    options: FilterOptions


def dashboard_filters(request: HttpRequest) -> FilterState:
    """The request's filters, checked against what exists (3 queries)."""
    options = filter_options()
    filters, errors = filters_parse(request.GET, options=options)
    return FilterState(filters, errors, options)


def dashboard_tabs(active: str, filters: DashboardFilters) -> list[dict[str, Any]]:
    """The tabs that are routed, each keeping the current filters."""
    tabs = []
    query = filters.query_string()
    for key, label, name in TABS:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        tabs.append({"key": key, "label": label, "url": url + query, "active": key == active})
    return tabs


def dashboard_response(
    request: HttpRequest,
    state: FilterState,
    *,
    tab: str,
    title: str,
    body: str,
    charts: dict[str, Chart] | None = None,
    context: dict[str, Any] | None = None,
    keep: dict[str, str] | None = None,
) -> HttpResponse:
    """The dashboard's answer: one chart's CSV, the htmx partial or the full page. ``keep``:
    the dashboard's own URL parameters (e.g. the chosen cohort) its CSV links carry too."""
    charts = charts or {}
    if request.GET.get("format") == "csv":
        if state.errors:
            # A download must not quietly hold the default period's figures instead.
            lines = [f"{field}: {message}" for field, message in state.errors.items()]
            return HttpResponse(
                "\n".join(lines), status=400, content_type="text/plain; charset=utf-8"
            )
        key = request.GET.get("chart", "")
        chart = charts.get(key)
        if chart is None:
            return HttpResponse(
                f"This dashboard has no chart {key!r}; the charts are: {', '.join(charts)}.",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        stamp = f"{state.filters.start:%Y-%m}_{state.filters.end:%Y-%m}"
        return chart.table.csv_response(filename=f"{tab}-{key}-{stamp}.csv")
    for key, chart in charts.items():
        chart.csv_url = request.path + state.filters.query_string(
            **(keep or {}), format="csv", chart=key
        )
    page_context = {
        "title": title,
        "tab": tab,
        "tabs": dashboard_tabs(tab, state.filters),
        "filters": state.filters,
        "filter_errors": state.errors,
        "options": state.options,
        "action": request.path,
        "body_template": body,
        "charts": charts,
        **(context or {}),
    }
    status = 400 if state.errors else 200
    partial = request.htmx and not request.htmx.history_restore_request
    template = "metrics/_dashboard.html" if partial else "metrics/dashboard_base.html"
    return render(request, template, page_context, status=status)
