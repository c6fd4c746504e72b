"""A CSM works an alert in a real browser: reads it on the account page, snoozes it, and
sees the snooze on the timeline; and finds it again on the alerts list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from health.models import Alert
from health.services import health_recompute
from tests.customers.factories import add_usage
from tests.health.test_alerts import old_account, only_rules

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_csm_snoozes_an_alert_from_the_account_page(page, login, csm_user):
    only_rules("inactive")
    account = old_account(name="Quiet Co", owner=csm_user)
    add_usage(account, timezone.localdate() - dt.timedelta(days=45), login=2)
    health_recompute()

    login(csm_user)
    page.goto("/health/alerts/")
    row = page.locator("#alert-list [data-alert='inactive']")
    expect(row).to_contain_text("Quiet Co")
    expect(row).to_contain_text("No login for 45 days")
    row.get_by_role("link", name="Quiet Co").click()

    alert = page.locator("#alerts [data-alert='inactive']")
    expect(alert).to_have_attribute("data-status", "open")
    alert.get_by_label("Snooze for").select_option("14")
    alert.get_by_role("button", name="Snooze").click()

    snoozed = page.locator("#alerts [data-alert='inactive']")
    expect(snoozed).to_have_attribute("data-status", "snoozed")
    expect(snoozed).to_contain_text("Snoozed until")
    expect(page.locator("#timeline")).to_contain_text("Alert snoozed by")
    stored = Alert.objects.get(account=account)
    assert stored.status == "snoozed"
    assert stored.snoozed_until.date() == timezone.now().date() + dt.timedelta(days=14)

    page.goto("/health/alerts/?status=snoozed")
    expect(page.locator("#alert-list [data-alert='inactive']")).to_contain_text("Quiet Co")
