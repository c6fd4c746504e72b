"""Each risk signal's condition, at and around its threshold, from hand-built facts."""

from __future__ import annotations

import datetime as dt

import pytest

from health import risk
from health.risk import RuleSpec, findings

DAY = dt.date(2026, 6, 15)


def facts(**overrides) -> dict:
    base = {
        "age_days": 400,
        "churned": False,
        "has_owner": True,
        "renewal_date": None,
        "usage_recent": 0,
        "usage_prior": 0,
        "nps": None,
        "card_expiry_days": None,
        "seats_used": None,
        "score": 60,
        "band": "yellow",
        "last_event_days": {},
    }
    return base | overrides


def days_ago(n: int) -> dt.date:
    return DAY - dt.timedelta(days=n)


def one(rule: RuleSpec, **fact_values) -> risk.Finding | None:
    found = findings([rule], facts(**fact_values), day=DAY)
    return found[0] if found else None


INACTIVE = RuleSpec("inactive", "high", threshold=30, event_types=("login",))


def test_an_account_whose_last_login_is_30_days_old_is_inactive_and_29_is_not():
    assert one(INACTIVE, last_event_days={"login": days_ago(29)}) is None
    found = one(INACTIVE, last_event_days={"login": days_ago(30)})
    assert found.reason == "No login for 30 days (last on 2026-05-16)."
    assert found.severity == "high" and found.facts == {"days": 30, "last": "2026-05-16"}


def test_an_account_that_never_logged_in_is_inactive_once_older_than_the_threshold():
    assert one(INACTIVE, age_days=10) is None
    found = one(INACTIVE, age_days=45)
    assert found.reason == "No login since the account was created 45 days ago."


def test_only_the_watched_event_types_count_as_activity():
    rule = RuleSpec("inactive", "high", threshold=30, event_types=("login", "api_call"))
    assert one(rule, last_event_days={"api_call": days_ago(3), "login": days_ago(60)}) is None
    assert one(rule, last_event_days={"page_viewed": days_ago(1)}) is not None


USAGE_DROP = RuleSpec("usage_drop", "medium", threshold=40)


def test_usage_down_exactly_40_percent_fires_and_39_point_9_does_not():
    assert one(USAGE_DROP, usage_recent=601, usage_prior=1000) is None  # -39.9 %
    found = one(USAGE_DROP, usage_recent=600, usage_prior=1000)
    assert found.reason == (
        "Usage down 40 %: 600 events in the last 30 days against 1,000 in the 30 before."
    )
    assert found.facts["change_pct"] == -40.0


def test_without_usage_in_the_30_days_before_there_is_no_drop_to_measure():
    assert one(USAGE_DROP, usage_recent=0, usage_prior=0) is None


DETRACTOR = RuleSpec("detractor", "high", threshold=6, window_days=90)


def test_a_latest_nps_of_6_is_a_detractor_and_7_is_not():
    assert one(DETRACTOR, nps=(7, days_ago(3))) is None
    found = one(DETRACTOR, nps=(6, days_ago(3)))
    assert found.reason == "NPS answer 6 on 2026-06-12 (counts up to 6)."


def test_a_detractor_answer_older_than_the_window_no_longer_counts():
    assert one(DETRACTOR, nps=(2, days_ago(89))) is not None
    assert one(DETRACTOR, nps=(2, days_ago(90))) is None


def test_low_csat_counts_2_and_below_and_low_ces_counts_3_and_below():
    csat = RuleSpec("low_csat", "medium", threshold=2, window_days=90)
    ces = RuleSpec("low_ces", "medium", threshold=3, window_days=90)
    assert one(csat, csat=(3, days_ago(1))) is None
    assert one(csat, csat=(2, days_ago(1))).kind == "low_csat"
    assert one(ces, ces=(4, days_ago(1))) is None
    assert one(ces, ces=(3, days_ago(1))).reason == "CES answer 3 on 2026-06-14 (counts up to 3)."


CARD = RuleSpec("card_expiring", "low", threshold=30)


def test_a_card_expiring_within_30_days_fires_and_one_expired_says_so():
    assert one(CARD, card_expiry_days=31) is None
    assert one(CARD, card_expiry_days=30).reason == "The card on file expires in 30 days."
    assert one(CARD, card_expiry_days=-5).reason == "The card on file expired 5 days ago."
    assert one(CARD, card_expiry_days=None) is None


