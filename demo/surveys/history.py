"""Demo survey history for ``seed_demo``: one survey of each kind and a year of answers whose
scores follow what the accounts did.

An account's mood at a moment is read from its own data (the DailyUsage rollups): use that
month against its usual and against the months before, cancel-page visits, data exports and
failed payments shortly before, a churn coming up, tickets open now. Healthy accounts promote,
declining and dormant ones are passive or detract, churning ones detract. Comments come in the
contact's language, some with words the demo tags pick up; unhappy answers get follow-ups (most
older ones handled, with a note); CSAT follows closed tickets.

Why it is built this way (100k accounts give over a million invitations, and ``seed_demo``
has five minutes for everything):

- **Rows, not model instances.** Each chunk of accounts is rendered as tuples and written by
  the customers seeder's bulk sink (:func:`demo.customers.demo_sink`): binary ``COPY`` on
  PostgreSQL, from a thread that loads one chunk while the next is rendered, into tables
  stripped of their indexes and foreign keys if they were empty; ``executemany`` on SQLite.
  Invitation and response ids are allocated by the sink, so answers, tags and follow-ups
  point at their parents without a round trip.
- **The server works while Python renders.** On PostgreSQL the next chunk's rows are read
  by another thread meanwhile, and the database's work per row (COPY) runs in parallel with
  the rendering; the Python work per invitation is kept to the draws and the row.
- **Deterministic.** One ``random.Random`` drawn in a fixed order (chunk by chunk, campaign
  run by run, account by account), so a seed gives the same history; only the token hashes
  are random by design. A chunk is read in full before it is rendered.
- **Bounded memory.** A chunk of accounts at a time, dropped once the sink has it.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import json
import random
import secrets
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Count, DateField, F, Min, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast, TruncMonth

from core.iterables import batched
from customers.models import Account, Contact, DailyUsage, Ticket, TicketStatus
from demo.customers import Batch, demo_sink, postgres_prepare
from demo.surveys.catalogue import (
    CAMPAIGNS,
    COMMENTS,
    CSAT_FALLBACK,
    CSI_IMPORTANCE,
    CSI_OFFSET,
    HANDLED_NOTES,
    SURVEYS,
    TAGS,
)
from surveys import metrics
from surveys.models import (
    CLI_ITEMS,
    DEFAULT_CSI_CRITERIA,
    Campaign,
    CampaignRun,
    FollowUp,
    Invitation,
    Response,
    Survey,
    SurveyKind,
    Tag,
)
from surveys.services import follow_up_reason, survey_texts_fill_defaults, tags_matching

ACCOUNT_CHUNK = 500
HISTORY_DAYS = 365
EXPIRY_DAYS = 60
CHURN_MOOD_DAYS = 180  # how long before a churn the answers sour


# Usage a person did (docs/domain/customers.md reserved types); billing and ticket events are not.
ACTIVITY_TYPES = ("login", "feature_used")
# Signs of leaving or of trouble, read from the daily rollups around each answer.
SIGNAL_TYPES = ("cancel_page_visit", "data_export", "payment_failed")

# The columns the sink loads. Those left out are nullable and empty in the demo (a reminder's
# token, a revocation) or filled by the database (the id of a tag link or a follow-up).
INVITATION_COLUMNS = [
    "id",
    "survey_id",
    "contact_id",
    "campaign_id",
    "campaign_run_id",
    "ticket_id",
    "trigger",
    "token_hash",
    "language",
    "scheduled_for",
    "sent_at",
    "expires_at",
    "reminded_at",
    "created_at",
]
RESPONSE_COLUMNS = [
    "id",
    "invitation_id",
    "survey_id",
    "contact_id",
    "account_id",
    "score",
    "answers",
    "comment",
    "language",
    "created_at",
    "updated_at",
    "to_announce",
    "invitation_sent_at",
]
RESPONSE_TAG_COLUMNS = ["response_id", "tag_id"]
FOLLOW_UP_COLUMNS = [
    "response_id",
    "account_id",
    "owner_id",
    "reason",
    "status",
    "handled_by_id",
    "handled_note",
    "handled_at",
    "created_at",
]
FEELINGS = {"promoter": "good", "satisfied": "good", "passive": "middling", "neutral": "middling"}
CLI_OFFSETS = {"recommend": 0.0, "buy_again": 0.3, "try_other": -1.5}
ANSWER_WINDOW = dt.timedelta(days=EXPIRY_DAYS)
# Loaded in this order (parents first); on PostgreSQL stripped for the load when empty.
HISTORY_MODELS = [Invitation, Response, Response.tags.through, FollowUp]
HANDLED_AFTER = dt.timedelta(days=14)


@dataclass
class _Account:
    pk: int
    owner_id: int | None
    created_at: dt.datetime | None
    churned_at: dt.datetime | None
    open_tickets: int = 0
    usage: dict[dt.date, float] = field(default_factory=dict)  # month → events per day
    usual: float = 0.0  # mean daily rate over the months with any use
    usage_from: dt.date | None = None  # the first day the usage data covers at all
    signals: dict[str, list[dt.date]] = field(default_factory=lambda: defaultdict(list))
    # Filled on the first mood() (the fields above are final by then): the usage part of the
    # mood per month, and each signal's days as sorted ordinals to count a window by bisection.
    _usage_moods: dict[tuple[int, int], float] = field(default_factory=dict, init=False, repr=False)
    _signal_days: dict[str, list[int]] | None = field(default=None, init=False, repr=False)

    def mood(self, at: dt.datetime, now: dt.datetime, rng: random.Random) -> float:
        """0 (furious) … 1 (delighted) at ``at``, from the account's own behaviour then.

        The terms are added in a fixed order (the usage of the month, signals, churn, tickets,
        noise), so the memoised parts give exactly the floats a full computation would."""
        day = at.date()
        mood = 0.78  # a customer using the product as usual is fairly happy
        if self.usage_from is not None and day >= self.usage_from:
            month = (day.year, day.month)
            mood = self._usage_moods.get(month)
            if mood is None:
                mood = self._usage_moods[month] = self._usage_mood(dt.date(*month, 1))
        signals = self._signal_days
        if signals is None:
            signals = self._signal_days = {
                kind: sorted(d.toordinal() for d in days) for kind, days in self.signals.items()
            }
        # Days with each signal in the window before ``day``, counted by bisection. Terms that
        # would subtract nothing are skipped (x - 0.0 is x).
        if signals:
            today = day.toordinal()
            if (days := signals.get("cancel_page_visit")) and (
                bisect_right(days, today) > bisect_left(days, today - 45)
            ):
                mood -= 0.3
            if (days := signals.get("data_export")) and (
                bisect_right(days, today) > bisect_left(days, today - 30)
            ):
                mood -= 0.08
            if days := signals.get("payment_failed"):
                failed = bisect_right(days, today) - bisect_left(days, today - 60)
                if failed:
                    mood -= 0.12 * min(failed, 3)
        if self.churned_at is not None:
            # Most churners drift away over months before they go (demo.customers.story).
            days_left = (self.churned_at - at).days
            if days_left < CHURN_MOOD_DAYS:
                mood -= 0.5 * (1 - max(days_left, 0) / CHURN_MOOD_DAYS)
        if self.open_tickets and (now - at).days < 60:  # open now: weighs on recent answers
            mood -= 0.05 * min(self.open_tickets, 5)
        return max(0.0, min(1.0, mood + rng.gauss(0, 0.1)))

    def _usage_mood(self, month: dt.date) -> float:
        """The mood from 0.78 after the month's use: against the account's usual and against
        the three months before. Memoised by mood(): an account is asked often in a month."""
        mood = 0.78
        if self.usual:
            usage = self.usage
            rate = usage.get(month, 0.0)
            mood += 0.35 * max(-1.0, min(0.4, rate / self.usual - 1))  # vs their usual
            one, two, three = _three_months_before(month)
            earlier = (usage.get(one, 0.0) + usage.get(two, 0.0) + usage.get(three, 0.0)) / 3
            if earlier and rate < earlier:  # falling: worse than the months before
                mood -= 0.3 * (1 - rate / earlier)
            if rate == 0:
                mood -= 0.15  # dormant that month
        else:
            mood -= 0.1  # never used it
        return mood


def _month_before(month: dt.date, k: int) -> dt.date:
    for _ in range(k):
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return month


@functools.cache  # a handful of months, asked about for every account
def _three_months_before(month: dt.date) -> tuple[dt.date, dt.date, dt.date]:
    return _month_before(month, 1), _month_before(month, 2), _month_before(month, 3)


@dataclass
class _Person:
    pk: int
    account: _Account
    locale: str

    @property
    def account_id(self) -> int:
        return self.account.pk


def seed_surveys(*, rng: random.Random, now: dt.datetime, stdout=None) -> None:
    """Create the five demo surveys and a year of their history. Does nothing to history
    that exists: run twice, it leaves the first run's answers alone."""
    surveys = _surveys_ensure()
    if Invitation.objects.filter(survey__in=surveys.values()).exists():
        _say(stdout, "Survey history exists; left as it is.")
        return
    tags = _tags_ensure()
    has_tickets = Ticket.objects.filter(
        status=TicketStatus.CLOSED, closed_at__gte=now - dt.timedelta(days=HISTORY_DAYS)
    ).exists()
    campaigns = CAMPAIGNS if has_tickets else [*CAMPAIGNS, CSAT_FALLBACK]
    history = _History(surveys, _campaigns_create(surveys, campaigns, now), tags, rng, now)
    totals: Counter[str] = Counter()
    account_ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    if account_ids:
        _history_write(history, account_ids, totals)
    _say(
        stdout,
        f"Surveys: {totals['invitations']} invitations, {totals['responses']} answers, "
        f"{totals['follow_ups']} follow-ups.",
    )


