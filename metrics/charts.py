"""The metrics dashboards' Plotly figures, built server-side from selector results (plain
values in, a JSON-ready dict out; ``customers/charts.js`` draws them). They start from the
look every chart shares (``customers.charts.LAYOUT``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from customers.charts import LAYOUT, figure_dict


def _layout(fig: go.Figure, **overrides: Any) -> dict[str, Any]:
    fig.update_layout(LAYOUT)
    fig.update_layout(**overrides)
    return figure_dict(fig)


def bar_figure(labels: Sequence[str], values: Sequence[Any], *, unit: str) -> dict[str, Any]:
    """One bar per label; Decimals drawn as floats (the exact figures are in the table)."""
    fig = go.Figure(
        go.Bar(
            x=list(labels),
            y=[float(v or 0) for v in values],
            hovertemplate=f"%{{x}}: %{{y:,.2f}} {unit}<extra></extra>",
        )
    )
    return _layout(fig, yaxis={"title": {"text": unit}, "rangemode": "tozero"}, showlegend=False)


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
    bar's customdata: a click opens that movement's accounts (customers/charts.js)."""
    fig = go.Figure()
    for kind, values in series.items():
        sign = -1 if kind in ("contraction", "churn") else 1
        fig.add_trace(
            go.Bar(
                x=list(months),
                y=[sign * float(v or 0) for v in values],
                name=MOVEMENT_LABELS[kind],
                marker={"color": MOVEMENT_COLOURS[kind]},
                customdata=list((links or {}).get(kind, [])) or None,
                hovertemplate=f"%{{x}}<br>{MOVEMENT_LABELS[kind]}: %{{y:,.2f}} {unit}"
                "<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=list(months),
            y=[float(v or 0) for v in net_new],
            name="Net new MRR",
            mode="lines+markers",
            line={"color": "#24292f", "width": 2},
            hovertemplate=f"%{{x}}<br>Net new: %{{y:,.2f}} {unit}<extra></extra>",
        )
    )
    return _layout(
        fig,
        barmode="relative",
        yaxis={"title": {"text": unit}},
        xaxis={"type": "category"},
        hovermode="x unified",
    )


def lines_figure(
    months: Sequence[str],
    series: dict[str, Sequence[Any]],
    *,
    unit: str,
    percent: bool = False,
) -> dict[str, Any]:
    """One line per series over the months; ``None`` leaves a gap (an undefined rate)."""
    fig = go.Figure()
    for name, values in series.items():
        fig.add_trace(
            go.Scatter(
                x=list(months),
                y=[None if v is None else float(v) for v in values],
                name=name,
                mode="lines+markers",
                hovertemplate=f"%{{x}}<br>{name}: %{{y:,.1f}} {unit}<extra></extra>"
                if percent
                else f"%{{x}}<br>{name}: %{{y:,.2f}} {unit}<extra></extra>",
            )
        )
    return _layout(
        fig,
        yaxis={"title": {"text": unit}, "rangemode": "tozero"},
        xaxis={"type": "category"},
        hovermode="x unified",
    )


def heatmap_figure(
    rows: Sequence[str], columns: Sequence[int], values: Sequence[Sequence[Any]], *, label: str
) -> dict[str, Any]:
    """A cohort triangle: one row per start month, one column per month since start, the
    retention in percent; empty cells (not observed yet) stay blank."""
    z = [[None if v is None else float(v) for v in row] for row in values]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(c) for c in columns],
            y=list(rows),
            colorscale="Blues",
            zmin=0,
            zmax=100,
            hovertemplate=f"cohort %{{y}}, month %{{x}}<br>{label}: %{{z:.1f}} %<extra></extra>",
            colorbar={"title": {"text": "%"}},
        )
    )
    return _layout(
        fig,
        height=max(240, 40 + 24 * len(rows)),
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"title": {"text": "months since start"}, "type": "category"},
    )


def projection_figure(
    actual: Sequence[Any], projected: Sequence[float], *, cohort: str
) -> dict[str, Any]:
    """A cohort's observed survivors (share never churned) against the sBG fit's curve,
    drawn on past the last observed month."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=list(range(len(actual))),
            y=[float(v) for v in actual],
            name=f"Observed ({cohort})",
            mode="markers",
            hovertemplate="month %{x}: %{y:.1f} %<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=list(range(len(projected))),
            y=[100 * v for v in projected],
            name="sBG fit",
            mode="lines",
            line={"dash": "dash"},
            hovertemplate="month %{x}: %{y:.1f} % projected<extra></extra>",
        )
    )
    return _layout(
        fig,
        yaxis={"title": {"text": "% still paying"}, "range": [0, 105]},
        xaxis={"title": {"text": "months since start"}},
    )
