"""Demo survey history for ``seed_demo``: one survey of each kind and a year of answers whose
scores follow what the accounts did.

An account's mood at a moment is read from its own data (the DailyUsage rollups): use that
month against its usual and against the months before, cancel-page visits, data exports and
failed payments shortly before, a churn coming up, tickets open now. Healthy accounts promote,
declining and dormant ones are passive or detract, churning ones detract. Comments come in the
contact's language, some with words the demo tags pick up; unhappy answers get follow-ups (most
older ones handled, with a note); CSAT follows closed tickets.

Everything is written with bulk inserts, a chunk of accounts at a time, so 300 accounts take a
second or two and 100k accounts stay within bounded memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import secrets
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Min, Sum
from django.db.models.functions import TruncMonth

from customers.models import Account, Contact, DailyUsage, Ticket, TicketStatus
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

SURVEYS = [
    # slug, name, kind, send after a closed ticket
    ("nps", "Relationship NPS", SurveyKind.NPS, False),
    ("csat", "Support satisfaction (CSAT)", SurveyKind.CSAT, True),
    ("ces", "Customer effort (CES)", SurveyKind.CES, False),
    ("cli", "Customer Loyalty Index", SurveyKind.CLI, False),
    ("csi", "Customer Satisfaction Index", SurveyKind.CSI, False),
]

# Campaigns: (slug, name, repeat every N months, sample share, days the sends are spread over,
# first run this many days ago). NPS runs every quarter spread over the quarter, so there are
# answers in every month of the year.
CAMPAIGNS = [
    ("nps", "Quarterly NPS", 3, 1.0, 90, 360),
    ("ces", "Half-yearly effort check", 6, 0.5, 21, 330),
    ("cli", "Loyalty index", 6, 0.4, 14, 300),
    ("csi", "Annual satisfaction index", 12, 0.5, 30, 200),
]
# CSAT follows closed tickets; with no tickets in the data it runs as a campaign instead.
CSAT_FALLBACK = ("csat", "Support satisfaction check", 6, 0.4, 30, 340)

TAGS = {
    "Pricing": "price, prices, pricing, expensive, pris, prisen, priset, dyrt, цена, цену, цены, "
    "дорого, 价格, 贵",
    "Support": "support, supporten, kundestøtte, kundtjänst, поддержка, поддержки, поддержку, 客服",
    "Bugs": "bug, bugs, crash, crashes, error, feil, feilen, krasjer, bugg, buggar, kraschar, "
    "ошибка, ошибку, ошибки, падает, 错误, 崩溃",
    "Onboarding": "onboarding, setup, oppstart, oppstarten, introduktion, introduktionen, "
    "внедрение, внедрению, 上手",
    "Integrations": "integration, integrations, integrasjon, интеграции, интеграция, 集成",
}

# What customers write, by mood and language (the contact's locale).
COMMENTS: dict[str, dict[str, list[str]]] = {
    "good": {
        "en": [
            "Great product, the team loves it.",
            "Support answered within an hour and solved it. Thank you!",
            "Easy to use and reliable. Worth the price.",
            "The new reports save me hours every week.",
            "Onboarding was smooth and quick.",
        ],
        "nb": [
            "Flott produkt, teamet er veldig fornøyd.",
            "Supporten svarte innen en time og løste problemet. Takk!",
            "Enkelt å bruke og stabilt. Vel verdt prisen.",
            "De nye rapportene sparer meg for mange timer hver uke.",
            "Oppstarten gikk raskt og smertefritt.",
        ],
        "sv": [
            "Fantastisk produkt, hela teamet gillar det.",
            "Supporten svarade inom en timme och löste det. Tack!",
            "Lätt att använda och pålitligt. Väl värt priset.",
            "De nya rapporterna sparar mig flera timmar varje vecka.",
            "Introduktionen gick smidigt och snabbt.",
        ],
        "zh-hans": [
            "产品很棒，团队都很喜欢。",
            "客服一小时内就回复并解决了问题，谢谢！",
            "价格合理，简单好用又稳定。",
            "新的报表每周帮我节省好几个小时。",
            "上手很快，过程很顺利。",
        ],
        "ru": [
            "Отличный продукт, вся команда довольна.",
            "Поддержка ответила в течение часа и всё решила. Спасибо!",
            "Простой и надёжный сервис. Стоит своей цены.",
            "Новые отчёты экономят мне несколько часов в неделю.",
            "Внедрение прошло быстро и гладко.",
        ],
    },
    "middling": {
        "en": [
            "Good overall, but the price went up this year.",
            "Works fine. Some reports are slow to load.",
            "Decent, but we miss an integration with our CRM.",
            "Support is helpful but sometimes slow to answer.",
        ],
        "nb": [
            "Bra totalt sett, men prisen har gått opp i år.",
            "Fungerer greit. Noen rapporter laster sakte.",
            "Helt greit, men vi savner en integrasjon med CRM-systemet vårt.",
            "Supporten er hjelpsom, men svarer noen ganger sent.",
        ],
        "sv": [
            "Bra på det hela, men priset har gått upp i år.",
            "Fungerar bra. Vissa rapporter laddar långsamt.",
            "Okej, men vi saknar en integration med vårt CRM.",
            "Supporten är hjälpsam men svarar ibland långsamt.",
        ],
        "zh-hans": [
            "总体不错，但今年价格涨了。",
            "用起来还行，有些报表加载很慢。",
            "还可以，但我们希望能和我们的CRM集成。",
            "客服很热心，但有时回复比较慢。",
        ],
        "ru": [
            "В целом хорошо, но цена в этом году выросла.",
            "Работает нормально. Некоторые отчёты долго загружаются.",
            "Неплохо, но нам не хватает интеграции с нашей CRM.",
            "Поддержка помогает, но иногда отвечает медленно.",
        ],
    },
    "bad": {
        "en": [
            "Too expensive for what we get. We are reviewing the price before renewal.",
            "We keep hitting the same bug in the export and nobody fixes it.",
            "Support took a week to reply. Not acceptable.",
            "The app crashes when we import large files.",
            "Hard to set up, and the onboarding documentation is outdated.",
        ],
        "nb": [
            "Altfor dyrt for det vi får. Vi vurderer prisen før fornyelsen.",
            "Vi treffer den samme feilen i eksporten hele tiden, og ingen fikser den.",
            "Supporten brukte en uke på å svare. Ikke akseptabelt.",
            "Appen krasjer når vi importerer store filer.",
            "Vanskelig å sette opp, og dokumentasjonen for oppstart er utdatert.",
        ],
        "sv": [
            "Alldeles för dyrt för vad vi får. Vi ser över priset inför förnyelsen.",
            "Vi stöter hela tiden på samma bugg i exporten och ingen rättar den.",
            "Supporten tog en vecka att svara. Inte acceptabelt.",
            "Appen kraschar när vi importerar stora filer.",
            "Svårt att komma igång, och dokumentationen för introduktion är inaktuell.",
        ],
        "zh-hans": [
            "太贵了，性价比不高。续约前我们会重新评估价格。",
            "导出功能一直有同一个错误，没人修复。",
            "客服一周后才回复，无法接受。",
            "导入大文件时应用会崩溃。",
            "配置很难，上手文档也过时了。",
        ],
        "ru": [
            "Слишком дорого для того, что мы получаем. Перед продлением пересмотрим цену.",
            "Мы постоянно натыкаемся на одну и ту же ошибку в экспорте, и никто её не исправляет.",
            "Поддержка отвечала неделю. Это неприемлемо.",
            "Приложение падает при импорте больших файлов.",
            "Сложно настроить, а документация по внедрению устарела.",
        ],
    },
}
HANDLED_NOTES = [
    "Called the customer and walked through the issue; they are happy with the fix.",
    "Offered a discount at renewal; the customer accepted.",
    "Escalated the bug to engineering and shared the fix date with the customer.",
    "Booked a training session for their new admins.",
    "Apologised for the slow reply and set up a shared Slack channel.",
]
# How important each CSI criterion tends to be (1–10), and how the product does on it.
CSI_IMPORTANCE = {
    "price": 8.0,
    "service_quality": 7.0,
    "functionality": 8.5,
    "reliability": 9.0,
    "support": 7.0,
}
CSI_OFFSET = {"price": -0.8, "service_quality": 0.2, "functionality": 0.3, "reliability": 0.0}


# Usage that a person did (DESIGN.md §1 reserved types); billing and ticket events are not use.
ACTIVITY_TYPES = ("login", "feature_used")
# Signs of leaving or of trouble, read from the daily rollups around each answer.
SIGNAL_TYPES = ("cancel_page_visit", "data_export", "payment_failed")


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

    def _signal_within(self, kind: str, day: dt.date, days: int) -> int:
        return sum(1 for d in self.signals.get(kind, ()) if 0 <= (day - d).days <= days)

    def mood(self, at: dt.datetime, now: dt.datetime, rng: random.Random) -> float:
        """0 (furious) … 1 (delighted) at ``at``, from the account's own behaviour then."""
        mood = 0.78  # a customer using the product as usual is fairly happy
        day = at.date()
        month = day.replace(day=1)
        if self.usage_from is not None and day >= self.usage_from:
            if self.usual:
                rate = self.usage.get(month, 0.0)
                mood += 0.35 * max(-1.0, min(0.4, rate / self.usual - 1))  # vs their usual
                previous = [self.usage.get(_month_before(month, k), 0.0) for k in (1, 2, 3)]
                earlier = sum(previous) / 3
                if earlier and rate < earlier:  # falling: worse than the months before
                    mood -= 0.3 * (1 - rate / earlier)
                if rate == 0:
                    mood -= 0.15  # dormant that month
            else:
                mood -= 0.1  # never used it
        if self._signal_within("cancel_page_visit", day, 45):
            mood -= 0.3
        if self._signal_within("data_export", day, 30):
            mood -= 0.08
        mood -= 0.12 * min(self._signal_within("payment_failed", day, 60), 3)
        if self.churned_at is not None:
            days_left = (self.churned_at - at).days
            if days_left < 150:
                mood -= 0.5 * (1 - max(days_left, 0) / 150)
        if (now - at).days < 60:  # tickets open now weigh on recent answers only
            mood -= 0.05 * min(self.open_tickets, 5)
        return max(0.0, min(1.0, mood + rng.gauss(0, 0.1)))


