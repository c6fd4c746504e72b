"""Set-based reads for survey results and follow-ups.

Every figure is one aggregate query whatever the number of responses: counts per score value
with conditional ``COUNT``, CLI and CSI items summed straight out of the JSON answers (portable
key transforms: ``->>`` on PostgreSQL, ``JSON_EXTRACT`` on SQLite). ``surveys.metrics`` turns
those totals into scores, so the arithmetic lives in one tested place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import (
    Count,
    IntegerField,
    Prefetch,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Coalesce, TruncMonth
from django.db.models.lookups import Exact, IsNull
from django.urls import reverse
from django.utils import timezone

from customers.models import Account
from customers.selectors import portfolio_plans
from customers.timeline import TimelineItem
from surveys import metrics
from surveys.models import (
    CLI_ITEMS,
    SCALES,
    FollowUp,
    Invitation,
    Response,
    Survey,
    SurveyKind,
    Tag,
)
from surveys.periods import Window
from surveys.selectors_scores import Tally, histogram, histograms_by_month, score_tallies

SCORED_KINDS = (SurveyKind.NPS, SurveyKind.CSAT, SurveyKind.CES)
PERIOD_DAYS = {"30": 30, "90": 90, "365": 365}
DEFAULT_PERIOD = "365"


# --- filters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseFilters:
    """What the results page is narrowed to; every field comes from the URL.

    ``period`` is "30", "90", "365" (days back from now), "all", or "custom" with
    ``date_from`` / ``date_to`` (inclusive days, UTC). A segment is the account's plan or
    lifecycle stage until saved segments exist.
    """

    category: str = ""
    account_id: int | None = None
    plan: str = ""
    stage: str = ""
    period: str = DEFAULT_PERIOD
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    tag: Tag | None = None
    search: str = ""
    comments_only: bool = True

    def window(self, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
        if self.period in PERIOD_DAYS:
            return now - dt.timedelta(days=PERIOD_DAYS[self.period]), None
        if self.period == "custom":
            start = end = None
            if self.date_from:
                start = dt.datetime.combine(self.date_from, dt.time.min, tzinfo=dt.UTC)
            if self.date_to:
                end = dt.datetime.combine(self.date_to, dt.time.min, tzinfo=dt.UTC)
                end += dt.timedelta(days=1)
            return start, end
        return None, None


def _account_q(filters: ResponseFilters, prefix: str) -> Q:
    q = Q()
    if filters.account_id:
        q &= Q(**{f"{prefix}_id": filters.account_id})
    if filters.plan:
        q &= Q(**{f"{prefix}__plan": filters.plan})
    if filters.stage:
        q &= Q(**{f"{prefix}__stage": filters.stage})
    return q


def category_q(kind: str, category: str) -> Q:
    low, high = metrics.CATEGORIES.get(kind, {}).get(category, (None, None))
    if low is None:
        return Q()
    return Q(score__gte=low, score__lte=high)


def responses_filtered(
    *,
    survey: Survey,
    filters: ResponseFilters,
    now: dt.datetime | None = None,
    for_scores: bool = False,
) -> QuerySet[Response]:
    """The survey's responses narrowed by the filters. ``for_scores`` leaves out the filters
    that only make sense for the comments list (category, "with a comment", search): a score
    of the detractors alone would always be −100."""
    now = now or timezone.now()
    qs = Response.objects.filter(survey=survey).filter(_account_q(filters, "account"))
    start, end = filters.window(now)
    if start:
        qs = qs.filter(created_at__gte=start)
    if end:
        qs = qs.filter(created_at__lt=end)
    if filters.tag is not None:
        qs = qs.filter(tags=filters.tag)
    if not for_scores:
        if filters.category:
            qs = qs.filter(category_q(survey.kind, filters.category))
        if filters.comments_only:
            qs = qs.exclude(comment="")
        if filters.search:
            qs = qs.filter(
                Q(comment__icontains=filters.search) | Q(account__name__icontains=filters.search)
            )
    return qs


# --- aggregates per kind ----------------------------------------------------------------------


def _json_int(*path: str):
    """An integer inside ``answers``; keys are passed as values, never spliced into SQL."""
    expression = "answers"
    for key in path[:-1]:
        expression = KeyTransform(key, expression)
    return Cast(KeyTextTransform(path[-1], expression), IntegerField())


def _criteria_of(survey: Survey) -> list[str]:
    return list(CLI_ITEMS) if survey.kind == SurveyKind.CLI else survey.criteria


def _aggregates(kind: str, criteria: list[str]) -> dict:
    """Aggregate expressions whose results ``_summarise`` turns into a score. Aliases are
    positional (``i0_sum``) because CSI criterion keys are admin-typed strings."""
    aggs: dict = {"n": Count("pk")}
    low, high = SCALES[kind]
    if kind in SCORED_KINDS:
        for value in range(low, high + 1):
            aggs[f"v{value}"] = Count("pk", filter=Q(score=value))
    elif kind == SurveyKind.CLI:
        for i, item in enumerate(criteria):
            answer = _json_int(item)
            aggs[f"i{i}_sum"] = Sum(answer)
            aggs[f"i{i}_n"] = Count(answer)
            for value in range(low, high + 1):
                aggs[f"i{i}_v{value}"] = Count("pk", filter=Q(Exact(answer, value)))
        aggs |= _spread_aggregates([_json_int(item) for item in criteria])
    else:
        for i, key in enumerate(criteria):
            importance, satisfaction = _json_int(key, "importance"), _json_int(key, "satisfaction")
            aggs[f"i{i}_imp_sum"] = Sum(importance)
            aggs[f"i{i}_imp_n"] = Count(importance)
            aggs[f"i{i}_sat_sum"] = Sum(satisfaction)
            aggs[f"i{i}_sat_n"] = Count(satisfaction)
        aggs |= _spread_aggregates([_json_int(key, "satisfaction") for key in criteria])
    return aggs


def _spread_aggregates(values: list) -> dict:
    """Count, sums and pairwise product sums of the answers that rated every item, for the
    margin of a multi-item score (``metrics.Spread``)."""
    complete = Q()
    for value in values:
        complete &= Q(IsNull(value, False))
    aggs: dict = {"s_n": Count("pk", filter=complete)}
    for i, a in enumerate(values):
        aggs[f"s{i}"] = Sum(a, filter=complete)
        for j in range(i, len(values)):
            aggs[f"s{i}_{j}"] = Sum(a * values[j], filter=complete)
    return aggs


def _spread(criteria: list[str], row: dict) -> metrics.Spread:
    return metrics.Spread(
        n=row.get("s_n") or 0,
        sums={key: row.get(f"s{i}") or 0 for i, key in enumerate(criteria)},
        products={
            (a, criteria[j]): row.get(f"s{i}_{j}") or 0
            for i, a in enumerate(criteria)
            for j in range(i, len(criteria))
        },
    )


@dataclass(frozen=True)
class Summary:
    kind: str
    responses: int
    score: Decimal | None  # the headline: NPS, CSAT %, CES % agree, CLI or CSI
    margin: Decimal | None = None  # ± points at 95 %
    mean: Decimal | None = None  # CSAT and CES
    distribution: dict[int, int] | None = None  # count per score value (CLI: all items pooled)
    result: object = None  # the metrics.*Result behind it, for details


def _summarise(kind: str, criteria: list[str], row: dict) -> Summary:
    low, high = SCALES[kind]
    n = row.get("n") or 0
    if kind in SCORED_KINDS:
        counts = {v: row.get(f"v{v}") or 0 for v in range(low, high + 1)}
        if kind == SurveyKind.NPS:
            result = metrics.nps_from_distribution(counts)
            return Summary(
                kind, result.responses, result.score, result.margin, None, counts, result
            )
        share = (
            metrics.csat_from_distribution
            if kind == SurveyKind.CSAT
            else metrics.ces_from_distribution
        )(counts)
        return Summary(
            kind, share.responses, share.percent, share.margin, share.mean, counts, share
        )
    if kind == SurveyKind.CLI:
        items = {
            item: metrics.ItemTotal(row.get(f"i{i}_sum") or 0, row.get(f"i{i}_n") or 0)
            for i, item in enumerate(criteria)
        }
        pooled = {
            v: sum(row.get(f"i{i}_v{v}") or 0 for i in range(len(criteria)))
            for v in range(low, high + 1)
        }
        result = metrics.cli_from_totals(responses=n, items=items, spread=_spread(criteria, row))
        return Summary(kind, n, result.score, result.margin, distribution=pooled, result=result)
    totals = {
        key: metrics.CriterionTotal(
            importance=metrics.ItemTotal(
                row.get(f"i{i}_imp_sum") or 0, row.get(f"i{i}_imp_n") or 0
            ),
            satisfaction=metrics.ItemTotal(
                row.get(f"i{i}_sat_sum") or 0, row.get(f"i{i}_sat_n") or 0
            ),
        )
        for i, key in enumerate(criteria)
    }
    result = metrics.csi_from_totals(responses=n, criteria=totals, spread=_spread(criteria, row))
    return Summary(kind, n, result.score, result.margin, result=result)


def survey_summary(
    *, survey: Survey, filters: ResponseFilters, now: dt.datetime | None = None
) -> Summary:
    """The headline score of the filtered responses. One aggregate query."""
    criteria = _criteria_of(survey)
    qs = responses_filtered(survey=survey, filters=filters, now=now, for_scores=True)
    row = qs.order_by().aggregate(**_aggregates(survey.kind, criteria))
    return _summarise(survey.kind, criteria, row)


@dataclass(frozen=True)
class TrendPoint:
    month: dt.date
    responses: int
    score: Decimal | None
    margin: Decimal | None


def survey_trend(
    *, survey: Survey, filters: ResponseFilters, now: dt.datetime | None = None
) -> list[TrendPoint]:
    """The score per calendar month (UTC). One grouped query."""
    criteria = _criteria_of(survey)
    qs = responses_filtered(survey=survey, filters=filters, now=now, for_scores=True)
    rows = (
        qs.annotate(month=TruncMonth("created_at", tzinfo=dt.UTC))
        .order_by()
        .values("month")
        .annotate(**_aggregates(survey.kind, criteria))
        .order_by("month")
    )
    return [
        _trend_point(survey.kind, row["month"], _summarise(survey.kind, criteria, row))
        for row in rows
    ]


def _trend_point(kind: str, month: dt.date | dt.datetime, summary: Summary) -> TrendPoint:
    return TrendPoint(
        month=month.date() if isinstance(month, dt.datetime) else month,
        responses=summary.responses,
        score=summary.score,
        margin=summary.margin,
    )


@dataclass(frozen=True)
class ResponseRate:
    sent: int
    answered: int

    @property
    def percent(self) -> Decimal | None:
        if not self.sent:
            return None
        return (Decimal(100 * self.answered) / self.sent).quantize(Decimal("1"))


def survey_response_rate(
    *, survey: Survey, filters: ResponseFilters, now: dt.datetime | None = None
) -> ResponseRate:
    """Of the invitations sent in the period (to the filtered accounts), the share answered.
    Counting answers to the invitations sent, not answers arriving in the period, keeps the
    rate at or below 100 % at the period's edges. Manual links (an admin trying the survey
    with ``survey_link``) were never emailed, so they are not part of it.

    Two index-only counts, neither a join of invitations to answers: "sent" off the covering index
    (survey, sent_at) INCLUDE (trigger); "answered" off (survey, invitation_sent_at), the copy
    of the invitation's sent_at each answer carries (empty for manual links)."""
    now = now or timezone.now()
    start, end = filters.window(now)
    sent = Invitation.objects.filter(survey=survey, sent_at__isnull=False).exclude(
        trigger=Invitation.Trigger.MANUAL
    )
    answered = Response.objects.filter(survey=survey, invitation_sent_at__isnull=False)
    if start:
        sent = sent.filter(sent_at__gte=start)
        answered = answered.filter(invitation_sent_at__gte=start)
    if end:
        sent = sent.filter(sent_at__lt=end)
        answered = answered.filter(invitation_sent_at__lt=end)
    account_q = _account_q(filters, "account")
    if account_q:
        sent = sent.filter(_account_q(filters, "contact__account"))
        answered = answered.filter(account_q)
    return ResponseRate(sent=sent.count(), answered=answered.count())


