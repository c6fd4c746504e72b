"""The respondent's pages behind a survey link (docs/domain/survey-links.md)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from surveys.models import Invitation, Response, ResponseEdit
from surveys.signals import response_saved
from tests.customers.factories import make_contact
from tests.surveys.factories import make_link, make_survey, make_text

pytestmark = pytest.mark.django_db

WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.I)


def every_table_count() -> dict[str, int]:
    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            counts[table] = cursor.fetchone()[0]
    return counts


def answer(client, token, data, **extra):
    return client.post(f"/s/{token}/", {"step": "score", **data}, **extra)


@pytest.fixture
def answered_link(client):
    invitation, token = make_link()
    answer(client, token, {"score": "9"})
    client.post(f"/s/{token}/more/", {"comment": "Fast support"})
    return invitation, token


# --- GET never writes -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "head"])
@pytest.mark.parametrize(
    "path",
    ["/", "/?score=9", "/?lang=ru", "/more/", "/thanks/", "/unsubscribe/"],
)
@pytest.mark.parametrize("answered", [False, True], ids=["unanswered", "answered"])
def test_get_and_head_write_nothing(client, method, path, answered):
    invitation, token = make_link()
    if answered:
        answer(client, token, {"score": "3"})
    fresh = Client()  # a mail scanner: no cookies
    before = every_table_count()
    contact_before = type(invitation.contact).objects.values().get(pk=invitation.contact_id)
    with CaptureQueriesContext(connection) as queries:
        response = getattr(fresh, method)(f"/s/{token}{path}")
    assert response.status_code in (200, 302)
    assert [q["sql"] for q in queries.captured_queries if WRITES.match(q["sql"])] == []
    assert every_table_count() == before
    assert type(invitation.contact).objects.values().get(pk=invitation.contact_id) == (
        contact_before
    )
    assert "sessionid" not in response.cookies


@pytest.mark.parametrize("method", ["get", "head"])
def test_unknown_and_expired_links_write_nothing_either(method):
    _invitation, token = make_link(sent_days_ago=61)
    before = every_table_count()
    assert getattr(Client(), method)(f"/s/{token}/?score=9").status_code == 410
    assert getattr(Client(), method)("/s/" + "x" * 43 + "/?score=9").status_code == 404
    assert every_table_count() == before


def test_the_score_from_the_email_is_selected_but_not_saved(client):
    _invitation, token = make_link()
    page = client.get(f"/s/{token}/?score=9").content.decode()
    assert re.search(r'value="9" checked', page)
    assert len(re.findall(r"\bchecked\b", page)) == 1
    assert Response.objects.count() == 0


def test_a_score_outside_the_scale_in_the_url_selects_nothing(client):
    _invitation, token = make_link()
    page = client.get(f"/s/{token}/?score=11").content.decode()
    assert "checked" not in page


# --- answering --------------------------------------------------------------------------------


def test_a_response_stores_contact_account_survey_and_language(client):
    contact = make_contact(locale="sv")
    invitation, token = make_link(make_survey("nps"), contact)
    reply = answer(client, token, {"score": "9", "lang": "sv"})
    assert reply.status_code == 302
    assert reply["Location"] == f"/s/{token}/more/?lang=sv"
    saved = Response.objects.get()
    assert (saved.invitation, saved.survey, saved.contact, saved.account) == (
        invitation,
        invitation.survey,
        contact,
        contact.account,
    )
    assert (saved.score, saved.answers, saved.comment, saved.language) == (9, {}, "", "sv")


def test_the_score_then_the_comment_make_one_response_and_no_edit(client):
    _invitation, token = make_link()
    answer(client, token, {"score": "9"})
    reply = client.post(f"/s/{token}/more/", {"comment": "  Quick and friendly  "})
    assert reply.status_code == 302
    assert reply["Location"].startswith(f"/s/{token}/thanks/")
    saved = Response.objects.get()
    assert (saved.score, saved.comment) == (9, "Quick and friendly")
    assert ResponseEdit.objects.count() == 0
    thanks = client.get(reply["Location"]).content.decode()
    assert "Thank you!" in thanks
    assert "Quick and friendly" in thanks


def test_a_survey_without_follow_up_goes_straight_to_the_thank_you_page(client):
    _invitation, token = make_link(make_survey("csat", ask_follow_up=False))
    reply = answer(client, token, {"score": "4"})
    assert reply["Location"].startswith(f"/s/{token}/thanks/")
    assert 'name="comment"' not in client.get(f"/s/{token}/").content.decode()


@pytest.mark.parametrize(
    ("score", "wording"),
    [
        (10, "What do you value most about us?"),
        (9, "What do you value most about us?"),
        (8, "make your experience even better"),
        (7, "make your experience even better"),
        (6, "What disappointed you"),
        (0, "What disappointed you"),
    ],
)
def test_the_nps_follow_up_question_depends_on_the_score(client, score, wording):
    _invitation, token = make_link()
    answer(client, token, {"score": str(score)})
    assert wording in client.get(f"/s/{token}/more/").content.decode()


def test_the_comment_step_without_an_answer_sends_back_to_the_score(client):
    _invitation, token = make_link()
    reply = client.get(f"/s/{token}/more/")
    assert reply.status_code == 302
    assert reply["Location"].startswith(f"/s/{token}/?")


@pytest.mark.parametrize(
    ("kind", "bad", "good"),
    [
        ("nps", ["-1", "11", "nine", "", "9.5"], ["0", "10"]),
        ("csat", ["0", "6"], ["1", "5"]),
        ("ces", ["0", "8"], ["1", "7"]),
    ],
)
def test_a_score_outside_the_scale_is_refused_with_a_message(client, kind, bad, good):
    survey = make_survey(kind)
    for value in bad:
        _invitation, token = make_link(survey)
        reply = answer(client, token, {"score": value})
        assert reply.status_code == 400, value
        page = reply.content.decode()
        assert "Please choose a score from" in page
        assert 'role="alert"' in page
    assert Response.objects.count() == 0
    for value in good:
        _invitation, token = make_link(survey)
        assert answer(client, token, {"score": value}).status_code == 302
    assert sorted(Response.objects.values_list("score", flat=True)) == sorted(map(int, good))


def test_a_cli_answer_needs_all_three_questions(client):
    _invitation, token = make_link(make_survey("cli"))
    reply = answer(client, token, {"item-recommend": "9", "item-buy_again": "12"})
    assert reply.status_code == 400
    page = reply.content.decode()
    assert page.count("Please answer this question with a score from 0 to 10.") == 2
    assert re.search(r'name="item-recommend" value="9" checked', page)  # kept what was valid
    assert Response.objects.count() == 0
    data = {"item-recommend": "9", "item-buy_again": "8", "item-try_other": "0"}
    assert answer(client, token, data).status_code == 302
    saved = Response.objects.get()
    assert saved.score is None
    assert saved.answers == {"recommend": 9, "buy_again": 8, "try_other": 0}


def test_a_csi_answer_rates_importance_and_satisfaction_of_each_criterion(client):
    survey = make_survey("csi", csi_criteria=["price", "onboarding"])
    _invitation, token = make_link(survey)
    page = client.get(f"/s/{token}/").content.decode()
    assert "Onboarding" in page and "Price" in page and "Reliability" not in page
    data = {
        "importance-price": "8",
        "satisfaction-price": "6",
        "importance-onboarding": "10",
        "satisfaction-onboarding": "0",
    }
    reply = answer(client, token, data)
    assert reply.status_code == 400
    assert reply.content.decode().count("Please rate from 1 to 10.") == 1
    data["satisfaction-onboarding"] = "1"
    assert answer(client, token, data).status_code == 302
    assert Response.objects.get().answers == {
        "price": {"importance": 8, "satisfaction": 6},
        "onboarding": {"importance": 10, "satisfaction": 1},
    }


def test_a_too_long_comment_is_refused_and_kept_in_the_form(client):
    _invitation, token = make_link()
    answer(client, token, {"score": "5"})
    reply = client.post(f"/s/{token}/more/", {"comment": "x" * 5001})
    assert reply.status_code == 400
    assert "at most 5000 characters" in reply.content.decode()
    assert Response.objects.get().comment == ""


# --- editing ----------------------------------------------------------------------------------


def test_an_answered_link_opens_the_edit_form_with_the_saved_answer(client, answered_link):
    _invitation, token = answered_link
    page = client.get(f"/s/{token}/").content.decode()
    assert "Change your answer" in page
    assert re.search(r'value="9" checked', page)
    assert "Fast support</textarea>" in page


def test_each_edit_is_recorded_with_what_was_there_before(client, answered_link):
    _invitation, token = answered_link
    reply = client.post(f"/s/{token}/", {"step": "edit", "score": "6", "comment": "Slower now"})
    assert reply.status_code == 302
    assert reply["Location"].startswith(f"/s/{token}/thanks/")
    saved = Response.objects.get()
    assert (saved.score, saved.comment) == (6, "Slower now")
    edit = ResponseEdit.objects.get()
    assert (edit.response, edit.previous_score, edit.previous_comment) == (saved, 9, "Fast support")
    client.post(f"/s/{token}/", {"step": "edit", "score": "6", "comment": "Slower now"})
    assert ResponseEdit.objects.count() == 1  # nothing changed, nothing recorded


def test_an_edit_after_the_survey_closed_is_refused(client, answered_link):
    invitation, token = answered_link
    survey = invitation.survey
    survey.closes_at = timezone.now() - dt.timedelta(minutes=1)
    survey.save()
    reply = client.post(f"/s/{token}/", {"step": "edit", "score": "1", "comment": "changed"})
    assert reply.status_code == 403
    assert "This survey is closed" in reply.content.decode()
    assert client.post(f"/s/{token}/more/", {"comment": "changed"}).status_code == 403
    saved = Response.objects.get()
    assert (saved.score, saved.comment) == (9, "Fast support")
    assert ResponseEdit.objects.count() == 0
    page = client.get(f"/s/{token}/").content.decode()
    assert "This survey is closed" in page and 'type="radio"' not in page
    assert "Change your answer" not in client.get(f"/s/{token}/thanks/").content.decode()


def test_a_closed_survey_takes_no_first_answer_either(client):
    survey = make_survey(closes_at=timezone.now() - dt.timedelta(days=1))
    _invitation, token = make_link(survey)
    assert answer(client, token, {"score": "9"}).status_code == 403
    assert Response.objects.count() == 0


SCRIPT = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def test_script_payloads_in_comments_are_escaped_on_every_page(client):
    _invitation, token = make_link()
    answer(client, token, {"score": "9"})
    client.post(f"/s/{token}/more/", {"comment": SCRIPT})
    assert Response.objects.get().comment == SCRIPT
    pages = {
        "thanks": client.get(f"/s/{token}/thanks/"),
        "edit form": client.get(f"/s/{token}/"),
        "comment step": client.get(f"/s/{token}/more/"),
        "re-rendered with an error": client.post(
            f"/s/{token}/", {"step": "edit", "score": "99", "comment": SCRIPT}
        ),
    }
    for name, reply in pages.items():
        page = reply.content.decode()
        assert "<script>alert(1)</script>" not in page, name
        assert "<img src=x" not in page, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, name


def test_a_script_in_a_survey_text_is_escaped_too(client):
    survey = make_survey()
    make_text(survey, question=SCRIPT, thank_you=SCRIPT)
    _invitation, token = make_link(survey)
    assert "<script>" not in client.get(f"/s/{token}/").content.decode()


# --- CSRF, link states ------------------------------------------------------------------------


def test_a_post_without_the_csrf_token_is_refused():
    _invitation, token = make_link()
    browser = Client(enforce_csrf_checks=True)
    assert answer(browser, token, {"score": "9"}).status_code == 403
    assert browser.post(f"/s/{token}/unsubscribe/").status_code == 403
    assert Response.objects.count() == 0
    page = browser.get(f"/s/{token}/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    reply = answer(browser, token, {"score": "9", "csrfmiddlewaretoken": csrf.group(1)})
    assert reply.status_code == 302
    assert Response.objects.count() == 1


def test_unknown_tampered_and_revoked_links_get_the_identical_404_page(client):
    _invitation, token = make_link()
    revoked, revoked_token = make_link()
    Invitation.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    bodies = set()
    for bad in [tampered, "A" * 43, revoked_token, "nonsense"]:
        for suffix in ["/", "/more/", "/thanks/", "/unsubscribe/"]:
            reply = client.get(f"/s/{bad}{suffix}")
            assert reply.status_code == 404
            bodies.add(reply.content)
        reply = answer(client, bad, {"score": "9"})
        assert reply.status_code == 404
        bodies.add(reply.content)
    assert len(bodies) == 1
    assert "Link not found" in bodies.pop().decode()
    assert Response.objects.count() == 0


def test_an_expired_link_gets_a_friendly_410_and_takes_no_answer(client):
    _invitation, token = make_link(sent_days_ago=61)
    reply = client.get(f"/s/{token}/")
    assert reply.status_code == 410
    assert "This link has expired" in reply.content.decode()
    assert answer(client, token, {"score": "9"}).status_code == 410
    assert Response.objects.count() == 0


# --- language ---------------------------------------------------------------------------------


def test_the_page_speaks_the_contacts_language_before_the_browsers(client):
    _invitation, token = make_link(contact=make_contact(locale="nb"))
    page = client.get(f"/s/{token}/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert '<html lang="nb">' in page
    assert "Hvor sannsynlig er det at du vil anbefale oss" in page


def test_a_contact_without_a_language_gets_the_page_in_the_browsers_language(client):
    contact = make_contact()
    assert contact.locale == ""
    _invitation, token = make_link(contact=contact)
    page = client.get(f"/s/{token}/", HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert '<html lang="sv">' in page
    assert "Hur troligt är det att du skulle rekommendera oss" in page
    assert '<input type="hidden" name="lang" value="sv">' in page
    assert answer(client, token, {"score": "9", "lang": "sv"}).status_code == 302
    assert Response.objects.get().language == "sv"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("no", "nb"),
        ("nn-NO,en;q=0.5", "nb"),
        ("nb-NO", "nb"),
        ("sv-SE,sv;q=0.9", "sv"),
        ("zh-CN", "zh-hans"),
        ("de;q=0.9,ru;q=0.4,sv;q=0.5", "sv"),
        ("en-US,en;q=0.9,nb;q=0.8", "en"),
        ("no;q=0,ru", "ru"),
        ("xx;q=oops,ru", "ru"),
        ("de,*;q=0.1", "en"),
    ],
)
def test_the_browsers_languages_are_matched_by_weight_and_no_means_norwegian(
    client, header, language
):
    _invitation, token = make_link(contact=make_contact())
    page = client.get(f"/s/{token}/", HTTP_ACCEPT_LANGUAGE=header).content.decode()
    assert f'<html lang="{language}">' in page


def test_without_the_contacts_or_the_browsers_language_the_page_is_english(client):
    _invitation, token = make_link(contact=make_contact())
    page = client.get(f"/s/{token}/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="en">' in page
    assert "How likely are you to recommend us" in page


def test_an_answer_posted_without_a_language_through_a_link_without_one_is_english(client):
    _invitation, token = make_link(contact=make_contact())
    assert answer(client, token, {"score": "3"}).status_code == 302
    assert Response.objects.get().language == "en"


def test_the_language_switcher_beats_the_contacts_language(client):
    _invitation, token = make_link(contact=make_contact(locale="nb"))
    page = client.get(f"/s/{token}/?lang=zh-hans").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "您有多大可能向朋友或同事推荐我们" in page
    assert 'href="?lang=sv"' in page
    assert '<input type="hidden" name="lang" value="zh-hans">' in page
    reply = answer(client, token, {"score": "8", "lang": "zh-hans"})
    assert reply["Location"].endswith("?lang=zh-hans")
    assert Response.objects.get().language == "zh-hans"


def test_an_unsupported_language_choice_is_ignored(client):
    _invitation, token = make_link(contact=make_contact(locale="sv"))
    assert '<html lang="sv">' in client.get(f"/s/{token}/?lang=xx").content.decode()


def test_without_a_contact_the_browsers_language_is_used(client):
    page = client.get("/s/" + "A" * 43 + "/", HTTP_ACCEPT_LANGUAGE="ru,en;q=0.5").content.decode()
    assert '<html lang="ru">' in page
    assert "Ссылка не найдена" in page
    page = client.get("/s/" + "A" * 43 + "/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert '<html lang="zh-hans">' in page


@pytest.mark.parametrize(
    ("language", "question", "submit"),
    [
        ("en", "How likely are you to recommend us", "Send"),
        ("nb", "Hvor sannsynlig er det at du vil anbefale oss", "Send"),
        ("sv", "Hur troligt är det att du skulle rekommendera oss", "Skicka"),
        ("zh-hans", "您有多大可能向朋友或同事推荐我们", "提交"),
        ("ru", "Насколько вероятно, что вы порекомендуете нас", "Отправить"),
    ],
)
def test_a_survey_without_texts_works_in_every_language(client, language, question, submit):
    _invitation, token = make_link(make_survey("nps"), make_contact(locale=language))
    page = client.get(f"/s/{token}/").content.decode()
    assert question in page
    assert f">{submit}</button>" in page


def test_survey_texts_fall_back_to_english_then_to_the_built_in_texts(client):
    survey = make_survey("nps")
    make_text(survey, question="Would you tell a friend about Acme?", thank_you="Cheers from Acme!")
    make_text(survey, "sv", question="Skulle du berätta om Acme för en vän?", thank_you="")
    _invitation, sv_token = make_link(survey, make_contact(locale="sv"))
    page = client.get(f"/s/{sv_token}/").content.decode()
    assert "Skulle du berätta om Acme för en vän?" in page
    assert "Inte alls troligt" in page  # no label written anywhere: the built-in Swedish one
    answer(client, sv_token, {"score": "10"})
    assert "Cheers from Acme!" in client.get(f"/s/{sv_token}/thanks/").content.decode()
    _invitation, ru_token = make_link(survey, make_contact(locale="ru"))
    assert "Would you tell a friend about Acme?" in client.get(f"/s/{ru_token}/").content.decode()


# --- page qualities ---------------------------------------------------------------------------


def test_the_page_needs_no_javascript_and_no_third_party_assets(client):
    _invitation, token = make_link(make_survey("csi"))
    page = client.get(f"/s/{token}/").content.decode()
    assert "<script" not in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    for url in re.findall(r'(?:src|href|action)="([^"]*)"', page):
        assert not re.match(r"^(https?:)?//", url), url
    assert '<form method="post"' in page
    assert page.count("<fieldset") >= 10 and page.count("<legend>") >= 10
    labels = re.findall(r'<label class="choice" for="([^"]+)"', page)
    inputs = re.findall(r'<input class="choice-input" type="radio" id="([^"]+)"', page)
    assert labels == inputs and len(inputs) == 5 * 2 * 10


def test_pages_are_not_cached_or_indexed(client):
    _invitation, token = make_link()
    reply = client.get(f"/s/{token}/")
    assert "no-store" in reply["Cache-Control"]
    assert "noindex" in reply["X-Robots-Tag"]
    assert reply["Content-Language"] == "en"


def test_submitting_an_answer_takes_a_bounded_number_of_queries(
    client, django_assert_max_num_queries
):
    _invitation, token = make_link()
    # find and lock the link in one statement, look for an earlier answer, insert (+ the
    # savepoint and release the test's transaction turns the commit into)
    with django_assert_max_num_queries(5):
        assert answer(client, token, {"score": "9"}).status_code == 302


# --- hooks ------------------------------------------------------------------------------------


def test_response_saved_is_sent_after_commit_for_the_answer_and_each_edit(
    client, django_capture_on_commit_callbacks
):
    calls = []

    def receiver(sender, response_id, created, **kwargs):
        calls.append((response_id, created))

    response_saved.connect(receiver)
    try:
        _invitation, token = make_link()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            answer(client, token, {"score": "9"})
        assert calls == []  # nothing before the commit
        for callback in callbacks:
            callback()
        saved = Response.objects.get()
        assert calls == [(saved.pk, True)]
        with django_capture_on_commit_callbacks(execute=True):
            client.post(f"/s/{token}/", {"step": "edit", "score": "3", "comment": ""})
        assert calls == [(saved.pk, True), (saved.pk, False)]
    finally:
        response_saved.disconnect(receiver)


# --- unsubscribe ------------------------------------------------------------------------------


def test_unsubscribing_asks_first_and_is_permanent(client):
    from surveys.services import invitation_create

    invitation, token = make_link()
    page = client.get(f"/s/{token}/unsubscribe/").content.decode()
    assert "Yes, unsubscribe me" in page
    invitation.contact.refresh_from_db()
    assert invitation.contact.do_not_survey is False
    reply = client.post(f"/s/{token}/unsubscribe/")
    assert reply.status_code == 200
    assert "You are unsubscribed" in reply.content.decode()
    invitation.contact.refresh_from_db()
    assert invitation.contact.do_not_survey is True
    later = timezone.now() + dt.timedelta(days=400)
    created, _token, reason = invitation_create(
        survey=make_survey(),
        contact=invitation.contact,
        trigger="manual",
        force=True,
        now=later,
    )
    assert (created, reason) == (None, "do_not_survey")


def test_one_click_unsubscribe_from_the_mail_provider_needs_no_csrf_token():
    invitation, token = make_link(sent_days_ago=70)  # expired links still unsubscribe
    provider = Client(enforce_csrf_checks=True)
    reply = provider.post(f"/s/{token}/unsubscribe/one-click/", {"List-Unsubscribe": "One-Click"})
    assert reply.status_code == 200
    invitation.contact.refresh_from_db()
    assert invitation.contact.do_not_survey is True
    assert provider.get(f"/s/{token}/unsubscribe/one-click/").status_code == 405
    assert provider.post("/s/" + "A" * 43 + "/unsubscribe/one-click/").status_code == 404


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement path")
def test_a_first_score_is_a_single_statement_on_postgresql(client, django_assert_num_queries):
    _invitation, token = make_link()
    with django_assert_num_queries(1):
        assert answer(client, token, {"score": "9", "lang": "sv"}).status_code == 302
    saved = Response.objects.get()
    assert (saved.score, saved.language, saved.answers, saved.comment) == (9, "sv", {}, "")


def test_a_saved_answer_waits_in_the_outbox_until_a_worker_announces_it(
    client, monkeypatch, settings
):
    """In production the submit only marks the answer; the beat task sends the signal."""
    from celery import current_app

    from surveys.tasks import announce_responses

    monkeypatch.setattr(current_app.conf, "task_always_eager", False)
    heard = []

    def listener(sender, response_id, created, **kwargs):
        heard.append((response_id, created))

    response_saved.connect(listener)
    try:
        _invitation, token = make_link()
        assert answer(client, token, {"score": "9"}).status_code == 302
        saved = Response.objects.get()
        assert saved.to_announce == Response.Announce.CREATED
        assert heard == []
        assert announce_responses() == 1
        assert heard == [(saved.pk, True)]
        saved.refresh_from_db()
        assert saved.to_announce == Response.Announce.NOTHING
        assert announce_responses() == 0  # a replay announces nothing twice
    finally:
        response_saved.disconnect(listener)


def test_an_answer_whose_receiver_fails_stays_in_the_outbox_for_the_next_run(monkeypatch):
    from surveys.services import responses_announce

    _invitation, token = make_link()
    assert answer(Client(), token, {"score": "3"}).status_code == 302
    saved = Response.objects.get()
    Response.objects.filter(pk=saved.pk).update(to_announce=Response.Announce.EDITED)

    def broken(sender, **kwargs):
        raise RuntimeError("receiver down")

    response_saved.connect(broken)
    try:
        assert responses_announce() == 0
    finally:
        response_saved.disconnect(broken)
    saved.refresh_from_db()
    assert saved.to_announce == Response.Announce.EDITED
    assert responses_announce() == 1
    saved.refresh_from_db()
    assert saved.to_announce == Response.Announce.NOTHING


def test_item_labels_stored_in_the_wrong_shape_fall_back_to_the_built_in_ones(client):
    survey = make_survey("cli")
    make_text(survey, question="A few questions", items=["not", "labels", "by", "key"])
    _invitation, token = make_link(survey)
    page = client.get(f"/s/{token}/")
    assert page.status_code == 200
    assert "A few questions" in page.content.decode()
