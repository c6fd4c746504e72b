"""Tiers: qualified on points earned in the window, up at once, down only at the window's end
after the grace days, a manual floor with an expiry, every change in the history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty import services
from loyalty.models import LoyaltyProgram, Member, TierChange, TierChangeReason, TierWindow
from loyalty.services.clock import add_months
from loyalty.tasks import recalculate_tiers
from tests.accounts.factories import make_user
from tests.customers.factories import make_account
from tests.loyalty.factories import T0, days, make_tier

pytestmark = pytest.mark.django_db

SECOND = dt.timedelta(seconds=1)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def member(account) -> Member:
    return Member.objects.select_related("tier").get(account=account)


def tier_name(account) -> str | None:
    found = member(account).tier
    return found.name if found else None


def history(account) -> list[tuple[str | None, str | None, str]]:
    return [
        (c.from_tier and c.from_tier.name, c.to_tier and c.to_tier.name, c.reason)
        for c in TierChange.objects.filter(member__account=account).order_by("changed_at", "pk")
    ]


def test_months_are_added_on_the_calendar_and_29_february_falls_to_the_28th():
    assert add_months(utc(2028, 2, 29), 12) == utc(2029, 2, 28)
    assert add_months(utc(2028, 2, 29), -12) == utc(2027, 2, 28)
    assert add_months(utc(2026, 1, 31), 1) == utc(2026, 2, 28)
    assert add_months(utc(2026, 11, 30, 5), 3) == utc(2027, 2, 28, 5)


def test_an_award_that_reaches_a_threshold_upgrades_at_once():
    make_tier("Silver", 100)
    make_tier("Gold", 500)
    account = make_account()
    services.award(account, 60, reason="x", idempotency_key="a", now=T0)
    assert tier_name(account) is None
    services.award(account, 40, reason="x", idempotency_key="b", now=T0 + days(1))
    found = member(account)
    assert (found.tier.name, found.window_points) == ("Silver", 100)
    assert found.tier_qualified_at == T0 + days(1)
    # Rolling window: the tier lasts 12 months from qualifying, plus 30 grace days.
    assert found.tier_review_at == utc(2027, 1, 11, 9) + days(30)
    assert history(account) == [(None, "Silver", TierChangeReason.UPGRADE)]


def test_the_rolling_window_counts_an_entry_exactly_twelve_months_old_and_not_a_second_more():
    make_tier("Silver", 100)
    account = make_account()
    services.award(account, 100, reason="x", idempotency_key="a", now=T0)
    services.tiers_recalculate(now=utc(2027, 1, 10, 9))
    assert member(account).window_points == 100
    services.tiers_recalculate(now=utc(2027, 1, 10, 9) + SECOND)
    assert member(account).window_points == 0
    assert tier_name(account) == "Silver"  # the window ended, the grace has not


def test_a_downgrade_waits_for_the_grace_days_after_the_window_ends():
    make_tier("Silver", 100)
    account = make_account()
    services.award(account, 100, reason="x", idempotency_key="a", now=T0)
    review = utc(2027, 2, 9, 9)  # T0 + 12 months + 30 days
    assert services.tiers_recalculate(now=review - SECOND) == 0
    assert tier_name(account) == "Silver"
    assert services.tiers_recalculate(now=review) == 1
    assert tier_name(account) is None
    assert history(account)[-1] == ("Silver", None, TierChangeReason.DOWNGRADE)
    assert member(account).tier_review_at is None
    assert services.tiers_recalculate(now=review) == 0


def test_points_still_in_the_window_at_review_keep_the_tier_for_another_period():
    make_tier("Silver", 100)
    account = make_account()
    services.award(account, 100, reason="x", idempotency_key="a", now=T0)
    services.award(account, 60, reason="x", idempotency_key="b", now=utc(2026, 12, 10))
    services.award(account, 40, reason="x", idempotency_key="c", now=utc(2027, 1, 20))
    review = utc(2027, 2, 9, 9)
    assert services.tiers_recalculate(now=review) == 0
    found = member(account)
    assert (found.tier.name, found.window_points) == ("Silver", 100)
    assert found.tier_qualified_at == review
    assert found.tier_review_at == utc(2028, 2, 9, 9) + days(30)
    assert history(account) == [(None, "Silver", TierChangeReason.UPGRADE)]


def test_a_downgrade_goes_to_the_tier_the_points_still_hold():
    make_tier("Silver", 100)
    make_tier("Gold", 500)
    account = make_account()
    services.award(account, 500, reason="x", idempotency_key="a", now=T0)
    services.award(account, 150, reason="x", idempotency_key="b", now=utc(2026, 9, 1))
    services.tiers_recalculate(now=utc(2027, 2, 9, 9))
    assert tier_name(account) == "Silver"
    assert history(account)[-1] == ("Gold", "Silver", TierChangeReason.DOWNGRADE)


def test_clawed_back_earnings_stop_counting_toward_the_tier():
    make_tier("Silver", 100)
    account = make_account()
    services.award(account, 100, reason="x", idempotency_key="a", now=T0)
    services.reverse("a", reason="Refund", idempotency_key="ra", now=T0 + days(1))
    services.tiers_recalculate(now=T0 + days(2))
    assert member(account).window_points == 0
    assert tier_name(account) == "Silver"  # held until its review, like any other
    services.tiers_recalculate(now=utc(2027, 2, 9, 9))
    assert tier_name(account) is None


def calendar_program() -> None:
    program = LoyaltyProgram.current()
    program.tier_window = TierWindow.CALENDAR_YEAR
    program.save()


def test_a_calendar_year_tier_lasts_through_the_next_year_grace_then_needs_that_year_points():
    calendar_program()
    make_tier("Silver", 100)
    account = make_account()
    services.award(account, 100, reason="x", idempotency_key="a", now=utc(2026, 3, 1))
    assert member(account).tier_review_at == utc(2027, 1, 31)
    assert services.tiers_recalculate(now=utc(2027, 1, 31)) == 0  # last year's 100 still count
    assert member(account).tier_review_at == utc(2028, 1, 31)
    assert services.tiers_recalculate(now=utc(2028, 1, 31) - SECOND) == 0
    assert services.tiers_recalculate(now=utc(2028, 1, 31)) == 1  # nothing earned in 2027
    assert tier_name(account) is None


def test_the_calendar_year_ends_at_midnight_on_31_december():
    calendar_program()
    make_tier("Silver", 100)
    make_tier("Gold", 200)
    december, january = make_account(), make_account()
    for account in (december, january):
        services.award(
            account, 150, reason="x", idempotency_key=f"{account.pk}a", now=utc(2026, 6, 1)
        )
    services.award(december, 60, reason="x", idempotency_key="d", now=utc(2027, 1, 1) - SECOND)
    services.award(january, 60, reason="x", idempotency_key="j", now=utc(2027, 1, 1))
    assert (tier_name(december), tier_name(january)) == ("Gold", "Silver")
    assert member(january).window_points == 60


def test_a_manual_floor_raises_the_tier_at_once_and_lowers_it_the_night_it_ends():
    make_tier("Silver", 100)
    gold = make_tier("Gold", 500)
    csm = make_user()
    account = make_account()
    services.award(account, 150, reason="x", idempotency_key="a", now=T0)
    services.tier_floor_set(
        member=member(account),
        tier=gold,
        expires_at=T0 + days(10),
        changed_by=csm,
        now=T0 + days(1),
    )
    assert tier_name(account) == "Gold"
    change = TierChange.objects.latest("pk")
    assert (change.reason, change.changed_by) == (TierChangeReason.MANUAL, csm)
    assert services.tiers_recalculate(now=T0 + days(5)) == 0
    assert tier_name(account) == "Gold"
    assert services.tiers_recalculate(now=T0 + days(10)) == 1
    assert tier_name(account) == "Silver"
    assert history(account)[-1] == ("Gold", "Silver", TierChangeReason.FLOOR_EXPIRED)
    found = member(account)
    assert (found.tier_floor_id, found.tier_floor_expires_at) == (None, None)


def test_removing_a_floor_lowers_the_tier_it_held_at_once():
    make_tier("Silver", 100)
    gold = make_tier("Gold", 500)
    account = make_account()
    services.award(account, 150, reason="x", idempotency_key="a", now=T0)
    services.tier_floor_set(member=member(account), tier=gold, now=T0 + days(1))
    services.tiers_recalculate(now=T0 + days(200))
    assert tier_name(account) == "Gold"  # a floor without an end lasts
    services.tier_floor_set(member=member(account), tier=None, now=T0 + days(201))
    assert tier_name(account) == "Silver"


def test_a_floor_below_the_tier_changes_nothing_and_a_past_end_is_refused():
    silver = make_tier("Silver", 100)
    make_tier("Gold", 500)
    account = make_account()
    services.award(account, 600, reason="x", idempotency_key="a", now=T0)
    services.tier_floor_set(member=member(account), tier=silver, now=T0)
    assert tier_name(account) == "Gold"
    with pytest.raises(services.InvalidRequest):
        services.tier_floor_set(member=member(account), tier=silver, expires_at=T0, now=T0)


def test_the_recalculation_upgrades_everyone_a_new_tier_now_fits_in_the_same_queries():
    accounts = [make_account() for _ in range(3)]
    for i, account in enumerate(accounts):
        services.award(account, 100 * (i + 1), reason="x", idempotency_key=f"a{i}", now=T0)
    make_tier("Silver", 200)
    with CaptureQueriesContext(connection) as small:
        assert services.tiers_recalculate(now=T0 + days(1)) == 2
    assert [tier_name(a) for a in accounts] == [None, "Silver", "Silver"]
    more = [make_account() for _ in range(20)]
    for i, account in enumerate(more):
        services.award(account, 300, reason="x", idempotency_key=f"m{i}", now=T0)
    make_tier("Gold", 250)
    with CaptureQueriesContext(connection) as large:
        assert services.tiers_recalculate(now=T0 + days(1)) == 21
    assert len(large.captured_queries) == len(small.captured_queries)
    assert recalculate_tiers.delay().get() >= 0  # the task runs the same code today
