"""A person who forgot their password gets back in, in a real browser."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINK = re.compile(r"(/auth/password/reset/\S+/)$", re.M)
NEW_PASSWORD = "a-brand-new-correct-horse"


def test_a_csm_who_forgot_the_password_resets_it_and_logs_in(page, make_user):
    csm = make_user(Role.CSM, "casey@example.com", "Casey Success")

    page.goto("/auth/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("casey@example.com")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    path = LINK.search(mail.outbox[0].body).group(1)
    page.goto(path)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label(re.compile(r"^New password:?$")).fill(NEW_PASSWORD)
    page.get_by_label(re.compile(r"^New password confirmation")).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()

    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Email").fill(csm.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Good to see you, Casey")).to_be_visible()
