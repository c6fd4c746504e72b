"""Reading a CSV upload and judging one row: the pure rules in customers/parsing.py."""

from __future__ import annotations

import codecs
import datetime as dt
from decimal import Decimal

import pytest

from customers.imports import parsing
from customers.imports.parsing import (
    DuplicateCheck,
    ImportFileError,
    References,
    check_references,
    decode_upload,
    parse_row,
    read_header,
)

UTC = dt.UTC


def records(kind: str, text: str) -> list[parsing.Record]:
    return list(parsing.iter_records(text, read_header(text, kind)))


def parsed(kind: str, header: str, row: str) -> tuple[dict, dict[str, str]]:
    (record,) = records(kind, f"{header}\n{row}\n")
    clean, problems = parse_row(kind, record)
    return clean, dict(problems)


# --- the file ------------------------------------------------------------------------------


def test_it_reads_utf8_and_drops_excels_byte_order_mark():
    text, warnings = decode_upload(codecs.BOM_UTF8 + "id,name\nå1,Ærø\n".encode())
    assert text == "id,name\nå1,Ærø\n"
    assert warnings == []


def test_it_reads_a_latin1_file_and_warns_that_it_guessed():
    text, warnings = decode_upload("id,name\n1,Société Générale\n".encode("latin-1"))
    assert "Société Générale" in text
    assert len(warnings) == 1 and "not UTF-8" in warnings[0]


def test_it_reads_windows_1252_punctuation_in_a_non_utf8_file():
    text, _ = decode_upload("id,name\n1,Café “Lux” €\n".encode("cp1252"))
    assert "Café “Lux” €" in text


def test_it_reads_excels_utf16_unicode_text_with_tabs():
    text, warnings = decode_upload("id\tname\n1\tÆrø\n".encode("utf-16"))
    assert warnings == []
    assert [r.values for r in records("accounts", text)] == [{"id": "1", "name": "Ærø"}]


def test_it_refuses_a_file_over_the_size_limit_with_the_limit_in_the_message():
    with pytest.raises(ImportFileError, match="larger than 20 MB"):
        decode_upload(b"x" * (parsing.MAX_UPLOAD_BYTES + 1))


def test_it_accepts_a_file_exactly_at_the_size_limit():
    text, _ = decode_upload(b"x" * parsing.MAX_UPLOAD_BYTES)
    assert len(text) == parsing.MAX_UPLOAD_BYTES


def test_it_tells_an_excel_workbook_from_a_csv_file():
    with pytest.raises(ImportFileError, match="CSV UTF-8"):
        decode_upload(b"PK\x03\x04\x14\x00 rest of a zip file")


@pytest.mark.parametrize("data", [b"", b"  \r\n \n"])
def test_it_refuses_an_empty_file(data):
    with pytest.raises(ImportFileError, match="empty"):
        decode_upload(data)


def test_it_refuses_nul_characters_which_postgresql_text_cannot_hold():
    with pytest.raises(ImportFileError, match="NUL"):
        decode_upload(b"id,name\n1,a\x00b\n")


def test_it_reads_semicolon_separated_files_from_european_excel():
    text = "id;name;plan\n1;Acme, Inc.;pro\n"
    assert records("accounts", text)[0].values == {"id": "1", "name": "Acme, Inc.", "plan": "pro"}


# --- the header ----------------------------------------------------------------------------


def test_the_header_names_every_missing_column():
    with pytest.raises(ImportFileError) as error:
        read_header("email,name\n", "contacts")
    assert "missing required columns: id, account" in str(error.value)


def test_the_header_names_unknown_columns_and_lists_the_expected_ones():
    with pytest.raises(ImportFileError) as error:
        read_header("id,name,external_id,colour\n", "accounts")
    message = str(error.value)
    assert "unknown columns: “external_id”, “colour”" in message
    assert "Expected columns: id, name, domain, plan, currency, owner_email" in message


def test_the_header_names_a_column_given_twice():
    with pytest.raises(ImportFileError, match="column given twice: “Name”"):
        read_header("id,name,Name\n", "accounts")


def test_the_header_ignores_case_spaces_and_blank_trailing_cells():
    header = read_header(" ID , Name ,,\n", "accounts")
    assert header.keys == ("id", "name", None, None)


def test_trait_columns_become_traits_for_accounts_only():
    header = read_header("id,name,traits.Segment,trait:tier\n", "accounts")
    assert header.keys == ("id", "name", "traits.Segment", "traits.tier")
    with pytest.raises(ImportFileError, match=r"unknown column: “traits\.segment”"):
        read_header("id,account,traits.segment\n", "contacts")


def test_revenue_needs_account_date_and_mrr_but_not_an_id():
    assert read_header("account,effective_at,mrr\n", "revenue").keys == (
        "account",
        "effective_at",
        "mrr",
    )
    with pytest.raises(ImportFileError, match="missing required column: mrr"):
        read_header("id,account,effective_at\n", "revenue")