FAILED = RuleSpec("failed_payment", "high", window_days=30, event_types=("payment_failed",))


def test_a_failed_payment_fires_until_a_later_payment_succeeds():
    assert one(FAILED, last_event_days={"payment_failed": days_ago(4)}) is not None
    later = {"payment_failed": days_ago(4), "payment_succeeded": days_ago(2)}
    assert one(FAILED, last_event_days=later) is None
    same_day = {"payment_failed": days_ago(4), "payment_succeeded": days_ago(4)}
    assert one(FAILED, last_event_days=same_day) is not None  # which came last is unknown


def test_a_failed_payment_older_than_the_window_is_let_go():
    assert one(FAILED, last_event_days={"payment_failed": days_ago(30)}) is None


def test_a_data_export_and_a_cancel_page_visit_fire_within_their_window():
    export = RuleSpec("data_export", "medium", window_days=7, event_types=("data_export",))
    cancel = RuleSpec("cancel_page", "high", window_days=7, event_types=("cancel_page_visit",))
    assert one(export, last_event_days={"data_export": days_ago(6)}).reason == (
        "Data export: data_export on 2026-06-09."
    )
    assert one(export, last_event_days={"data_export": days_ago(7)}) is None
    assert one(cancel, last_event_days={"cancel_page_visit": days_ago(0)}).kind == "cancel_page"


RENEWAL = RuleSpec("renewal_at_risk", "high", threshold=90, bands=("red", "yellow"))


def test_a_renewal_within_90_days_is_at_risk_only_in_the_chosen_bands():
    soon = DAY + dt.timedelta(days=90)
    assert one(RENEWAL, renewal_date=soon, band="red", score=40).reason == (
        "Renews in 90 days (2026-09-13) with a red score of 40."
    )
    assert one(RENEWAL, renewal_date=soon, band="green", score=90) is None
    assert one(RENEWAL, renewal_date=soon + dt.timedelta(days=1), band="red") is None
    assert one(RENEWAL, renewal_date=DAY - dt.timedelta(days=1), band="red") is None


def test_a_high_priority_ticket_open_more_than_14_days_is_stale():
    rule = RuleSpec("stale_ticket", "medium", threshold=14)
    ticket = {"subject": "Export broken", "priority": "high", "external_id": "t-1"}
    assert one(rule, oldest_urgent_ticket=ticket | {"opened": days_ago(14)}) is None
    found = one(rule, oldest_urgent_ticket=ticket | {"opened": days_ago(15)})
    assert found.reason == "High-priority ticket “Export broken” open for 15 days."


def test_no_csm_touch_counts_from_the_last_touch_and_ignores_unowned_accounts():
    rule = RuleSpec("no_csm_touch", "low", threshold=45)
    assert one(rule, last_touch=days_ago(44)) is None
    assert one(rule, last_touch=days_ago(45)).reason == (
        "No CSM touch for 45 days (last on 2026-05-01)."
    )
    assert one(rule, has_owner=False, last_touch=days_ago(200)) is None


EXPANSION = RuleSpec("expansion", "low", threshold=20, window_days=90)


def test_expansion_needs_green_growing_usage_and_a_reason_to_buy_more():
    growing = {"band": "green", "score": 88, "usage_recent": 1200, "usage_prior": 1000}
    assert one(EXPANSION, **growing) is None  # growth alone is not enough
    found = one(EXPANSION, **growing, seats_used=95.0, nps=(10, days_ago(5)))
    assert found.reason == "Green at 88, usage up 20 %, 95 % of seats used, promoter answer 10."
    assert one(EXPANSION, **growing | {"band": "yellow"}, seats_used=95.0) is None
    near_limit = one(EXPANSION, **growing, plan_used=92.5)
    assert near_limit.reason == "Green at 88, usage up 20 %, 92.5 % of the plan's limit used."
    assert one(EXPANSION, **growing, plan_used=89.9) is None
    assert one(EXPANSION, **growing | {"usage_recent": 1199}, csat=(5, days_ago(1))) is None


def test_a_churned_account_raises_no_signal():
    assert findings([INACTIVE], facts(churned=True, age_days=900), day=DAY) == []


@pytest.mark.parametrize("kind", sorted(risk.CHECKS))
def test_every_shipped_rule_has_a_check(kind):
    from health.defaults import SIGNAL_RULES

    assert kind in {row[0] for row in SIGNAL_RULES}
