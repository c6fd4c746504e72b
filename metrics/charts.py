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
