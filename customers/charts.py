"""Plotly figures for the account page, built server-side so the browser only draws them.

Each function returns the figure as a plain dict (``data`` and ``layout``); templates embed it
with ``json_script``, which escapes it for HTML, and ``customers/charts.js`` hands it to
plotly.js. Event types and plan names come from customers' systems, so they are data, never
markup.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import plotly.graph_objects as go

# The look every server-built chart shares (health's too): start from it, override per chart.
LAYOUT = {
    # "none": no default theme, so the embedded JSON stays small; colours are ours.
    "template": "none",
    "colorway": ["#0b5cad", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#57606a", "#bf3989"],
    "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
    "height": 280,
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "legend": {"orientation": "h", "y": -0.2},
}


def figure(data: list[dict[str, Any]], **layout: Any) -> dict[str, Any]:
    """A figure as the plain dict plotly.js draws, starting from :data:`LAYOUT`: a layout
    key that is a dict (``xaxis``, ``font``…) is merged into the shared one, anything else
    replaces it. Plain dicts, not ``plotly.graph_objects``: validating a figure through graph
    objects costs ~40 ms, more than a dashboard's queries. Values must already be JSON's own
    (floats, not Decimals)."""
    merged = copy.deepcopy(LAYOUT)
    for key, value in layout.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return {"data": data, "layout": merged}


def figure_dict(fig: go.Figure) -> dict[str, Any]:
    # to_json() knows dates and Decimals; json.loads gives json_script a plain structure.
    return json.loads(fig.to_json())


def revenue_figure(series: dict[str, Any]) -> dict[str, Any]:
    """MRR as a step line: each change holds until the next."""
    points = series["points"]
    fig = go.Figure(
        go.Scatter(
            x=[at.isoformat() for at, *_ in points],
            y=[mrr for _, mrr, *_ in points],
            mode="lines+markers",
            line={"shape": "hv", "color": "#0b5cad"},
            name=f"MRR ({series['currency']})",
            customdata=[plan or "—" for *_, plan in points],
            meta=series["currency"],
            hovertemplate="%{x|%Y-%m-%d}<br>%{y:,.2f} %{meta}<br>plan %{customdata}<extra></extra>",
        )
    )
    fig.update_layout(
        **LAYOUT, yaxis={"title": {"text": series["currency"]}, "rangemode": "tozero"}
    )
    return figure_dict(fig)


def usage_figure(series: dict[str, Any]) -> dict[str, Any]:
    """Events per day, stacked by type."""
    days = [day.isoformat() for day in series["days"]]
    fig = go.Figure(
        [
            go.Bar(
                x=days,
                y=counts,
                name=kind,
                hovertemplate="%{x}: %{y}<extra>%{fullData.name}</extra>",
            )
            for kind, counts in series["series"].items()
        ]
    )
    fig.update_layout(**LAYOUT, barmode="stack", yaxis={"title": {"text": "events"}})
    return figure_dict(fig)
