"""The table behind every dashboard chart: the exact figures the chart draws, shown under it
(``metrics/_chart.html``) and downloadable as CSV from the same dashboard URL with
``?format=csv&chart=<key>`` (and the dashboard's filters), so a number on screen, in the table
and in the spreadsheet always come from one computation.

A dashboard builds one :class:`Chart` per chart: a :class:`ChartTable`, the Plotly figure
(``None`` for a table without a drawing) and, when the data is missing, ``empty``: the
sentence saying which data is missing, shown instead of the chart.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.http import HttpResponse

from core.spreadsheet import csv_safe

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


@dataclass(frozen=True)
class Link:
    """A table cell that links somewhere (e.g. a movement's accounts); CSV keeps its value."""

    value: Any
    href: str

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class ChartTable:
    """``rows`` hold raw values (Decimal, int, date, str, ``Link``); ``None`` is "no figure"
    (shown "—", an empty CSV cell). Column titles carry the unit: "MRR (EUR)", "GRR (%)"."""

    key: str  # unique on its dashboard; the ``chart=`` value of its CSV link
    title: str
    columns: list[str]
    rows: list[list[Any]]

    def __post_init__(self) -> None:
        if not KEY_RE.match(self.key):
            raise ValueError(
                f"chart key {self.key!r}: lower-case letters, digits and _ (a template name)"
            )

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([csv_cell(c) for c in self.columns])
        for row in self.rows:
            writer.writerow([csv_cell(value) for value in row])
        return out.getvalue()

    def csv_response(self, *, filename: str | None = None) -> HttpResponse:
        """The table as a CSV download; every text cell formula-injection-safe."""
        response = HttpResponse(self.csv_text(), content_type="text/csv; charset=utf-8")
        name = filename or f"{self.key}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def csv_cell(value: Any) -> Any:
    """A cell as CSV writes it: links by their value, dates ISO, Decimals exact, text with a
    leading formula character neutralised (``core.spreadsheet.csv_safe``)."""
    if isinstance(value, Link):
        value = value.value
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | int | float):
        return str(value)
    return csv_safe(str(value))


@dataclass
class Chart:
    """One chart of a dashboard as the ``metrics/_chart.html`` include draws it.
    ``csv_url`` is filled in by ``metrics.views.common.dashboard_response``."""

    table: ChartTable
    figure: dict[str, Any] | None = None
    empty: str = ""  # which data is missing; when set, shown instead of chart and table
    note: str = ""  # one line under the chart: how the figure is computed
    clickable: bool = False  # points carry a URL in customdata (metrics/chart-links.js)
    csv_url: str = field(default="")

    @property
    def key(self) -> str:
        return self.table.key

    @property
    def spec_id(self) -> str:
        return f"chart-{self.table.key}-spec"