# --- NPS, CSAT and CES counted once per page (selectors_scores) ----------------------------------


def _counts_row(counts: dict[int, int]) -> dict:
    """Answers per score in the shape of the aggregate rows ``_summarise`` reads."""
    return {"n": sum(counts.values()), **{f"v{score}": n for score, n in counts.items()}}


def _answers_narrowing(filters: ResponseFilters) -> Q | None:
    """The filters the answers per day cannot apply (they know no account, plan, stage or
    tag), as a condition on the answers; None when there are none."""
    narrowing = _account_q(filters, "account")
    if filters.tag is not None:
        narrowing &= Q(tags=filters.tag)
    return narrowing or None


def _tallied_score(kind: str, tallies: list[Tally], window: Window) -> metrics.PeriodScore:
    counts = histogram(tallies, kind=kind, start=window.start, end=window.end)
    summary = _summarise(kind, [], _counts_row(counts))
    return metrics.PeriodScore(window.label, summary.responses, summary.score, summary.margin)


def _tallied_trend(
    kind: str, tallies: list[Tally], *, start: dt.datetime | None, end: dt.datetime | None
) -> list[TrendPoint]:
    months = histograms_by_month(tallies, kind=kind, start=start, end=end)
    return [
        _trend_point(kind, month, _summarise(kind, [], _counts_row(counts)))
        for month, counts in months.items()
    ]