def _history_write(history: _History, account_ids: list[int], totals: Counter[str]) -> None:
    """Render and load the history a chunk of accounts at a time, in one transaction.

    On PostgreSQL, history tables that are empty are loaded without their secondary indexes
    and foreign keys, recreated at the end (as the customers seeder does): checking a million
    rows' five foreign keys one row at a time costs more than rendering them. The sink
    locks the invitation and response tables while it hands out their ids."""
    postgres = _postgres()
    now = history.now
    usage_from = DailyUsage.objects.aggregate(first=Min("day"))["first"]
    after_tickets = history.asks["csat"].after_tickets
    chunks = list(batched(account_ids, ACCOUNT_CHUNK))
    with transaction.atomic(), _collector_paused():
        sink = demo_sink()
        restore = postgres_prepare(sink.cursor, HISTORY_MODELS) if postgres else {}
        sink.start([Invitation, Response])
        history.allocate = sink.allocate
        queries = functools.partial(_chunk_queries, now=now, after_tickets=after_tickets)
        reader = _Reader()
        try:
            # One chunk ahead: the next chunk is read while this one is rendered (and the
            # previous one loaded). Its rows are waited for before this chunk goes to the
            # sink, whose COPY would otherwise hold the connection first.
            rows = reader.ask(queries(chunks[0]))()
            for following in [*chunks[1:], None]:
                ahead = reader.ask(queries(following)) if following is not None else None
                batch = history.render(_chunk_build(rows, now=now, usage_from=usage_from), totals)
                if ahead is not None:
                    rows = ahead()
                sink.submit(batch)
        finally:
            reader.close()
            sink.finish()
        sink.close()
        if postgres:
            # Back to deferred, as Django declares its foreign keys (the load made them
            # immediate). Rebuilding an index counts the table's rows for the planner; column
            # statistics are left to autovacuum, which analyzes tables this full on its own.
            sink.cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for statements in restore.values():
                for statement in statements:
                    sink.cursor.execute(statement)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector. The history is millions of small acyclic tuples,
    freed by reference counting once written; the collector would keep re-scanning all that is
    alive meanwhile (the chunk being rendered, the one being loaded) and find nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _say(stdout, text: str) -> None:
    if stdout is not None:
        stdout.write(text)