def test_row_numbers_are_the_spreadsheets_counting_blank_and_multiline_rows():
    text = 'id,name\n1,A\n\n,\n2,"two\nlines"\n3,C\n'
    assert [(r.row, r.values["id"]) for r in records("accounts", text)] == [
        (2, "1"),
        (5, "2"),
        (6, "3"),
    ]


def test_the_template_header_is_the_kinds_columns():
    assert parsing.template_header("contacts") == (
        "id,account,email,name,role,locale,birthday,do_not_survey"
    )


# --- one row -------------------------------------------------------------------------------

ACCOUNT_HEADER = "id,name,domain,plan,currency,owner_email,stage,renewal_date,traits.tier"


def test_a_good_account_row_is_normalized():
    clean, problems = parsed(
        "accounts",
        ACCOUNT_HEADER,
        "acc-1, Acme ,HTTPS://Acme.com/,pro,eur,Casey@Example.com,Onboarding,2026-03-31,gold",
    )
    assert problems == {}
    assert clean == {
        "id": "acc-1",
        "name": "Acme",
        "domain": "acme.com",
        "plan": "pro",
        "currency": "EUR",
        "owner_email": "casey@example.com",
        "stage": "onboarding",
        "renewal_date": dt.date(2026, 3, 31),
        "traits": {"tier": "gold"},
    }


def test_empty_cells_are_left_out_so_they_change_nothing():
    clean, problems = parsed("accounts", ACCOUNT_HEADER, "acc-1,Acme,,,,,,,")
    assert problems == {}
    assert clean == {"id": "acc-1", "name": "Acme"}


@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        (",Acme,,,,,,,", "id", "is required"),
        ("a,Acme,,,,,,31/12/2026,", "renewal_date", "'31/12/2026' is not a date; use YYYY-MM-DD"),
        ("a,Acme,,,,,,2026-02-30,", "renewal_date", "'2026-02-30' is not a date"),
        ("a,Acme,,,,,prospect,,", "stage", "'prospect' is not a known lifecycle stage"),
        ("a,Acme,,,,not-an-email,,,", "owner_email", "'not-an-email' is not an email address"),
        ("a,Acme,,,euro,,,,", "currency", "three-letter currency code"),
        ("a,Acme,acme com,,,,,,", "domain", "is not a domain"),
        ("a," + "n" * 256 + ",,,,,,,", "name", "is 256 characters long; at most 255 fit"),
    ],
)
def test_a_bad_account_cell_is_named_with_its_column(row, column, fragment):
    _, problems = parsed("accounts", ACCOUNT_HEADER, row)
    assert fragment in problems[column]


CONTACT_HEADER = "id,account,email,name,role,locale,birthday,do_not_survey"


def test_a_good_contact_row_is_normalized():
    clean, problems = parsed(
        "contacts", CONTACT_HEADER, "c-1,acc-1,Ola@Example.NO,Ola,CTO,zh_Hans,1980-05-17,Yes"
    )
    assert problems == {}
    assert clean["email"] == "ola@example.no"
    assert clean["locale"] == "zh-hans"
    assert clean["birthday"] == dt.date(1980, 5, 17)
    assert clean["do_not_survey"] is True


@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        ("c-1,acc-1,not@valid@example.com,,,,,", "email", "is not an email address"),
        ("c-1,acc-1,,,,de,,", "locale", "'de' is not a known language; use one of en, nb"),
        ("c-1,acc-1,,,,,1980-13-01,", "birthday", "is not a date"),
        ("c-1,acc-1,,,,,,maybe", "do_not_survey", "'maybe' is not true or false"),
        ("c-1,,,,,,,", "account", "is required"),
    ],
)
def test_a_bad_contact_cell_is_named_with_its_column(row, column, fragment):
    _, problems = parsed("contacts", CONTACT_HEADER, row)
    assert fragment in problems[column]


REVENUE_HEADER = "id,account,effective_at,mrr,kind,plan"


@pytest.mark.parametrize(
    ("cell", "moment"),
    [
        ("2025-01-31", dt.datetime(2025, 1, 31, tzinfo=UTC)),
        ("2025-01-31T09:30:00Z", dt.datetime(2025, 1, 31, 9, 30, tzinfo=UTC)),
        ("2025-01-31T10:30:00+02:00", dt.datetime(2025, 1, 31, 8, 30, tzinfo=UTC)),
        ("2025-01-31 09:30Z", dt.datetime(2025, 1, 31, 9, 30, tzinfo=UTC)),
    ],
)
def test_a_revenue_date_is_midnight_utc_and_a_date_time_is_converted_to_utc(cell, moment):
    clean, problems = parsed("revenue", REVENUE_HEADER, f"r-1,acc-1,{cell},100,,")
    assert problems == {}
    assert clean["effective_at"] == moment
    assert clean["effective_at"].utcoffset() == dt.timedelta(0)