@dataclass(frozen=True)
class SurveyScores:
    """What a results page shows of the scores: the headline, the months, the comparison."""

    summary: Summary
    trend: list[TrendPoint]
    change: metrics.ScoreChange | None


def survey_scores(
    *,
    survey: Survey,
    filters: ResponseFilters,
    now: dt.datetime | None = None,
    comparison: tuple[Window, Window] | None = None,
) -> SurveyScores:
    """The results page's summary, monthly trend and (NPS, CSAT, CES, given two windows) score
    change. NPS, CSAT and CES are counted once for all three (``selectors_scores``): unfiltered
    off the answers per day, filtered in one pass over the narrowed answers. CLI and CSI,
    whose scores are sums of items, read the answers: two aggregate queries, no comparison."""
    now = now or timezone.now()
    if survey.kind not in SCORED_KINDS:
        return SurveyScores(
            survey_summary(survey=survey, filters=filters, now=now),
            survey_trend(survey=survey, filters=filters, now=now),
            None,
        )
    kind = survey.kind
    start, end = filters.window(now)
    windows = [(start, end), *((w.start, w.end) for w in comparison or ())]
    starts, ends = [w[0] for w in windows], [w[1] for w in windows]
    tallies = score_tallies(
        surveys=Q(survey=survey),
        start=None if None in starts else min(starts),
        end=None if None in ends else max(ends),
        edges=[bound for window in windows for bound in window if bound is not None],
        narrowing=_answers_narrowing(filters),
    )
    summary = _summarise(kind, [], _counts_row(histogram(tallies, kind=kind, start=start, end=end)))
    trend = _tallied_trend(kind, tallies, start=start, end=end)
    change = None
    if comparison is not None:
        change = metrics.score_change(
            current=_tallied_score(kind, tallies, comparison[0]),
            previous=_tallied_score(kind, tallies, comparison[1]),
        )
    return SurveyScores(summary, trend, change)