def _month_before(month: dt.date, k: int) -> dt.date:
    for _ in range(k):
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return month


@dataclass
class _Person:
    pk: int
    account_id: int
    locale: str


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
    runs = _campaigns_create(surveys, campaigns, now)
    usage_from = DailyUsage.objects.aggregate(first=Min("day"))["first"]
    totals: dict[str, int] = defaultdict(int)
    account_ids = Account.objects.order_by("pk").values_list("pk", flat=True)
    for chunk in _chunks(account_ids.iterator(chunk_size=ACCOUNT_CHUNK), ACCOUNT_CHUNK):
        with transaction.atomic():
            for key, value in _seed_chunk(
                chunk,
                surveys=surveys,
                runs=runs,
                tags=tags,
                rng=rng,
                now=now,
                usage_from=usage_from,
            ).items():
                totals[key] += value
    _say(
        stdout,
        f"Surveys: {totals['invitations']} invitations, {totals['responses']} answers, "
        f"{totals['follow_ups']} follow-ups.",
    )


def _say(stdout, text: str) -> None:
    if stdout is not None:
        stdout.write(text)


def _chunks(ids: Iterator[int], size: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for pk in ids:
        chunk.append(pk)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _surveys_ensure() -> dict[str, Survey]:
    surveys = {}
    for slug, name, kind, after_ticket in SURVEYS:
        survey, _ = Survey.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "kind": kind, "send_after_ticket_close": after_ticket},
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