def test_an_amount_with_more_than_two_decimals_is_refused_rather_than_rounded():
    clean, problems = parsed("revenue", REVENUE_HEADER, "r-1,acc-1,2025-01-01,83.335,,")
    assert "mrr" not in clean
    assert "at most two decimals" in problems["mrr"]


def test_a_date_time_without_an_offset_is_refused_as_the_api_refuses_it():
    _, problems = parsed("revenue", REVENUE_HEADER, "r-1,acc-1,2025-01-31T09:30:00,100,,")
    assert problems["effective_at"] == "must carry a timezone offset, e.g. 2025-05-01T12:00:00Z"


@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        ("r,acc-1,2025-01-01,-5,,", "mrr", "cannot be negative"),
        ("r,acc-1,2025-01-01,€100,,", "mrr", "'€100' is not an amount"),
        ("r,acc-1,2025-01-01,1000000000000,,", "mrr", "must be below 1,000,000,000,000"),
        ("r,acc-1,01/02/2025,100,,", "effective_at", "is not a date or an ISO 8601 timestamp"),
        ("r,acc-1,9999-12-31T23:00:00-05:00,100,,", "effective_at", "outside the calendar"),
        ("r,acc-1,2025-01-01,100,upgrade,", "kind", "not a known kind of revenue change"),
        ("r,acc-1,2025-01-01,100,cancelled,", "mrr", "a cancellation sets MRR to 0"),
    ],
)
def test_a_bad_revenue_cell_is_named_with_its_column(row, column, fragment):
    _, problems = parsed("revenue", REVENUE_HEADER, row)
    assert fragment in problems[column]


def test_a_row_wider_than_the_header_is_an_error():
    _, problems = parsed("accounts", "id,name", "acc-1,Acme,surprise")
    assert problems[""] == "has 1 more filled cell than the header has columns"


def test_a_repeated_id_names_the_row_where_it_first_appeared():
    check = DuplicateCheck("accounts")
    assert check.check(2, {"id": "a{0}"}) is None
    assert check.check(3, {"id": "b"}) is None
    assert check.check(7, {"id": "a{0}"}) == (
        "id",
        "“a{0}” is already on row 2; each id may appear once",
    )


def test_revenue_rows_without_an_id_are_duplicates_when_account_date_and_mrr_repeat():
    check = DuplicateCheck("revenue")
    moment = dt.datetime(2025, 1, 1, tzinfo=UTC)
    row = {"account": "a", "effective_at": moment, "mrr": Decimal("10")}
    assert check.check(2, row) is None
    assert check.check(3, {**row, "mrr": Decimal("20")}) is None
    assert check.check(4, dict(row)) == (
        "effective_at",
        "the same change (account, date and MRR) is already on row 2",
    )


# --- what needs the database ---------------------------------------------------------------


def test_a_revenue_row_for_a_foreign_currency_account_needs_a_rate_by_its_date():
    refs = References(
        accounts={"a": parsing.AccountRef(pk=1, currency="NOK")},
        rate_starts={"NOK": dt.date(2025, 1, 1)},
        base_currency="USD",
    )
    row = {"account": "a", "mrr": Decimal("10")}
    early = {**row, "effective_at": dt.datetime(2024, 12, 31, tzinfo=UTC)}
    late = {**row, "effective_at": dt.datetime(2025, 1, 1, tzinfo=UTC)}
    assert check_references("revenue", late, refs) == ("create", [])
    _, problems = check_references("revenue", early, refs)
    assert problems == [
        (
            "effective_at",
            "no exchange rate from NOK to USD on or before 2024-12-31; add one in the admin first",
        )
    ]


def test_summarize_errors_counts_rows_not_messages():
    errors = [
        parsing.file_warning("read as Latin-1"),
        parsing.row_error(2, "mrr", "bad"),
        parsing.row_error(2, "kind", "bad"),
        parsing.row_error(5, "account", "bad"),
    ]
    summary = parsing.summarize_errors(errors, total_rows=10)
    assert (summary.invalid_rows, summary.valid_rows) == (2, 8)
    assert summary.warnings == ["read as Latin-1"]
    assert summary.file_errors == []
    assert not summary.blocking


def test_the_preview_table_keeps_the_kinds_column_order():
    preview = [
        {"traits": {"tier": "gold"}, "name": "Acme", "id": "a", "row": 2, "action": "create"}
    ]
    columns, rows = parsing.preview_table("accounts", preview)
    assert columns[:4] == ["row", "action", "id", "name"]
    assert columns[-1] == "traits"
    assert rows[0][:4] == [2, "create", "a", "Acme"]
    assert rows[0][-1] == "tier: gold"
