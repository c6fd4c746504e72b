"""The loyalty dashboard's charts, built server-side from the selectors' figures;
``customers/charts.js`` draws them from JSON (tier names are data, never markup)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from customers.charts import figure

SERIES = (
    ("issued", "Issued", "#1a7f37"),
    ("redeemed", "Redeemed", "#0b5cad"),
    ("expired", "Expired", "#9a6700"),
)


def points_by_month_figure(months: list[dt.date], monthly: dict[str, list[int]]) -> dict[str, Any]:
    """Points issued, redeemed and expired per calendar month, side by side."""
    x = [m.strftime("%Y-%m") for m in months]
    return figure(
        [
            {
                "type": "bar",
                "x": x,
                "y": list(monthly[key]),
                "name": label,
                "marker": {"color": colour},
                "hovertemplate": f"%{{x}}: %{{y:,}} {label.lower()}<extra></extra>",
            }
            for key, label, colour in SERIES
        ],
        barmode="group",
        yaxis={"title": {"text": "points"}, "rangemode": "tozero"},
    )


def tier_figure(tiers: list[tuple[str, int]]) -> dict[str, Any]:
    """Members per tier, lowest first."""
    return figure(
        [
            {
                "type": "bar",
                "x": [name for name, _ in tiers],
                "y": [count for _, count in tiers],
                "marker": {"color": "#8250df"},
                "hovertemplate": "%{x}: %{y:,} members<extra></extra>",
            }
        ],
        showlegend=False,
        yaxis={"title": {"text": "members"}, "rangemode": "tozero"},
    )
