"""The surveys admin: survey texts per language inline, CSI criteria checked before saving, the
skipped-send log for admins only, and the actions that fill in texts and revoke links."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from accounts.roles import Role
from surveys.models import Invitation, SendSkip, SurveyText
from surveys.tokens import LinkState, link_resolve
from tests.customers.factories import make_account, make_contact
from tests.surveys.factories import make_link, make_survey, make_text

pytestmark = pytest.mark.django_db

SURVEYS = "/admin/surveys/survey/"
SKIPS = "/admin/surveys/sendskip/"
INVITATIONS = "/admin/surveys/invitation/"


@pytest.fixture
def csi():
    survey = make_survey("csi", slug="csi", name="Customer satisfaction index")
    survey.csi_criteria = ["price", "support"]
    survey.save()
    make_text(
        survey,
        question="How do we do on each of these?",
        thank_you="Thanks!",
        email_subject="A short survey",
        email_intro="It takes a minute.",
        items={"price": "Price", "support": "Support"},
    )
    return survey


def survey_form(survey, **changes) -> dict:
    """The change form as the admin page posts it: the survey's fields and its one English
    text in the inline, with ``changes`` applied (``text_<field>`` for the inline row)."""
    text = survey.texts.get(language="en")
    data = {
        "slug": survey.slug,
        "name": survey.name,
        "kind": survey.kind,
        "is_active": "on",
        "closes_at_0": "",
        "closes_at_1": "",
        "expiry_days": str(survey.expiry_days),
        "fatigue_days": "",
        "reminder_after_days": str(survey.reminder_after_days),
        "ask_follow_up": "on",
        "csi_criteria": '["price", "support"]',
        "texts-TOTAL_FORMS": "1",
        "texts-INITIAL_FORMS": "1",
        "texts-MIN_NUM_FORMS": "0",
        "texts-MAX_NUM_FORMS": "5",
        "texts-0-id": str(text.pk),
        "texts-0-survey": str(survey.pk),
        "texts-0-language": "en",
        "texts-0-question": text.question,
        "texts-0-low_label": "",
        "texts-0-high_label": "",
        "texts-0-items": '{"price": "Price", "support": "Support"}',
        "texts-0-follow_up_question": "",
        "texts-0-follow_up_promoter": "",
        "texts-0-follow_up_passive": "",
        "texts-0-follow_up_detractor": "",
        "texts-0-thank_you": text.thank_you,
        "texts-0-email_subject": text.email_subject,
        "texts-0-email_intro": text.email_intro,
    }
    for name, value in changes.items():
        key = f"texts-0-{name.removeprefix('text_')}" if name.startswith("text_") else name
        data[key] = value
    return data


# --- surveys and their texts ----------------------------------------------------------------


def test_an_admin_opens_a_survey_with_its_text_per_language_inline(admin_client_, csi):
    page = admin_client_.get(f"{SURVEYS}{csi.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="texts-TOTAL_FORMS"' in html
    assert 'name="texts-0-question"' in html and "How do we do on each of these?" in html
    assert "[&quot;price&quot;, &quot;support&quot;]</textarea>" in html


def test_an_admin_saves_a_change_of_csi_criteria_and_of_the_inline_text(admin_client_, csi):
    reply = admin_client_.post(
        f"{SURVEYS}{csi.pk}/change/",
        survey_form(
            csi,
            csi_criteria='["price", "support", "onboarding"]',
            text_items='{"price": "Price", "support": "Support", "onboarding": "Getting started"}',
            text_question="How are we doing?",
        ),
    )
    assert reply.status_code == 302 and reply["Location"] == SURVEYS
    csi.refresh_from_db()
    assert csi.csi_criteria == ["price", "support", "onboarding"]
    text = SurveyText.objects.get(survey=csi)
    assert text.question == "How are we doing?"
    assert text.items["onboarding"] == "Getting started"


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ('["price", "support"', "Enter a valid JSON."),
        ('{"price": 1}', "Give a list of keys like [&quot;price&quot;, &quot;support&quot;]"),
        ('["Price!", "support"]', "lowercase letters, digits and _."),
        ('["price", "price"]', "Each criterion may appear once."),
    ],
)
def test_invalid_csi_criteria_give_a_clear_form_error_and_save_nothing(
    admin_client_, csi, criteria, message
):
    reply = admin_client_.post(
        f"{SURVEYS}{csi.pk}/change/",
        survey_form(csi, csi_criteria=criteria, text_question="Changed at the same time"),
    )
    assert reply.status_code == 200  # the form again, with the error
    assert message in reply.content.decode()
    assert reply.context["adminform"].form.errors.keys() == {"csi_criteria"}
    csi.refresh_from_db()
    assert csi.csi_criteria == ["price", "support"]
    assert SurveyText.objects.get(survey=csi).question == "How do we do on each of these?"


def test_criteria_on_a_survey_that_is_not_csi_are_refused(admin_client_):
    nps = make_survey("nps")
    make_text(nps)
    reply = admin_client_.post(
        f"{SURVEYS}{nps.pk}/change/", survey_form(nps, csi_criteria='["price"]')
    )
    assert reply.status_code == 200
    assert "Criteria only apply to CSI surveys." in reply.content.decode()
    nps.refresh_from_db()
    assert nps.csi_criteria == []


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ('["Price", "Support"]', "Give labels by key, like"),
        ('{"price": 5}', "Give labels by key, like"),
        ('{"price": "' + "x" * 201 + '"}', "Labels are at most 200 characters: price."),
    ],
)
def test_item_labels_must_be_text_by_key(admin_client_, csi, items, message):
    reply = admin_client_.post(f"{SURVEYS}{csi.pk}/change/", survey_form(csi, text_items=items))
    assert reply.status_code == 200
    assert message in reply.content.decode()
    assert SurveyText.objects.get(survey=csi).items == {"price": "Price", "support": "Support"}


@pytest.mark.parametrize(("kind", "allowed"), [("nps", False), ("ces", False), ("csat", True)])
def test_only_csat_and_csi_surveys_may_follow_closed_tickets(admin_client_, kind, allowed):
    survey = make_survey(kind)
    make_text(survey)
    reply = admin_client_.post(
        f"{SURVEYS}{survey.pk}/change/",
        survey_form(survey, csi_criteria="[]", text_items="{}", send_after_ticket_close="on"),
    )
    survey.refresh_from_db()
    assert survey.send_after_ticket_close is allowed
    if not allowed:
        assert "Only CSAT and CSI surveys ask about a closed ticket" in reply.content.decode()


# --- the skipped-send log -------------------------------------------------------------------


@pytest.fixture
def skips():
    survey = make_survey("csat", slug="csat")
    contact = make_contact(email="kari@example.com", name="Kari Nordmann")
    return [
        SendSkip.objects.create(survey=survey, contact=contact, reason=SendSkip.Reason.FATIGUE),
        SendSkip.objects.create(
            survey=survey,
            contact=None,
            reason=SendSkip.Reason.NO_CONTACT,
            detail="ticket T-42: its account has no contact with an email",
        ),
    ]


def test_the_send_skip_log_is_visible_to_admins(admin_client_, skips):
    listing = admin_client_.get(SKIPS)
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "Kari Nordmann" in html and "Surveyed recently (fatigue rule)" in html
    assert "No contact to ask" in html and "ticket T-42" in html
    for skip in skips:
        assert admin_client_.get(f"{SKIPS}{skip.pk}/change/").status_code == 200
    assert admin_client_.get(f"{SKIPS}?reason=no_contact").status_code == 200
    assert "Send skips" in admin_client_.get("/admin/").content.decode()


def test_the_send_skip_log_is_read_only_even_for_admins(admin_client_, skips):
    assert admin_client_.get(f"{SKIPS}add/").status_code == 403
    assert admin_client_.post(f"{SKIPS}{skips[0].pk}/delete/", {"post": "yes"}).status_code == 403
    assert SendSkip.objects.count() == 2


def test_a_csm_cannot_see_the_send_skip_log(csm_client, skips):
    reply = csm_client.get(SKIPS)
    assert reply.status_code == 302 and reply["Location"].startswith("/admin/login/")
    assert csm_client.get(f"{SKIPS}{skips[0].pk}/change/").status_code == 302


def test_a_csm_let_into_the_admin_with_the_view_permission_still_cannot_see_it(make_user, skips):
    csm = make_user(Role.CSM, "staff-csm@example.com")
    csm.is_staff = True
    csm.save(update_fields=["is_staff"])
    csm.user_permissions.add(Permission.objects.get(codename="view_sendskip"))
    client = Client()
    client.force_login(csm)
    assert client.get(SKIPS).status_code == 403
    assert client.get(f"{SKIPS}{skips[0].pk}/change/").status_code == 403
    assert "Send skips" not in client.get("/admin/").content.decode()


# --- actions --------------------------------------------------------------------------------


def test_fill_default_texts_adds_the_missing_languages_and_keeps_the_written_one(
    admin_client_, csi
):
    other = make_survey("nps")
    reply = admin_client_.post(
        SURVEYS,
        {"action": "fill_default_texts", "_selected_action": [csi.pk], "index": "0"},
        follow=True,
    )
    assert "Added 4 language text(s)." in reply.content.decode()
    texts = {text.language: text for text in csi.texts.all()}
    assert set(texts) == {"en", "nb", "sv", "zh-hans", "ru"}
    assert texts["en"].question == "How do we do on each of these?"  # written by hand: kept
    assert texts["nb"].question and texts["nb"].question != texts["en"].question
    assert not other.texts.exists()  # only the selected survey
    again = admin_client_.post(
        SURVEYS,
        {"action": "fill_default_texts", "_selected_action": [csi.pk], "index": "0"},
        follow=True,
    )
    assert "Added 0 language text(s)." in again.content.decode()
    assert csi.texts.count() == 5


def test_revoke_kills_the_selected_links_and_leaves_the_others(admin_client_):
    survey = make_survey("nps")
    chosen, chosen_token = make_link(survey)
    kept, kept_token = make_link(survey)
    earlier = timezone.now() - dt.timedelta(days=3)
    already, _token = make_link(survey, contact=make_contact(make_account()), revoked_at=earlier)
    reply = admin_client_.post(
        INVITATIONS,
        {"action": "revoke", "_selected_action": [chosen.pk, already.pk], "index": "0"},
        follow=True,
    )
    assert "Revoked 1 link(s)." in reply.content.decode()
    chosen.refresh_from_db()
    already.refresh_from_db()
    assert chosen.revoked_at is not None
    assert already.revoked_at == earlier  # the first revocation stands
    assert link_resolve(chosen_token).state is LinkState.UNKNOWN
    assert link_resolve(kept_token).state is LinkState.VALID
    assert Invitation.objects.get(pk=kept.pk).revoked_at is None
    anonymous = Client()
    assert anonymous.get(f"/s/{chosen_token}/").status_code == 404
    assert anonymous.get(f"/s/{kept_token}/").status_code == 200
