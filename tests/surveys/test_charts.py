"""The results page's figures are plain dicts (cheap to build); plotly itself still accepts
every property in them, so a misspelt key fails here instead of silently in the browser."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import plotly.graph_objects as go
import pytest

from surveys import charts, metrics
from surveys.selectors import Summary, TrendPoint

POINTS = [
    TrendPoint(dt.date(2026, 9, 1), 40, Decimal("12.5"), Decimal("9.8")),
    TrendPoint(dt.date(2026, 10, 1), 0, None, None),
]


@pytest.mark.parametrize("kind", ["nps", "csat", "ces", "cli", "csi"])
def test_a_trend_figure_is_a_valid_plotly_figure_with_its_margins(kind):
    figure = charts.trend_figure(kind, POINTS)
    go.Figure(figure)  # raises on any property plotly does not know
    (trace,) = figure["data"]
    assert (trace["x"], trace["y"]) == (["2026-09-01", "2026-10-01"], [12.5, None])
    assert trace["error_y"]["array"] == [9.8, None]


def test_a_distribution_figure_colours_each_score_by_its_category():
    counts = {0: 3, 7: 5, 10: 9}
    summary = Summary("nps", 17, None, distribution=counts)
    figure = charts.distribution_figure("nps", summary)
    go.Figure(figure)
    (bars,) = figure["data"]
    assert (bars["x"], bars["y"]) == (["0", "7", "10"], [3, 5, 9])
    assert bars["marker"]["color"] == [charts.BAD, charts.MIDDLE, charts.GOOD]


def test_a_csi_figure_sets_importance_beside_satisfaction():
    criterion = metrics.csi_from_totals(
        responses=1,
        criteria={
            "price": metrics.CriterionTotal(
                importance=metrics.ItemTotal(8, 1), satisfaction=metrics.ItemTotal(6, 1)
            )
        },
        spread=metrics.Spread(n=0, sums={}, products={}),
    )
    figure = charts.distribution_figure("csi", Summary("csi", 1, None, result=criterion))
    go.Figure(figure)
    assert [t["name"] for t in figure["data"]] == ["Importance", "Satisfaction"]
    assert [t["y"] for t in figure["data"]] == [[8.0], [6.0]]
