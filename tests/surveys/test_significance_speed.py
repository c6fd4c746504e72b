"""The response-rate speed fix (docs/domain/survey-metrics.md, "Response rate at scale"):
each answer carries its invitation's sent_at, written by the service that records answers,
and the rate counted off it equals the rate the old invitation-to-answer join gave."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.db.models import Count

from surveys import selectors, services
from surveys.models import Invitation, Response
from surveys.selectors import ResponseFilters
from surveys.services.responses import Answer
from tests.customers.factories import make_account, make_contact
from tests.surveys.factories import make_answer, make_invitation, make_link, make_survey

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("surveys.migrations.0007_response_rate_indexes")


def test_a_first_score_through_a_link_copies_the_invitation_sent_at():
    invitation, token = make_link(make_survey("nps"), sent_days_ago=3)
    submitted = services.response_submit(
        token=token, data={"score": "9"}, with_score=True, with_comment=False
    )
    response = Response.objects.get(pk=submitted.response_id)
    assert response.invitation_sent_at == invitation.sent_at


def test_an_answer_with_a_comment_on_the_full_path_copies_it_too():
    invitation, token = make_link(make_survey("csat"), sent_days_ago=1)
    submitted = services.response_submit(
        token=token, data={"score": "4", "comment": "fine"}, with_score=True, with_comment=True
    )
    assert Response.objects.get(pk=submitted.response_id).invitation_sent_at == invitation.sent_at


def test_a_manual_link_was_never_emailed_so_nothing_is_copied():
    invitation, token = make_link(make_survey("nps"), trigger=Invitation.Trigger.MANUAL)
    assert invitation.sent_at is not None
    submitted = services.response_submit(
        token=token, data={"score": "10"}, with_score=True, with_comment=False
    )
    assert Response.objects.get(pk=submitted.response_id).invitation_sent_at is None


def test_response_save_copies_the_sent_at_of_the_invitation_it_answers():
    invitation, _token = make_link(make_survey("ces"), sent_days_ago=2)
    response, created = services.response_save(
        invitation_id=invitation.pk, answer=Answer(score=6, answers={}), language="en"
    )
    assert created
    assert response.invitation_sent_at == invitation.sent_at
    response.refresh_from_db()
    assert response.invitation_sent_at == invitation.sent_at


def test_the_backfill_copies_sent_at_to_old_answers_and_leaves_manual_links_empty():
    survey = make_survey("nps")
    old = make_answer(survey, 9, days_ago=10)
    manual_invitation, _token = make_link(survey, trigger=Invitation.Trigger.MANUAL)
    manual = Response.objects.create(
        invitation=manual_invitation,
        survey=survey,
        contact=manual_invitation.contact,
        account_id=manual_invitation.contact.account_id,
        score=3,
    )
    Response.objects.update(invitation_sent_at=None)
    backfill.copy_sent_at(apps, None)
    old.refresh_from_db()
    manual.refresh_from_db()
    assert old.invitation_sent_at == old.invitation.sent_at
    assert manual.invitation_sent_at is None


def _rate_by_the_old_join(survey, start, end) -> tuple[int, int]:
    """The count the rate used to make: every emailed invitation joined to its answer."""
    row = (
        Invitation.objects.filter(survey=survey, sent_at__gte=start, sent_at__lt=end)
        .exclude(trigger=Invitation.Trigger.MANUAL)
        .aggregate(sent=Count("pk"), answered=Count("response"))
    )
    return row["sent"], row["answered"]


def test_the_rate_is_what_the_old_join_counted():
    """Sent in the last 30 days: 6 emailed (4 answered, one of them on day 29 after the
    window's start), 1 manual (answered, not counted), and outside the window one sent 40 days
    ago and answered. Rate 4 / 6 = 67 %."""
    survey = make_survey("nps")
    for days_ago in (1, 5, 10, 29):
        make_answer(survey, 9, days_ago=days_ago)
    for days_ago in (2, 20):
        make_invitation(survey, make_contact(), days_ago=days_ago)
    make_answer(survey, 5, days_ago=40)
    _manual, token = make_link(survey, trigger=Invitation.Trigger.MANUAL)
    services.response_submit(token=token, data={"score": "7"}, with_score=True, with_comment=False)
    rate = selectors.survey_response_rate(survey=survey, filters=ResponseFilters(period="30"))
    assert (rate.sent, rate.answered) == (6, 4)
    assert str(rate.percent) == "67"
    now = dt.datetime.now(dt.UTC)
    assert _rate_by_the_old_join(survey, now - dt.timedelta(days=30), now) == (6, 4)


def test_the_rate_narrowed_to_a_plan_counts_only_that_plan():
    survey = make_survey("csat")
    pro, free = make_account(plan="Pro"), make_account(plan="Free")
    make_answer(survey, 5, acc=pro, days_ago=3)
    make_invitation(survey, make_contact(pro), days_ago=3)
    make_answer(survey, 1, acc=free, days_ago=3)
    rate = selectors.survey_response_rate(
        survey=survey, filters=ResponseFilters(period="30", plan="Pro")
    )
    assert (rate.sent, rate.answered) == (2, 1)
