"""Reading numbers typed by people and machines: ASCII digits only.

``str.isdigit()`` is true for "²" and "١", and ``int()`` accepts "١٢", "１２" and "1_000"
while refusing "²": a check with one and a parse with the other turns a stray superscript
into a server error. Every whole number read from input goes through :func:`ascii_int`, so
what counts as a number is decided here once. A bottom layer: it imports no app.
"""

from __future__ import annotations

import re

_WHOLE = re.compile(r"[+-]?[0-9]+")


def ascii_int(value: object, *, signed: bool = False) -> int | None:
    """The whole number ``value`` spells in ASCII digits (surrounding spaces allowed), or
    ``None``: no underscores, exponents, superscripts or other scripts' digits. A sign is
    accepted only when ``signed``. Python ints (not bools) pass through."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if signed or value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not _WHOLE.fullmatch(text) or (not signed and text[0] in "+-"):
        return None
    if len(text.lstrip("+-").lstrip("0")) > 4000:  # int() refuses past 4300 digits
        return None
    return int(text)