def _load_accounts(
    chunk: list[int], now: dt.datetime, usage_from: dt.date | None
) -> dict[int, _Account]:
    accounts = {
        pk: _Account(pk=pk, owner_id=owner_id, created_at=created_at, churned_at=churned_at)
        for pk, owner_id, created_at, churned_at in Account.objects.filter(
            pk__in=chunk
        ).values_list("pk", "owner_id", "created_at", "churned_at")
    }
    # An account's history starts when it was created or first paid, whichever is earlier;
    # data loaded without dates (created "now") does not hold the history back.
    recent = now - dt.timedelta(days=2)
    first_paid = dict(
        Account.objects.filter(pk__in=chunk, first_paid_at__isnull=False).values_list(
            "pk", "first_paid_at"
        )
    )
    for account in accounts.values():
        account.usage_from = usage_from
        start = min(account.created_at, first_paid.get(account.pk, account.created_at))
        account.created_at = start if start < recent else None
    since = (now - dt.timedelta(days=HISTORY_DAYS + 120)).date()
    in_chunk = DailyUsage.objects.filter(account_id__in=chunk, day__gte=since).order_by()
    for row in (
        in_chunk.filter(type__in=ACTIVITY_TYPES)
        .annotate(month=TruncMonth("day"))
        .values("account_id", "month")
        .annotate(events=Sum("count"))
    ):
        month = row["month"]
        month = month.date() if isinstance(month, dt.datetime) else month
        # Events per day covered, so the month under way and the first month of data (both
        # partial) compare fairly with full months.
        accounts[row["account_id"]].usage[month] = row["events"] / _days_covered(
            month, usage_from, now.date()
        )
    for account in accounts.values():
        used = [v for v in account.usage.values() if v]
        account.usual = sum(used) / len(used) if used else 0.0
    for account_id, kind, day in in_chunk.filter(type__in=SIGNAL_TYPES).values_list(
        "account_id", "type", "day"
    ):
        accounts[account_id].signals[kind].append(day)
    for row in (
        Ticket.objects.filter(account_id__in=chunk, status=TicketStatus.OPEN)
        .order_by()
        .values("account_id")
        .annotate(n=Count("pk"))
    ):
        accounts[row["account_id"]].open_tickets = row["n"]
    return accounts