def _surveys_ensure() -> dict[str, Survey]:
    surveys = {}
    for slug, name, kind, after_ticket in SURVEYS:
        survey, _ = Survey.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "kind": kind,
                "send_after_ticket_close": after_ticket,
                # Asked after every closed ticket, as in the history (the 24 h floor holds).
                "fatigue_days": 0 if after_ticket else None,
            },
        )
        survey_texts_fill_defaults(survey=survey)
        surveys[slug] = survey
    return surveys


def _tags_ensure() -> list[Tag]:
    for name, keywords in TAGS.items():
        Tag.objects.get_or_create(name=name, defaults={"keywords": keywords})
    return list(Tag.objects.exclude(keywords=""))


@dataclass(frozen=True)
class _Run:
    survey_slug: str
    campaign_id: int
    run_id: int
    at: dt.datetime
    sample: float
    spread_days: int


def _campaigns_create(surveys, campaigns, now: dt.datetime) -> list[_Run]:
    runs: list[_Run] = []
    for slug, name, every_months, sample, spread, first_days_ago in campaigns:
        starts = now - dt.timedelta(days=first_days_ago)
        step = dt.timedelta(days=round(every_months * 30.44))
        # Found by name, so re-seeding after ``seed_demo --flush-demo`` reuses the campaign.
        campaign, _ = Campaign.objects.update_or_create(
            survey=surveys[slug],
            name=name,
            defaults={
                "sample_percent": round(sample * 100),
                "spread_days": spread,
                "repeat_every_months": every_months,
                "starts_at": starts,
                "next_run_at": _next_after(starts, step, now),
                "status": Campaign.Status.SCHEDULED,
                "created_at": starts,
            },
        )
        at = starts
        while at < now - dt.timedelta(days=2):
            run, _ = CampaignRun.objects.get_or_create(
                campaign=campaign, run_at=at, defaults={"started_at": at}
            )
            runs.append(_Run(slug, campaign.pk, run.pk, at, sample, spread))
            at += step
    return runs


