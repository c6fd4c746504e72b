"""Tags on answers: keyword auto-tags from the admin, manual tags from the results page."""

from __future__ import annotations

import pytest
from django.test import Client

from surveys import services
from surveys.models import Response, Tag
from surveys.services import Answer, keyword_pattern, response_save
from tests.customers.factories import make_contact
from tests.surveys.factories import make_answer, make_invitation, make_survey

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


# --- keyword matching (no database) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("keywords", "comment", "matches"),
    [
        ("price", "The PRICE went up.", True),
        ("price", "Price!", True),
        ("price", "priceless support", False),
        ("price, pricing", "Your pricing page is confusing", True),
        ("bug", "debugging is hard", False),
        ("цена", "Цена выросла", True),
        ("feil", "Vi fant en feil i eksporten", True),
        ("价格", "今年价格涨了", True),
        ("", "anything", False),
        (" , ", "anything", False),
        ("c++", "We need a C++ SDK", True),
    ],
)
def test_keywords_match_whole_words_whatever_the_case(keywords, comment, matches):
    pattern = keyword_pattern(keywords)
    assert bool(pattern and pattern.search(comment)) is matches


# --- auto-tagging ------------------------------------------------------------------------------


def test_auto_tags_are_added_and_manual_tags_kept():
    pricing = Tag.objects.create(name="Pricing", keywords="price, expensive")
    Tag.objects.create(name="Bugs", keywords="bug")
    manual = Tag.objects.create(name="VIP")
    response = make_answer(make_survey("nps"), 4, comment="Too expensive for us")
    response.tags.add(manual)
    assert services.response_auto_tag(response_id=response.pk) == [pricing]
    assert set(response.tags.values_list("name", flat=True)) == {"Pricing", "VIP"}


def test_auto_tagging_twice_adds_nothing_twice():
    Tag.objects.create(name="Pricing", keywords="price")
    response = make_answer(make_survey("nps"), 4, comment="price")
    services.response_auto_tag(response_id=response.pk)
    services.response_auto_tag(response_id=response.pk)
    assert Response.tags.through.objects.filter(response=response).count() == 1


def test_auto_tagging_a_deleted_response_does_nothing():
    assert services.response_auto_tag(response_id=987654) == []


def test_saving_an_answer_tags_it_after_commit(django_capture_on_commit_callbacks):
    Tag.objects.create(name="Support", keywords="support")
    survey = make_survey("csat")
    invitation = make_invitation(survey, make_contact())
    with django_capture_on_commit_callbacks(execute=True):
        response, created = response_save(
            invitation_id=invitation.pk,
            answer=Answer(score=5, answers={}, comment="Support was quick"),
            language="en",
        )
    assert created
    assert list(response.tags.values_list("name", flat=True)) == ["Support"]


def test_an_edited_comment_gains_new_tags_and_keeps_old_ones(django_capture_on_commit_callbacks):
    Tag.objects.create(name="Pricing", keywords="price")
    Tag.objects.create(name="Bugs", keywords="bug")
    survey = make_survey("nps")
    invitation = make_invitation(survey, make_contact())
    with django_capture_on_commit_callbacks(execute=True):
        response_save(
            invitation_id=invitation.pk, answer=Answer(8, {}, "price is fine"), language="en"
        )
    with django_capture_on_commit_callbacks(execute=True):
        response, created = response_save(
            invitation_id=invitation.pk, answer=Answer(8, {}, "found a bug"), language="en"
        )
    assert not created
    assert set(response.tags.values_list("name", flat=True)) == {"Pricing", "Bugs"}


# --- manual tags on the results page ------------------------------------------------------------


@pytest.fixture
def answered():
    return make_answer(make_survey("nps"), 6, comment="meh")


