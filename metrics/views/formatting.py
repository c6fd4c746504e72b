"""How dashboard tables show figures: rates as percentages to one decimal, ratios to two,
money to cents; ``None`` (undefined) stays ``None`` and shows as "—"."""

from __future__ import annotations

from decimal import Decimal

PCT = Decimal("0.1")
RATIO = Decimal("0.01")


def pct(rate: Decimal | float | None) -> Decimal | None:
    if rate is None:
        return None
    return (Decimal(str(rate)) * 100).quantize(PCT)


def ratio(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(RATIO)


def cents(value: Decimal | None) -> Decimal | None:
    """Money to the cent (the same two places as a ratio, named for what it shows)."""
    return ratio(value)