def _next_after(start: dt.datetime, step: dt.timedelta, now: dt.datetime) -> dt.datetime:
    at = start
    while at <= now:
        at += step
    return at


@dataclass
class _Chunk:
    """Everything a chunk of accounts is rendered from, read before any of it is rendered."""

    accounts: dict[int, _Account]
    people: list[_Person]  # the contacts that may be surveyed, by account, then by pk
    by_pk: dict[int, _Person]
    first_person: dict[int, _Person]  # by account: asked about tickets nobody is named on
    closed_tickets: list[tuple[int, int, int | None, dt.datetime]]  # pk, account, contact, closed


def _chunk_queries(chunk: list[int], *, now: dt.datetime, after_tickets: bool) -> list[QuerySet]:
    """What a chunk's history follows: its accounts, the rollups of their use and signals,
    their open tickets, their contacts and (for CSAT) their closed tickets. A chunk is a run of
    consecutive account ids, so rows are selected by an id range, not a list of 500 ids."""
    in_chunk = {"account_id__gte": chunk[0], "account_id__lte": chunk[-1]}
    # One pass over the rollups: use summed by month (kind ""), signals by day. The month as
    # a date, not the timestamp DATE_TRUNC gives: much cheaper to read back.
    activity = Q(type__in=ACTIVITY_TYPES)
    kind = Case(When(activity, then=Value("")), default=F("type"))
    on = Case(When(activity, then=Cast(TruncMonth("day"), DateField())), default=F("day"))
    since = (now - dt.timedelta(days=HISTORY_DAYS + 120)).date()
    closed_since = now - dt.timedelta(days=HISTORY_DAYS)
    queries = [
        Account.objects.filter(pk__range=(chunk[0], chunk[-1])).values_list(
            "pk", "owner_id", "created_at", "first_paid_at", "churned_at"
        ),
        DailyUsage.objects.filter(
            **in_chunk, day__gte=since, type__in=ACTIVITY_TYPES + SIGNAL_TYPES
        )
        .order_by()
        .annotate(kind=kind, on=on)
        .values("account_id", "kind", "on")
        .annotate(events=Sum("count"))
        .values_list("account_id", "kind", "on", "events"),
        Ticket.objects.filter(**in_chunk, status=TicketStatus.OPEN)
        .order_by()
        .values("account_id")
        .annotate(n=Count("pk"))
        .values_list("account_id", "n"),
        Contact.objects.filter(**in_chunk, do_not_survey=False)
        .exclude(email="")
        .order_by("account_id", "pk")
        .values_list("pk", "account_id", "locale"),
    ]
    if after_tickets:
        queries.append(
            Ticket.objects.filter(
                **in_chunk, status=TicketStatus.CLOSED, closed_at__gte=closed_since
            )
            .order_by("pk")
            .values_list("pk", "account_id", "contact_id", "closed_at")
        )
    return queries


