"""The metrics dashboards' Plotly figures, built server-side from selector results (plain
values in, a JSON-ready ``{"data", "layout"}`` dict out; ``customers/charts.js`` draws them).
They start from the look every chart shares, through ``customers.charts.figure`` (plain dicts,
not graph objects: validating those cost more than a dashboard's queries).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from customers.charts import figure


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def bar_figure(labels: Sequence[str], values: Sequence[Any], *, unit: str) -> dict[str, Any]:
    """One bar per label; Decimals drawn as floats (the exact figures are in the table)."""
    return figure(
        [
            {
                "type": "bar",
                "x": list(labels),
                "y": [float(v or 0) for v in values],
                "hovertemplate": f"%{{x}}: %{{y:,.2f}} {unit}<extra></extra>",
            }
        ],
        yaxis={"title": {"text": unit}, "rangemode": "tozero"},
        xaxis={"type": "category"},
        showlegend=False,
    )


MOVEMENT_COLOURS = {
    "new": "#1a7f37",
    "expansion": "#4ac26b",
    "reactivation": "#0b5cad",
    "contraction": "#bf8700",
    "churn": "#cf222e",
}
MOVEMENT_LABELS = {
    "new": "New",
    "expansion": "Expansion",
    "reactivation": "Reactivation",
    "contraction": "Contraction",
    "churn": "Churn",
}


def movements_figure(
    months: Sequence[str],
    series: dict[str, Sequence[Any]],
    net_new: Sequence[Any],
    *,
    unit: str,
    links: dict[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """MRR movements as a stacked bar per month, gains up and losses (contraction, churn)
    down, with net new MRR as a line. ``links`` (kind → one URL per month) goes into each
    bar's customdata: a click opens that movement's accounts (metrics/chart-links.js)."""
    data = []
    for kind, values in series.items():
        sign = -1 if kind in ("contraction", "churn") else 1
        trace = {
            "type": "bar",
            "name": MOVEMENT_LABELS[kind],
            "x": list(months),
            "y": [sign * float(v or 0) for v in values],
            "marker": {"color": MOVEMENT_COLOURS[kind]},
            "hovertemplate": f"{MOVEMENT_LABELS[kind]}: %{{y:,.2f}} {unit}<extra></extra>",
        }
        if links and kind in links:
            trace["customdata"] = list(links[kind])
        data.append(trace)
    data.append(
        {
            "type": "scatter",
            "name": "Net new MRR",
            "x": list(months),
            "y": [float(v or 0) for v in net_new],
            "mode": "lines+markers",
            "line": {"color": "#24292f", "width": 2},
            "hovertemplate": f"Net new: %{{y:,.2f}} {unit}<extra></extra>",
        }
    )
    return figure(
        data,
        barmode="relative",
        yaxis={"title": {"text": unit}},
        xaxis={"type": "category"},
        # "closest", not "x unified": a click must land on the bar under the pointer (and
        # its accounts), not on whichever trace of the month comes first. A short hover
        # distance keeps the net-new line's markers from winning over the bar around them.
        hovermode="closest",
        hoverdistance=6,
    )


def lines_figure(
    months: Sequence[str],
    series: dict[str, Sequence[Any]],
    *,
    unit: str,
    percent: bool = False,
) -> dict[str, Any]:
    """One line per series over the months; ``None`` leaves a gap (an undefined rate)."""
    number = "%{y:,.1f}" if percent else "%{y:,.2f}"
    data = [
        {
            "type": "scatter",
            "name": name,
            "x": list(months),
            "y": [_number(v) for v in values],
            "mode": "lines+markers",
            "hovertemplate": f"{name}: {number} {unit}<extra></extra>",
        }
        for name, values in series.items()
    ]
    return figure(
        data,
        yaxis={"title": {"text": unit}, "rangemode": "tozero"},
        xaxis={"type": "category"},
        hovermode="x unified",
    )


def heatmap_figure(
    rows: Sequence[str], columns: Sequence[int], values: Sequence[Sequence[Any]], *, label: str
) -> dict[str, Any]:
    """A cohort triangle: one row per start month, one column per month since start, the
    retention in percent; empty cells (not observed yet) stay blank."""
    return figure(
        [
            {
                "type": "heatmap",
                "z": [[_number(v) for v in row] for row in values],
                "x": [str(c) for c in columns],
                "y": list(rows),
                "colorscale": "Blues",
                "reversescale": True,
                "zmin": 0,
                "zmax": 100,
                "hovertemplate": f"cohort %{{y}}, month %{{x}}<br>{label}: %{{z:.1f}} %"
                "<extra></extra>",
                "colorbar": {"title": {"text": "%"}},
            }
        ],
        height=max(240, 60 + 24 * len(rows)),
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"title": {"text": "months since start"}, "type": "category"},
    )


def projection_figure(
    actual: Sequence[Any], projected: Sequence[float], *, cohort: str
) -> dict[str, Any]:
    """A cohort's observed survivors (share never churned) against the sBG fit's curve,
    drawn on past the last observed month."""
    return figure(
        [
            {
                "type": "scatter",
                "name": f"Observed ({cohort})",
                "x": list(range(len(actual))),
                "y": [_number(v) for v in actual],
                "mode": "markers",
                "hovertemplate": "month %{x}: %{y:.1f} %<extra></extra>",
            },
            {
                "type": "scatter",
                "name": "sBG fit",
                "x": list(range(len(projected))),
                "y": [100 * v for v in projected],
                "mode": "lines",
                "line": {"dash": "dash"},
                "hovertemplate": "month %{x}: %{y:.1f} % projected<extra></extra>",
            },
        ],
        yaxis={"title": {"text": "% still paying"}, "range": [0, 105]},
        xaxis={"title": {"text": "months since start"}},
    )


def rfm_grid_figure(counts: Sequence[Sequence[int]], segments: Sequence[Sequence[str]]) -> dict:
    """The classic R × F grid: rows R 5 (top) to 1, columns F 1 to 5, each cell's colour its
    number of accounts and its label the segment it belongs to."""
    return figure(
        [
            {
                "type": "heatmap",
                "z": [list(row) for row in counts],
                "x": [f"F{f}" for f in range(1, 6)],
                "y": [f"R{r}" for r in range(5, 0, -1)],
                "text": [list(row) for row in segments],
                "texttemplate": "%{text}<br>%{z}",
                "hovertemplate": "%{y} %{x}: %{z} accounts (%{text})<extra></extra>",
                "colorscale": "Blues",
                "showscale": False,
            }
        ],
        xaxis={"title": {"text": "Frequency score"}, "side": "top", "type": "category"},
        yaxis={"title": {"text": "Recency score"}, "type": "category"},
        height=420,
    )
