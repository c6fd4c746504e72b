"""Score counts read from the answers per day (``ScoreDay``) instead of from every answer.

A year of one NPS survey at 100k accounts is some 200k answers; the same year is at most 365 ×
11 day rows, and a month-aligned dashboard reads it already summed per month. The counts are
exact, not an approximation: the triggers keep ``ScoreDay`` equal to the answers
(``surveys.score_days``), and a window edge that falls inside a day (the results page's "last
365 days" starts at this minute a year ago) splits that day, whose answers are then read one by
one, so every answer lands in the same windows and months as an answer-by-answer query puts
it. A page narrowed by account, plan, stage or tag (which the days do not know) gets the same
counts grouped out of its answers: still one pass, where it used to take one per figure.
Only NPS, CSAT and CES, whose scores are counts of one answer; CLI and CSI sum items.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate, TruncMonth

from surveys.models import Response, ScoreDay

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Tally:
    """``answers`` answers of one survey (of kind ``kind``) that gave ``score`` at ``at``: the
    first moment of a day or month of the rollup, or an answer's own time on a day a window
    edge splits."""

    kind: str
    at: dt.datetime
    score: int
    answers: int
    survey_id: int


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _is_midnight(value: dt.datetime) -> bool:
    return _utc(value).time() == dt.time(0)


def score_tallies(
    *,
    surveys: Q,
    start: dt.datetime | None,
    end: dt.datetime | None,
    edges: Iterable[dt.datetime] = (),
    narrowing: Q | None = None,
) -> list[Tally]:
    """The scored answers of the surveys ``surveys`` selects (a ``Q`` on ``survey``), in
    [start, end) (None: unbounded), counted at a grain every edge can cut exactly: per month
    when ``start``, ``end`` and ``edges`` all fall on the first of a month, else per day, with
    the answers of each day an edge splits listed one by one. One query, two with split days.

    ``narrowing`` (a ``Q`` on the answers: their account, plan, tag) is something the days do
    not know: the same counts are then grouped out of the narrowed answers, still one pass
    over them however many windows and months the page shows."""
    bounds = [_utc(e) for e in (start, end, *edges) if e is not None]
    split = sorted({e.date() for e in bounds if not _is_midnight(e)})
    monthly = not split and all(e.day == 1 for e in bounds)
    first = None
    if start is not None:
        first = _utc(start).date() + (ONE_DAY if not _is_midnight(start) else dt.timedelta())
    on_split_days = Q()
    for day in split:
        on_split_days |= Q(created_at__gte=_midnight(day), created_at__lt=_midnight(day) + ONE_DAY)
    if narrowing is None:
        days = ScoreDay.objects.filter(surveys).exclude(answers=0)
        if first is not None:
            days = days.filter(day__gte=first)
        if end is not None:
            days = days.filter(day__lt=_utc(end).date())
        if split:
            days = days.exclude(day__in=split)
        at = TruncMonth("day") if monthly else F("day")
        rows = (
            days.annotate(kind=F("survey__kind"), at=at)
            .values("survey_id", "kind", "at", "score")
            .annotate(n=Sum("answers"))
        )
    else:
        answers = Response.objects.filter(surveys, narrowing, score__isnull=False)
        if first is not None:
            answers = answers.filter(created_at__gte=_midnight(first))
        if end is not None:
            answers = answers.filter(created_at__lt=_midnight(_utc(end).date()))
        if split:
            answers = answers.exclude(on_split_days)
        grain = TruncMonth if monthly else TruncDate
        rows = (
            answers.annotate(kind=F("survey__kind"), at=grain("created_at", tzinfo=dt.UTC))
            .values("survey_id", "kind", "at", "score")
            .annotate(n=Count("pk"))
        )
    tallies = [
        Tally(r["kind"], _midnight(_day(r["at"])), r["score"], r["n"], r["survey_id"])
        for r in rows.order_by()
    ]
    if split:
        answers = Response.objects.filter(surveys, on_split_days, score__isnull=False)
        if narrowing is not None:
            answers = answers.filter(narrowing)
        if start is not None:
            answers = answers.filter(created_at__gte=start)
        if end is not None:
            answers = answers.filter(created_at__lt=end)
        for survey_id, kind, at, score in answers.order_by().values_list(
            "survey_id", "survey__kind", "created_at", "score"
        ):
            tallies.append(Tally(kind, _utc(at), score, 1, survey_id))
    return tallies


def _day(value: dt.date | dt.datetime) -> dt.date:
    """A month or day as grouped: a date, or on some backends an aware datetime."""
    return _utc(value).date() if isinstance(value, dt.datetime) else value


def histogram(
    tallies: Iterable[Tally],
    *,
    kind: str | None = None,
    survey_id: int | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> dict[int, int]:
    """Answers per score of one kind (or one survey) in [start, end)."""
    counts: dict[int, int] = defaultdict(int)
    for t in tallies:
        if (
            (kind is None or t.kind == kind)
            and (survey_id is None or t.survey_id == survey_id)
            and (start is None or t.at >= start)
            and (end is None or t.at < end)
        ):
            counts[t.score] += t.answers
    return dict(counts)


def histograms_by_month(
    tallies: Iterable[Tally],
    *,
    kind: str,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> dict[dt.date, dict[int, int]]:
    """Answers per score of one kind per calendar month (UTC) in [start, end), months in
    order; a month without answers is absent, as in a grouped query."""
    months: dict[dt.date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for t in tallies:
        if t.kind == kind and (start is None or t.at >= start) and (end is None or t.at < end):
            months[t.at.date().replace(day=1)][t.score] += t.answers
    return {month: dict(months[month]) for month in sorted(months)}
