"""A past day's inputs are what was known that day: a backtest reads those scores, so an
input that leaked what came after would flatter the score."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from customers.models import DailyUsage, StageChange, TicketStatus, UsageEvent
from health.selectors import health_inputs
from tests.customers.factories import make_account, make_contact, make_ticket

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 1)


def noon(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def used(account, day: dt.date, contact=None, type_: str = "login") -> None:
    UsageEvent.objects.create(
        account=account,
        contact=contact,
        type=type_,
        occurred_at=noon(day),
        event_id=f"{account.pk}-{day}-{type_}-{contact and contact.pk}",
    )
    DailyUsage.objects.update_or_create(account=account, day=day, type=type_, defaults={"count": 1})


def test_days_since_activity_counts_from_the_last_activity_by_that_day_not_the_latest():
    account = make_account(last_activity_at=noon(DAY + dt.timedelta(days=40)))
    used(account, DAY - dt.timedelta(days=12))
    used(account, DAY - dt.timedelta(days=2), type_="payment_succeeded")  # billing: not activity
    used(account, DAY + dt.timedelta(days=40))
    never_before = make_account(last_activity_at=noon(DAY + dt.timedelta(days=5)))
    used(never_before, DAY + dt.timedelta(days=5))

    inputs = health_inputs(account_ids=[account.pk, never_before.pk], day=DAY)

    assert inputs[account.pk]["days_since_activity"] == 12
    assert "days_since_activity" not in inputs[never_before.pk]


def test_active_contacts_are_those_with_activity_in_the_30_days_ending_that_day():
    account = make_account()
    again = make_contact(account, last_seen_at=noon(DAY + dt.timedelta(days=20)))
    used(account, DAY - dt.timedelta(days=5), contact=again)
    used(account, DAY + dt.timedelta(days=20), contact=again)
    only_later = make_contact(account, last_seen_at=noon(DAY + dt.timedelta(days=3)))
    used(account, DAY + dt.timedelta(days=3), contact=only_later)
    make_contact(account, last_seen_at=noon(DAY - dt.timedelta(days=3)))  # gone quiet since
    make_contact(account, last_seen_at=noon(DAY - dt.timedelta(days=45)))  # before the window
    quiet = make_account()
    make_contact(quiet, last_seen_at=noon(DAY - dt.timedelta(days=1)))

    inputs = health_inputs(account_ids=[account.pk, quiet.pk], day=DAY)

    assert inputs[account.pk]["active_contacts"] == 2  # ``again`` and the one gone quiet
    assert inputs[quiet.pk]["active_contacts"] == 1


def test_the_stage_is_the_one_the_account_was_in_that_day():
    moved = make_account(stage="loyalty")
    StageChange.objects.create(
        account=moved,
        from_stage="onboarding",
        to_stage="renewal",
        changed_at=noon(DAY - dt.timedelta(days=30)),
    )
    StageChange.objects.create(
        account=moved,
        from_stage="renewal",
        to_stage="loyalty",
        changed_at=noon(DAY + dt.timedelta(days=20)),
    )
    StageChange.objects.create(
        account=moved,
        from_stage="loyalty",
        to_stage="loyalty",
        changed_at=noon(DAY + dt.timedelta(days=30)),
    )
    settled = make_account(stage="renewal")

    inputs = health_inputs(account_ids=[moved.pk, settled.pk], day=DAY)

    assert inputs[moved.pk]["lifecycle_stage"] == "renewal"
    assert inputs[moved.pk]["_account"]["stage"] == "renewal"  # the profile is chosen by it too
    assert inputs[settled.pk]["lifecycle_stage"] == "renewal"


def test_a_ticket_closed_after_that_day_was_open_on_it():
    account = make_account()
    make_ticket(
        account,
        opened_at=noon(DAY - dt.timedelta(days=10)),
        status=TicketStatus.CLOSED,
        closed_at=noon(DAY + dt.timedelta(days=2)),
    )
    make_ticket(
        account,
        opened_at=noon(DAY - dt.timedelta(days=10)),
        status=TicketStatus.CLOSED,
        closed_at=noon(DAY - dt.timedelta(days=1)),
    )
    make_ticket(account, opened_at=noon(DAY + dt.timedelta(days=1)))  # not yet opened

    inputs = health_inputs(account_ids=[account.pk], day=DAY)

    assert inputs[account.pk]["open_tickets"] == 1
    assert inputs[account.pk]["oldest_open_ticket_days"] == 10
