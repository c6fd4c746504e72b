"""The home page is the CSM's day: open alerts, tasks and follow-ups due, accounts whose
health fell this week, renewals ahead; and the one task list behind it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from health.models import Alert, HealthProfile, HealthSnapshot, Task
from surveys import services as survey_services
from tests.customers.factories import SCRIPT, make_account
from tests.surveys.factories import make_answer, make_survey

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def today() -> dt.date:
    return timezone.localdate()


def task(account, title: str = "Call them", *, due_in: int = 0, owner=None) -> Task:
    return Task.objects.create(
        account=account,
        owner=owner if owner is not None else account.owner,
        title=title,
        due_on=today() + dt.timedelta(days=due_in),
    )


def snapshot(account, days_ago: int, score: int, band: str) -> HealthSnapshot:
    return HealthSnapshot.objects.create(
        account=account,
        day=today() - dt.timedelta(days=days_ago),
        score=score,
        band=band,
        profile=HealthProfile.objects.get(name="Standard"),
    )


@pytest.fixture
def book(csm_user, make_user):
    """The CSM's accounts and a colleague's, each with something on the day."""
    colleague = make_user(email="colleague@example.com", full_name="Col League")
    mine = make_account(
        name="Mine Co", owner=csm_user, renewal_date=today() + dt.timedelta(days=30)
    )
    theirs = make_account(name="Theirs Co", owner=colleague)
    Alert.objects.create(
        account=mine,
        kind="inactive",
        severity="high",
        reason="No login for 41 days.",
        owner=csm_user,
    )
    Alert.objects.create(
        account=theirs, kind="inactive", severity="high", reason="Theirs.", owner=colleague
    )
    snoozed = Alert.objects.create(
        account=mine, kind="card_expiring", severity="low", reason="Snoozed one.", owner=csm_user
    )
    Alert.objects.filter(pk=snoozed.pk).update(
        status="snoozed", snoozed_until=timezone.now() + dt.timedelta(days=3)
    )
    task(mine, "Overdue call", due_in=-2)
    task(mine, "Next month's review", due_in=30)
    task(theirs, "Their task")
    snapshot(mine, 7, 80, "green")
    snapshot(mine, 0, 55, "yellow")
    mine.health_score, mine.health_band = 55, "yellow"
    mine.save()
    return {"mine": mine, "theirs": theirs, "colleague": colleague}


def test_a_csm_sees_their_own_day(csm_client, book):
    page = csm_client.get("/")
    text = page.text

    assert "No login for 41 days." in text and "Theirs." not in text
    assert "Snoozed one." not in text, "a snoozed alert waits for its time"
    assert "Overdue call" in text and "Their task" not in text
    assert "Next month&#x27;s review" not in text, "tasks due after this week wait"
    fell = page.context["fell"]
    assert [(s.account.name, s.score_before, s.score) for s in fell] == [("Mine Co", 80, 55)]
    assert [a.name for a in page.context["renewals"]] == ["Mine Co"]
    assert 'class="badge health-yellow">55 yellow' in text


def test_an_admin_sees_the_teams_day_and_can_switch_to_their_own(admin_client_, book):
    team = admin_client_.get("/").text
    assert "No login for 41 days." in team and "Theirs." in team and "Their task" in team

    own = admin_client_.get("/?scope=mine").text
    assert "Theirs." not in own and "Their task" not in own


def test_a_small_fall_within_a_band_is_not_news_but_a_band_lost_is(csm_client, csm_user):
    steady = make_account(name="Steady", owner=csm_user)
    snapshot(steady, 7, 90, "green")
    snapshot(steady, 0, 85, "green")
    slipped = make_account(name="Slipped", owner=csm_user)
    snapshot(slipped, 7, 77, "green")
    snapshot(slipped, 0, 74, "yellow")

    fell = csm_client.get("/").context["fell"]

    assert [s.account.name for s in fell] == ["Slipped"]


def test_my_day_takes_the_same_queries_for_a_few_or_many_items(csm_client, csm_user):
    def count(n: int) -> int:
        for i in range(n):
            account = make_account(owner=csm_user, renewal_date=today() + dt.timedelta(days=i + 1))
            Alert.objects.create(
                account=account, kind="inactive", severity="high", reason="r", owner=csm_user
            )
            task(account)
            snapshot(account, 7, 90, "green")
            snapshot(account, 0, 40, "red")
        with CaptureQueriesContext(connection) as captured:
            assert csm_client.get("/").status_code == 200
        return len(captured)

    few = count(2)
    assert count(20) == few


def test_the_task_list_merges_playbook_tasks_and_survey_follow_ups_soonest_first(
    csm_client, csm_user
):
    account = make_account(name="Acme", owner=csm_user)
    answer = make_answer(make_survey("nps"), 2, comment="Too slow", acc=account, days_ago=3)
    survey_services.follow_up_create_for_response(response_id=answer.pk)
    task(account, "Later call", due_in=5)
    task(account, "Old call", due_in=-10)

    page = csm_client.get(reverse("health:tasks"))

    sources = [(item["source"], item["title"]) for item in page.context["page_obj"].object_list]
    assert [s for s, _ in sources] == ["task", "follow_up", "task"]
    assert sources[0][1] == "Old call" and sources[2][1] == "Later call"


def test_a_csm_marks_a_task_done_and_it_leaves_the_open_list(csm_client, csm_user):
    account = make_account(owner=csm_user)
    open_task = task(account, "Call")

    response = csm_client.post(reverse("health:task_done", args=[open_task.pk]), **HTMX)

    assert response.status_code == 200 and "data-done" in response.text
    open_task.refresh_from_db()
    assert (open_task.status, open_task.done_by) == ("done", csm_user)
    listed = csm_client.get(reverse("health:tasks")).context["page_obj"].object_list
    assert listed == []
    done = csm_client.get(reverse("health:tasks") + "?status=done").context["page_obj"]
    assert [item["title"] for item in done.object_list] == ["Call"]
    again = csm_client.post(reverse("health:task_done", args=[open_task.pk]), **HTMX)
    assert again.status_code == 422 and "done already" in again.text


def test_a_viewer_cannot_mark_tasks_done_and_a_post_needs_its_csrf_token(viewer_client, csm_user):
    open_task = task(make_account(owner=csm_user))
    assert viewer_client.post(reverse("health:task_done", args=[open_task.pk])).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(csm_user)
    assert strict.post(reverse("health:task_done", args=[open_task.pk])).status_code == 403
    open_task.refresh_from_db()
    assert open_task.status == "open"


def test_titles_and_names_are_escaped_on_my_day_and_the_task_list(csm_client, csm_user):
    account = make_account(name=SCRIPT, owner=csm_user)
    task(account, SCRIPT)
    Alert.objects.create(
        account=account, kind="inactive", severity="high", reason=SCRIPT, owner=csm_user
    )
    for response in (csm_client.get("/"), csm_client.get(reverse("health:tasks"))):
        assert SCRIPT not in response.text and "&lt;script&gt;" in response.text
