"""Template helpers for survey pages. (Open follow-ups reach the home page through the one
task list of health.selectors.work_items.)"""

from __future__ import annotations

from decimal import Decimal

from django import template

from surveys import metrics

register = template.Library()

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


@register.filter
def score_unit(kind: str) -> str:
    return metrics.SCORE_UNITS.get(kind, "")