def _days_covered(month: dt.date, first: dt.date | None, today: dt.date) -> int:
    """Days of ``month`` the usage data can speak for: from its first day (or the first day
    of data) up to its last day (or today)."""
    next_month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    start = max(month, first or month)
    end = min(next_month, today + dt.timedelta(days=1))
    return max((end - start).days, 1)


def _seed_chunk(chunk, *, surveys, runs, tags, rng, now, usage_from) -> dict[str, int]:
    accounts = _load_accounts(chunk, now, usage_from)
    people: dict[int, list[_Person]] = defaultdict(list)
    by_pk: dict[int, _Person] = {}
    for pk, account_id, locale in (
        Contact.objects.filter(account_id__in=chunk, do_not_survey=False)
        .exclude(email="")
        .order_by("pk")
        .values_list("pk", "account_id", "locale")
    ):
        person = _Person(pk, account_id, locale)
        people[account_id].append(person)
        by_pk[pk] = person

    planned: list[tuple[Invitation, dict | None]] = []

    def plan(survey: Survey, person: _Person, sent_at: dt.datetime, **links) -> None:
        account = accounts[person.account_id]
        # Nobody is surveyed before their account existed, or after it left.
        if sent_at >= now or (account.created_at and sent_at < account.created_at):
            return
        if account.churned_at is not None and sent_at > account.churned_at:
            return
        mood = account.mood(sent_at, now, rng)
        answered = rng.random() < 0.25 + 0.35 * mood
        delay = dt.timedelta(hours=rng.expovariate(1 / 30))
        answer = None
        if answered and sent_at + delay < now and delay < dt.timedelta(days=EXPIRY_DAYS):
            answer = _answer(survey, mood, person.locale, rng)
            answer["at"] = sent_at + delay
        invitation = Invitation(
            survey=survey,
            contact_id=person.pk,
            token_hash=_token_hash(),
            language=person.locale,
            scheduled_for=sent_at,
            sent_at=sent_at,
            expires_at=sent_at + dt.timedelta(days=survey.expiry_days),
            reminded_at=sent_at + dt.timedelta(days=survey.reminder_after_days)
            if answer is None or delay.days >= survey.reminder_after_days
            else None,
            created_at=sent_at,
            **links,
        )
        if invitation.reminded_at is not None and invitation.reminded_at >= now:
            invitation.reminded_at = None
        planned.append((invitation, answer))

    for run in runs:
        survey = surveys[run.survey_slug]
        for account_id in chunk:
            for person in people.get(account_id, ()):
                if run.sample < 1 and rng.random() >= run.sample:
                    continue
                offset = dt.timedelta(days=rng.uniform(0, run.spread_days))
                plan(
                    survey,
                    person,
                    run.at + offset,
                    trigger=Invitation.Trigger.CAMPAIGN,
                    campaign_id=run.campaign_id,
                    campaign_run_id=run.run_id,
                )

    if surveys["csat"].send_after_ticket_close:
        for pk, account_id, contact_id, closed_at in (
            Ticket.objects.filter(
                account_id__in=chunk,
                status=TicketStatus.CLOSED,
                closed_at__gte=now - dt.timedelta(days=HISTORY_DAYS),
            )
            .order_by("pk")
            .values_list("pk", "account_id", "contact_id", "closed_at")
        ):
            person = by_pk.get(contact_id) or next(iter(people.get(account_id, ())), None)
            if person is not None:
                sent = closed_at + dt.timedelta(minutes=rng.randint(5, 120))
                plan(surveys["csat"], person, sent, trigger=Invitation.Trigger.TICKET, ticket_id=pk)

    invitations = Invitation.objects.bulk_create([inv for inv, _ in planned], batch_size=1000)
    responses = []
    for invitation, answer in zip(invitations, (a for _, a in planned), strict=True):
        if answer is None:
            continue
        responses.append(
            Response(
                invitation_id=invitation.pk,
                survey=invitation.survey,
                contact_id=invitation.contact_id,
                account_id=by_pk[invitation.contact_id].account_id,
                score=answer["score"],
                answers=answer["answers"],
                comment=answer["comment"],
                language=invitation.language,
                created_at=answer["at"],
                updated_at=answer["at"],
            )
        )
    responses = Response.objects.bulk_create(responses, batch_size=1000)

    through = Response.tags.through
    Response.tags.through.objects.bulk_create(
        [
            through(response_id=response.pk, tag_id=tag.pk)
            for response in responses
            if response.comment
            for tag in tags_matching(comment=response.comment, tags=tags)
        ],
        batch_size=1000,
    )
    follow_ups = []
    for response in responses:
        kind = response.survey.kind
        if not metrics.is_unhappy(kind, response.score):
            continue
        owner_id = accounts[response.account_id].owner_id
        follow_up = FollowUp(
            response_id=response.pk,
            account_id=response.account_id,
            owner_id=owner_id,
            reason=follow_up_reason(kind=kind, score=response.score),
            created_at=response.created_at,
        )
        age = now - response.created_at
        if owner_id and age > dt.timedelta(days=14) and rng.random() < 0.9:
            follow_up.status = FollowUp.Status.HANDLED
            follow_up.handled_by_id = owner_id
            follow_up.handled_at = min(
                response.created_at + dt.timedelta(days=rng.uniform(0.2, 10)), now
            )
            follow_up.handled_note = rng.choice(HANDLED_NOTES)
        follow_ups.append(follow_up)
    FollowUp.objects.bulk_create(follow_ups, batch_size=1000)
    return {
        "invitations": len(invitations),
        "responses": len(responses),
        "follow_ups": len(follow_ups),
    }


