"""The program is set up in the admin, every change recorded with its old and new values;
the ledger there is read-only."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from loyalty import services
from loyalty.models import (
    LedgerEntry,
    LoyaltyProgram,
    Member,
    RedemptionState,
    Reward,
    TierChange,
)
from tests.customers.factories import make_account
from tests.loyalty.factories import T0, make_reward, make_tier

pytestmark = pytest.mark.django_db


def program_form(program: LoyaltyProgram, **changes) -> dict:
    data = {
        "name": program.name,
        "enabled": "on",
        "point_name": program.point_name,
        "point_name_plural": program.point_name_plural,
        "point_value": str(program.point_value),
        "currency": program.currency,
        "pending_days": program.pending_days,
        "expiry_policy": program.expiry_policy,
        "expiry_months": program.expiry_months,
        "expiry_warning_days": program.expiry_warning_days,
        "tier_window": program.tier_window,
        "downgrade_grace_days": program.downgrade_grace_days,
    }
    data.update(changes)
    return data


def test_a_program_change_is_logged_with_the_old_and_new_values(admin_client_):
    program = LoyaltyProgram.current()
    url = reverse("admin:loyalty_loyaltyprogram_change", args=[program.pk])
    response = admin_client_.post(url, program_form(program, point_value="0.0250", pending_days=14))
    assert response.status_code == 302
    program.refresh_from_db()
    assert (str(program.point_value), program.pending_days) == ("0.0250", 14)
    message = LogEntry.objects.get(object_id=str(program.pk)).get_change_message()
    assert "point value: 0.0100 → 0.0250" in message
    assert "pending days: 0 → 14" in message
    history = admin_client_.get(reverse("admin:loyalty_loyaltyprogram_history", args=[1]))
    assert "0.0100 → 0.0250" in history.content.decode()


def test_the_rule_tier_and_reward_lists_link_to_each_row_history(admin_client_):
    make_tier("Gold", 500)
    make_reward(100)
    for model in ("tier", "reward", "earningrule"):
        response = admin_client_.get(reverse(f"admin:loyalty_{model}_changelist"))
        assert response.status_code == 200
    page = admin_client_.get(reverse("admin:loyalty_tier_changelist")).content.decode()
    assert "/history/" in page


def test_ledger_entries_can_be_read_but_not_changed_in_the_admin(admin_client_):
    account = make_account()
    entry = services.award(account, 10, reason="x", idempotency_key="k", now=T0)
    url = reverse("admin:loyalty_ledgerentry_change", args=[entry.pk])
    assert admin_client_.get(url).status_code == 200
    admin_client_.post(url, {"points": 999})
    assert LedgerEntry.objects.get(pk=entry.pk).points == 10
    assert admin_client_.get(reverse("admin:loyalty_ledgerentry_add")).status_code == 403


def test_a_floor_set_in_the_admin_raises_the_tier_through_the_service(admin_client_, admin_user):
    gold = make_tier("Gold", 500)
    account = make_account()
    services.award(account, 10, reason="x", idempotency_key="k", now=T0)
    member = Member.objects.get()
    url = reverse("admin:loyalty_member_change", args=[member.pk])
    response = admin_client_.post(
        url,
        {
            "tier_floor": gold.pk,
            "tier_floor_expires_at_0": "",
            "tier_floor_expires_at_1": "",
            "tier_changes-TOTAL_FORMS": 0,
            "tier_changes-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    member.refresh_from_db()
    assert member.tier == gold
    change = TierChange.objects.get()
    assert (change.reason, change.changed_by) == ("manual", admin_user)


def test_redemptions_are_approved_and_fulfilled_from_the_admin_list(admin_client_):
    account = make_account()
    services.award(account, 100, reason="x", idempotency_key="k", now=T0)
    redemption = services.redeem(account, make_reward(50), idempotency_key="r", now=T0)
    url = reverse("admin:loyalty_redemption_changelist")
    admin_client_.post(url, {"action": "fulfil", "_selected_action": [redemption.pk]})
    redemption.refresh_from_db()
    assert redemption.state == RedemptionState.FULFILLED
    response = admin_client_.post(
        url, {"action": "cancel", "_selected_action": [redemption.pk]}, follow=True
    )
    assert "Cancelled: 0." in response.content.decode()


@pytest.mark.parametrize(
    ("kind", "fields", "message"),
    [
        ("credit", {"currency": "USD"}, "needs its value: the credit&#x27;s amount"),
        ("free_month", {}, "needs its value"),
        ("discount", {}, "A discount needs its percentage"),
        ("discount", {"value": "250"}, "A discount needs its percentage"),
        ("credit", {"value": "50"}, "needs its currency as a three-letter code"),
    ],
)
def test_a_reward_without_what_its_kind_needs_is_refused_in_plain_words(
    admin_client_, kind, fields, message
):
    """Found on a fresh clone: an empty value passed the database check (SQL lets NULL
    through a CHECK), and the refusals that did fire showed the check's internal name."""
    data = {
        "name": "Incomplete",
        "kind": kind,
        "cost_points": "100",
        "value": "",
        "currency": "",
        "feature": "",
        "description": "",
        "active": "on",
        "order": "0",
        **fields,
    }
    response = admin_client_.post(reverse("admin:loyalty_reward_add"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "loyalty_reward_" not in response.content.decode()
    assert not Reward.objects.filter(name="Incomplete").exists()


def test_a_tier_multiplier_below_one_is_refused_in_plain_words(admin_client_):
    response = admin_client_.post(
        reverse("admin:loyalty_tier_add"),
        {"name": "Odd", "threshold": "100", "multiplier": "0", "benefits": ""},
    )
    assert response.status_code == 200
    assert "A tier&#x27;s earn multiplier is 1 or more" in response.content.decode()
