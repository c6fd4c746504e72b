"""Close the loop: unhappy answers become follow-ups for the account owner; handling one needs
a note. Also the home page panel and the account timeline."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from customers.timeline import sources, timeline_for
from surveys import services, tasks
from surveys.models import FollowUp, Tag
from surveys.selectors import account_timeline
from surveys.services import Answer, response_save
from tests.customers.factories import make_account, make_contact
from tests.surveys.factories import make_answer, make_invitation, make_survey

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def owned(csm_user):
    return make_account(name="Acme", owner=csm_user)


# --- who gets a follow-up -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "score", "expected"),
    [
        ("nps", 6, True),
        ("nps", 0, True),
        ("nps", 7, False),
        ("csat", 2, True),
        ("csat", 3, False),
        ("ces", 3, True),
        ("ces", 4, False),
    ],
)
def test_unhappy_answers_create_a_follow_up_for_the_account_owner(
    owned, csm_user, kind, score, expected
):
    response = make_answer(make_survey(kind), score, acc=owned)
    follow_up = services.follow_up_create_for_response(response_id=response.pk)
    assert (follow_up is not None) is expected
    if expected:
        assert (follow_up.owner, follow_up.account, follow_up.status) == (csm_user, owned, "open")
        assert follow_up.reason.startswith(f"{kind.upper()} {score}")


def test_multi_item_answers_never_create_follow_ups(owned):
    response = make_answer(
        make_survey("cli"), answers={"recommend": 0, "buy_again": 0, "try_other": 0}, acc=owned
    )
    assert services.follow_up_create_for_response(response_id=response.pk) is None


def test_an_account_without_owner_gets_an_unassigned_follow_up():
    response = make_answer(make_survey("nps"), 2)
    assert services.follow_up_create_for_response(response_id=response.pk).owner is None


def test_replays_make_one_follow_up(owned):
    response = make_answer(make_survey("nps"), 2, acc=owned)
    first = services.follow_up_create_for_response(response_id=response.pk)
    second = services.follow_up_create_for_response(response_id=response.pk)
    assert first.pk == second.pk
    assert FollowUp.objects.count() == 1


def test_submitting_a_detractor_score_opens_a_follow_up_after_commit(
    owned, django_capture_on_commit_callbacks
):
    invitation = make_invitation(make_survey("nps"), make_contact(owned))
    with django_capture_on_commit_callbacks(execute=True):
        response, _ = response_save(
            invitation_id=invitation.pk, answer=Answer(3, {}, ""), language="en"
        )
    assert FollowUp.objects.get().response == response


def test_an_edit_to_a_happier_score_keeps_the_open_follow_up(
    owned, django_capture_on_commit_callbacks
):
    invitation = make_invitation(make_survey("nps"), make_contact(owned))
    for score in (3, 9, 2):
        with django_capture_on_commit_callbacks(execute=True):
            response_save(invitation_id=invitation.pk, answer=Answer(score, {}, ""), language="en")
    follow_up = FollowUp.objects.get()
    assert (follow_up.status, follow_up.reason) == ("open", "NPS 3: detractor")


def test_a_happy_answer_edited_to_unhappy_opens_a_follow_up(
    owned, django_capture_on_commit_callbacks
):
    invitation = make_invitation(make_survey("csat"), make_contact(owned))
    with django_capture_on_commit_callbacks(execute=True):
        response_save(invitation_id=invitation.pk, answer=Answer(5, {}, ""), language="en")
    assert not FollowUp.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response_save(invitation_id=invitation.pk, answer=Answer(1, {}, ""), language="en")
    assert FollowUp.objects.get().reason == "CSAT 1: dissatisfied"


def test_a_failing_follow_up_never_fails_the_respondents_submit(
    owned, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    Tag.objects.create(name="Pricing", keywords="price")

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr("surveys.receivers.follow_up_create_for_response", broken)
    invitation = make_invitation(make_survey("nps"), make_contact(owned))
    with django_capture_on_commit_callbacks(execute=True):
        response, created = response_save(
            invitation_id=invitation.pk, answer=Answer(1, {}, "price"), language="en"
        )
    assert created and response.pk
    assert "failed for response" in caplog.text
    # The other step still ran.
    assert list(response.tags.values_list("name", flat=True)) == ["Pricing"]
    monkeypatch.undo()
    # The safety net finds the unhappy answer that has no follow-up.
    assert services.follow_ups_create_missing() == 1
    assert services.follow_ups_create_missing() == 0
    assert FollowUp.objects.get().response_id == response.pk


def test_the_safety_net_ignores_happy_answers_and_answers_that_have_one(owned):
    survey = make_survey("nps")
    handled = make_answer(survey, 1, acc=owned)
    services.follow_up_create_for_response(response_id=handled.pk)
    make_answer(survey, 9, acc=owned)
    make_answer(make_survey("ces"), 3, acc=owned)
    assert services.follow_ups_create_missing() == 1
    assert FollowUp.objects.count() == 2


def test_the_daily_repair_task_makes_the_follow_ups_that_are_missing(owned, csm_user):
    # Written straight to the database: no receiver ran, as after a bulk import.
    unhappy = make_answer(make_survey("nps"), 2, acc=owned)
    make_answer(make_survey("csat"), 5, acc=owned)
    assert tasks.create_missing_follow_ups() == 1
    follow_up = FollowUp.objects.get()
    assert (follow_up.response, follow_up.owner, follow_up.status) == (unhappy, csm_user, "open")
    assert tasks.create_missing_follow_ups() == 0
    assert FollowUp.objects.count() == 1


def test_the_repair_task_runs_daily_on_the_beat_with_an_expiry_and_retries_like_the_others():
    from config.celery import app

    (entry,) = [
        entry
        for entry in app.conf.beat_schedule.values()
        if entry["task"] == "surveys.tasks.create_missing_follow_ups"
    ]
    assert entry["schedule"] == 24 * 60 * 60
    assert 0 < entry["options"]["expires"] <= entry["schedule"]
    task = tasks.create_missing_follow_ups
    assert set(task.autoretry_for) == set(tasks.TRANSIENT_ERRORS)
    assert task.acks_late and task.retry_backoff and task.retry_jitter


# --- handling ----------------------------------------------------------------------------------


@pytest.fixture
def follow_up(owned):
    response = make_answer(make_survey("nps"), 2, comment="Too slow", acc=owned)
    return services.follow_up_create_for_response(response_id=response.pk)


@pytest.mark.parametrize("note", ["", "   ", "\x00"])
def test_handling_needs_a_note(follow_up, csm_user, note):
    with pytest.raises(ValidationError) as error:
        services.follow_up_handle(follow_up=follow_up, user=csm_user, note=note)
    assert "note" in error.value.message_dict
    follow_up.refresh_from_db()
    assert follow_up.status == "open"


def test_the_database_refuses_handled_without_a_note(follow_up):
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUp.objects.filter(pk=follow_up.pk).update(status="handled")


def test_handling_records_who_when_and_what(follow_up, csm_user):
    handled = services.follow_up_handle(follow_up=follow_up, user=csm_user, note=" Called them. ")
    assert (handled.status, handled.handled_by, handled.handled_note) == (
        "handled",
        csm_user,
        "Called them.",
    )
    assert handled.handled_at is not None


def test_handling_twice_is_refused(follow_up, csm_user):
    services.follow_up_handle(follow_up=follow_up, user=csm_user, note="Called")
    with pytest.raises(ValidationError, match="already handled"):
        services.follow_up_handle(follow_up=follow_up, user=csm_user, note="Called again")


def test_mark_handled_with_htmx_returns_the_handled_row(csm_client, follow_up):
    response = csm_client.post(
        f"/surveys/follow-ups/{follow_up.pk}/handle/",
        {"note": "Called the customer"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert f'id="follow-up-{follow_up.pk}"' in response.text
    assert 'data-status="handled"' in response.text
    assert "Called the customer" in response.text
    follow_up.refresh_from_db()
    assert follow_up.status == "handled"


def test_mark_handled_without_a_note_shows_the_error_with_htmx(csm_client, follow_up):
    response = csm_client.post(
        f"/surveys/follow-ups/{follow_up.pk}/handle/", {"note": ""}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    assert "Write a note on what you did: it is required." in response.text
    assert 'aria-invalid="true"' in response.text
    follow_up.refresh_from_db()
    assert follow_up.status == "open"


def test_mark_handled_without_a_note_and_without_javascript_is_a_400_page(csm_client, follow_up):
    response = csm_client.post(f"/surveys/follow-ups/{follow_up.pk}/handle/", {"note": ""})
    assert response.status_code == 400
    assert "<html" in response.text
    assert "Not marked handled" in response.text
    assert "Write a note on what you did: it is required." in response.text


def test_mark_handled_without_javascript_redirects_back(csm_client, follow_up):
    response = csm_client.post(
        f"/surveys/follow-ups/{follow_up.pk}/handle/",
        {"note": "Sent a discount", "next": "/surveys/follow-ups/?status=all"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/surveys/follow-ups/?status=all"


def test_marking_handled_a_second_time_shows_who_handled_it_and_keeps_their_note(
    csm_client, follow_up, make_user
):
    first = make_user(Role.CSM, "first@example.com", "First Csm")
    services.follow_up_handle(follow_up=follow_up, user=first, note="Called them first")
    url = f"/surveys/follow-ups/{follow_up.pk}/handle/"

    with_htmx = csm_client.post(url, {"note": "Me too"}, headers={"HX-Request": "true"})
    without_js = csm_client.post(url, {"note": "Me too"}, follow=True)

    assert with_htmx.status_code == 200
    assert 'data-status="handled"' in with_htmx.text
    assert "Called them first" in with_htmx.text
    assert without_js.status_code == 200
    assert "already handled by First Csm" in without_js.text
    follow_up.refresh_from_db()
    assert (follow_up.handled_by, follow_up.handled_note) == (first, "Called them first")


def test_viewers_cannot_mark_handled(viewer_client, follow_up):
    response = viewer_client.post(f"/surveys/follow-ups/{follow_up.pk}/handle/", {"note": "x"})
    assert response.status_code == 403
    follow_up.refresh_from_db()
    assert follow_up.status == "open"


def test_mark_handled_needs_a_csrf_token(csm_user, follow_up):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(csm_user)
    response = strict.post(f"/surveys/follow-ups/{follow_up.pk}/handle/", {"note": "x"})
    assert response.status_code == 403
    follow_up.refresh_from_db()
    assert follow_up.status == "open"


def test_handling_an_unknown_follow_up_is_a_404(csm_client):
    assert csm_client.post("/surveys/follow-ups/999999/handle/", {"note": "x"}).status_code == 404


# --- the follow-ups page -------------------------------------------------------------------------


def test_csms_see_their_own_open_follow_ups_by_default(csm_client, follow_up, make_user):
    other = make_account(name="Other Co", owner=make_user())
    theirs = services.follow_up_create_for_response(
        response_id=make_answer(make_survey("csat"), 1, acc=other).pk
    )
    page = csm_client.get("/surveys/follow-ups/")
    assert [x.pk for x in page.context["page"].object_list] == [follow_up.pk]
    everyone = csm_client.get("/surveys/follow-ups/?owner=all")
    assert {x.pk for x in everyone.context["page"].object_list} == {follow_up.pk, theirs.pk}


def test_viewers_see_every_follow_up_without_forms(viewer_client, follow_up):
    page = viewer_client.get("/surveys/follow-ups/")
    assert [x.pk for x in page.context["page"].object_list] == [follow_up.pk]
    assert "Mark handled" not in page.text


def test_handled_follow_ups_are_listed_apart(csm_client, follow_up, csm_user):
    services.follow_up_handle(follow_up=follow_up, user=csm_user, note="done")
    assert not csm_client.get("/surveys/follow-ups/").context["page"].object_list
    handled = csm_client.get("/surveys/follow-ups/?status=handled")
    assert [x.pk for x in handled.context["page"].object_list] == [follow_up.pk]


def test_the_follow_ups_page_needs_few_queries(csm_client, owned, django_assert_max_num_queries):
    survey = make_survey("nps")
    for _ in range(30):
        services.follow_up_create_for_response(response_id=make_answer(survey, 1, acc=owned).pk)
    with django_assert_max_num_queries(8):
        page = csm_client.get("/surveys/follow-ups/")
    assert len(page.context["page"].object_list) == 25


def test_follow_up_pages_escape_comments_and_notes(csm_client, csm_user, make_user):
    acc = make_account(name=SCRIPT, owner=csm_user)
    response = make_answer(make_survey("nps", name=SCRIPT), 1, comment=SCRIPT, acc=acc)
    follow_up = services.follow_up_create_for_response(response_id=response.pk)
    page = csm_client.get("/surveys/follow-ups/")
    assert SCRIPT not in page.text and "&lt;script&gt;" in page.text
    home = csm_client.get("/")
    assert SCRIPT not in home.text and "&lt;script&gt;" in home.text
    services.follow_up_handle(follow_up=follow_up, user=csm_user, note=SCRIPT)
    handled = csm_client.get("/surveys/follow-ups/?status=handled")
    assert SCRIPT not in handled.text


# --- home page -----------------------------------------------------------------------------------


def test_the_home_page_lists_my_open_follow_ups(csm_client, follow_up):
    text = csm_client.get("/").text
    assert "Your tasks and follow-ups (1)" in text
    assert "Acme" in text and "Too slow" in text
    assert "Survey follow-up" in text


def test_the_home_page_says_when_nothing_waits(csm_client):
    assert "Nothing due this week" in csm_client.get("/").text


def test_an_admin_without_a_book_sees_the_teams_open_follow_ups_on_the_home_page(
    admin_client_, follow_up
):
    """As the follow-ups page shows admins everyone's first: the demo admin owns no account,
    and an empty "nothing to follow up" beside the team's open ones would mislead."""
    text = admin_client_.get("/").text
    assert "The team's tasks and follow-ups (1)" in text
    assert "Acme" in text
    assert "/health/tasks/?owner=all" in text


