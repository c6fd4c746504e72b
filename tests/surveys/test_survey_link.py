"""`manage.py survey_link`: an admin's test link, printed once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from surveys.models import Invitation, SendSkip
from tests.customers.factories import make_contact
from tests.surveys.factories import make_survey

pytestmark = pytest.mark.django_db


def survey_link(*args) -> str:
    out = StringIO()
    call_command("survey_link", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_it_prints_an_absolute_link_that_opens_the_survey(settings):
    settings.SITE_URL = "https://tenure.example.com"
    make_survey(slug="nps")
    contact = make_contact(email="Kari@Example.com", locale="nb")
    url = survey_link("--survey", "nps", "--contact", "kari@example.com")
    assert url.startswith("https://tenure.example.com/s/") and url.endswith("/")
    invitation = Invitation.objects.get()
    assert (invitation.contact, invitation.trigger, invitation.language) == (
        contact,
        "manual",
        "nb",
    )
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert token not in invitation.token_hash
    page = Client().get(f"/s/{token}/")
    assert page.status_code == 200
    assert "Hvor sannsynlig" in page.content.decode()


def test_it_respects_the_fatigue_rules_unless_forced():
    make_survey(slug="nps")
    make_contact(email="kari@example.com")
    survey_link("--survey", "nps", "--contact", "kari@example.com")
    with pytest.raises(CommandError, match=r"Surveyed recently.*--force"):
        survey_link("--survey", "nps", "--contact", "kari@example.com")
    assert SendSkip.objects.get().reason == "fatigue"
    assert "/s/" in survey_link("--survey", "nps", "--contact", "kari@example.com", "--force")
    assert Invitation.objects.count() == 2


def test_it_never_links_an_unsubscribed_contact():
    make_survey(slug="nps")
    make_contact(email="gone@example.com", do_not_survey=True)
    with pytest.raises(CommandError, match="unsubscribed"):
        survey_link("--survey", "nps", "--contact", "gone@example.com", "--force")


def test_unknown_survey_or_contact_get_clear_errors():
    make_survey(slug="nps")
    make_survey(slug="csat", kind="csat")
    make_contact(email="kari@example.com")
    with pytest.raises(CommandError, match=r"No survey with slug 'npx'\. Known slugs: csat, nps"):
        survey_link("--survey", "npx", "--contact", "kari@example.com")
    with pytest.raises(CommandError, match=r"No contact with email 'nobody@example\.com'"):
        survey_link("--survey", "nps", "--contact", "nobody@example.com")
    assert Invitation.objects.count() == 0
