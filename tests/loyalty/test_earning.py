"""The earning engine: every kind of rule, caps at their edges, active windows, tier
multipliers, replays that never pay twice, and survey answers that pay whatever the score."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.ingest import events_ingest
from customers.ingest.segment import segment_ingest
from customers.models import UsageEvent
from customers.services import revenue_change_record
from loyalty import earning
from loyalty.models import EarningRule, LedgerEntry, Member, RuleKind, Tier
from loyalty.services import balance
from tests.customers.factories import make_account, make_contact
from tests.surveys.factories import make_answer, make_survey

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)


def rule(kind: str = RuleKind.EVENT, **fields) -> EarningRule:
    fields.setdefault("name", f"Rule {next(_ids)}")
    if kind in (RuleKind.EVENT, RuleKind.REFERRAL):
        fields.setdefault("event_type", "integration_connected")
    if kind != RuleKind.REVENUE:
        fields.setdefault("points", 100)
    return EarningRule.objects.create(kind=kind, **fields)


def event(account, kind: str = "integration_connected", *, at=None, **properties) -> UsageEvent:
    return UsageEvent.objects.create(
        account=account,
        type=kind,
        occurred_at=at or timezone.now(),
        event_id=f"e-{next(_ids)}",
        properties=properties,
    )


def entries(account) -> list[tuple[int, str]]:
    return list(
        LedgerEntry.objects.filter(member__account=account)
        .order_by("id")
        .values_list("points", "idempotency_key")
    )


def give_tier(account, multiplier: str) -> Tier:
    tier = Tier.objects.create(
        name=f"Tier {multiplier}", threshold=next(_ids) * 1000, multiplier=Decimal(multiplier)
    )
    Member.objects.update_or_create(account=account, defaults={"tier": tier})
    return tier


# --- events -----------------------------------------------------------------------------------


def test_an_event_rule_pays_each_matching_event_once_under_a_key_naming_rule_and_event():
    paying = rule(points=250)
    account = make_account()
    first, second = event(account), event(account)
    event(account, "login")  # another type earns nothing

    assert earning.earn_for_events(account_ids=[account.pk]) == 500

    assert entries(account) == [
        (250, f"rule:{paying.pk}:event:{first.pk}"),
        (250, f"rule:{paying.pk}:event:{second.pk}"),
    ]
    assert balance(account) == 500


def test_running_the_engine_again_over_the_same_events_pays_nothing_more():
    rule(points=100)
    account = make_account()
    event(account)
    earning.earn_for_events(account_ids=[account.pk])

    assert earning.earn_for_events(account_ids=[account.pk]) == 0
    assert earning.earn_for_events() == 0  # the nightly catch-up over every account too
    assert balance(account) == 100


def test_events_ingested_through_the_api_earn_after_commit_and_a_replayed_batch_pays_nothing(
    django_capture_on_commit_callbacks,
):
    rule(points=40, event_type="review_posted")
    account = make_account("acme")
    batch = [
        {
            "id": "r-1",
            "account": "acme",
            "type": "review_posted",
            "timestamp": "2026-12-01T10:00:00Z",
        },
        {
            "id": "r-2",
            "account": "acme",
            "type": "review_posted",
            "timestamp": "2026-12-01T11:00:00Z",
        },
    ]
    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(items=batch, source="api")
    assert balance(account) == 80

    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(items=batch, source="api")
    assert balance(account) == 80
    assert LedgerEntry.objects.count() == 2


def test_a_segment_track_call_earns_like_an_api_event(django_capture_on_commit_callbacks):
    rule(points=75, event_type="Case Study Published")
    account = make_account("globex")
    message = {
        "type": "track",
        "messageId": "m-1",
        "event": "Case Study Published",
        "context": {"groupId": "globex"},
        "timestamp": "2026-12-01T10:00:00Z",
    }
    with django_capture_on_commit_callbacks(execute=True):
        result = segment_ingest(messages=[message])

    assert UsageEvent.objects.filter(account=account).count() == 1, result
    assert balance(account) == 75


# --- caps --------------------------------------------------------------------------------------


def test_a_count_cap_pays_up_to_the_cap_in_the_period_and_no_more():
    rule(points=10, cap_count=2, cap_period="day")
    account = make_account()
    for _ in range(3):
        event(account)

    assert earning.earn_for_events(account_ids=[account.pk]) == 20
    event(account)
    assert earning.earn_for_events(account_ids=[account.pk]) == 0
    assert balance(account) == 20


def test_a_count_cap_opens_again_in_the_next_period():
    paying = rule(points=10, cap_count=1, cap_period="day")
    account = make_account()
    today = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday_event = event(account, at=today - dt.timedelta(days=1))
    earning.earn(
        paying,
        [earning.Cause(account.pk, "k-1", yesterday_event.occurred_at, 10, "x")],
        now=today - dt.timedelta(days=1),
    )
    # The last moment of yesterday is still yesterday; the first of today is a new period.
    late = today.replace(hour=23, minute=59, second=59) - dt.timedelta(days=1)
    assert earning.earn(paying, [earning.Cause(account.pk, "k-2", late, 10, "x")], now=late) == 0
    midnight = today.replace(hour=0)
    assert (
        earning.earn(paying, [earning.Cause(account.pk, "k-3", midnight, 10, "x")], now=midnight)
        == 10
    )


def test_a_points_cap_pays_what_is_left_of_it_then_nothing():
    rule(points=40, cap_points=100, cap_period="month")
    account = make_account()
    for _ in range(4):
        event(account)

    assert earning.earn_for_events(account_ids=[account.pk]) == 100
    assert [points for points, _ in entries(account)] == [40, 40, 20]


def test_caps_count_per_account():
    rule(points=10, cap_count=1, cap_period="lifetime")
    one, two = make_account(), make_account()
    event(one), event(one), event(two)

    earning.earn_for_events(account_ids=[one.pk, two.pk])

    assert (balance(one), balance(two)) == (10, 10)


# --- windows and multipliers --------------------------------------------------------------------


def test_a_rule_pays_only_for_events_inside_its_active_window_start_in_end_out():
    start = timezone.now() - dt.timedelta(hours=10)
    end = timezone.now() - dt.timedelta(hours=2)
    rule(points=5, active_from=start, active_until=end)
    account = make_account()
    event(account, at=start - dt.timedelta(seconds=1))
    event(account, at=start)
    event(account, at=end - dt.timedelta(seconds=1))
    event(account, at=end)

    assert earning.earn_for_events(account_ids=[account.pk]) == 10


def test_a_disabled_rule_pays_nothing():
    rule(points=5, enabled=False)
    account = make_account()
    event(account)

    assert earning.earn_for_events(account_ids=[account.pk]) == 0


def test_the_tier_multiplier_scales_an_award_rounding_down_unless_the_rule_opts_out():
    rule(points=101)
    rule(points=100, applies_tier_multiplier=False, event_type="case_study")
    account = make_account()
    give_tier(account, "1.50")
    event(account)
    event(account, "case_study")

    earning.earn_for_events(account_ids=[account.pk])

    assert sorted(points for points, _ in entries(account)) == [100, 151]


# --- surveys ----------------------------------------------------------------------------------


def test_a_survey_answer_pays_the_same_whatever_its_score():
    rule(RuleKind.SURVEY, points=30)
    survey = make_survey("nps")
    detractor, promoter = make_account(), make_account()
    low = make_answer(survey, 0, acc=detractor)
    high = make_answer(survey, 10, acc=promoter)

    earning.earn_for_responses(response_ids=[low.pk, high.pk])

    assert (balance(detractor), balance(promoter)) == (30, 30)


def test_an_edited_answer_never_pays_again(django_capture_on_commit_callbacks):
    rule(RuleKind.SURVEY, points=30)
    answer = make_answer(make_survey("csat"), 5)
    from surveys.signals import response_saved

    with django_capture_on_commit_callbacks(execute=True):
        response_saved.send(sender=None, response_id=answer.pk, created=True)
    answer.score = 1
    answer.save()
    with django_capture_on_commit_callbacks(execute=True):
        response_saved.send(sender=None, response_id=answer.pk, created=False)

    assert balance(answer.account) == 30


# --- referrals ------------------------------------------------------------------------------


def test_a_referral_pays_the_referrer_and_the_referred_account():
    referral = rule(RuleKind.REFERRAL, points=500, referred_points=200, event_type="referral")
    referrer, referred = make_account("ref-a"), make_account("ref-b")
    happened = event(referrer, "referral", referred_account="ref-b")

    assert earning.earn_for_events() == 700

    assert entries(referrer) == [(500, f"rule:{referral.pk}:event:{happened.pk}")]
    assert entries(referred) == [(200, f"rule:{referral.pk}:event:{happened.pk}:referred")]
    assert earning.earn_for_events() == 0


def test_a_self_referral_or_one_naming_an_unknown_account_pays_nobody():
    rule(RuleKind.REFERRAL, points=500, referred_points=200, event_type="referral")
    account = make_account("self")
    event(account, "referral", referred_account="self")
    event(account, "referral", referred_account="nobody-we-know")
    event(account, "referral")

    assert earning.earn_for_events() == 0


# --- nightly: birthdays, anniversaries, revenue -----------------------------------------------


def test_a_29_february_birthday_pays_on_28_february_in_a_common_year_and_only_then():
    rule(RuleKind.BIRTHDAY, points=50)
    contact = make_contact(birthday=dt.date(1992, 2, 29))

    assert earning.earn_birthdays(day=dt.date(2027, 2, 27)) == 0
    assert earning.earn_birthdays(day=dt.date(2027, 2, 28)) == 50
    assert earning.earn_birthdays(day=dt.date(2027, 2, 28)) == 0  # rerun
    assert earning.earn_birthdays(day=dt.date(2027, 3, 1)) == 0
    assert balance(contact.account) == 50


def test_a_29_february_birthday_pays_on_29_february_in_a_leap_year():
    rule(RuleKind.BIRTHDAY, points=50)
    contact = make_contact(birthday=dt.date(1992, 2, 29))
    other = make_contact(birthday=dt.date(1990, 2, 28))

    assert earning.earn_birthdays(day=dt.date(2028, 2, 28)) == 50  # only the 28th's
    assert earning.earn_birthdays(day=dt.date(2028, 2, 29)) == 50
    assert (balance(contact.account), balance(other.account)) == (50, 50)


def test_each_contact_birthday_pays_the_account_once_a_year():
    rule(RuleKind.BIRTHDAY, points=50)
    account = make_account()
    make_contact(account, birthday=dt.date(1980, 7, 4))
    make_contact(account, birthday=dt.date(1985, 7, 4))

    assert earning.earn_birthdays(day=dt.date(2026, 7, 4)) == 100
    assert earning.earn_birthdays(day=dt.date(2027, 7, 4)) == 100
    assert balance(account) == 200


def test_a_tenure_anniversary_pays_live_accounts_once_a_year():
    rule(RuleKind.ANNIVERSARY, points=300)
    first_paid = dt.datetime(2024, 6, 15, 9, tzinfo=dt.UTC)
    live = make_account(first_paid_at=first_paid)
    also_live = make_account(first_paid_at=dt.datetime(2023, 6, 15, 23, tzinfo=dt.UTC))
    churned = make_account(first_paid_at=first_paid, churned_at=first_paid + dt.timedelta(days=90))
    new = make_account(first_paid_at=dt.datetime(2026, 6, 15, tzinfo=dt.UTC))

    assert earning.earn_anniversaries(day=dt.date(2026, 6, 14)) == 0
    assert earning.earn_anniversaries(day=dt.date(2026, 6, 15)) == 600
    assert earning.earn_anniversaries(day=dt.date(2026, 6, 15)) == 0
    assert (balance(live), balance(also_live), balance(churned), balance(new)) == (300, 300, 0, 0)
    assert entries(live)[0][1].endswith(f":anniversary:{live.pk}:2026")


def test_paid_revenue_earns_points_per_unit_of_base_currency_once_a_month():
    revenue = rule(RuleKind.REVENUE, points_per_unit=Decimal("0.1"))
    account = make_account(currency="USD")
    revenue_change_record(
        account=account, mrr=Decimal("250.50"), effective_at=dt.datetime(2026, 9, 10, tzinfo=dt.UTC)
    )
    gone = make_account(currency="USD")
    revenue_change_record(
        account=gone, mrr=Decimal("100"), effective_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    )
    revenue_change_record(
        account=gone, mrr=Decimal("0"), effective_at=dt.datetime(2026, 10, 20, tzinfo=dt.UTC)
    )

    assert earning.earn_revenue(year=2026, month=8) == 0  # before anyone paid
    assert earning.earn_revenue(year=2026, month=9) == 25 + 10
    assert earning.earn_revenue(year=2026, month=9) == 0
    assert earning.earn_revenue(year=2026, month=10) == 25  # cancelled by the month's end
    assert entries(account)[0] == (25, f"rule:{revenue.pk}:revenue:{account.pk}:2026-09")


def test_the_nightly_pass_runs_every_nightly_kind_and_a_rerun_pays_nothing():
    rule(RuleKind.BIRTHDAY, points=50)
    rule(RuleKind.ANNIVERSARY, points=300)
    now = dt.datetime(2026, 12, 5, 2, tzinfo=dt.UTC)
    account = make_account(first_paid_at=dt.datetime(2023, 12, 5, tzinfo=dt.UTC))
    make_contact(account, birthday=dt.date(1970, 12, 5))

    first = earning.earn_nightly(now=now)
    again = earning.earn_nightly(now=now)

    assert (first["birthdays"], first["anniversaries"]) == (50, 300)
    assert sum(again.values()) == 0
    assert balance(account) == 350
