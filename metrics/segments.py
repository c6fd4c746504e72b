"""What metrics adds to customers' registries: the ``rfm_segment`` field for saved segment
rules, also offered by the portfolio as its ``?rfm=`` filter. customers cannot import metrics
(it sits below), so the field is registered from ``MetricsConfig.ready``; its rule compiles to
a join on the stored scores, one query whatever the size of the book."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q

from customers.segments import EQUALS, NOT_EQUALS, ONE_OF, SegmentField, register_field
from metrics.models import RfmSegment

NOT_SCORED = "none"


def _one(key: str) -> Q:
    return Q(rfm__isnull=True) if key == NOT_SCORED else Q(rfm__segment=key)


def _compile(operator: str, value: Any, *, now: dt.datetime) -> Q:
    if operator == ONE_OF:
        q = Q(rfm__segment__in=[v for v in value if v != NOT_SCORED])
        return q | Q(rfm__isnull=True) if NOT_SCORED in value else q
    return ~_one(value) if operator == NOT_EQUALS else _one(value)


RFM_SEGMENT = SegmentField(
    key="rfm_segment",
    label="RFM segment",
    kind="choice",
    operators=(EQUALS, NOT_EQUALS, ONE_OF),
    compile=_compile,
    choices=(*RfmSegment.choices, (NOT_SCORED, "Not scored")),
    order=60,
    portfolio_param="rfm",
    portfolio_label="RFM",
)


def register_segment_fields() -> None:
    register_field(RFM_SEGMENT)
