"""The ingest API and the CSV import read a field the same way (issue 9): the same record,
sent to POST /api/v1/accounts|contacts|revenue and imported from a CSV file, is stored with
the same values or refused with the same field and the same reason.

Each record is written once, as strings (what a CSV cell holds); the API gets the same
strings, and a second test shows it stores the same for JSON's native true and numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from customers.models import Account, Contact, ImportStatus, RevenueChange
from tests.customers.api_client import bearer, post
from tests.customers.csv_import_helpers import checked_job, imported_job
from tests.customers.factories import make_key

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOT_AMOUNT = "is not an amount; write digits with at most two decimals after a dot, e.g. 1499.50"

# What each kind stores, compared between the two ways in (ids and stamps differ).
STORED = {
    "accounts": (
        Account,
        ("name", "domain", "plan", "currency", "stage", "renewal_date", "owner_id", "traits"),
    ),
    "contacts": (
        Contact,
        ("email", "name", "role", "locale", "birthday", "do_not_survey"),
    ),
    "revenue": (RevenueChange, ("mrr", "effective_at", "kind", "plan")),
}

GOOD = {
    "accounts": [
        {
            "name": "  Acme Corp ",
            "domain": "HTTPS://Acme.example/",
            "plan": "Pro",
            "currency": "eur",
            "owner_email": "CSM@Example.com",
            "stage": "Onboarding",
            "renewal_date": "2027-03-31",
        },
        {"name": "Globex", "stage": "loyalty (advocate)", "currency": "NOK"},
    ],
    "contacts": [
        {
            "email": "Ada.Lovelace@Example.COM",
            "name": "Ada",
            "role": "CFO",
            "locale": "nb-NO",
            "birthday": "1980-04-01",
            "do_not_survey": "yes",
        },
        {"email": "kari@example.com", "locale": "Svenska", "do_not_survey": "0"},
    ],
    "revenue": [
        {"effective_at": "2025-01-31", "mrr": "99.5", "kind": "started", "plan": "Pro"},
        {"effective_at": "2025-01-31T10:30:00+02:00", "mrr": "1499.50"},
        {"effective_at": "2025-02-01T00:00:00Z", "mrr": "0", "kind": "Subscription cancelled"},
    ],
}

BAD = {
    "accounts": [
        ({"name": "A", "owner_email": "not-an-email"}, "owner_email", "'not-an-email' is not an email address"),
        ({"name": "A", "currency": "euro"}, "currency", "'euro' is not a three-letter currency code such as USD or EUR"),
        ({"name": "A", "currency": "ÄÖÜ"}, "currency", "'ÄÖÜ' is not a three-letter currency code such as USD or EUR"),
        ({"name": "A", "stage": "happy"}, "stage", "'happy' is not a known lifecycle stage; use one of awareness, conversion, purchase, onboarding, renewal, loyalty"),
        ({"name": "A", "renewal_date": "31/12/2026"}, "renewal_date", "'31/12/2026' is not a date; use YYYY-MM-DD, e.g. 2025-01-31"),
        ({"name": "A", "renewal_date": "9999-12-31"}, "renewal_date", "'9999-12-31' is outside the dates accepted"),
        ({"name": "A", "renewal_date": "0001-01-01"}, "renewal_date", "'0001-01-01' is outside the dates accepted"),
        ({"name": "n" * 256}, "name", "is 256 characters long; at most 255 fit"),
        ({"name": "A", "domain": "acme com"}, "domain", "'acme com' is not a domain such as example.com"),
        ({"name": "A", "owner_email": "nobody@example.com"}, "owner_email", None),
    ],
    "contacts": [
        ({"email": "not@valid@example.com"}, "email", "'not@valid@example.com' is not an email address"),
        ({"birthday": "17.05.1980"}, "birthday", "'17.05.1980' is not a date; use YYYY-MM-DD, e.g. 2025-01-31"),
        ({"birthday": "2999-01-01"}, "birthday", "'2999-01-01' is outside the dates accepted"),
        ({"locale": "klingon"}, "locale", "'klingon' is not a known language; use one of en, nb, sv, zh-hans, ru"),
        ({"do_not_survey": "maybe"}, "do_not_survey", "'maybe' is not true or false (yes/no and 1/0 work too)"),
        ({"role": "r" * 121}, "role", "is 121 characters long; at most 120 fit"),
    ],
    "revenue": [
        ({"effective_at": "2025-01-31", "mrr": "0.001"}, "mrr", f"'0.001' {NOT_AMOUNT}"),
        ({"effective_at": "2025-01-31", "mrr": "1_000"}, "mrr", f"'1_000' {NOT_AMOUNT}"),
        ({"effective_at": "2025-01-31", "mrr": "1e3"}, "mrr", f"'1e3' {NOT_AMOUNT}"),
        ({"effective_at": "2025-01-31", "mrr": "€100"}, "mrr", f"'€100' {NOT_AMOUNT}"),
        ({"effective_at": "2025-01-31", "mrr": "-5"}, "mrr", "cannot be negative (got -5)"),
        ({"effective_at": "2025-01-31", "mrr": "1000000000000"}, "mrr", "must be below 1,000,000,000,000"),
        ({"effective_at": "31/01/2025", "mrr": "10"}, "effective_at", "'31/01/2025' is not a date or an ISO 8601 timestamp, e.g. 2025-05-01T12:00:00Z"),
        ({"effective_at": "2025-01-31T09:30:00", "mrr": "10"}, "effective_at", "must carry a timezone offset, e.g. 2025-05-01T12:00:00Z"),
        ({"effective_at": "0001-01-01T00:00:00Z", "mrr": "10"}, "effective_at", "'0001-01-01T00:00:00Z' is before 1990-01-01, the earliest accepted"),
        ({"effective_at": "9999-12-30", "mrr": "10"}, "effective_at", "'9999-12-30' is more than a day in the future"),
        ({"effective_at": "2025-01-31", "mrr": "10", "kind": "upgrade"}, "kind", "'upgrade' is not a known kind of revenue change; use one of started, changed, cancelled, reactivated"),
    ],
}  # fmt: skip

COLUMNS = {
    "accounts": (
        "id",
        "name",
        "domain",
        "plan",
        "currency",
        "owner_email",
        "stage",
        "renewal_date",
    ),
    "contacts": ("id", "account", "email", "name", "role", "locale", "birthday", "do_not_survey"),
    "revenue": ("id", "account", "effective_at", "mrr", "kind", "plan"),
}


def _csv_line(cells) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


@pytest.fixture
def key(db):
    return make_key()


def _record(kind: str, fields: dict, *, way: str) -> dict:
    """The record with the id (and account) of one way in: each way has its own account, so
    revenue history and contacts of one never meet the other's."""
    record = {"id": f"{way}-1", **fields}
    if kind != "accounts":
        record["account"] = f"acct-{way}"
    return record