def test_the_home_page_panel_needs_the_same_queries_for_1_or_40_follow_ups(
    csm_client, owned, django_assert_num_queries
):
    survey = make_survey("nps")
    services.follow_up_create_for_response(response_id=make_answer(survey, 1, acc=owned).pk)
    with CaptureQueriesContext(connection) as one:
        csm_client.get("/")
    for _ in range(39):
        services.follow_up_create_for_response(response_id=make_answer(survey, 1, acc=owned).pk)
    with django_assert_num_queries(len(one.captured_queries)):
        text = csm_client.get("/").text
    assert "Your tasks and follow-ups (40)" in text
    assert "See all 40" in text


# --- account timeline ----------------------------------------------------------------------------


def test_answers_and_follow_ups_appear_on_the_account_timeline(owned, csm_user):
    survey = make_survey("nps", name="Quarterly NPS")
    happy = make_answer(survey, 10, comment="Love it", acc=owned, days_ago=3)
    unhappy = make_answer(survey, 2, comment="Slow " * 100, acc=owned, days_ago=1)
    follow_up = services.follow_up_create_for_response(response_id=unhappy.pk)
    services.follow_up_handle(follow_up=follow_up, user=csm_user, note="Called them")
    items = account_timeline(owned, limit=10)
    kinds = sorted(item.kind for item in items)
    assert kinds == [
        "follow_up_handled",
        "follow_up_opened",
        "survey_response",
        "survey_response",
    ]
    answer_items = {i.extra["score"]: i for i in items if i.kind == "survey_response"}
    assert answer_items[10].title.startswith("NPS 10 from")
    assert answer_items[10].at == happy.created_at
    assert answer_items[10].body == "Love it"
    assert len(answer_items[2].body) == 240  # excerpt
    handled = next(i for i in items if i.kind == "follow_up_handled")
    assert handled.body == "Called them"


