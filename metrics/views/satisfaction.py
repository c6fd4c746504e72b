"""The Satisfaction dashboard (``/metrics/satisfaction/``, URL name ``metrics:satisfaction``):
NPS, CSAT and CES per month with their margins of error, whether each moved beyond noise since
the period before, and the churn rate by what accounts last said (docs/domain/
satisfaction-churn.md). Built on the dashboards' shell (``metrics.views.common``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse

from customers.models import Account
from metrics.charts import bar_figure
from metrics.filters import DashboardFilters, add_months
from metrics.selectors.satisfaction import SatisfactionChurn, satisfaction_churn
from metrics.tables import Chart, ChartTable
from metrics.views.common import dashboard_filters, dashboard_response
from surveys import charts as survey_charts
from surveys import metrics as survey_metrics
from surveys import selectors as survey_selectors
from surveys.models import SurveyKind
from surveys.periods import Window

KIND_NAMES = {SurveyKind.NPS: "NPS", SurveyKind.CSAT: "CSAT", SurveyKind.CES: "CES"}
SCORE_COLUMNS = {
    SurveyKind.NPS: "NPS (−100 to 100)",
    SurveyKind.CSAT: "CSAT (% satisfied)",
    SurveyKind.CES: "CES (% agree it was easy)",
}


def _utc(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _months_label(start: dt.date, last: dt.date) -> str:
    if start == last:
        return f"{start:%b %Y}"
    return f"{start:%b %Y} – {last:%b %Y}"


def period_windows(filters: DashboardFilters) -> tuple[Window, Window]:
    """The dashboard's months as a window, and the same number of months just before it."""
    count = len(filters.months)
    end = add_months(filters.end, 1)
    before = add_months(filters.start, -count)
    current = Window(
        _months_label(filters.start, filters.end), _utc(filters.start), _utc(end), "months"
    )
    previous = Window(
        _months_label(before, add_months(filters.start, -1)),
        _utc(before),
        _utc(filters.start),
        "months",
    )
    return current, previous


def _trend_chart(kind: str, points: list, label: str) -> Chart:
    name = KIND_NAMES[kind]
    table = ChartTable(
        key=f"{kind}_trend",
        title=f"{name} per month, with its 95 % margin of error",
        columns=["Month", SCORE_COLUMNS[kind], "Margin (± points)", "Answers"],
        rows=[[p.month, p.score, p.margin, p.responses] for p in points],
    )
    return Chart(
        table=table,
        figure=survey_charts.trend_figure(kind, points) if points else None,
        empty=""
        if points
        else f"No {name} answers from these accounts in {label}: send an {name} survey "
        "(Surveys) or widen the period or filters.",
        note="Error bars: the 95 % margin of error of each month's score; a month with few "
        "answers has a wide bar.",
    )


def _changes_chart(changes: dict[str, survey_metrics.ScoreChange], current, previous) -> Chart:
    rows = []
    for kind, change in changes.items():
        rows.append(
            [
                KIND_NAMES[kind],
                change.current.score,
                change.current.margin,
                change.current.responses,
                change.previous.score,
                change.previous.margin,
                change.previous.responses,
                change.difference,
                change.margin,
                change.verdict or f"no verdict: {change.reason}",
            ]
        )
    table = ChartTable(
        key="score_changes",
        title=f"Did it really move? {current.label} against {previous.label}",
        columns=[
            "Score",
            f"{current.label}",
            "± (95 %)",
            "Answers",
            f"{previous.label}",
            "± (95 %)",
            "Answers",
            "Difference (points)",
            "Margin of the difference (±)",
            "Verdict",
        ],
        rows=rows,
    )
    return Chart(
        table=table,
        note="Significant when the difference is larger than sqrt(m₁² + m₂²), the 95 % margin "
        "of a difference of two independent samples; otherwise it could be sampling noise.",
    )


def _churn_chart(kind: str, result: SatisfactionChurn, current: Window) -> Chart:
    name = KIND_NAMES[kind]
    groups = result.nps if kind == SurveyKind.NPS else result.csat
    header = "Latest NPS answer" if kind == SurveyKind.NPS else "Latest CSAT answer"
    rows: list[list[Any]] = [[g.label, g.accounts, g.churned, g.rate] for g in groups]
    rows.append(["All accounts paying at the start", result.accounts, result.churned, result.rate])
    table = ChartTable(
        key=f"churn_by_{kind}",
        title=f"Churn rate by latest {name} answer, {current.label}",
        columns=[header, "Accounts paying at the start", "Churned in the period", "Churn rate (%)"],
        rows=rows,
    )
    empty = ""
    start = f"{current.start:%d %b %Y}"
    if not result.accounts:
        empty = (
            f"No account from these filters was paying on {start}: the revenue history "
            "(first payments) is missing for this period."
        )
    elif not any(g.accounts for g in groups if g.key != "no_answer"):
        empty = (
            f"None of the {result.accounts} accounts paying on {start} had answered an {name} "
            "survey before it churned or the period ended: no answers to group them by."
        )
    shown = [g for g in groups if g.accounts]
    return Chart(
        table=table,
        figure=bar_figure([g.label for g in shown], [g.rate for g in shown], unit="%")
        if shown
        else None,
        empty=empty,
        note=f"Accounts paying on {start}, grouped by the latest {name} answer each gave "
        "before it churned (or before the period ended); churned = churn date in the period.",
    )


def satisfaction(request: HttpRequest) -> HttpResponse:
    state = dashboard_filters(request)
    filters = state.filters
    accounts = filters.restrict(Account.objects.all(), user=request.user)
    # Every signed-in role reads the whole book: only narrow the answers when a filter does.
    answering = accounts if filters.narrows_accounts else None
    current, previous = period_windows(filters)
    trends, changes = survey_selectors.scored_overview(
        current=current, previous=previous, accounts=answering
    )
    churn = satisfaction_churn(start=current.start, end=current.end, accounts=answering)
    charts = {
        chart.key: chart
        for chart in (
            *(_trend_chart(kind, trends[kind], current.label) for kind in KIND_NAMES),
            _changes_chart(changes, current, previous),
            _churn_chart(SurveyKind.NPS, churn, current),
            _churn_chart(SurveyKind.CSAT, churn, current),
        )
    }
    return dashboard_response(
        request,
        state,
        tab="satisfaction",
        title="Satisfaction",
        body="metrics/satisfaction_body.html",
        charts=charts,
        context={
            "changes": [
                (KIND_NAMES[k], c, survey_metrics.SCORE_UNITS.get(k, ""))
                for k, c in changes.items()
            ],
            "current": current,
            "previous": previous,
            "churn": churn,
        },
    )
