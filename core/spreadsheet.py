"""Text cells that a spreadsheet would run as formulas (CSV injection, OWASP).

Every CSV the project writes (the portfolio export, survey answers, dashboard tables) passes
its text cells through :func:`csv_safe`, so what counts as a formula is decided once. A bottom
layer: it imports no app.
"""

from __future__ import annotations

from typing import Any

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_safe(value: Any) -> Any:
    """``value`` with a leading quote when it is text a spreadsheet would run as a formula,
    also when spaces hide the sign (" =HYPERLINK(…)"); anything else unchanged."""
    if isinstance(value, str) and (
        value.startswith(FORMULA_PREFIXES) or value.lstrip().startswith(FORMULA_PREFIXES)
    ):
        return "'" + value
    return value
