"""The health charts (an account's history, the backtest's churn by band, the dashboard's
bands over time), built server-side; ``customers/charts.js`` draws them from JSON."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from customers.charts import LAYOUT, figure_dict
from health.backtest import BandOutcome
from health.models import HealthSnapshot

BAND_COLOURS = {
    "red": "rgba(207,34,46,0.08)",
    "yellow": "rgba(154,103,0,0.08)",
    "green": "rgba(26,127,55,0.08)",
}


def health_figure(
    history: list[HealthSnapshot], *, red_max: int, yellow_max: int
) -> dict[str, Any]:
    """Score by day over the bands' shaded ranges."""
    fig = go.Figure(
        go.Scatter(
            x=[s.day.isoformat() for s in history],
            y=[s.score for s in history],
            mode="lines+markers",
            line={"color": "#0b5cad"},
            name="Health",
            hovertemplate="%{x|%Y-%m-%d}<br>score %{y}<extra></extra>",
        )
    )
    for low, high, band in (
        (0, red_max, "red"),
        (red_max, yellow_max, "yellow"),
        (yellow_max, 100, "green"),
    ):
        fig.add_hrect(y0=low, y1=high, fillcolor=BAND_COLOURS[band], line_width=0, layer="below")
    fig.update_layout(LAYOUT)
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 40},
        height=220,
        yaxis={"range": [0, 100], "title": {"text": "score"}},
        showlegend=False,
    )
    return figure_dict(fig)


BAR_COLOURS = {"red": "#cf222e", "yellow": "#bf8700", "green": "#1a7f37"}


def backtest_figure(bands: list[BandOutcome]) -> dict[str, Any]:
    """Churn rate by the band accounts were in N days before: the steeper the fall from red
    to green, the more the score foresaw."""
    fig = go.Figure(
        go.Bar(
            x=[outcome.band for outcome in bands],
            y=[100 * (outcome.churn_rate or 0) for outcome in bands],
            marker={"color": [BAR_COLOURS.get(outcome.band, "#0b5cad") for outcome in bands]},
            text=[f"{outcome.churned} of {outcome.accounts}" for outcome in bands],
            textposition="outside",
            hovertemplate="%{x}: %{y:.1f} % churned (%{text})<extra></extra>",
        )
    )
    top = max([100 * (outcome.churn_rate or 0) for outcome in bands] + [10])
    fig.update_layout(LAYOUT)
    fig.update_layout(
        margin={"l": 50, "r": 10, "t": 20, "b": 40},
        height=280,
        yaxis={"range": [0, min(100, top * 1.25)], "title": {"text": "churned (%)"}},
        xaxis={"title": {"text": "band N days before"}},
        showlegend=False,
    )
    return figure_dict(fig)


# --- the health dashboard ------------------------------------------------------------------

BAND_LINES = {"red": "#cf222e", "yellow": "#bf8700", "green": "#1a7f37"}
BAND_LABELS = {"red": "Red", "yellow": "Yellow", "green": "Green"}


def band_stack_figure(
    days: list, series: dict[str, list], *, unit: str, hover: str
) -> dict[str, Any]:
    """A stacked area per band (red at the bottom, where the eye starts), one point a day.
    ``series`` maps a band to one value per day; Decimals are drawn as floats, the exact
    figures are in the page's table."""
    fig = go.Figure()
    for band, values in series.items():
        fig.add_trace(
            go.Scatter(
                x=[day.isoformat() for day in days],
                y=[float(v) for v in values],
                name=BAND_LABELS.get(band, band),
                mode="lines",
                stackgroup="bands",
                line={"color": BAND_LINES.get(band, "#57606a"), "width": 1},
                hovertemplate=f"%{{x|%Y-%m-%d}}<br>{BAND_LABELS.get(band, band)}: {hover}"
                "<extra></extra>",
            )
        )
    fig.update_layout(LAYOUT)
    fig.update_layout(
        margin={"l": 60, "r": 10, "t": 10, "b": 40},
        height=280,
        yaxis={"title": {"text": unit}, "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified",
    )
    return figure_dict(fig)
