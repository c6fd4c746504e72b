"""The demo survey history: one survey of each kind, a year of answers that follow what the
accounts did, comments in the contact's language, follow-ups and tags."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import statistics
from collections import Counter

import pytest
from django.core.management import call_command
from django.db.models import Avg, Max, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from customers.models import Account, Contact, DailyUsage, Ticket, TicketStatus
from demo.surveys import history as survey_demo
from demo.surveys import seed_surveys
from surveys.metrics import respondent_score
from surveys.models import (
    Campaign,
    FollowUp,
    Invitation,
    Response,
    ScoreDay,
    Survey,
    SurveyText,
)
from surveys.services import keyword_pattern
from tests.demo.bulk_schema import postgres_only, schema_of

pytestmark = pytest.mark.django_db

LOCALES = ["en", "nb", "sv", "zh-hans", "ru"]
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _world(now: dt.datetime, owner, *, healthy: int = 12, declining: int = 12, churned: int = 6):
    """Accounts whose behaviour is plain: healthy ones log in every day all year; declining ones
    did until five months ago and then stopped; churned ones stopped and left two months ago.
    Three contacts each, in every locale; two closed tickets per account."""
    year_ago = now - dt.timedelta(days=400)
    groups: dict[str, list[Account]] = {"healthy": [], "declining": [], "churned": []}
    n = 0
    for group, count in (("healthy", healthy), ("declining", declining), ("churned", churned)):
        for _ in range(count):
            n += 1
            groups[group].append(
                Account(
                    external_id=f"demo-{n}",
                    name=f"{group} {n}",
                    owner=owner,
                    created_at=year_ago,
                    churned_at=now - dt.timedelta(days=60) if group == "churned" else None,
                )
            )
    accounts = Account.objects.bulk_create([a for g in groups.values() for a in g])
    contacts = [
        Contact(
            account=a,
            external_id=f"c-{a.pk}-{i}",
            email=f"p{a.pk}-{i}@example.com",
            name=f"Person {a.pk}-{i}",
            locale=LOCALES[(a.pk + i) % len(LOCALES)],
        )
        for a in accounts
        for i in range(3)
    ]
    Contact.objects.bulk_create(contacts)
    usage = []
    for group, members in groups.items():
        stop = {"healthy": None, "declining": 150, "churned": 150}[group]
        for account in members:
            for days_ago in range(0, 400, 1):
                if stop is not None and days_ago < stop:
                    continue
                usage.append(
                    DailyUsage(
                        account=account,
                        day=(now - dt.timedelta(days=days_ago)).date(),
                        type="login",
                        count=5,
                    )
                )
    DailyUsage.objects.bulk_create(usage, batch_size=2000)
    Ticket.objects.bulk_create(
        [
            Ticket(
                account=a,
                external_id=f"t-{a.pk}-{days_ago}",
                subject="Help",
                status=TicketStatus.CLOSED,
                opened_at=now - dt.timedelta(days=days_ago + 1),
                closed_at=now - dt.timedelta(days=days_ago),
            )
            for a in accounts
            for days_ago in (300, 100)
        ]
    )
    return groups


@pytest.fixture
def seeded(csm_user):
    now = timezone.now()
    groups = _world(now, csm_user)
    out = io.StringIO()
    seed_surveys(rng=random.Random(7), now=now, stdout=out)
    return now, groups, out.getvalue()


def test_one_survey_of_each_kind_with_texts_in_five_languages(seeded):
    surveys = {s.slug: s for s in Survey.objects.all()}
    assert {slug: s.kind for slug, s in surveys.items()} == {
        "nps": "nps",
        "csat": "csat",
        "ces": "ces",
        "cli": "cli",
        "csi": "csi",
    }
    assert SurveyText.objects.count() == 25
    zh = SurveyText.objects.get(survey=surveys["nps"], language="zh-hans")
    ru = SurveyText.objects.get(survey=surveys["nps"], language="ru")
    assert CJK.search(zh.question) and CYRILLIC.search(ru.question)


def test_every_kind_has_a_year_of_answers(seeded):
    now, _groups, message = seeded
    for survey in Survey.objects.all():
        answers = Response.objects.filter(survey=survey)
        assert answers.count() >= 10, survey.slug
        oldest = answers.order_by("created_at").first().created_at
        assert now - oldest > dt.timedelta(days=150), survey.slug
    assert Response.objects.filter(created_at__gte=now - dt.timedelta(days=30)).exists()
    assert "answers" in message and "follow-ups" in message


def test_links_store_only_hashes_of_random_tokens(seeded):
    hashes = list(Invitation.objects.values_list("token_hash", flat=True))
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    assert len(set(hashes)) == len(hashes)


def _mean_nps_score(accounts) -> float:
    return Response.objects.filter(survey__slug="nps", account__in=accounts).aggregate(
        m=Avg("score")
    )["m"]


def test_scores_follow_the_accounts_behaviour(seeded):
    now, groups, _ = seeded
    recent = now - dt.timedelta(days=140)
    healthy_recent = Response.objects.filter(
        survey__slug="nps", account__in=groups["healthy"], created_at__gte=recent
    ).values_list("score", flat=True)
    declining_recent = Response.objects.filter(
        survey__slug="nps", account__in=groups["declining"], created_at__gte=recent
    ).values_list("score", flat=True)
    assert statistics.mean(healthy_recent) >= 7.8
    assert statistics.mean(declining_recent) <= 6.5
    assert statistics.mean(healthy_recent) - statistics.mean(declining_recent) >= 2
    # Before the decline the same accounts were as happy as the healthy ones.
    declining_before = Response.objects.filter(
        survey__slug="nps",
        account__in=groups["declining"],
        created_at__lt=now - dt.timedelta(days=200),
    ).values_list("score", flat=True)
    assert statistics.mean(declining_before) >= 7.5


def test_churned_accounts_detract_before_they_leave_and_are_not_asked_after(seeded):
    now, groups, _ = seeded
    churned_at = now - dt.timedelta(days=60)
    last_months = Response.objects.filter(
        survey__slug="nps",
        account__in=groups["churned"],
        created_at__gte=churned_at - dt.timedelta(days=90),
    ).values_list("score", flat=True)
    assert statistics.mean(last_months) < 6
    assert not Invitation.objects.filter(
        contact__account__in=groups["churned"], sent_at__gt=churned_at
    ).exists()


def test_comments_are_in_the_contacts_language(seeded):
    commented = Response.objects.exclude(comment="").select_related("contact")
    assert commented.count() > 20
    for response in commented:
        assert response.language == response.contact.locale
        if response.language == "ru":
            assert CYRILLIC.search(response.comment)
        if response.language == "zh-hans":
            assert CJK.search(response.comment)
    assert {r.language for r in commented} == set(LOCALES)


def test_demo_tags_are_applied_by_their_keywords(seeded):
    tagged = Response.objects.filter(tags__name="Pricing").distinct()
    assert tagged.exists()
    for response in tagged.prefetch_related("tags"):
        for tag in response.tags.all():
            assert keyword_pattern(tag.keywords).search(response.comment)


def test_unhappy_answers_have_follow_ups_and_most_old_ones_are_handled(seeded, csm_user):
    now, _groups, _ = seeded
    unhappy = (
        Response.objects.filter(survey__kind="nps", score__lte=6).count()
        + Response.objects.filter(survey__kind="csat", score__lte=2).count()
        + Response.objects.filter(survey__kind="ces", score__lte=3).count()
    )
    assert unhappy > 0
    assert FollowUp.objects.count() == unhappy
    assert set(FollowUp.objects.values_list("owner", flat=True)) == {csm_user.pk}
    handled = FollowUp.objects.filter(status="handled")
    assert handled.exists()
    assert not handled.filter(handled_note="").exists()
    assert not handled.filter(created_at__gt=now - dt.timedelta(days=14)).exists()
    assert FollowUp.objects.filter(status="open").exists()


def test_csat_follows_closed_tickets(seeded):
    csat = Invitation.objects.filter(survey__slug="csat").select_related("ticket")
    assert csat.exists()
    for invitation in csat:
        assert invitation.trigger == "ticket"
        assert invitation.sent_at > invitation.ticket.closed_at
    survey = Survey.objects.get(slug="csat")
    # Every closed ticket is asked about from now on too: no 90-day window, only the 24 h floor.
    assert (survey.send_after_ticket_close, survey.fatigue_days) == (True, 0)
    assert Survey.objects.get(slug="nps").fatigue_days is None  # the 90-day default


def test_campaigns_are_recorded_with_their_runs(seeded):
    nps = Campaign.objects.get(survey__slug="nps")
    assert nps.repeat_every_months == 3
    assert nps.runs.count() == 4
    assert Invitation.objects.filter(campaign=nps, campaign_run__isnull=True).count() == 0


def test_seeding_twice_leaves_the_history_alone(seeded):
    now, _groups, _ = seeded
    before = (Invitation.objects.count(), Response.objects.count(), FollowUp.objects.count())
    out = io.StringIO()
    seed_surveys(rng=random.Random(8), now=now, stdout=out)
    after = (Invitation.objects.count(), Response.objects.count(), FollowUp.objects.count())
    assert before == after
    assert "left as it is" in out.getvalue()


def test_small_chunks_give_the_same_history_shape(csm_user, monkeypatch):
    """Chunking is what keeps 100k accounts in bounded memory: chunk edges must not matter."""
    monkeypatch.setattr(survey_demo, "ACCOUNT_CHUNK", 4)
    now = timezone.now()
    groups = _world(now, csm_user, healthy=5, declining=5, churned=3)
    seed_surveys(rng=random.Random(1), now=now, stdout=None)
    accounts_answering = set(Response.objects.values_list("account_id", flat=True))
    every_account = {a.pk for g in groups.values() for a in g}
    assert len(accounts_answering) >= len(every_account) - 2
    assert Invitation.objects.filter(survey__slug="csat").count() > 0


def test_without_tickets_csat_runs_as_a_campaign(csm_user):
    now = timezone.now()
    _world(now, csm_user, healthy=4, declining=2, churned=1)
    Ticket.objects.all().delete()
    seed_surveys(rng=random.Random(2), now=now, stdout=None)
    assert Invitation.objects.filter(survey__slug="csat", trigger="campaign").exists()
    assert Response.objects.filter(survey__slug="csat").exists()


def test_an_empty_database_gets_surveys_but_no_history():
    seed_surveys(rng=random.Random(3), now=timezone.now(), stdout=None)
    assert Survey.objects.count() == 5
    assert not Invitation.objects.exists()


def test_reseeding_after_the_accounts_were_removed_reuses_surveys_and_campaigns(csm_user):
    """``seed_demo --flush-demo`` deletes the demo accounts (their answers go with them) and
    seeds again: surveys, tags and campaigns are reused, not duplicated."""
    now = timezone.now()
    _world(now, csm_user, healthy=3, declining=2, churned=1)
    seed_surveys(rng=random.Random(4), now=now, stdout=None)
    Account.objects.all().delete()
    assert not Invitation.objects.exists()
    _world(now, csm_user, healthy=3, declining=2, churned=1)
    seed_surveys(rng=random.Random(4), now=now, stdout=None)
    assert Survey.objects.count() == 5
    assert Campaign.objects.count() == len(survey_demo.CAMPAIGNS)
    assert Response.objects.exists()


class _NoNoise(random.Random):
    def gauss(self, mu=0.0, sigma=1.0):
        return mu


def _steady_account(now: dt.datetime, **changes) -> survey_demo._Account:
    months = {survey_demo._month_before(now.date().replace(day=1), k): 5.0 for k in range(0, 13)}
    account = survey_demo._Account(
        pk=1,
        owner_id=None,
        created_at=None,
        churned_at=None,
        usage=months,
        usual=5.0,
        usage_from=(now - dt.timedelta(days=500)).date(),
    )
    for name, value in changes.items():
        setattr(account, name, value)
    return account


def test_each_sign_of_trouble_lowers_the_mood_and_rising_use_lifts_it():
    now = timezone.now()
    at = now - dt.timedelta(days=5)
    day = at.date()
    month = day.replace(day=1)
    calm = _steady_account(now).mood(at, now, _NoNoise())
    assert calm == pytest.approx(0.78)
    troubled = {
        "cancel-page visit": _steady_account(
            now, signals={"cancel_page_visit": [day - dt.timedelta(days=3)]}
        ),
        "data export": _steady_account(now, signals={"data_export": [day]}),
        "failed payment": _steady_account(
            now, signals={"payment_failed": [day - dt.timedelta(days=20)]}
        ),
        "churn coming": _steady_account(now, churned_at=now + dt.timedelta(days=20)),
        "falling use": _steady_account(now, usage={**_steady_account(now).usage, month: 1.0}),
        "open tickets": _steady_account(now, open_tickets=3),
    }
    for sign, account in troubled.items():
        assert account.mood(at, now, _NoNoise()) < calm, sign
    rising = _steady_account(now, usage={**_steady_account(now).usage, month: 7.0})
    assert rising.mood(at, now, _NoNoise()) > calm
    # A cancel-page visit two months before the answer is forgotten by then.
    old_visit = _steady_account(now, signals={"cancel_page_visit": [day - dt.timedelta(days=60)]})
    assert old_visit.mood(at, now, _NoNoise()) == pytest.approx(calm)


def test_seed_demo_builds_the_survey_history_with_the_company():
    out = io.StringIO()
    call_command("seed_demo", "--accounts", "40", "--seed", "5", stdout=out)
    assert "demo.surveys.seed_surveys: done" in out.getvalue()
    assert set(Survey.objects.values_list("slug", flat=True)) == {
        "nps",
        "csat",
        "ces",
        "cli",
        "csi",
    }
    assert Response.objects.filter(survey__slug="nps").count() > 20
    assert Invitation.objects.filter(survey__slug="csat", ticket__isnull=False).exists()


# --- the bulk load ------------------------------------------------------------------------------

FIXED_NOW = dt.datetime(2025, 6, 15, 9, 30, tzinfo=dt.UTC)


def _history() -> list[list[tuple]]:
    """The seeded history, comparable across seedings: invitations by their rank in id order
    (ids move on with the sequences), token hashes left out (random by design)."""
    rank = {
        pk: n for n, pk in enumerate(Invitation.objects.order_by("pk").values_list("pk", flat=True))
    }
    invitations = [
        (rank[row[0]], *row[1:])
        for row in Invitation.objects.order_by("pk").values_list(
            "pk", "survey__slug", "contact_id", "campaign_id", "campaign_run_id", "ticket_id",
            "trigger", "language", "scheduled_for", "sent_at", "expires_at", "reminded_at",
            "created_at",
        )
    ]  # fmt: skip
    responses = [
        (rank[row[0]], *row[1:])
        for row in Response.objects.order_by("pk").values_list(
            "invitation_id", "survey__slug", "contact_id", "account_id", "score", "answers",
            "comment", "language", "created_at", "updated_at", "to_announce",
        )
    ]  # fmt: skip
    tags = [
        (rank[invitation_id], name)
        for invitation_id, name in Response.tags.through.objects.order_by("pk").values_list(
            "response__invitation_id", "tag__name"
        )
    ]
    follow_ups = [
        (rank[row[0]], *row[1:])
        for row in FollowUp.objects.order_by("pk").values_list(
            "response__invitation_id", "account_id", "owner_id", "reason", "status",
            "handled_by_id", "handled_note", "handled_at", "created_at",
        )
    ]  # fmt: skip
    return [invitations, responses, tags, follow_ups]


def test_a_seed_gives_the_same_history_every_time(csm_user):
    _world(FIXED_NOW, csm_user, healthy=4, declining=3, churned=2)
    seed_surveys(rng=random.Random(9), now=FIXED_NOW, stdout=None)
    first = _history()
    first_hashes = set(Invitation.objects.values_list("token_hash", flat=True))
    Invitation.objects.all().delete()  # answers, their tags and follow-ups go with them
    seed_surveys(rng=random.Random(9), now=FIXED_NOW, stdout=None)
    assert _history() == first
    assert all(first)
    assert not first_hashes & set(Invitation.objects.values_list("token_hash", flat=True))


def test_the_bulk_load_writes_what_the_orm_seeder_wrote(csm_user):
    """The history is loaded in bulk (COPY on PostgreSQL, executemany on SQLite); before, it
    was written one model instance at a time. Both draw the same history from a seed, on both
    databases: these figures are what the instance-by-instance seeder wrote for this world.
    A deliberate change to how the history is drawn changes them."""
    _world(FIXED_NOW, csm_user)
    seed_surveys(rng=random.Random(11), now=FIXED_NOW, stdout=None)
    assert {
        "invitations": Invitation.objects.count(),
        "responses": Response.objects.count(),
        "follow_ups": FollowUp.objects.count(),
        "handled": FollowUp.objects.filter(status="handled").count(),
        "tag_links": Response.tags.through.objects.count(),
        "nps_score_sum": Response.objects.filter(survey__slug="nps").aggregate(s=Sum("score"))["s"],
        "commented": Response.objects.exclude(comment="").count(),
        "reminded": Invitation.objects.filter(reminded_at__isnull=False).count(),
    } == {
        # Answers sour over the 180 days before a churn (150 before the backtest issue).
        "invitations": 604,
        "responses": 281,
        "follow_ups": 48,
        "handled": 42,
        "tag_links": 74,
        "nps_score_sum": 1204,
        "commented": 99,
        "reminded": 330,
    }


def test_ids_keep_flowing_from_the_sequences_after_a_seed(seeded):
    contact = Contact.objects.filter(invitations__isnull=False).first()
    highest = Invitation.objects.aggregate(m=Max("id"))["m"]
    invitation = Invitation.objects.create(
        survey=Survey.objects.get(slug="nps"), contact=contact, token_hash="f" * 64
    )
    assert invitation.pk > highest
    highest = Response.objects.aggregate(m=Max("id"))["m"]
    response = Response.objects.create(
        invitation=invitation,
        survey=invitation.survey,
        contact=contact,
        account=contact.account,
        score=9,
    )
    assert response.pk > highest


def _spy_on_stripping(monkeypatch) -> list[str]:
    stripped: list[str] = []
    real = survey_demo.postgres_prepare

    def prepare(cursor, models):
        restore = real(cursor, models)
        stripped.extend(restore)
        return restore

    monkeypatch.setattr(survey_demo, "postgres_prepare", prepare)
    return stripped


def test_history_tables_holding_other_rows_keep_their_indexes(csm_user, monkeypatch):
    stripped = _spy_on_stripping(monkeypatch)
    _world(FIXED_NOW, csm_user, healthy=3, declining=2, churned=1)
    other = Survey.objects.create(slug="onboarding", name="Onboarding check", kind="csat")
    Invitation.objects.create(survey=other, contact=Contact.objects.first(), token_hash="e" * 64)
    seed_surveys(rng=random.Random(6), now=FIXED_NOW, stdout=None)
    assert Invitation.objects.exclude(survey=other).count() > 10
    assert Response.objects.exists()
    assert Invitation._meta.db_table not in stripped


@postgres_only
def test_the_bulk_load_restores_every_index_and_constraint_exactly(csm_user, monkeypatch):
    stripped = _spy_on_stripping(monkeypatch)
    before = schema_of(survey_demo.HISTORY_MODELS)
    _world(FIXED_NOW, csm_user, healthy=3, declining=2, churned=1)
    seed_surveys(rng=random.Random(6), now=FIXED_NOW, stdout=None)
    assert set(stripped) == {model._meta.db_table for model in survey_demo.HISTORY_MODELS}
    assert FollowUp.objects.exists()
    assert schema_of(survey_demo.HISTORY_MODELS) == before


@postgres_only
def test_a_failed_bulk_load_leaves_the_tables_as_they_were(csm_user, monkeypatch):
    monkeypatch.setattr(survey_demo, "ACCOUNT_CHUNK", 4)
    before = schema_of(survey_demo.HISTORY_MODELS)
    _world(FIXED_NOW, csm_user, healthy=6, declining=3, churned=3)
    real = survey_demo._History.render
    calls = []

    def fail_later(self, chunk, totals):
        calls.append(chunk)
        if len(calls) == 3:  # the first chunk is being loaded by now
            raise RuntimeError("boom")
        return real(self, chunk, totals)

    monkeypatch.setattr(survey_demo._History, "render", fail_later)
    with pytest.raises(RuntimeError, match="boom"):
        seed_surveys(rng=random.Random(6), now=FIXED_NOW, stdout=None)
    assert schema_of(survey_demo.HISTORY_MODELS) == before
    assert not Invitation.objects.exists()
    assert not Response.objects.exists()


def _feeling(kind: str, answers: dict) -> str:
    value = respondent_score(kind, None, answers)
    return "good" if value >= 75 else "middling" if value >= 55 else "bad"


def test_cli_and_csi_answers_feel_as_their_metrics_score_says():
    """The seeder works the respondent score out in integers; it must agree with the metrics
    on every CLI answer and on many CSI ones, rounding included."""
    feeling = survey_demo._History._items_feeling
    for recommend in range(11):
        for buy_again in range(11):
            for try_other in range(11):
                cli = {"recommend": recommend, "buy_again": buy_again, "try_other": try_other}
                assert feeling("cli", cli) == _feeling("cli", cli), cli
    rng = random.Random(3)
    for _ in range(5000):
        csi = {
            key: {"importance": rng.randint(1, 10), "satisfaction": rng.randint(1, 10)}
            for key in survey_demo.DEFAULT_CSI_CRITERIA
        }
        assert feeling("csi", csi) == _feeling("csi", csi), csi
    # 74.95 rounds up to 75.0 (good) and 54.95 to 55.0 (middling); just below does not.
    for low, share, expected in (
        (7, 495, "good"),
        (7, 494, "middling"),
        (5, 495, "middling"),
        (5, 494, "bad"),
    ):
        csi = {
            "price": {"importance": 1000 - share, "satisfaction": low},
            "support": {"importance": share, "satisfaction": low + 1},
        }
        assert feeling("csi", csi) == _feeling("csi", csi) == expected, csi


def test_the_bulk_loaded_answers_are_counted_per_day_by_the_triggers(seeded):
    """The demo loads answers with COPY on PostgreSQL (executemany on SQLite): the answers per
    day must still equal the answers, or every score page would be wrong on a fresh demo."""
    kept = Counter(
        {(d.survey_id, d.day, d.score): d.answers for d in ScoreDay.objects.all() if d.answers}
    )
    truth = Counter(
        Response.objects.filter(score__isnull=False)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values_list("survey_id", "day", "score")
    )
    assert sum(truth.values()) > 100
    assert kept == truth
