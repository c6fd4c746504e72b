"""The account timeline is assembled from sources that each app registers.

customers registers its own (usage by day, tickets, stage changes, notes, revenue); surveys
registers answers and follow-ups in its ``AppConfig.ready``. A source is a function
``(account, *, limit) -> list[TimelineItem]`` doing a bounded number of queries; the timeline
view merges the lists newest first, so adding a source never touches customers' code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from customers.models import Account


@dataclass(frozen=True)
class TimelineItem:
    at: dt.datetime
    kind: str  # short machine name, e.g. "note", "ticket", "survey_response"
    title: str  # plain text; templates escape it
    body: str = ""  # plain text; templates escape it
    url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


TimelineSource = Callable[..., list[TimelineItem]]
_sources: dict[str, TimelineSource] = {}


def register_source(name: str, source: TimelineSource) -> None:
    _sources[name] = source


def sources() -> dict[str, TimelineSource]:
    return dict(_sources)


def timeline_for(account: Account, *, limit: int = 50) -> list[TimelineItem]:
    items: list[TimelineItem] = []
    for source in _sources.values():
        items.extend(source(account, limit=limit))
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]
