"""The segment field surveys adds to customers' registry: the category of an account's
latest NPS answer. customers cannot read survey answers (it sits below surveys), so the field
is registered from ``SurveysConfig.ready``; its rule compiles to one correlated subquery, the
latest scored NPS answer per account, so a segment is still counted in one query."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import In

from customers.segments import EQUALS, NOT_EQUALS, ONE_OF, SegmentField, register_field
from surveys.metrics import CATEGORIES
from surveys.models import Response, SurveyKind

NO_ANSWER = -1  # what an account without a scored NPS answer reads as
CATEGORY_SCORES: dict[str, list[int]] = {
    name: list(range(low, high + 1)) for name, (low, high) in CATEGORIES[SurveyKind.NPS].items()
} | {"none": [NO_ANSWER]}


def latest_nps_score() -> Coalesce:
    """The score of the account's latest NPS answer, or -1 when it has none."""
    latest = (
        Response.objects.filter(
            account=OuterRef("pk"), survey__kind=SurveyKind.NPS, score__isnull=False
        )
        .order_by("-created_at", "-id")
        .values("score")[:1]
    )
    return Coalesce(Subquery(latest), Value(NO_ANSWER))


def _compile(operator: str, value: Any, *, now: dt.datetime) -> Q:
    categories = value if operator == ONE_OF else [value]
    scores = sorted({score for name in categories for score in CATEGORY_SCORES[name]})
    matches = Q(In(latest_nps_score(), scores))
    return ~matches if operator == NOT_EQUALS else matches


NPS_CATEGORY = SegmentField(
    key="nps_category",
    label="Latest NPS category",
    kind="choice",
    operators=(EQUALS, NOT_EQUALS, ONE_OF),
    compile=_compile,
    choices=(
        ("promoter", "Promoter (9–10)"),
        ("passive", "Passive (7–8)"),
        ("detractor", "Detractor (0–6)"),
        ("none", "No NPS answer"),
    ),
    order=50,
)


def register_segment_fields() -> None:
    register_field(NPS_CATEGORY)
