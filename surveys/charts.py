"""Plotly figures for the results page, built in Python and handed to the page as JSON.

The page embeds each figure with ``json_script`` (which escapes ``<`` and ``&``) and a few lines
of ``surveys/results.js`` draw it with the locally served plotly.js: no CDN, no build step.

Plain ``{"data", "layout"}`` dicts built by ``customers.charts.figure``, as every dashboard's
charts are: one look, and no graph-object validation (~40 ms a figure).
"""

from __future__ import annotations

from customers.charts import figure
from surveys import metrics
from surveys.models import SurveyKind
from surveys.selectors import Summary, TrendPoint

MUTED, GRID = "#57606a", "#d0d7de"
GOOD, MIDDLE, BAD, BRAND = "#1a7f37", "#9a6700", "#cf222e", "#0b5cad"
Y_RANGES = {
    SurveyKind.NPS: [-100, 100],
    SurveyKind.CSAT: [0, 100],
    SurveyKind.CES: [0, 100],
    SurveyKind.CLI: [0, 100],
    SurveyKind.CSI: [0, 100],
}
SCORE_NAMES = {
    SurveyKind.NPS: "NPS",
    SurveyKind.CSAT: "CSAT %",
    SurveyKind.CES: "CES % agree",
    SurveyKind.CLI: "CLI",
    SurveyKind.CSI: "CSI",
}
CATEGORY_COLOURS = {
    "promoter": GOOD,
    "satisfied": GOOD,
    "passive": MIDDLE,
    "neutral": MIDDLE,
    "detractor": BAD,
    "unsatisfied": BAD,
}


def _figure(data: list[dict], **layout) -> dict:
    """The look every chart of the project shares (``customers.charts.figure``), without a
    legend unless asked, with this page's grid lines."""
    axes = {"xaxis": {"gridcolor": GRID}, "yaxis": {"gridcolor": GRID, "zerolinecolor": MUTED}}
    for axis, base in axes.items():
        layout[axis] = {**base, **layout.get(axis, {})}
    return figure(data, **{"showlegend": False, **layout})


def trend_figure(kind: str, points: list[TrendPoint]) -> dict:
    months = [p.month.isoformat() for p in points]
    scores = [None if p.score is None else float(p.score) for p in points]
    trace = {
        "type": "scatter",
        "x": months,
        "y": scores,
        "mode": "lines+markers",
        "line": {"color": BRAND, "width": 2},
        "marker": {"size": 8},
        "customdata": [p.responses for p in points],
        "hovertemplate": "%{x|%b %Y}: %{y}<br>%{customdata} answers<extra></extra>",
        "name": SCORE_NAMES[kind],
    }
    if any(p.margin is not None for p in points):
        trace["error_y"] = {
            "type": "data",
            "array": [None if p.margin is None else float(p.margin) for p in points],
            "color": MUTED,
            "thickness": 1,
        }
    return _figure(
        [trace],
        xaxis={"type": "date", "tickformat": "%b %Y", "gridcolor": GRID},
        yaxis={
            "range": Y_RANGES[kind],
            "title": {"text": SCORE_NAMES[kind]},
            "gridcolor": GRID,
            "zerolinecolor": MUTED,
        },
    )


def distribution_figure(kind: str, summary: Summary) -> dict:
    if kind == SurveyKind.CSI:
        return _csi_figure(summary)
    counts = summary.distribution or {}
    values = sorted(counts)
    colours = [CATEGORY_COLOURS.get(metrics.category(kind, v) or "", BRAND) for v in values]
    title = "Answers (all three questions)" if kind == SurveyKind.CLI else "Answers"
    return _figure(
        [
            {
                "type": "bar",
                "x": [str(v) for v in values],
                "y": [counts[v] for v in values],
                "marker": {"color": colours},
                "hovertemplate": "Score %{x}: %{y} answers<extra></extra>",
            }
        ],
        xaxis={"title": {"text": "Score"}, "type": "category"},
        yaxis={"title": {"text": title}, "gridcolor": GRID, "rangemode": "tozero"},
    )


def _csi_figure(summary: Summary) -> dict:
    criteria = summary.result.criteria if summary.result else []
    labels = [c.key.replace("_", " ").capitalize() for c in criteria]

    def values(attr: str) -> list[float | None]:
        return [None if getattr(c, attr) is None else float(getattr(c, attr)) for c in criteria]

    return _figure(
        [
            {
                "type": "bar",
                "name": "Importance",
                "x": labels,
                "y": values("importance_mean"),
                "marker": {"color": MUTED},
            },
            {
                "type": "bar",
                "name": "Satisfaction",
                "x": labels,
                "y": values("satisfaction_mean"),
                "marker": {"color": BRAND},
            },
        ],
        barmode="group",
        showlegend=True,
        legend={"orientation": "h", "y": 1.12},
        yaxis={"range": [0, 10], "title": {"text": "Mean (1–10)"}, "gridcolor": GRID},
    )