def _chunk_build(rows: list[list], *, now: dt.datetime, usage_from: dt.date | None) -> _Chunk:
    """The chunk's accounts and contacts from the rows of :func:`_chunk_queries`."""
    account_rows, usage_rows, open_rows, contact_rows, *closed = rows
    # An account's history starts when it was created or first paid, whichever is earlier;
    # data loaded without dates (created "now") does not hold the history back.
    recent = now - dt.timedelta(days=2)
    accounts = {}
    for pk, owner_id, created_at, first_paid_at, churned_at in account_rows:
        start = min(created_at, first_paid_at or created_at)
        accounts[pk] = _Account(
            pk=pk,
            owner_id=owner_id,
            created_at=start if start < recent else None,
            churned_at=churned_at,
            usage_from=usage_from,
        )
    covered: dict[dt.date, int] = {}
    for account_id, signal, day, events in usage_rows:
        if signal:
            accounts[account_id].signals[signal].append(day)
            continue
        if day not in covered:
            covered[day] = _days_covered(day, usage_from, now.date())
        # Events per day covered, so the month under way and the first month of data (both
        # partial) compare fairly with full months.
        accounts[account_id].usage[day] = events / covered[day]
    for account in accounts.values():
        used = [v for v in account.usage.values() if v]
        account.usual = sum(used) / len(used) if used else 0.0
    for account_id, count in open_rows:
        accounts[account_id].open_tickets = count
    people = [_Person(pk, accounts[account_id], locale) for pk, account_id, locale in contact_rows]
    first_person: dict[int, _Person] = {}
    for person in people:
        first_person.setdefault(person.account_id, person)
    by_pk = {person.pk: person for person in people}
    return _Chunk(accounts, people, by_pk, first_person, closed[0] if closed else [])


