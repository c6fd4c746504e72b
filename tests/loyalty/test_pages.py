"""The team's loyalty pages: the account page's section (balance, tier, progress, history,
redeem, manual award, customer link), the program dashboard and the redemptions list."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from loyalty.models import (
    LedgerEntry,
    LoyaltyLink,
    LoyaltyProgram,
    Member,
    Redemption,
    RedemptionState,
    Reward,
    RewardKind,
    Tier,
)
from loyalty.selectors_dashboard import program_dashboard
from loyalty.selectors_pages import account_standing
from loyalty.services import award, balance, redeem, redemption_cancel
from loyalty.services.ledger import window_points
from tests.customers.factories import SCRIPT, make_account, make_contact

pytestmark = pytest.mark.django_db


def reward(name: str = "Free month", cost: int = 100, **fields) -> Reward:
    fields.setdefault("kind", RewardKind.FREE_MONTH)
    fields.setdefault("value", Decimal("1"))
    return Reward.objects.create(name=name, cost_points=cost, **fields)


def panel(client, account, **headers):
    return client.get(reverse("loyalty:account_panel", args=[account.pk]), **headers)


def nonce() -> str:
    return uuid.uuid4().hex


# --- the account section ----------------------------------------------------------------------


def test_the_account_page_loads_the_loyalty_section_by_htmx_with_a_link_as_fallback(csm_client):
    account = make_account()

    page = csm_client.get(reverse("customers:account", args=[account.pk])).text

    url = reverse("loyalty:account_panel", args=[account.pk])
    assert f'hx-get="{url}"' in page
    assert f'<a href="{url}">Open loyalty</a>' in page


def test_the_section_shows_balance_tier_progress_and_history(csm_client):
    Tier.objects.create(name="Silver", threshold=500)
    Tier.objects.create(name="Gold", threshold=2000, multiplier=Decimal("1.5"))
    account = make_account()
    award(account, 300, reason="Onboarding completed", idempotency_key="t-1")
    award(account, 400, reason="Case study", idempotency_key="t-2")

    response = panel(csm_client, account, HTTP_HX_REQUEST="true")

    text = response.text
    assert response.status_code == 200
    assert "<html" not in text
    assert 'data-balance="700"' in text
    assert "Tier: <strong>Silver</strong>" in text
    # From Silver (500) to Gold (2000): 200 of 1500 done, 1300 to go.
    assert "1,300 more points earned in the window for <strong>Gold</strong>" in text
    assert 'data-progress="13"' in text
    assert text.count('data-entry="earn"') == 2
    assert "Case study" in text
    assert "no tier → Silver (qualified for a higher tier)" in text


def test_a_viewer_sees_the_section_without_any_form(viewer_client):
    account = make_account()

    text = panel(viewer_client, account, HTTP_HX_REQUEST="true").text

    assert 'data-balance="0"' in text
    assert 'data-form="redeem"' not in text
    assert 'data-form="award"' not in text


def test_a_viewer_cannot_award_redeem_or_make_a_link(viewer_client):
    account = make_account()
    contact = make_contact(account)
    gift = reward()
    for name, data in (
        ("loyalty:account_award", {"points": 10, "reason": "x", "nonce": nonce()}),
        ("loyalty:account_redeem", {"reward": gift.pk, "nonce": nonce()}),
        ("loyalty:account_link", {"contact": contact.pk}),
    ):
        response = viewer_client.post(reverse(name, args=[account.pk]), data)
        assert response.status_code == 403, name
    assert LedgerEntry.objects.count() == 0
    assert LoyaltyLink.objects.count() == 0


def test_a_csm_awards_points_by_hand_with_a_reason_and_a_double_submit_awards_once(csm_client):
    account = make_account()
    data = {"points": 150, "reason": "  Spoke at our   conference ", "nonce": nonce()}
    url = reverse("loyalty:account_award", args=[account.pk])

    first = csm_client.post(url, data, HTTP_HX_REQUEST="true")
    second = csm_client.post(url, data, HTTP_HX_REQUEST="true")

    assert first.status_code == second.status_code == 200
    assert 'data-balance="150"' in second.text
    entry = LedgerEntry.objects.get()
    assert entry.reason.startswith("Spoke at our conference")
    assert balance(account) == 150


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"points": "-5", "reason": "x"}, "greater than or equal to 1"),
        ({"points": "ten", "reason": "x"}, "Enter a whole number"),
        ({"points": "5", "reason": "   "}, "This field is required"),
    ],
)
def test_a_bad_manual_award_comes_back_with_its_message_and_writes_nothing(
    csm_client, data, message
):
    account = make_account()

    response = csm_client.post(
        reverse("loyalty:account_award", args=[account.pk]),
        data | {"nonce": nonce()},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert message in response.text
    assert LedgerEntry.objects.count() == 0


def test_a_plain_post_without_the_csrf_token_is_refused(csm_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(csm_user)
    account = make_account()

    response = client.post(
        reverse("loyalty:account_award", args=[account.pk]),
        {"points": 10, "reason": "x", "nonce": nonce()},
    )

    assert response.status_code == 403
    assert LedgerEntry.objects.count() == 0


def test_reward_names_and_reasons_are_escaped(csm_client):
    account = make_account()
    reward(SCRIPT)
    award(account, 10, reason=SCRIPT, idempotency_key="t-x")

    text = panel(csm_client, account, HTTP_HX_REQUEST="true").text

    assert SCRIPT not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_rewards_out_of_reach_are_listed_but_cannot_be_chosen(csm_client):
    account = make_account()
    award(account, 150, reason="x", idempotency_key="t-1")
    reward("Cheap", 100)
    reward("Dear", 1000)

    text = panel(csm_client, account, HTTP_HX_REQUEST="true").text

    assert ">Cheap — 100</option>" in text
    assert " disabled>Dear — 1,000 (not enough points)</option>" in text


def test_a_csm_makes_a_customer_link_shown_once_and_stored_only_as_a_hash(csm_client):
    account = make_account()
    contact = make_contact(account, name="Dana")

    response = csm_client.post(
        reverse("loyalty:account_link", args=[account.pk]),
        {"contact": contact.pk},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    link = LoyaltyLink.objects.get()
    assert link.contact == contact
    start = response.text.index("/loyalty/l/") + len("/loyalty/l/")
    token = response.text[start : response.text.index("/", start)]
    assert len(token) == 43
    assert token not in link.token_hash
    assert response.text.count(token) == 1


def test_a_link_for_another_accounts_contact_is_refused(csm_client):
    account = make_account()
    stranger = make_contact(make_account())

    response = csm_client.post(
        reverse("loyalty:account_link", args=[account.pk]),
        {"contact": stranger.pk},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert LoyaltyLink.objects.count() == 0


def test_an_unknown_account_is_a_404(csm_client):
    assert csm_client.get(reverse("loyalty:account_panel", args=[999999])).status_code == 404


# --- dashboard --------------------------------------------------------------------------------


def test_the_dashboard_shows_hand_computed_program_figures(csm_client):
    program = LoyaltyProgram.current()
    program.point_value = Decimal("0.05")
    program.save()
    gold = Tier.objects.create(name="Gold", threshold=1000)
    paid = timezone.now() - dt.timedelta(days=400)
    member_a = make_account(first_paid_at=paid)
    member_b = make_account(first_paid_at=paid, churned_at=timezone.now())
    make_account(first_paid_at=paid)  # not a member, still paying
    make_account(first_paid_at=paid, churned_at=timezone.now())  # not a member, churned
    award(member_a, 1200, reason="x", idempotency_key="d-1")
    award(member_b, 800, reason="x", idempotency_key="d-2")

    response = csm_client.get(reverse("loyalty:index"))

    text = response.text
    assert response.status_code == 200
    assert 'data-kpi="members">2<' in text
    assert 'data-kpi="issued">2,000<' in text
    # 2,000 points outstanding at 0.05 each.
    assert 'data-kpi="liability">100.00<' in text
    assert "Gold: 1" in text and "No tier: 1" in text
    assert Member.objects.get(account=member_a).tier == gold
    # Members: 1 of 2 still paying (50 %); others: 1 of 2 (50 %).
    assert text.count("50 %") == 2


def test_the_dashboard_costs_the_same_number_of_queries_for_many_members(
    csm_client, django_assert_max_num_queries
):
    for n in range(30):
        award(make_account(), 10 + n, reason="x", idempotency_key=f"q-{n}")

    with django_assert_max_num_queries(14):
        response = csm_client.get(reverse("loyalty:index"))

    assert response.status_code == 200


def test_the_section_costs_the_same_number_of_queries_for_a_long_history(
    csm_client, django_assert_max_num_queries
):
    account = make_account()
    for n in range(40):
        award(account, 10, reason=f"r{n}", idempotency_key=f"h-{n}")
    for n in range(5):
        reward(f"Reward {n}", 100 + n)

    with django_assert_max_num_queries(14):
        response = panel(csm_client, account, HTTP_HX_REQUEST="true")

    assert response.status_code == 200


# --- redemptions ------------------------------------------------------------------------------


def test_the_redemptions_list_refuses_an_unknown_state_with_a_message(csm_client):
    response = csm_client.get(reverse("loyalty:redemptions"), {"state": "lost"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.text


def test_the_redemptions_list_answers_htmx_with_its_rows_only(csm_client):
    response = csm_client.get(reverse("loyalty:redemptions"), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="redemption-rows"' in response.text


def test_a_csm_redeems_on_the_accounts_behalf_once_even_when_the_form_is_sent_twice(
    csm_client, csm_user
):
    account = make_account()
    award(account, 250, reason="x", idempotency_key="r-1")
    gift = reward("Free month", 200)
    data = {"reward": gift.pk, "nonce": nonce()}
    url = reverse("loyalty:account_redeem", args=[account.pk])

    first = csm_client.post(url, data, HTTP_HX_REQUEST="true")
    second = csm_client.post(url, data, HTTP_HX_REQUEST="true")

    assert first.status_code == second.status_code == 200
    redemption = Redemption.objects.get()
    assert (redemption.state, redemption.points) == (RedemptionState.REQUESTED, 200)
    assert redemption.requested_by == csm_user
    assert balance(account) == 50
    assert 'data-balance="50"' in second.text


def test_redeeming_beyond_the_balance_says_so_and_spends_nothing(csm_client):
    account = make_account()
    award(account, 50, reason="x", idempotency_key="r-1")
    gift = reward("Free month", 200)

    response = csm_client.post(
        reverse("loyalty:account_redeem", args=[account.pk]),
        {"reward": gift.pk, "nonce": nonce()},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert "Not enough points for this reward." in response.text
    assert Redemption.objects.count() == 0
    assert balance(account) == 50


def test_redeeming_a_reward_that_does_not_exist_is_a_form_error_not_a_500(csm_client):
    account = make_account()

    response = csm_client.post(
        reverse("loyalty:account_redeem", args=[account.pk]),
        {"reward": "99999", "nonce": nonce()},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert "That reward is not in the catalog any more." in response.text


def _requested(account, points: int = 200):
    award(account, points, reason="x", idempotency_key=f"seed-{account.pk}")
    from loyalty.services import redeem

    return redeem(account, reward(f"Gift {account.pk}", points), idempotency_key=f"k-{account.pk}")


def test_a_csm_approves_then_fulfils_a_redemption_and_the_owner_gets_a_task(csm_client, csm_user):
    from health.models import Task

    account = make_account(owner=csm_user)
    redemption = _requested(account)
    for action in ("approve", "fulfil"):
        response = csm_client.post(
            reverse("loyalty:redemption_action", args=[redemption.pk, action])
        )
        assert response.status_code == 302
    redemption.refresh_from_db()
    assert redemption.state == RedemptionState.FULFILLED
    task = Task.objects.get(account=account)
    assert task.owner == csm_user


def test_cancelling_a_redemption_gives_the_points_back(csm_client):
    account = make_account()
    redemption = _requested(account, 300)
    assert balance(account) == 0

    csm_client.post(
        reverse("loyalty:redemption_action", args=[redemption.pk, "cancel"]),
        {"reason": "Changed their mind"},
    )

    redemption.refresh_from_db()
    assert redemption.state == RedemptionState.CANCELLED
    assert balance(account) == 300


def test_a_move_the_redemption_cannot_make_is_a_message_not_a_500(csm_client):
    account = make_account()
    redemption = _requested(account)
    csm_client.post(reverse("loyalty:redemption_action", args=[redemption.pk, "cancel"]))

    response = csm_client.post(
        reverse("loyalty:redemption_action", args=[redemption.pk, "fulfil"]), follow=True
    )

    assert response.status_code == 200
    assert 'class="msg msg-error"' in response.text or "msg-error" in response.text
    redemption.refresh_from_db()
    assert redemption.state == RedemptionState.CANCELLED


def test_an_unknown_action_is_refused_with_a_message(csm_client):
    redemption = _requested(make_account())

    response = csm_client.post(
        reverse("loyalty:redemption_action", args=[redemption.pk, "explode"]), follow=True
    )

    assert response.status_code == 200
    assert "Unknown action" in response.text


def test_a_viewer_cannot_move_a_redemption(viewer_client):
    redemption = _requested(make_account())

    response = viewer_client.post(
        reverse("loyalty:redemption_action", args=[redemption.pk, "approve"])
    )

    assert response.status_code == 403
    redemption.refresh_from_db()
    assert redemption.state == RedemptionState.REQUESTED


def test_the_redemptions_list_shows_open_redemptions_with_escaped_names(csm_client):
    account = make_account(name=SCRIPT)
    _requested(account)

    text = csm_client.get(reverse("loyalty:redemptions")).text

    assert SCRIPT not in text
    assert text.count('data-state="requested"') == 1


def test_tier_changes_and_redemptions_are_on_the_account_timeline(csm_client):
    Tier.objects.create(name="Silver", threshold=100)
    account = make_account()
    _requested(account, 300)

    text = csm_client.get(
        reverse("customers:account_timeline", args=[account.pk]), HTTP_HX_REQUEST="true"
    ).text

    assert "Loyalty tier: no tier → Silver" in text
    assert f"Reward redeemed: Gift {account.pk} (300 points)" in text


def test_the_progress_counts_the_same_window_as_the_tier_engine_across_a_leap_day():
    """Twelve months back from 1 March 2028 12:00 is 1 March 2027 12:00 (the tier engine's
    window); 365 days back would be 2 March and miss the points of the evening of 1 March."""
    account = make_account()
    earned = dt.datetime(2027, 3, 1, 18, tzinfo=dt.UTC)
    now = dt.datetime(2028, 3, 1, 12, tzinfo=dt.UTC)
    award(account, 250, reason="Evening of 1 March", idempotency_key="leap-1", now=earned)
    standing = account_standing(account, now=now)
    member = standing.member
    assert window_points(member, standing.program, now) == 250
    assert standing.progress.window_points == 250


def test_a_cancelled_redemption_leaves_redeemed_at_zero_in_the_kpi_and_in_its_month():
    account = make_account()
    award(account, 500, reason="x", idempotency_key="c-1")
    kept = redeem(account, reward("Kept", 120), idempotency_key="c-2")
    given_back = redeem(account, reward("Given back", 100), idempotency_key="c-3")
    redemption_cancel(redemption=given_back)

    dashboard = program_dashboard()

    assert kept.pk != given_back.pk
    assert dashboard.redeemed == 120
    assert dashboard.monthly["redeemed"][-1] == 120  # this month: 220 spent, 100 given back
    assert dashboard.monthly["issued"][-1] == 500
    assert dashboard.redemption_rate == 120 / 500


def test_the_account_header_shows_the_balance_and_tier(csm_client):
    """The header's loyalty fact (registered by loyalty, since customers cannot import it)
    replaced the placeholder the page had before the ledger existed."""
    Tier.objects.create(name="Silver", threshold=500)
    account = make_account()
    award(account, 1200, reason="Case study", idempotency_key="h-1")
    text = csm_client.get(reverse("customers:account", args=[account.pk])).text
    assert (
        '<div class="slot" data-slot="loyalty"><dt>Loyalty</dt><dd>1,200 points · Silver</dd>'
        in text
    )
    assert "arrives with the loyalty ledger" not in text
