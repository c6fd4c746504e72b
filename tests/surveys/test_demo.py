"""The demo survey history: one survey of each kind, a year of answers that follow what the
accounts did, comments in the contact's language, follow-ups and tags."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import statistics

import pytest
from django.core.management import call_command
from django.db.models import Avg
from django.utils import timezone

from customers.models import Account, Contact, DailyUsage, Ticket, TicketStatus
from surveys import demo
from surveys.demo import seed_surveys
from surveys.models import (
    Campaign,
    FollowUp,
    Invitation,
    Response,
    Survey,
    SurveyText,
)
from surveys.services import keyword_pattern

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
    assert Survey.objects.get(slug="csat").send_after_ticket_close


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
    monkeypatch.setattr(demo, "ACCOUNT_CHUNK", 4)
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
    assert Campaign.objects.count() == len(demo.CAMPAIGNS)
    assert Response.objects.exists()


class _NoNoise(random.Random):
    def gauss(self, mu=0.0, sigma=1.0):
        return mu


def _steady_account(now: dt.datetime, **changes) -> demo._Account:
    months = {demo._month_before(now.date().replace(day=1), k): 5.0 for k in range(0, 13)}
    account = demo._Account(
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
    assert "surveys.demo.seed_surveys: done" in out.getvalue()
    assert set(Survey.objects.values_list("slug", flat=True)) == {
        "nps",
        "csat",
        "ces",
        "cli",
        "csi",
    }
    assert Response.objects.filter(survey__slug="nps").count() > 20
    assert Invitation.objects.filter(survey__slug="csat", ticket__isnull=False).exists()
