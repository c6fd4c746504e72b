"""A CSM starts the day in a real browser: the alert and the task waiting on the home page,
a task marked done and an alert snoozed in place."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from health.models import Alert, Task
from tests.customers.factories import make_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_csm_works_through_the_day_from_the_home_page(page, login, csm_user):
    account = make_account(
        name="Renewing Co",
        owner=csm_user,
        renewal_date=timezone.localdate() + dt.timedelta(days=20),
        health_score=42,
        health_band="red",
    )
    alert = Alert.objects.create(
        account=account,
        kind="renewal_at_risk",
        severity="high",
        reason="Renews in 20 days with a red score of 42.",
        owner=csm_user,
    )
    task = Task.objects.create(
        account=account, owner=csm_user, title="Plan the renewal call", due_on=timezone.localdate()
    )

    login(csm_user)
    page.goto("/")
    work = page.locator("[data-my-day='work']")
    expect(work).to_contain_text("Plan the renewal call")
    renewals = page.locator("[data-my-day='renewals']")
    expect(renewals).to_contain_text("Renewing Co")
    expect(renewals.locator(".badge.health-red")).to_have_text("42 red")

    work.locator(f"#task-{task.pk}").get_by_role("button", name="Done").click()
    expect(work.locator(f"#task-{task.pk}")).to_contain_text("Done.")

    row = page.locator(f"[data-my-day='alerts'] #alert-{alert.pk}")
    expect(row).to_contain_text("Renews in 20 days")
    row.get_by_label("Snooze for").select_option("3")
    row.get_by_role("button", name="Snooze").click()
    expect(page.locator(f"#alert-{alert.pk}")).to_have_attribute("data-status", "snoozed")

    task.refresh_from_db()
    alert.refresh_from_db()
    assert (task.status, alert.status) == ("done", "snoozed")
    page.reload()
    expect(page.locator("[data-my-day='alerts']")).to_contain_text("No open alerts.")