def _through_api(client, key, kind: str, record: dict) -> list[tuple[str, str]]:
    response = post(client, f"/api/v1/{kind}", {kind: [record]}, headers=bearer(key))
    assert response.status_code == 200, response.content
    return [tuple(item["error"].split(": ", 1)) for item in response.json()["rejected"]]


def _through_csv(kind: str, record: dict, user) -> list[tuple[str, str]]:
    columns = COLUMNS[kind]
    rows = (_csv_line(columns), _csv_line([record.get(column, "") for column in columns]))
    job = checked_job(kind, *rows, user=user)
    errors = [(error["column"], error["error"]) for error in job.errors if "error" in error]
    if not errors:
        job = imported_job(kind, *rows, user=user)
        assert job.status == ImportStatus.DONE, job.errors
    return errors


def _stored(kind: str, way: str) -> list[tuple]:
    model, columns = STORED[kind]
    return list(model.objects.filter(external_id__startswith=f"{way}-").values_list(*columns))


@pytest.fixture
def two_accounts(db):
    for way in ("api", "csv"):
        Account.objects.create(external_id=f"acct-{way}", name=f"Account {way}", currency="USD")


def _compare(client, key, csm_user, kind, fields):
    api_errors = _through_api(client, key, kind, _record(kind, fields, way="api"))
    csv_errors = _through_csv(kind, _record(kind, fields, way="csv"), csm_user)
    return api_errors, csv_errors, _stored(kind, "api"), _stored(kind, "csv")


@pytest.mark.parametrize(
    ("kind", "fields"),
    [(kind, fields) for kind, records in GOOD.items() for fields in records],
)
def test_a_good_record_is_stored_the_same_through_the_api_and_the_csv_import(
    client, key, csm_user, two_accounts, kind, fields
):
    api_errors, csv_errors, api_rows, csv_rows = _compare(client, key, csm_user, kind, fields)

    assert api_errors == csv_errors == []
    assert len(api_rows) == 1
    assert api_rows == csv_rows


@pytest.mark.parametrize(
    ("kind", "fields", "field", "reason"),
    [(kind, *case) for kind, cases in BAD.items() for case in cases],
)
def test_a_bad_record_is_refused_with_the_same_field_and_reason_through_both(
    client, key, csm_user, two_accounts, kind, fields, field, reason
):
    api_errors, csv_errors, api_rows, csv_rows = _compare(client, key, csm_user, kind, fields)

    assert api_rows == csv_rows == []
    assert [error[0] for error in api_errors] == [error[0] for error in csv_errors] == [field]
    if reason is not None:  # None: each way words a failed look-up its own way
        assert api_errors[0][1] == csv_errors[0][1]
        assert api_errors[0][1].startswith(reason)


def test_emails_are_lower_cased_by_both_ways_in(client, key, csm_user, two_accounts):
    _compare(client, key, csm_user, "contacts", {"email": "Ada@Example.COM"})

    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        "ada@example.com",
        "ada@example.com",
    ]


def test_the_api_stores_json_true_and_numbers_as_the_csv_stores_their_words(
    client, key, two_accounts
):
    as_words = {"id": "c-words", "account": "acct-api", "do_not_survey": "true"}
    as_json = {"id": "c-json", "account": "acct-api", "do_not_survey": True}
    post(client, "/api/v1/contacts", {"contacts": [as_words, as_json]}, headers=bearer(key))
    revenue = [
        {"id": "r-text", "account": "acct-api", "mrr": "99.50", "effective_at": "2025-01-01"},
        {"id": "r-num", "account": "acct-api", "mrr": 99.5, "effective_at": "2025-02-01"},
    ]
    response = post(client, "/api/v1/revenue", {"revenue": revenue}, headers=bearer(key))

    assert response.json()["rejected"] == []
    assert set(Contact.objects.values_list("do_not_survey", flat=True)) == {True}
    assert set(RevenueChange.objects.values_list("mrr", flat=True)) == {Decimal("99.50")}
    assert RevenueChange.objects.get(external_id="r-text").effective_at == dt.datetime(
        2025, 1, 1, tzinfo=UTC
    )