class _Reader:
    """Reads the next chunk's rows while this one is rendered.

    On PostgreSQL a thread runs the chunk's queries (compiled here by the ORM) on the
    transaction's own connection, so the server answers them meanwhile; psycopg connections
    are thread-safe, so they take turns with the sink's COPY. Rows come through the loaders
    Django set on the connection, as the ORM's would (these queries need no converters). On
    SQLite the queries run when asked."""

    def __init__(self) -> None:
        self.pool: ThreadPoolExecutor | None = None
        if _postgres():
            connection.ensure_connection()
            self.pool = ThreadPoolExecutor(1, "seed-surveys-read")

    def ask(self, querysets: list[QuerySet]) -> Callable[[], list[list]]:
        if self.pool is None:
            rows = [list(queryset) for queryset in querysets]
            return lambda: rows
        compiled = [queryset.query.sql_with_params() for queryset in querysets]
        return self.pool.submit(_rows_read, connection.connection, compiled).result

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def _rows_read(raw: Any, compiled: list[tuple[str, tuple]]) -> list[list]:
    """Each query's rows, on the raw (psycopg) connection ``raw``; runs in the reader thread."""
    with connection.wrap_database_errors, raw.cursor() as cursor:
        found = []
        for sql, params in compiled:
            cursor.execute(sql, params)
            found.append(cursor.fetchall())
        return found


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _days_covered(month: dt.date, first: dt.date | None, today: dt.date) -> int:
    """Days of ``month`` the usage data can speak for: from its first day (or the first day
    of data) up to its last day (or today)."""
    next_month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    start = max(month, first or month)
    end = min(next_month, today + dt.timedelta(days=1))
    return max((end - start).days, 1)


@dataclass(frozen=True)
class _Ask:
    """What an invitation needs of its survey, read once per seeding rather than per row."""

    pk: int
    kind: str
    criteria: tuple[str, ...]  # CSI
    expiry: dt.timedelta
    reminder: dt.timedelta
    reminder_days: int
    after_tickets: bool  # CSAT: sent after each closed ticket, not as a campaign

    @classmethod
    def of(cls, survey: Survey) -> _Ask:
        return cls(
            pk=survey.pk,
            kind=survey.kind,
            criteria=tuple(survey.criteria or DEFAULT_CSI_CRITERIA),
            expiry=dt.timedelta(days=survey.expiry_days),
            reminder=dt.timedelta(days=survey.reminder_after_days),
            reminder_days=survey.reminder_after_days,
            after_tickets=survey.send_after_ticket_close,
        )