def scored_overview(
    *, current: Window, previous: Window, accounts: QuerySet[Account] | None = None
) -> tuple[dict[str, list[TrendPoint]], dict[str, metrics.ScoreChange]]:
    """The Satisfaction dashboard's scores: NPS, CSAT and CES per month of ``current`` and each
    kind's change against ``previous``. One query: every account off the answers per day,
    already summed per month; narrowed to ``accounts``, one pass over their answers."""
    tallies = score_tallies(
        surveys=Q(survey__kind__in=SCORED_KINDS),
        start=min(current.start, previous.start),
        end=max(current.end, previous.end),
        edges=[current.start, current.end, previous.start, previous.end],
        narrowing=None if accounts is None else Q(account__in=accounts.values("pk")),
    )
    trends = {
        kind: _tallied_trend(kind, tallies, start=current.start, end=current.end)
        for kind in SCORED_KINDS
    }
    changes = {
        kind: metrics.score_change(
            current=_tallied_score(kind, tallies, current),
            previous=_tallied_score(kind, tallies, previous),
        )
        for kind in SCORED_KINDS
    }
    return trends, changes


def survey_comments(
    *, survey: Survey, filters: ResponseFilters, now: dt.datetime | None = None
) -> QuerySet[Response]:
    """The comments list, newest first, with what each row shows fetched up front."""
    return (
        responses_filtered(survey=survey, filters=filters, now=now)
        .select_related("survey", "account", "contact", "follow_up")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
        .order_by("-created_at", "-id")
    )


