"""Two submits through one link at the same moment make one response (PostgreSQL, threads)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from surveys.models import Response, ResponseEdit
from surveys.services import Answer, response_save
from tests.concurrency import POSTGRES_ONLY, run_together
from tests.surveys.factories import make_link

pytestmark = POSTGRES_ONLY


def test_two_simultaneous_first_answers_through_the_page_make_one_response():
    links = [make_link() for _ in range(8)]
    for _invitation, token in links:
        statuses = run_together(
            lambda token=token: Client().post(f"/s/{token}/", {"step": "score", "score": "9"}),
            lambda token=token: Client().post(f"/s/{token}/", {"step": "score", "score": "4"}),
        )
        assert [s.status_code for s in statuses] == [302, 302]
    assert Response.objects.count() == 8
    # The second submit of each pair edited the first one's answer: both are kept.
    assert ResponseEdit.objects.count() == 8
    for response in Response.objects.prefetch_related("edits"):
        assert {response.score, response.edits.get().previous_score} == {9, 4}


def test_the_second_save_waits_for_the_first_and_becomes_an_edit():
    invitation, _token = make_link()
    original_create = Response.objects.create
    inside = threading.Event()

    def slow_create(**kwargs):
        inside.set()
        time.sleep(0.3)  # hold the row lock while the other thread tries to save
        return original_create(**kwargs)

    def first():
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Response.objects, "create", slow_create)
            return response_save(
                invitation_id=invitation.pk, answer=Answer(9, {}, None), language="en"
            )

    def second():
        inside.wait(5)
        return response_save(invitation_id=invitation.pk, answer=Answer(2, {}, None), language="en")

    (_r1, created1), (_r2, created2) = run_together(first, second)
    assert (created1, created2) == (True, False)
    response = Response.objects.get()
    assert response.score == 2
    assert response.edits.get().previous_score == 9


def test_the_database_refuses_a_second_response_for_one_invitation():
    invitation, _token = make_link()
    fields = {
        "invitation": invitation,
        "survey": invitation.survey,
        "contact": invitation.contact,
        "account": invitation.contact.account,
        "score": 5,
    }
    Response.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(**fields)


def test_two_outbox_sweeps_at_once_announce_each_answer_once():
    from surveys.services import responses_announce
    from surveys.signals import response_saved

    for _ in range(5):
        _invitation, token = make_link()
        assert Client().post(f"/s/{token}/", {"step": "score", "score": "3"}).status_code == 302
    Response.objects.update(to_announce=Response.Announce.CREATED)
    heard: list[int] = []

    def slow_listener(sender, response_id, **kwargs):
        heard.append(response_id)
        time.sleep(0.1)  # long enough for the other sweep to start meanwhile

    response_saved.connect(slow_listener, dispatch_uid="two-sweeps")
    try:
        counts = run_together(responses_announce, responses_announce)
    finally:
        response_saved.disconnect(dispatch_uid="two-sweeps")

    assert sorted(counts) == [0, 5]
    assert sorted(heard) == sorted(Response.objects.values_list("pk", flat=True))
    assert not Response.objects.exclude(to_announce=Response.Announce.NOTHING).exists()