class _History:
    """Renders chunks of accounts into rows, drawing from one generator in a fixed order.

    ``allocate(model, n)`` hands out ids (the sink's, set before rendering), so an answer's
    row can name its invitation, and tags and follow-ups their answer, before anything is
    written."""

    def __init__(
        self,
        surveys: dict[str, Survey],
        runs: list[_Run],
        tags: list[Tag],
        rng: random.Random,
        now: dt.datetime,
    ) -> None:
        self.asks = {slug: _Ask.of(survey) for slug, survey in surveys.items()}
        self.runs = runs
        self.tags = tags
        self.rng = rng
        self.now = now
        self.allocate: Callable[[Any, int], int] = _no_ids
        self.token_hashes = _token_hashes()
        # Comments come from a small bank: each one's tags are matched once.
        self.tag_ids: dict[str, tuple[int, ...]] = {}

    def render(self, chunk: _Chunk, totals: Counter[str]) -> Batch:
        """The chunk's invitations, answers, their tags and follow-ups, parents first.

        The generator is drawn in the order the history has always been drawn in: campaign
        runs, then CSAT after tickets, then the handling of follow-ups."""
        rng, now, allocate, tokens = self.rng, self.now, self.allocate, self.token_hashes
        chance, timedelta = rng.random, dt.timedelta  # bound once: called ~20 times per row
        invitations: list[tuple] = []
        responses: list[tuple] = []
        response_tags: list[tuple[int, int]] = []
        unhappy: list[tuple[int, _Account, str, int, dt.datetime]] = []
        nothing = Response.Announce.NOTHING.value

        def plan(
            ask: _Ask,
            person: _Person,
            sent_at: dt.datetime,
            trigger: str,
            campaign_id: int | None,
            run_id: int | None,
            ticket_id: int | None,
        ) -> None:
            account = person.account
            # Nobody is surveyed before their account existed, or after it left.
            if sent_at >= now or (account.created_at and sent_at < account.created_at):
                return
            if account.churned_at is not None and sent_at > account.churned_at:
                return
            mood = account.mood(sent_at, now, rng)
            answered = chance() < 0.25 + 0.35 * mood
            # The delay is drawn for every invitation, so the draws stay in step, but only
            # made a timedelta (costly from a float) for those who answer.
            hours = rng.expovariate(1 / 30)
            delay = timedelta(hours=hours) if answered else None
            invitation_id = allocate(Invitation, 1)
            reminded_at: dt.datetime | None = sent_at + ask.reminder
            if delay is not None and delay < ANSWER_WINDOW and sent_at + delay < now:
                at = sent_at + delay
                score, answers, comment = self._answer(ask, mood, person.locale)
                response_id = allocate(Response, 1)
                responses.append(
                    (response_id, invitation_id, ask.pk, person.pk, person.account_id, score,
                     json.dumps(answers) if answers else "{}", comment, person.locale, at, at,
                     nothing, sent_at)
                )  # fmt: skip
                if comment:
                    response_tags.extend((response_id, t) for t in self._tag_ids(comment))
                if metrics.is_unhappy(ask.kind, score):
                    unhappy.append((response_id, account, ask.kind, score, at))
                if delay.days < ask.reminder_days:
                    reminded_at = None
            if reminded_at is not None and reminded_at >= now:
                reminded_at = None
            invitations.append(
                (invitation_id, ask.pk, person.pk, campaign_id, run_id, ticket_id, trigger,
                 next(tokens), person.locale, sent_at, sent_at, sent_at + ask.expiry, reminded_at,
                 sent_at)
            )  # fmt: skip

        campaign = Invitation.Trigger.CAMPAIGN.value
        for run in self.runs:
            ask = self.asks[run.survey_slug]
            sample, spread, run_at, campaign_id, run_id = (
                run.sample, run.spread_days, run.at, run.campaign_id, run.run_id
            )  # fmt: skip
            for person in chunk.people:
                if sample < 1 and chance() >= sample:
                    continue
                sent_at = run_at + timedelta(days=spread * chance())  # rng.uniform(0, spread)
                plan(ask, person, sent_at, campaign, campaign_id, run_id, None)

        csat, ticket = self.asks["csat"], Invitation.Trigger.TICKET.value
        for pk, account_id, contact_id, closed_at in chunk.closed_tickets:
            person = chunk.by_pk.get(contact_id) or chunk.first_person.get(account_id)
            if person is not None:
                sent = closed_at + timedelta(minutes=rng.randint(5, 120))
                plan(csat, person, sent, ticket, None, None, pk)

        follow_ups = []
        for response_id, account, kind, score, at in unhappy:
            owner_id = account.owner_id
            status, handled_by, note, handled_at = FollowUp.Status.OPEN.value, None, "", None
            if owner_id and now - at > HANDLED_AFTER and rng.random() < 0.9:
                status, handled_by = FollowUp.Status.HANDLED.value, owner_id
                handled_at = min(at + dt.timedelta(days=rng.uniform(0.2, 10)), now)
                note = rng.choice(HANDLED_NOTES)
            follow_ups.append(
                (response_id, account.pk, owner_id, follow_up_reason(kind=kind, score=score),
                 status, handled_by, note, handled_at, at)
            )  # fmt: skip

        totals["invitations"] += len(invitations)
        totals["responses"] += len(responses)
        totals["follow_ups"] += len(follow_ups)
        return Batch(
            binary=[
                (Invitation, INVITATION_COLUMNS, invitations),
                (Response, RESPONSE_COLUMNS, responses),
                (Response.tags.through, RESPONSE_TAG_COLUMNS, response_tags),
                (FollowUp, FOLLOW_UP_COLUMNS, follow_ups),
            ]
        )

    def _answer(self, ask: _Ask, mood: float, locale: str) -> tuple[int | None, dict, str]:
        """A score (or the items of CLI and CSI) for ``mood``, and maybe a comment that says
        the same in the contact's language."""
        rng, kind = self.rng, ask.kind
        score = None
        answers: dict = {}
        if kind == SurveyKind.NPS:
            score = _clip(rng.gauss(2 + 8.5 * mood, 1.3), 0, 10)
        elif kind == SurveyKind.CSAT:
            score = _clip(rng.gauss(1 + 4.4 * mood, 0.7), 1, 5)
        elif kind == SurveyKind.CES:
            score = _clip(rng.gauss(1 + 6.4 * mood, 0.9), 1, 7)
        elif kind == SurveyKind.CLI:
            answers = {
                item: _clip(rng.gauss(1.5 + 8.5 * mood + CLI_OFFSETS[item], 1.2), 0, 10)
                for item in CLI_ITEMS
            }
        else:
            for key in ask.criteria:
                importance = _clip(rng.gauss(CSI_IMPORTANCE.get(key, 7.0), 1.2), 1, 10)
                satisfaction = _clip(
                    rng.gauss(1 + 8.5 * mood + CSI_OFFSET.get(key, 0.0), 1.1), 1, 10
                )
                answers[key] = {"importance": importance, "satisfaction": satisfaction}
        if score is not None:
            feeling = _score_feeling(kind, score)
        else:
            feeling = self._items_feeling(kind, answers)
        wants_to_say = 0.3 + (0.3 if feeling == "bad" else 0.0)
        comment = ""
        if rng.random() < wants_to_say:
            bank = COMMENTS[feeling].get(locale) or COMMENTS[feeling]["en"]
            comment = rng.choice(bank)
        return score, answers, comment

    @staticmethod
    def _items_feeling(kind: str, answers: dict) -> str:
        """How a CLI or CSI answer feels: its respondent score (what
        :func:`surveys.metrics.respondent_score` gives: CLI the mean item × 10, CSI 10 × the
        satisfaction weighted by importance; one decimal, rounded half up) from 75 is good,
        from 55 middling. In integers here: the metrics' general Fraction and Decimal
        arithmetic costs more than drawing the answer. The tests hold both to agreeing."""
        if kind == SurveyKind.CLI:
            numerator, denominator = 10 * sum(answers.values()), len(answers)
        else:
            numerator = 10 * sum(
                pair["importance"] * pair["satisfaction"] for pair in answers.values()
            )
            denominator = sum(pair["importance"] for pair in answers.values())
        tenths = (20 * numerator + denominator) // (2 * denominator)  # ⌊10 × score + ½⌋
        return "good" if tenths >= 750 else "middling" if tenths >= 550 else "bad"

    def _tag_ids(self, comment: str) -> tuple[int, ...]:
        found = self.tag_ids.get(comment)
        if found is None:
            found = tuple(tag.pk for tag in tags_matching(comment=comment, tags=self.tags))
            self.tag_ids[comment] = found
        return found


@functools.cache
def _score_feeling(kind: str, score: int) -> str:
    """How an NPS, CSAT or CES score feels, by its category; detractors and the unsatisfied
    are "bad"."""
    return FEELINGS.get(metrics.category(kind, score) or "", "bad")


def _no_ids(model: Any, count: int) -> int:
    raise RuntimeError("Ids come from the sink: set _History.allocate before rendering.")


def _token_hashes(block: int = 4096) -> Iterator[str]:
    """Token hashes for links nobody can open: 256 random bits, as the SHA-256 of a token
    nobody keeps would be, without hashing a token first. From ``secrets``, not the seeded
    generator, so knowing the seed does not give the links away; drawn a block at a time,
    since a system call per link costs more than the rest of the invitation."""
    while True:
        pool = secrets.token_hex(32 * block)
        for start in range(0, len(pool), 64):
            yield pool[start : start + 64]


def _clip(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))