def responses_for_export(
    *, survey: Survey, filters: ResponseFilters, now: dt.datetime | None = None
) -> Iterator[Response]:
    """Every filtered response (with or without a comment), streamed in chunks."""
    qs = (
        responses_filtered(survey=survey, filters=filters, now=now)
        .select_related("account", "contact")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
        .order_by("created_at", "id")
    )
    return qs.iterator(chunk_size=2000)


def plans_in_use() -> list[str]:
    """The plans accounts are on, for the segment filter: the portfolio's loose index scan,
    so 100k accounts cost one index probe per plan."""
    return portfolio_plans()


# --- the survey list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyRow:
    survey: Survey
    summary: Summary


def survey_index(*, now: dt.datetime | None = None, days: int = 365) -> list[SurveyRow]:
    """Every survey with its responses and headline score over the last ``days``: one query
    for the surveys, NPS, CSAT and CES off the answers per day (two small queries, the first
    day being split by ``now``), and one grouped aggregate per other kind (CLI, CSI)."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    surveys = list(Survey.objects.order_by("name"))
    rows_by_survey: dict[int, dict] = {}
    scored = [s.pk for s in surveys if s.kind in SCORED_KINDS]
    if scored:
        tallies = score_tallies(surveys=Q(survey_id__in=scored), start=since, end=None)
        for survey_id in scored:
            rows_by_survey[survey_id] = _counts_row(histogram(tallies, survey_id=survey_id))
    for kind in (SurveyKind.CLI, SurveyKind.CSI):
        of_kind = [s for s in surveys if s.kind == kind]
        if not of_kind:
            continue
        keys = sorted({key for s in of_kind for key in _criteria_of(s)})
        for row in (
            Response.objects.filter(survey__in=of_kind, created_at__gte=since)
            .order_by()
            .values("survey_id")
            .annotate(**_aggregates(kind, keys))
        ):
            survey = next(s for s in of_kind if s.pk == row["survey_id"])
            # Re-key the union's columns to this survey's own criteria.
            own = _criteria_of(survey)
            rows_by_survey[survey.pk] = _rekey(row, keys, own)
    return [
        SurveyRow(s, _summarise(s.kind, _criteria_of(s), rows_by_survey.get(s.pk, {})))
        for s in surveys
    ]


def _rekey(row: dict, union: list[str], own: list[str]) -> dict:
    """A row aggregated over the union of several surveys' criteria, keyed by one survey's.
    Its spread counted only answers that rated every criterion of the union: for a survey
    with fewer criteria that is none, and its margin is then left out rather than wrong."""
    out = {"n": row["n"], "s_n": row.get("s_n")}
    position = [union.index(key) for key in own]
    for j, i in enumerate(position):
        for name, value in row.items():
            prefix = f"i{i}_"
            if name.startswith(prefix):
                out[f"i{j}_{name[len(prefix) :]}"] = value
        out[f"s{j}"] = row.get(f"s{i}")
        for l_, k in enumerate(position[j:], start=j):
            out[f"s{j}_{l_}"] = row.get(f"s{min(i, k)}_{max(i, k)}")
    return out


# --- follow-ups --------------------------------------------------------------------------------


def follow_ups_list(*, owner=None, status: str = FollowUp.Status.OPEN) -> QuerySet[FollowUp]:
    """Follow-ups, oldest open first (the ones waiting longest), with what a row shows."""
    qs = FollowUp.objects.select_related(
        "account", "owner", "handled_by", "response__survey", "response__contact"
    )
    if owner is not None:
        qs = qs.filter(owner=owner)
    if status in FollowUp.Status.values:
        qs = qs.filter(status=status)
    if status == FollowUp.Status.OPEN:
        return qs.order_by("created_at", "id")
    return qs.order_by("-created_at", "-id")


def follow_ups_default_owner(*, user):
    """Whose follow-ups a user sees first: a CSM their own, anyone else (admins, viewers,
    who own no book) everyone's; ``None`` means everyone's."""
    return user if user.is_csm else None


# --- the account timeline ------------------------------------------------------------------

EXCERPT_LENGTH = 240


def _excerpt(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1] + "…"


def account_timeline(account: Account, *, limit: int = 50) -> list[TimelineItem]:
    """The ``surveys`` source of the account 360 timeline: answers (score and comment) and
    follow-ups (opened, handled). Two queries, each bounded by ``limit``."""
    items: list[TimelineItem] = []
    responses = (
        Response.objects.filter(account=account)
        .select_related("survey", "contact")
        .order_by("-created_at", "-id")[:limit]
    )
    for response in responses:
        kind = response.survey.kind
        value = metrics.respondent_score(kind, response.score, response.answers)
        label = SurveyKind(kind).name
        shown = "—" if value is None else f"{value.normalize():f}"
        results_url = reverse("surveys:results", args=[response.survey.slug])
        items.append(
            TimelineItem(
                at=response.created_at,
                kind="survey_response",
                title=f"{label} {shown} from {response.contact} ({response.survey.name})",
                body=_excerpt(response.comment),
                url=f"{results_url}?{urlencode({'account': account.pk, 'show': 'all'})}",
                extra={
                    "survey": response.survey.slug,
                    "score": value,
                    "category": metrics.category(kind, response.score),
                },
            )
        )
    follow_ups = (
        FollowUp.objects.filter(account=account)
        .select_related("owner", "handled_by")
        .order_by(Coalesce("handled_at", "created_at").desc(), "-id")[:limit]
    )
    follow_ups_url = reverse("surveys:follow_ups")
    for follow_up in follow_ups:
        items.append(
            TimelineItem(
                at=follow_up.created_at,
                kind="follow_up_opened",
                title=f"Follow-up opened: {follow_up.reason}",
                body=f"For {follow_up.owner or 'nobody (the account has no owner)'}",
                url=f"{follow_ups_url}?{urlencode({'owner': 'all', 'status': 'all'})}",
            )
        )
        if follow_up.status == FollowUp.Status.HANDLED and follow_up.handled_at:
            items.append(
                TimelineItem(
                    at=follow_up.handled_at,
                    kind="follow_up_handled",
                    title=f"Follow-up handled by {follow_up.handled_by or 'a former user'}",
                    body=_excerpt(follow_up.handled_note),
                )
            )
    return items