def test_a_csm_adds_a_tag_with_htmx_and_gets_the_tag_cell_back(csm_client, answered):
    response = csm_client.post(
        f"/surveys/responses/{answered.pk}/tags/",
        {"name": "  Churn   risk "},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert f'id="tags-{answered.pk}"' in response.text
    assert 'data-tag="Churn risk"' in response.text
    assert "<html" not in response.text
    assert list(answered.tags.values_list("name", flat=True)) == ["Churn risk"]


def test_an_existing_tag_is_reused_whatever_its_case(csm_client, answered):
    existing = Tag.objects.create(name="Pricing")
    csm_client.post(f"/surveys/responses/{answered.pk}/tags/", {"name": "pricing"})
    assert list(answered.tags.all()) == [existing]
    assert Tag.objects.count() == 1


def test_a_tag_without_a_name_is_refused_with_a_message(csm_client, answered):
    response = csm_client.post(
        f"/surveys/responses/{answered.pk}/tags/", {"name": "   "}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    assert "Give the tag a name." in response.text
    assert not Tag.objects.exists()


def test_a_too_long_tag_name_is_refused(csm_client, answered):
    response = csm_client.post(
        f"/surveys/responses/{answered.pk}/tags/",
        {"name": "x" * 61},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert "at most 60 characters" in response.text


def test_without_javascript_adding_a_tag_redirects_back(csm_client, answered):
    next_url = f"/surveys/{answered.survey.slug}/?category=detractor"
    response = csm_client.post(
        f"/surveys/responses/{answered.pk}/tags/", {"name": "Pricing", "next": next_url}
    )
    assert response.status_code == 302
    assert response["Location"] == next_url


def test_the_redirect_after_tagging_never_leaves_the_site(csm_client, answered):
    response = csm_client.post(
        f"/surveys/responses/{answered.pk}/tags/",
        {"name": "Pricing", "next": "https://evil.example/"},
    )
    assert response["Location"] == f"/surveys/{answered.survey.slug}/"


def test_a_csm_removes_a_tag(csm_client, answered):
    tag = Tag.objects.create(name="Pricing")
    answered.tags.add(tag)
    response = csm_client.post(
        f"/surveys/responses/{answered.pk}/tags/{tag.pk}/remove/", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert not answered.tags.exists()
    assert Tag.objects.filter(pk=tag.pk).exists()  # the tag itself stays for other answers


def test_viewers_cannot_add_or_remove_tags(viewer_client, answered):
    tag = Tag.objects.create(name="Pricing")
    answered.tags.add(tag)
    assert (
        viewer_client.post(f"/surveys/responses/{answered.pk}/tags/", {"name": "x"}).status_code
        == 403
    )
    assert (
        viewer_client.post(f"/surveys/responses/{answered.pk}/tags/{tag.pk}/remove/").status_code
        == 403
    )
    assert list(answered.tags.all()) == [tag]
    assert not Tag.objects.filter(name="x").exists()


def test_tag_writes_need_post_and_a_csrf_token(csm_user, answered):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(csm_user)
    url = f"/surveys/responses/{answered.pk}/tags/"
    assert strict.get(url).status_code == 405
    assert strict.post(url, {"name": "x"}).status_code == 403
    strict.get(f"/surveys/{answered.survey.slug}/")  # sets the CSRF cookie
    token = strict.cookies["csrftoken"].value
    response = strict.post(url, {"name": "x"}, headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 200
    assert answered.tags.filter(name="x").exists()


def test_unknown_answers_and_tags_are_404(csm_client, answered):
    assert csm_client.post("/surveys/responses/999999/tags/", {"name": "x"}).status_code == 404
    assert (
        csm_client.post(f"/surveys/responses/{answered.pk}/tags/999999/remove/").status_code == 404
    )


def test_tag_names_are_escaped(csm_client, answered):
    response = csm_client.post(
        f"/surveys/responses/{answered.pk}/tags/", {"name": SCRIPT}, headers={"HX-Request": "true"}
    )
    assert SCRIPT not in response.text
    assert "&lt;script&gt;" in response.text
    page = csm_client.get(f"/surveys/{answered.survey.slug}/")
    assert SCRIPT not in page.text