def test_the_timeline_source_is_registered_and_bounded(owned, django_assert_max_num_queries):
    assert sources()["surveys"] is account_timeline
    survey = make_survey("csat")
    for _ in range(20):
        services.follow_up_create_for_response(response_id=make_answer(survey, 1, acc=owned).pk)
    with django_assert_max_num_queries(2):
        items = account_timeline(owned, limit=5)
    assert len([i for i in items if i.kind == "survey_response"]) == 5
    merged = timeline_for(owned, limit=5)
    assert len(merged) == 5


def test_the_timeline_shows_a_multi_item_answer_as_its_index(owned):
    make_answer(
        make_survey("cli"), answers={"recommend": 9, "buy_again": 8, "try_other": 7}, acc=owned
    )
    (item,) = account_timeline(owned, limit=5)
    assert item.title.startswith("CLI 80 from")


# --- concurrency (PostgreSQL) ---------------------------------------------------------------------


def _race(target, n: int = 2) -> list:
    barrier = threading.Barrier(n)
    results: list = []

    def run():
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # collected for the assertions
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real concurrent transactions")
@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_one_answer_make_one_follow_up(make_user):
    acc = make_account(owner=make_user())
    response = make_answer(make_survey("nps"), 0, acc=acc)
    results = _race(lambda: services.follow_up_create_for_response(response_id=response.pk), 4)
    assert all(isinstance(r, FollowUp) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert FollowUp.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real concurrent transactions")
@pytest.mark.django_db(transaction=True)
def test_two_csms_handling_at_once_make_one_handled_record(make_user):
    csm = make_user()
    response = make_answer(make_survey("nps"), 0, acc=make_account(owner=csm))
    follow_up = services.follow_up_create_for_response(response_id=response.pk)
    results = _race(
        lambda: services.follow_up_handle(follow_up=follow_up, user=csm, note="Called"), 2
    )
    assert sum(isinstance(r, FollowUp) for r in results) == 1
    assert sum(isinstance(r, ValidationError) for r in results) == 1
    follow_up.refresh_from_db()
    assert follow_up.status == "handled"