def _token_hash() -> str:
    """The hash of a random token nobody keeps: demo links can never be opened. From
    ``secrets``, not the seeded generator, so knowing the seed does not give the links away."""
    return hashlib.sha256(secrets.token_bytes(32)).hexdigest()


def _clip(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def _answer(survey: Survey, mood: float, locale: str, rng: random.Random) -> dict:
    kind = survey.kind
    score = None
    answers: dict = {}
    if kind == SurveyKind.NPS:
        score = _clip(rng.gauss(2 + 8.5 * mood, 1.3), 0, 10)
    elif kind == SurveyKind.CSAT:
        score = _clip(rng.gauss(1 + 4.4 * mood, 0.7), 1, 5)
    elif kind == SurveyKind.CES:
        score = _clip(rng.gauss(1 + 6.4 * mood, 0.9), 1, 7)
    elif kind == SurveyKind.CLI:
        offsets = {"recommend": 0.0, "buy_again": 0.3, "try_other": -1.5}
        answers = {
            item: _clip(rng.gauss(1.5 + 8.5 * mood + offsets[item], 1.2), 0, 10)
            for item in CLI_ITEMS
        }
    else:
        for key in survey.criteria or DEFAULT_CSI_CRITERIA:
            importance = _clip(rng.gauss(CSI_IMPORTANCE.get(key, 7.0), 1.2), 1, 10)
            satisfaction = _clip(rng.gauss(1 + 8.5 * mood + CSI_OFFSET.get(key, 0.0), 1.1), 1, 10)
            answers[key] = {"importance": importance, "satisfaction": satisfaction}
    if kind in (SurveyKind.NPS, SurveyKind.CSAT, SurveyKind.CES):
        category = metrics.category(kind, score)
        feeling = {"promoter": "good", "satisfied": "good", "passive": "middling"}.get(
            category or "", "middling" if category == "neutral" else "bad"
        )
    else:
        value = metrics.respondent_score(kind, score, answers)
        feeling = "good" if value >= 75 else "middling" if value >= 55 else "bad"
    wants_to_say = 0.3 + (0.3 if feeling == "bad" else 0.0)
    comment = ""
    if rng.random() < wants_to_say:
        bank = COMMENTS[feeling].get(locale) or COMMENTS[feeling]["en"]
        comment = rng.choice(bank)
    return {"score": score, "answers": answers, "comment": comment}
