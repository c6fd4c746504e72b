"""Bad input that used to get through or break (issue 10): each is refused per item, naming
its field, while the valid items of the same batch land; never a 500."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Account, Contact, RevenueChange, Ticket, UsageEvent
from tests.customers.api_client import basic, bearer, event, post
from tests.customers.factories import make_account, make_key

pytestmark = pytest.mark.django_db

BIG = 123456789012345678901234567890  # 30 digits, far beyond 64 bits


@pytest.fixture
def key():
    return make_key()


@pytest.fixture
def acme():
    return make_account("acme", currency="USD")


def _send(client, key, kind: str, items: list) -> dict:
    response = post(client, f"/api/v1/{kind}", {kind: items}, headers=bearer(key))
    assert response.status_code == 200, response.content
    return response.json()


def _errors(result: dict) -> dict[int, str]:
    return {item["index"]: item["error"] for item in result["rejected"]}


# --- superscript digits -------------------------------------------------------------------


@pytest.mark.parametrize("field", ["card_exp_month", "card_exp_year"])
def test_a_superscript_digit_in_card_exp_month_is_refused_and_the_rest_lands(client, key, field):
    result = _send(
        client,
        key,
        "accounts",
        [
            {"id": "bad", "name": "Bad", field: "²"},
            {"id": "good", "name": "Good", "card_exp_month": "12", "card_exp_year": "27"},
        ],
    )

    assert result["accepted"] == 1
    assert _errors(result)[0].startswith(f"{field}: ")
    good = Account.objects.get()
    assert (good.external_id, good.card_exp_month, good.card_exp_year) == ("good", 12, 2027)


@pytest.mark.parametrize("digits", ["²", "١٢", "1_2", "１２"])
def test_digits_other_than_ascii_in_a_card_updated_event_are_refused_and_the_rest_land(
    client, key, acme, digits
):
    at = "2025-05-01T09:00:00Z"
    result = _send(
        client,
        key,
        "events",
        [
            event("e-bad", "acme", type="card_updated", at=at, properties={"exp_month": digits}),
            event("e-ok", "acme", at=at),
        ],
    )

    assert result["accepted"] == 1
    assert _errors(result) == {0: "properties.exp_month: must be a whole number from 1 to 12"}
    assert list(UsageEvent.objects.values_list("event_id", flat=True)) == ["e-ok"]


def test_a_superscript_digit_in_a_segment_card_updated_event_is_refused_and_the_rest_lands(
    client, acme
):
    body = {
        "batch": [
            {
                "type": "track",
                "event": "card_updated",
                "messageId": "m-bad",
                "context": {"groupId": "acme"},
                "properties": {"exp_year": "2²"},
                "timestamp": "2025-05-01T09:00:00Z",
            },
            {
                "type": "track",
                "event": "login",
                "messageId": "m-ok",
                "context": {"groupId": "acme"},
                "timestamp": "2025-05-01T09:00:00Z",
            },
        ]
    }

    response = post(client, "/api/v1/segment/batch", body, headers=basic(make_key("segment")))

    assert response.status_code == 200, response.content
    (rejected,) = response.json()["rejected"]
    assert rejected["index"] == 0 and "exp_year" in rejected["error"]
    assert list(UsageEvent.objects.values_list("event_id", flat=True)) == ["m-ok"]


def test_a_superscript_digit_in_the_portfolio_renewal_filter_is_a_form_error_not_a_500(
    csm_client,
):
    response = csm_client.get("/customers/", {"owner": "all", "renewal": "²"})

    assert response.status_code == 400
    assert "Renewal within: Enter a whole number." in response.text


def test_a_superscript_digit_in_the_exports_renewal_filter_is_a_plain_error_not_a_500(
    csm_client,
):
    response = csm_client.get("/customers/export.csv", {"owner": "all", "renewal": "3²"})

    assert response.status_code == 400
    assert response.content.decode() == "Renewal within: Enter a whole number."


# --- times and dates outside reality ------------------------------------------------------


def test_an_event_at_9999_is_refused_and_leaves_last_activity_alone(client, key, acme):
    result = _send(
        client,
        key,
        "events",
        [
            event("e-future", "acme", at="9999-12-31T00:00:00Z"),
            event("e-ok", "acme", at="2025-05-01T09:00:00Z"),
        ],
    )

    assert _errors(result) == {
        0: "timestamp: '9999-12-31T00:00:00Z' is more than a day in the future"
    }
    acme.refresh_from_db()
    assert acme.last_activity_at == dt.datetime(2025, 5, 1, 9, tzinfo=dt.UTC)


def test_an_event_before_1990_is_refused_and_one_an_hour_ahead_lands(client, key, acme):
    soon = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    result = _send(
        client,
        key,
        "events",
        [event("e-old", "acme", at="1989-12-31T23:59:59Z"), event("e-soon", "acme", at=soon)],
    )

    assert _errors(result) == {
        0: "timestamp: '1989-12-31T23:59:59Z' is before 1990-01-01, the earliest accepted"
    }
    assert list(UsageEvent.objects.values_list("event_id", flat=True)) == ["e-soon"]


def test_revenue_effective_in_year_1_is_refused_and_the_rest_lands(client, key, acme):
    result = _send(
        client,
        key,
        "revenue",
        [
            {"id": "r-1", "account": "acme", "mrr": "10", "effective_at": "0001-01-01T00:00:00Z"},
            {"id": "r-2", "account": "acme", "mrr": "10", "effective_at": "2025-01-01T00:00:00Z"},
        ],
    )

    assert _errors(result) == {
        0: "effective_at: '0001-01-01T00:00:00Z' is before 1990-01-01, the earliest accepted"
    }
    assert list(RevenueChange.objects.values_list("external_id", flat=True)) == ["r-2"]


def test_a_ticket_opened_or_closed_in_9999_is_refused(client, key, acme):
    result = _send(
        client,
        key,
        "tickets",
        [
            {"id": "t-1", "account": "acme", "subject": "S", "opened_at": "9999-01-01T00:00:00Z"},
            {
                "id": "t-2",
                "account": "acme",
                "subject": "S",
                "opened_at": "2025-01-01T00:00:00Z",
                "closed_at": "9999-01-01T00:00:00Z",
            },
            {"id": "t-3", "account": "acme", "subject": "S", "opened_at": "2025-01-01T00:00Z"},
        ],
    )

    assert sorted(error.split(":")[0] for error in _errors(result).values()) == [
        "closed_at",
        "opened_at",
    ]
    assert list(Ticket.objects.values_list("external_id", flat=True)) == ["t-3"]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1989-12-31"])
def test_a_renewal_date_outside_1990_to_ten_years_ahead_is_refused(client, key, day):
    in_ten_years = timezone.now().date().replace(day=1).replace(year=timezone.now().year + 10)
    result = _send(
        client,
        key,
        "accounts",
        [
            {"id": "a-bad", "name": "Bad", "renewal_date": day},
            {"id": "a-ok", "name": "Ok", "renewal_date": in_ten_years.isoformat()},
        ],
    )

    assert _errors(result)[0].startswith(f"renewal_date: '{day}' is outside the dates accepted")
    assert Account.objects.get().renewal_date == in_ten_years


def test_a_birthday_in_the_future_is_refused_and_the_rest_land(client, key, acme):
    result = _send(
        client,
        key,
        "contacts",
        [
            {"id": "c-bad", "account": "acme", "birthday": "2999-01-01"},
            {"id": "c-old", "account": "acme", "birthday": "1899-12-31"},
            {"id": "c-ok", "account": "acme", "birthday": "1980-04-01"},
        ],
    )

    assert set(_errors(result)) == {0, 1}
    assert all(error.startswith("birthday: ") for error in _errors(result).values())
    assert Contact.objects.get().birthday == dt.date(1980, 4, 1)


# --- amounts --------------------------------------------------------------------------------


@pytest.mark.parametrize("mrr", ["0.001", "1_000", "1e3", "99.999", 0.001, "١٠٠"])
def test_an_mrr_with_more_than_two_decimals_or_underscores_is_refused_not_rounded(
    client, key, acme, mrr
):
    result = _send(
        client,
        key,
        "revenue",
        [
            {"id": "r-bad", "account": "acme", "mrr": mrr, "effective_at": "2025-01-01"},
            {"id": "r-ok", "account": "acme", "mrr": "1000", "effective_at": "2025-02-01"},
        ],
    )

    assert _errors(result)[0].startswith("mrr: ")
    assert "at most two decimals" in _errors(result)[0]
    assert list(RevenueChange.objects.values_list("external_id", "mrr", "kind")) == [
        ("r-ok", Decimal("1000.00"), "started")
    ]


# --- large integers ---------------------------------------------------------------------------


def test_a_30_digit_integer_trait_is_kept_exactly(client, key, acme):
    _send(client, key, "accounts", [{"id": "acme", "traits": {"seats": BIG, "neg": -BIG}}])
    _send(client, key, "contacts", [{"id": "c-1", "account": "acme", "traits": {"n": BIG}}])

    assert Account.objects.get().traits == {"seats": BIG, "neg": -BIG}
    assert Contact.objects.get().traits == {"n": BIG}


def test_a_30_digit_integer_in_event_properties_is_kept_exactly(client, key, acme):
    result = _send(
        client,
        key,
        "events",
        [event("e-1", "acme", at="2025-05-01T09:00:00Z", properties={"n": BIG, "f": 1.5})],
    )

    assert result["accepted"] == 1
    assert UsageEvent.objects.get().properties == {"n": BIG, "f": 1.5}


def test_a_30_digit_integer_in_a_segment_trait_is_kept_exactly(client, acme):
    body = {
        "type": "group",
        "groupId": "acme",
        "userId": "u1",
        "messageId": "g-1",
        "traits": {"name": "Acme", "revenue": BIG},
    }

    response = post(client, "/api/v1/segment/group", body, headers=basic(make_key("segment")))

    assert response.status_code == 200, response.content
    assert Account.objects.get().traits["revenue"] == BIG
