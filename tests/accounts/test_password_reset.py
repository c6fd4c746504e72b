"""Forgotten passwords: Django's flow by email, throttled, never telling which addresses have
an account."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.services import PASSWORD_RESET_PER_EMAIL
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-correct-horse"
LINK = re.compile(r"^(http\S+/auth/password/reset/\S+/)$", re.M)


def _ask(client: Client, email: str):
    return client.post(reverse("accounts:password_reset"), {"email": email})


def test_the_login_page_links_to_the_reset(client):
    page = client.get(reverse("accounts:login"))

    assert reverse("accounts:password_reset") in page.text


def test_a_reset_link_by_email_sets_a_new_password(client, csm_user, settings):
    asked = _ask(client, csm_user.email.upper())

    assert asked.status_code == 302
    assert asked.url == reverse("accounts:password_reset_done")
    [email] = mail.outbox
    assert email.to == [csm_user.email]
    link = LINK.search(email.body).group(1)
    assert link.startswith(settings.SITE_URL + "/auth/password/reset/")

    path = link.removeprefix(settings.SITE_URL)
    form = client.get(path, follow=True)  # Django swaps the token for a session marker
    assert "Choose a new password" in form.text
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302
    assert done.url == reverse("accounts:password_reset_complete")

    fresh = Client()
    old = fresh.post(reverse("accounts:login"), {"username": csm_user.email, "password": PASSWORD})
    new = fresh.post(
        reverse("accounts:login"), {"username": csm_user.email, "password": NEW_PASSWORD}
    )
    assert (old.status_code, new.status_code) == (200, 302)
    # The link is used up.
    assert "This link no longer works" in client.get(path, follow=True).text


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, csm_user):
    known = _ask(Client(), csm_user.email)
    unknown = _ask(client, "nobody@example.com")

    assert (unknown.status_code, unknown.url) == (known.status_code, known.url)
    assert [m.to for m in mail.outbox] == [[csm_user.email]]
    done = client.get(unknown.url)
    assert "If the address you entered belongs to an account" in done.text


def test_reset_emails_stop_after_a_few_an_hour_without_saying_so(client, csm_user):
    answers = [_ask(client, csm_user.email) for _ in range(PASSWORD_RESET_PER_EMAIL + 2)]

    assert {(a.status_code, a.url) for a in answers} == {
        (302, reverse("accounts:password_reset_done"))
    }
    assert len(mail.outbox) == PASSWORD_RESET_PER_EMAIL


def test_the_reset_form_needs_its_csrf_token(csm_user):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(reverse("accounts:password_reset"), {"email": csm_user.email})

    assert response.status_code == 403
    assert mail.outbox == []


def test_the_reset_pages_escape_what_was_typed(client):
    response = client.post(reverse("accounts:password_reset"), {"email": '"><script>x</script>'})

    assert response.status_code == 200  # not an email address: the form comes back
    assert "<script>x</script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_a_tampered_link_is_refused(client, csm_user, settings):
    _ask(client, csm_user.email)
    path = LINK.search(mail.outbox[0].body).group(1).removeprefix(settings.SITE_URL)
    tampered = re.sub(r"/([^/]+)/$", "/forged-token/", path)

    page = client.get(tampered, follow=True)

    assert "This link no longer works" in page.text
