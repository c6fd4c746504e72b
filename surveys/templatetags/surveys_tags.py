"""Template helpers for survey pages, and the home page's "your open follow-ups" panel
(``{% load surveys_tags %}{% open_follow_ups user %}``), so the home view needs no change."""

from __future__ import annotations

from decimal import Decimal

from django import template

from surveys import metrics
from surveys.selectors import follow_ups_open_for

register = template.Library()

HOME_FOLLOW_UPS = 5
_BADGES = {
    "promoter": "badge-ok",
    "satisfied": "badge-ok",
    "passive": "badge-warn",
    "neutral": "badge-warn",
    "detractor": "badge-bad",
    "unsatisfied": "badge-bad",
}


@register.filter
def answer_value(response) -> str:
    """One answer on its survey's scale: the score, or the respondent's own CLI / CSI."""
    value = metrics.respondent_score(response.survey.kind, response.score, response.answers)
    return "—" if value is None else _plain(value)


@register.filter
def answer_category(response) -> str:
    return metrics.category(response.survey.kind, response.score) or ""


@register.filter
def category_badge(category: str) -> str:
    return _BADGES.get(category or "", "")


@register.filter
def plain_number(value) -> str:
    """``Decimal("12.0")`` → "12", ``Decimal("7.50")`` → "7.5"; None → "—"."""
    if value is None:
        return "—"
    return _plain(Decimal(value))


def _plain(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.normalize():f}"


@register.inclusion_tag("surveys/_home_follow_ups.html")
def open_follow_ups(user) -> dict:
    """The user's oldest open follow-ups and how many there are: two bounded queries."""
    if not getattr(user, "is_authenticated", False):
        return {"items": [], "total": 0, "mine": True}
    items, total = follow_ups_open_for(user=user, limit=HOME_FOLLOW_UPS)
    return {"items": items, "total": total, "mine": user.is_csm}


@register.filter
def score_unit(kind: str) -> str:
    return metrics.SCORE_UNITS.get(kind, "")
