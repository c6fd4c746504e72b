"""CSV import services and tasks: check without writing, confirm, apply in chunks, replay."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, close_old_connections, connection
from django.utils import timezone

from accounts.roles import Role
from customers.imports import parsing, steps
from customers.imports import services as import_services
from customers.imports.services import import_job_confirm, import_job_create
from customers.imports.steps import import_job_apply, import_job_validate
from customers.models import (
    Account,
    Contact,
    ExchangeRate,
    ImportJob,
    ImportStatus,
    RevenueChange,
    StageChange,
)
from customers.services import revenue_change_record
from customers.tasks import apply_import, validate_import
from tests.customers.csv_import_helpers import (
    checked_job,
    domain_counts,
    errors_by_row,
    imported_job,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
ACCOUNTS = "id,name,domain,plan,currency,owner_email,stage,renewal_date,traits.tier"


@pytest.fixture
def acme():
    return Account.objects.create(external_id="acc-1", name="Acme", currency="USD")


# --- accounts ------------------------------------------------------------------------------


def test_an_accounts_file_is_checked_then_imported_with_owner_stage_and_traits(csm_user):
    job = imported_job(
        "accounts",
        ACCOUNTS,
        "acc-1,Acme,acme.com,pro,EUR,csm@example.com,onboarding,2026-06-30,gold",
        "acc-2,Globex,,,,,,,",
        user=csm_user,
    )
    assert (job.status, job.created_rows, job.updated_rows, job.processed_rows) == (
        ImportStatus.DONE,
        2,
        0,
        2,
    )
    acme = Account.objects.get(external_id="acc-1")
    assert (acme.name, acme.domain, acme.plan, acme.currency) == ("Acme", "acme.com", "pro", "EUR")
    assert (acme.owner, acme.stage, acme.renewal_date) == (
        csm_user,
        "onboarding",
        dt.date(2026, 6, 30),
    )
    assert acme.traits == {"tier": "gold"}
    globex = Account.objects.get(external_id="acc-2")
    assert (globex.currency, globex.stage, globex.owner) == ("USD", "awareness", None)
    move = StageChange.objects.get(account=acme)
    assert (move.from_stage, move.to_stage, move.source, move.changed_by) == (
        "",
        "onboarding",
        "csv_import",
        csm_user,
    )
    assert job.finished_at is not None


def test_checking_a_file_writes_nothing_until_it_is_confirmed(csm_user, acme):
    before = domain_counts()
    job = checked_job(
        "accounts", ACCOUNTS, "acc-1,Acme Renamed,,,,,renewal,,", "acc-9,New,,,,,,,", user=csm_user
    )
    assert job.status == ImportStatus.PREVIEW
    assert domain_counts() == before
    acme.refresh_from_db()
    assert (acme.name, acme.stage) == ("Acme", "awareness")
    assert [(row["id"], row["action"]) for row in job.preview] == [
        ("acc-1", "update"),
        ("acc-9", "create"),
    ]
    import_job_confirm(job_id=job.pk)
    import_job_apply(job_id=job.pk)
    acme.refresh_from_db()
    assert (acme.name, acme.stage) == ("Acme Renamed", "renewal")
    assert domain_counts() == before | {
        "accounts": before["accounts"] + 1,
        "stage_changes": before["stage_changes"] + 1,
    }


def test_an_update_leaves_empty_cells_alone_and_merges_traits(csm_user):
    Account.objects.create(
        external_id="acc-1",
        name="Acme",
        domain="acme.com",
        plan="pro",
        owner=csm_user,
        traits={"tier": "silver", "region": "EMEA"},
    )
    job = imported_job("accounts", ACCOUNTS, "acc-1,Acme AS,,,,,,,gold")
    acme = Account.objects.get(external_id="acc-1")
    assert (acme.name, acme.domain, acme.plan, acme.owner) == (
        "Acme AS",
        "acme.com",
        "pro",
        csm_user,
    )
    assert acme.traits == {"tier": "gold", "region": "EMEA"}
    assert (job.created_rows, job.updated_rows) == (0, 1)


def test_importing_the_same_accounts_file_again_creates_and_changes_nothing(csm_user):
    rows = (ACCOUNTS, "acc-1,Acme,,,,,loyalty,,", "acc-2,Globex,,,,,,,")
    imported_job("accounts", *rows, user=csm_user)
    before = domain_counts()
    again = imported_job("accounts", *rows, user=csm_user)
    assert domain_counts() == before
    assert (again.created_rows, again.updated_rows, again.processed_rows) == (0, 0, 2)
    assert again.preview[0]["action"] == "update"


def test_running_apply_again_on_a_finished_job_does_nothing(csm_user):
    job = imported_job("accounts", ACCOUNTS, "acc-1,Acme,,,,,,,")
    before = domain_counts()
    again = import_job_apply(job_id=job.pk)
    assert (again.status, again.created_rows, again.finished_at) == (
        ImportStatus.DONE,
        1,
        job.finished_at,
    )
    assert domain_counts() == before


@pytest.mark.parametrize(
    ("cells", "column", "fragment"),
    [
        ("acc-1,Acme,,,,,,2026-13-01,", "renewal_date", "is not a date"),
        ("acc-1,Acme,,,,,prospect,,", "stage", "not a known lifecycle stage"),
        ("acc-1,Acme,,,,nobody@example.com,,,", "owner_email", "no active CSM or admin"),
        ("acc-1,Acme,,,,not-an-email,,,", "owner_email", "is not an email address"),
    ],
)
def test_an_account_row_error_names_its_row_and_column(cells, column, fragment):
    job = checked_job("accounts", ACCOUNTS, "acc-0,Fine,,,,,,,", cells)
    assert job.status == ImportStatus.INVALID
    (error,) = job.errors
    assert (error["row"], error["column"]) == (3, column)
    assert fragment in error["error"]
    assert [row["id"] for row in job.preview] == ["acc-0"]


def test_a_file_of_ids_and_owners_reassigns_accounts_but_cannot_create_nameless_ones(
    make_user, acme
):
    ada = make_user(Role.ADMIN, "ada@example.com")
    job = imported_job(
        "accounts",
        "id,owner_email",
        "acc-1,ada@example.com",
        "acc-new,ada@example.com",
        skip_invalid=True,
    )
    assert job.errors == [{"row": 3, "column": "name", "error": "is required for a new account"}]
    acme.refresh_from_db()
    assert (acme.name, acme.owner) == ("Acme", ada)
    assert (job.created_rows, job.updated_rows) == (0, 1)


def test_a_bad_name_for_a_new_account_is_reported_once():
    job = checked_job("accounts", "id,name", "acc-1," + "n" * 300)
    assert [(e["column"], e["error"]) for e in job.errors] == [
        ("name", "is 300 characters long; at most 255 fit")
    ]


def test_a_viewer_cannot_own_accounts(make_user):
    make_user(Role.VIEWER, "vic@example.com")
    make_user(Role.ADMIN, "ada@example.com")
    job = checked_job(
        "accounts", ACCOUNTS, "a,A,,,,vic@example.com,,,", "b,B,,,,ADA@example.com,,,"
    )
    assert errors_by_row(job) == {2: {"owner_email"}}


def test_duplicate_ids_within_a_file_are_errors_on_the_repeats():
    job = checked_job("accounts", ACCOUNTS, "a,A,,,,,,,", "b,B,,,,,,,", "a,A again,,,,,,,")
    assert job.errors == [
        {"row": 4, "column": "id", "error": "“a” is already on row 2; each id may appear once"}
    ]


def test_an_accounts_currency_cannot_change_once_it_has_revenue(acme):
    revenue_change_record(
        account=acme, mrr=Decimal("10"), effective_at=dt.datetime(2025, 1, 1, tzinfo=UTC)
    )
    job = checked_job("accounts", ACCOUNTS, "acc-1,Acme,,,EUR,,,,")
    assert errors_by_row(job) == {2: {"currency"}}


# --- contacts ------------------------------------------------------------------------------

CONTACTS = "id,account,email,name,role,locale,birthday,do_not_survey"


def test_a_contacts_file_is_imported_and_upserted_by_id(acme):
    Account.objects.create(external_id="acc-2", name="Globex")
    Contact.objects.create(account=acme, external_id="c-2", email="old@acme.com", name="Kari")
    job = imported_job(
        "contacts",
        CONTACTS,
        "c-1,acc-1,Ola@Acme.com,Ola,CTO,nb,1980-05-17,yes",
        "c-2,acc-2,kari@globex.com,,,,,",
    )
    assert (job.status, job.created_rows, job.updated_rows) == (ImportStatus.DONE, 1, 1)
    ola = Contact.objects.get(external_id="c-1")
    assert (ola.account, ola.email, ola.name, ola.role, ola.locale) == (
        acme,
        "ola@acme.com",
        "Ola",
        "CTO",
        "nb",
    )
    assert (ola.birthday, ola.do_not_survey) == (dt.date(1980, 5, 17), True)
    kari = Contact.objects.get(external_id="c-2")
    assert (kari.account.external_id, kari.email, kari.name) == ("acc-2", "kari@globex.com", "Kari")


@pytest.mark.parametrize("header", [CONTACTS, "id,account,email,name"])
def test_a_contact_imported_without_a_language_has_none_and_an_update_keeps_its_own(acme, header):
    Contact.objects.create(account=acme, external_id="c-2", name="Kari", locale="nb")
    padding = "," * (header.count(",") - 3)
    job = imported_job(
        "contacts", header, f"c-1,acc-1,ola@acme.com,Ola{padding}", f"c-2,acc-1,,Kari N{padding}"
    )
    assert (job.status, job.created_rows, job.updated_rows) == (ImportStatus.DONE, 1, 1)
    assert dict(Contact.objects.values_list("external_id", "locale")) == {"c-1": "", "c-2": "nb"}
    assert Contact.objects.get(external_id="c-2").name == "Kari N"


@pytest.mark.parametrize(
    ("cells", "column", "fragment"),
    [
        ("c-1,acc-404,,,,,,", "account", "no account has the id “acc-404”"),
        ("c-1,acc-1,,,,fr,,", "locale", "'fr' is not a known language"),
        ("c-1,acc-1,bad@,,,,,", "email", "is not an email address"),
        ("c-1,acc-1,,,,,17.05.1980,", "birthday", "is not a date"),
    ],
)
def test_a_contact_row_error_names_its_row_and_column(acme, cells, column, fragment):
    job = checked_job("contacts", CONTACTS, cells)
    (error,) = job.errors
    assert (error["row"], error["column"]) == (2, column)
    assert fragment in error["error"]


# --- revenue -------------------------------------------------------------------------------

REVENUE = "id,account,effective_at,mrr,kind,plan"


def test_a_revenue_file_follows_the_revenue_rules_kinds_inferred_and_mrr_derived(acme):
    job = imported_job(
        "revenue",
        REVENUE,
        # out of date order on purpose: kinds are inferred from the history before each date
        "r-3,acc-1,2025-03-01,0,,",
        "r-1,acc-1,2025-01-01,100,,starter",
        "r-2,acc-1,2025-02-01T12:00:00+01:00,150,,pro",
        "r-4,acc-1,2025-04-01,80,,pro",
    )
    assert (job.status, job.created_rows) == (ImportStatus.DONE, 4)
    changes = list(
        RevenueChange.objects.filter(account=acme).values_list(
            "external_id", "kind", "effective_at", "mrr", "mrr_base"
        )
    )
    assert changes == [
        ("r-1", "started", dt.datetime(2025, 1, 1, tzinfo=UTC), Decimal("100"), Decimal("100")),
        ("r-2", "changed", dt.datetime(2025, 2, 1, 11, tzinfo=UTC), Decimal("150"), Decimal("150")),
        ("r-3", "cancelled", dt.datetime(2025, 3, 1, tzinfo=UTC), Decimal("0"), Decimal("0")),
        ("r-4", "reactivated", dt.datetime(2025, 4, 1, tzinfo=UTC), Decimal("80"), Decimal("80")),
    ]
    acme.refresh_from_db()
    assert (acme.mrr, acme.plan, acme.first_paid_at, acme.churned_at) == (
        Decimal("80"),
        "pro",
        dt.datetime(2025, 1, 1, tzinfo=UTC),
        None,
    )


def test_an_imported_change_sees_history_recorded_before_it(acme):
    revenue_change_record(
        account=acme, mrr=Decimal("100"), effective_at=dt.datetime(2025, 1, 1, tzinfo=UTC)
    )
    imported_job("revenue", "account,effective_at,mrr", "acc-1,2025-02-01,120")
    assert RevenueChange.objects.get(mrr=120).kind == "changed"


def test_a_foreign_currency_is_converted_at_the_rate_of_its_date(acme):
    acme.currency = "NOK"
    acme.save()
    ExchangeRate.objects.create(currency="NOK", per_base=Decimal("10"), valid_from="2025-01-01")
    ExchangeRate.objects.create(currency="NOK", per_base=Decimal("12.5"), valid_from="2025-06-01")
    imported_job("revenue", REVENUE, "r-1,acc-1,2025-03-01,1000,,", "r-2,acc-1,2025-07-01,1000,,")
    assert list(RevenueChange.objects.values_list("currency", "mrr_base")) == [
        ("NOK", Decimal("100.00")),
        ("NOK", Decimal("80.00")),
    ]


def test_a_revenue_row_before_the_first_exchange_rate_is_an_error(acme):
    acme.currency = "NOK"
    acme.save()
    ExchangeRate.objects.create(currency="NOK", per_base=Decimal("10"), valid_from="2025-01-01")
    job = checked_job("revenue", REVENUE, "r-1,acc-1,2024-12-31,1000,,")
    assert errors_by_row(job) == {2: {"effective_at"}}


@pytest.mark.parametrize(
    ("cells", "column", "fragment"),
    [
        ("r-1,acc-1,2025-01-01,-10,,", "mrr", "cannot be negative"),
        ("r-1,acc-1,2025-02-30,10,,", "effective_at", "is not a date"),
        ("r-1,acc-404,2025-01-01,10,,", "account", "no account has the id “acc-404”"),
        ("r-1,acc-1,2025-01-01,10,cancelled,", "mrr", "a cancellation sets MRR to 0"),
    ],
)
def test_a_revenue_row_error_names_its_row_and_column(acme, cells, column, fragment):
    job = checked_job("revenue", REVENUE, cells)
    (error,) = job.errors
    assert (error["row"], error["column"]) == (2, column)
    assert fragment in error["error"]


def test_revenue_without_ids_is_not_duplicated_by_a_second_import(acme):
    rows = ("account,effective_at,mrr", "acc-1,2025-01-01,100", "acc-1,2025-02-01,150")
    imported_job("revenue", *rows)
    again = imported_job("revenue", *rows, "acc-1,2025-03-01,175")
    assert RevenueChange.objects.count() == 3
    assert (again.created_rows, again.processed_rows) == (1, 3)
    assert [row["action"] for row in again.preview] == ["unchanged", "unchanged", "create"]


def test_revenue_already_recorded_under_its_id_with_other_values_is_an_error(acme):
    imported_job("revenue", REVENUE, "r-1,acc-1,2025-01-01,100,,")
    job = checked_job("revenue", REVENUE, "r-1,acc-1,2025-01-01,999,,")
    (error,) = job.errors
    assert error["column"] == "id"
    assert "already recorded with other values (100.00 on 2025-01-01)" in error["error"]


def test_the_same_change_twice_in_one_file_is_flagged_on_the_second_row(acme):
    job = checked_job(
        "revenue", "account,effective_at,mrr", "acc-1,2025-01-01,100", "acc-1,2025-01-01,100.00"
    )
    assert job.errors == [
        {
            "row": 3,
            "column": "effective_at",
            "error": "the same change (account, date and MRR) is already on row 2",
        }
    ]


# --- files that cannot be imported ---------------------------------------------------------


def test_a_header_error_refuses_the_upload_naming_the_columns_and_stores_nothing():
    with pytest.raises(ValidationError) as error:
        import_job_create(
            kind="contacts",
            filename="c.csv",
            content_bytes=b"id,email,colour\n1,a@b.c,red\n",
            user=None,
        )
    message = error.value.message_dict["file"][0]
    assert "missing required column: account" in message
    assert "unknown column: “colour”" in message
    assert not ImportJob.objects.exists()


def test_an_oversized_file_is_refused_with_a_clear_message():
    with pytest.raises(ValidationError) as error:
        import_job_create(
            kind="accounts", filename="big.csv", content_bytes=b"x" * (20 * 2**20 + 1), user=None
        )
    assert "larger than 20 MB" in error.value.message_dict["file"][0]
    assert not ImportJob.objects.exists()


def test_a_header_without_rows_is_refused():
    with pytest.raises(ValidationError, match="no data rows"):
        import_job_create(
            kind="accounts", filename="a.csv", content_bytes=b"id,name\n\n", user=None
        )


def test_an_unknown_kind_is_refused_naming_the_kind():
    with pytest.raises(ValidationError) as error:
        import_job_create(kind="tickets", filename="a.csv", content_bytes=b"id\n1\n", user=None)
    assert "kind" in error.value.message_dict


def test_a_latin1_file_is_imported_with_its_accents_and_a_warning_on_the_job():
    job = import_job_create(
        kind="accounts",
        filename="latin.csv",
        content_bytes="id,name\nacc-1,Société Générale\n".encode("latin-1"),
        user=None,
    )
    job = import_job_validate(job_id=job.pk)
    assert job.status == ImportStatus.PREVIEW
    assert job.errors[0]["warning"].startswith("The file is not UTF-8")
    import_job_confirm(job_id=job.pk)
    import_job_apply(job_id=job.pk)
    assert Account.objects.get().name == "Société Générale"


def test_a_bom_file_is_imported_with_its_first_column_intact():
    job = import_job_create(
        kind="accounts",
        filename="bom.csv",
        content_bytes="\ufeffid,name\nacc-1,Ærø\n".encode(),
        user=None,
    )
    job = import_job_validate(job_id=job.pk)
    assert (job.status, job.errors) == (ImportStatus.PREVIEW, [])
    import_job_confirm(job_id=job.pk)
    import_job_apply(job_id=job.pk)
    assert Account.objects.get(external_id="acc-1").name == "Ærø"


def test_a_file_with_too_many_errors_is_blocked_even_with_skipping(monkeypatch):
    monkeypatch.setattr("customers.imports.parsing.MAX_ERRORS", 2)
    job = checked_job(
        "accounts", ACCOUNTS, "a,A,,,,,x,,", "b,B,,,,,x,,", "c,C,,,,,x,,", "d,D,,,,,,,"
    )
    summary_errors = [e for e in job.errors if e["row"] is None]
    assert len(summary_errors) == 1 and "More than 2 errors" in summary_errors[0]["error"]
    with pytest.raises(ValidationError) as error:
        import_job_confirm(job_id=job.pk, skip_invalid=True)
    assert "file" in error.value.message_dict


# --- confirmation and skipping -------------------------------------------------------------


def test_rows_with_errors_block_the_import_unless_skipping_them_is_ticked(acme):
    job = checked_job("contacts", CONTACTS, "c-1,acc-1,,Ola,,,,", "c-2,acc-404,,Kari,,,,")
    assert job.status == ImportStatus.INVALID
    with pytest.raises(ValidationError) as error:
        import_job_confirm(job_id=job.pk)
    assert error.value.message_dict["skip_invalid"] == [
        "1 row has errors. Tick “Skip 1 rows with errors” to import the other 1, "
        "or fix the file and upload it again."
    ]
    job.refresh_from_db()
    assert job.status == ImportStatus.INVALID
    assert not Contact.objects.exists()

    import_job_confirm(job_id=job.pk, skip_invalid=True)
    job = import_job_apply(job_id=job.pk)
    assert list(Contact.objects.values_list("external_id", flat=True)) == ["c-1"]
    assert (job.status, job.created_rows, job.processed_rows) == (ImportStatus.DONE, 1, 2)


def test_a_file_where_no_row_is_valid_cannot_be_confirmed():
    job = checked_job("contacts", CONTACTS, "c-1,acc-404,,,,,,")
    with pytest.raises(ValidationError, match="No row of this file is valid"):
        import_job_confirm(job_id=job.pk, skip_invalid=True)


def test_confirming_twice_starts_one_import():
    job = checked_job("accounts", ACCOUNTS, "a,A,,,,,,,")
    first = import_job_confirm(job_id=job.pk)
    second = import_job_confirm(job_id=job.pk)
    assert (first.status, second.status, second.confirmed_at) == (
        ImportStatus.IMPORTING,
        ImportStatus.IMPORTING,
        first.confirmed_at,
    )


def test_a_job_still_being_checked_cannot_be_confirmed():
    job = import_job_create(
        kind="accounts", filename="a.csv", content_bytes=b"id,name\na,A\n", user=None
    )
    with pytest.raises(ValidationError) as error:
        import_job_confirm(job_id=job.pk)
    assert "status" in error.value.message_dict


def test_confirming_queues_the_apply_task_after_commit(django_capture_on_commit_callbacks):
    job = checked_job("accounts", ACCOUNTS, "a,A,,,,,,,")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        import_job_confirm(job_id=job.pk)
        assert not Account.objects.exists()  # nothing runs before the commit
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert Account.objects.get().external_id == "a"


def test_an_upload_queues_its_check_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(
            kind="accounts", filename="a.csv", content_bytes=b"id,name\na,A\n", user=None
        )
        assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.VALIDATING
    job.refresh_from_db()
    assert (job.status, job.preview[0]["id"]) == (ImportStatus.PREVIEW, "a")


# --- crashes, races and replays ------------------------------------------------------------


def _revenue_job(n: int) -> ImportJob:
    rows = [f"acc-1,2025-01-{day:02d},{100 + day}" for day in range(1, n + 1)]
    return checked_job("revenue", "account,effective_at,mrr", *rows)


def test_an_import_killed_mid_way_resumes_without_duplicating(acme, monkeypatch):
    monkeypatch.setattr(steps, "IMPORT_APPLY_CHUNK", 2)
    job = _revenue_job(7)
    import_job_confirm(job_id=job.pk)
    real_chunk = steps._import_apply_chunk
    calls = {"n": 0}

    def dies_on_the_third_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker killed")
        return real_chunk(*args, **kwargs)

    with (
        mock.patch.object(steps, "_import_apply_chunk", dies_on_the_third_chunk),
        pytest.raises(SystemExit),
    ):
        import_job_apply(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.processed_rows, RevenueChange.objects.count()) == (
        ImportStatus.IMPORTING,
        4,
        4,
    )
    job = import_job_apply(job_id=job.pk)  # the redelivered task
    assert (job.status, job.processed_rows, job.created_rows) == (ImportStatus.DONE, 7, 7)
    assert RevenueChange.objects.count() == 7
    acme.refresh_from_db()
    assert acme.mrr == Decimal("107")


def test_a_row_that_went_bad_after_the_check_is_skipped_and_reported(acme):
    Account.objects.create(external_id="acc-2", name="Globex")
    job = checked_job("contacts", CONTACTS, "c-1,acc-1,,,,,,", "c-2,acc-2,,,,,,")
    Account.objects.filter(external_id="acc-2").delete()
    import_job_confirm(job_id=job.pk)
    job = import_job_apply(job_id=job.pk)
    assert list(Contact.objects.values_list("external_id", flat=True)) == ["c-1"]
    assert job.errors == [
        {"row": 3, "column": "account", "error": "no account has the id “acc-2”; import it first"}
    ]
    assert job.status == ImportStatus.DONE


def test_a_race_with_another_writer_retries_the_chunk_and_updates_instead(monkeypatch):
    job = checked_job("accounts", ACCOUNTS, "a,From CSV,,,,,,,")
    import_job_confirm(job_id=job.pk)
    real_references = steps._import_references
    raced = {"done": False}

    def api_creates_the_same_account_meanwhile(kind, cleans, rate_starts):
        refs = real_references(kind, cleans, rate_starts)
        if not raced["done"]:
            raced["done"] = True
            Account.objects.create(external_id="a", name="From API")
        return refs

    monkeypatch.setattr(steps, "_import_references", api_creates_the_same_account_meanwhile)
    job = import_job_apply(job_id=job.pk)
    assert Account.objects.get(external_id="a").name == "From CSV"
    assert (job.status, job.created_rows, job.updated_rows) == (ImportStatus.DONE, 0, 1)


# --- tasks ---------------------------------------------------------------------------------


def test_the_tasks_return_early_for_a_missing_job():
    assert validate_import.apply(args=[987654]).get() is None
    assert apply_import.apply(args=[987654]).get() is None


def test_the_apply_task_does_nothing_for_a_job_not_confirmed():
    job = checked_job("accounts", ACCOUNTS, "a,A,,,,,,,")
    assert apply_import.apply(args=[job.pk]).get() == ImportStatus.PREVIEW
    assert not Account.objects.exists()


def test_the_validate_task_does_nothing_for_a_job_already_checked():
    job = checked_job("accounts", ACCOUNTS, "a,A,,,,,,,")
    ImportJob.objects.filter(pk=job.pk).update(preview=[])
    assert validate_import.apply(args=[job.pk]).get() == ImportStatus.PREVIEW
    job.refresh_from_db()
    assert job.preview == []


def test_a_transient_database_error_is_retried(monkeypatch):
    job = import_job_create(
        kind="accounts", filename="a.csv", content_bytes=b"id,name\na,A\n", user=None
    )
    real = steps.import_job_validate
    calls = {"n": 0}

    def flaky(*, job_id):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(job_id=job_id)

    monkeypatch.setattr("customers.tasks.import_job_validate", flaky)
    validate_import.apply(args=[job.pk], throw=False)  # how the embedded mode runs it
    job.refresh_from_db()
    assert (calls["n"], job.status) == (2, ImportStatus.PREVIEW)


def test_in_the_embedded_mode_a_database_that_stays_down_fails_the_job_not_the_request(
    monkeypatch, django_capture_on_commit_callbacks
):
    calls = {"n": 0}

    def down(*, job_id):
        calls["n"] += 1
        raise OperationalError("database is locked")

    monkeypatch.setattr("customers.tasks.import_job_validate", down)
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(
            kind="accounts", filename="a.csv", content_bytes=b"id,name\na,A\n", user=None
        )
    job.refresh_from_db()
    assert (calls["n"], job.status) == (2, ImportStatus.FAILED)
    assert "unexpected error (OperationalError)" in job.errors[-1]["error"]


def test_a_worker_giving_up_after_its_last_retry_marks_the_job_failed():
    job = import_job_create(
        kind="accounts", filename="a.csv", content_bytes=b"id,name\na,A\n", user=None
    )
    exc = OperationalError("could not connect to server")
    validate_import.on_failure(exc, "task-id", (job.pk,), {}, None)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.finished_at is not None


def test_an_unexpected_error_marks_the_job_failed_and_is_not_retried(
    monkeypatch, django_capture_on_commit_callbacks
):
    job = checked_job("accounts", ACCOUNTS, "a,A,,,,,,,")
    calls = {"n": 0}

    def broken(*, job_id):
        calls["n"] += 1
        raise RuntimeError("bug")

    monkeypatch.setattr("customers.tasks.import_job_apply", broken)
    with django_capture_on_commit_callbacks(execute=True):
        import_job_confirm(job_id=job.pk)
    job.refresh_from_db()
    assert (calls["n"], job.status) == (1, ImportStatus.FAILED)
    assert "unexpected error (RuntimeError)" in job.errors[-1]["error"]


# --- PostgreSQL: two workers on one job ----------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_applies_of_one_job_write_each_row_once(monkeypatch):
    monkeypatch.setattr(steps, "IMPORT_APPLY_CHUNK", 3)
    acme = Account.objects.create(external_id="acc-1", name="Acme")
    job = _revenue_job(20)  # no ids: only the job lock stands between a replay and duplicates
    monkeypatch.setattr(import_services, "_import_enqueue", lambda *args: None)  # the threads apply
    import_job_confirm(job_id=job.pk)
    assert RevenueChange.objects.count() == 0
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            import_job_apply(job_id=job.pk)
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_rows) == (ImportStatus.DONE, 20, 20)
    assert RevenueChange.objects.filter(account=acme).count() == 20
    acme.refresh_from_db()
    assert acme.mrr == Decimal("120")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_confirmations_start_one_import(monkeypatch):
    job = checked_job("accounts", ACCOUNTS, "a,A,,,,,,,")
    queued: list[int] = []
    monkeypatch.setattr(
        import_services, "_import_enqueue", lambda name, job_id: queued.append(job_id)
    )
    # Both threads meet inside the confirmation if nothing keeps them apart; with the row
    # lock the second waits at the door, the rendezvous times out and the first goes on alone.
    rendezvous = threading.Barrier(2, timeout=1)
    real_summarize = parsing.summarize_errors

    def summarize_together(*args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            rendezvous.wait()
        return real_summarize(*args, **kwargs)

    monkeypatch.setattr(parsing, "summarize_errors", summarize_together)
    start = threading.Barrier(2)
    results: list[object] = []

    def confirm() -> None:
        try:
            start.wait()
            results.append(import_job_confirm(job_id=job.pk).confirmed_at)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] == results[1]
    assert queued == [job.pk]


def test_imports_whose_task_was_lost_are_queued_again_and_finish():
    """The broker was down when the upload and the confirmation committed: no task came."""
    from customers.tasks import resume_stalled_imports

    upload = import_job_create(
        kind="accounts", filename="a.csv", content_bytes=b"id,name\nlost-1,Lost\n", user=None
    )
    confirmed = checked_job("accounts", ACCOUNTS, "lost-2,Found,,,,,,,")
    ImportJob.objects.filter(pk=confirmed.pk).update(
        status=ImportStatus.IMPORTING, confirmed_at=timezone.now()
    )
    assert resume_stalled_imports.apply().get() == 0  # fresh: their tasks may still come

    eleven_minutes_ago = timezone.now() - dt.timedelta(minutes=11)
    ImportJob.objects.filter(pk=upload.pk).update(created_at=eleven_minutes_ago)
    ImportJob.objects.filter(pk=confirmed.pk).update(confirmed_at=eleven_minutes_ago)
    assert resume_stalled_imports.apply().get() == 2

    upload.refresh_from_db()
    confirmed.refresh_from_db()
    assert (upload.status, confirmed.status) == (ImportStatus.PREVIEW, ImportStatus.DONE)
    assert list(Account.objects.values_list("external_id", flat=True)) == ["lost-2"]
    assert resume_stalled_imports.apply().get() == 0
