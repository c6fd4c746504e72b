"""Reading and checking CSV files for the import: pure functions, no database.

The services in ``customers.services`` (section "CSV import") read the stored text with these
functions, fill a :class:`References` set-based for each chunk of rows, and ask
:func:`check_references` about the rows that need the database (does the account exist? is the
owner a CSM?). Keeping every rule here means the preview, the apply step and any later importer
judge a row the same way. What a single value may look like is not decided here: each column is
read by the ingest API's parser for that field (customers.ingest.fields), so a file and an API
call are held to one rule.

Row numbers are the ones a spreadsheet shows: the header is row 1, the first data row is row 2,
and blank lines still count, so "row 7" is where the user finds it in Excel.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from customers.ingest import fields
from customers.ingest.results import ItemError
from customers.models import ImportKind, LifecycleStage, RevenueKind

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
PREVIEW_ROWS = 20
# Past this many errors a file is broken rather than dirty: importing "the valid rest" of it
# would surprise its owner, so the import is blocked until the file is fixed.
MAX_ERRORS = 10_000

TRAIT_PREFIXES = ("traits.", "trait:")


class ImportFileError(ValueError):
    """The file as a whole cannot be imported: its size, encoding or header is wrong."""


@dataclass(frozen=True)
class KindSpec:
    """The columns one kind of import understands, in the order the preview shows them."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    traits: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


SPECS: dict[str, KindSpec] = {
    # A name is needed only to create an account, so a file of ids and owners can reassign.
    ImportKind.ACCOUNTS: KindSpec(
        required=("id",),
        optional=("name", "domain", "plan", "currency", "owner_email", "stage", "renewal_date"),
        traits=True,
    ),
    ImportKind.CONTACTS: KindSpec(
        required=("id", "account"),
        optional=("email", "name", "role", "locale", "birthday", "do_not_survey"),
    ),
    ImportKind.REVENUE: KindSpec(
        required=("account", "effective_at", "mrr"), optional=("id", "kind", "plan")
    ),
}


def spec_for(kind: str) -> KindSpec:
    try:
        return SPECS[kind]
    except KeyError:
        raise ImportFileError(f"Unknown kind of import {kind!r}.") from None


def template_header(kind: str) -> str:
    """The header row of a blank file for ``kind``, offered as a download on the upload page."""
    return ",".join(spec_for(kind).columns)


# --- the file ------------------------------------------------------------------------------


def decode_upload(data: bytes) -> tuple[str, list[str]]:
    """Turn the uploaded bytes into text, with warnings the user should see.

    UTF-8 (with or without Excel's BOM) is expected; UTF-16 with a BOM is what Excel's "Unicode
    text" writes. Anything else is most likely a Windows export, so it is read as Windows-1252
    (Latin-1 for the few bytes that code page leaves undefined) and the user is told to check
    the accents in the preview rather than being refused.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImportFileError(
            f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
            "split it into smaller files and import them one after the other."
        )
    if data.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            "This is a spreadsheet workbook (.xlsx), not a CSV file. "
            "In Excel choose File → Save As → “CSV UTF-8”, then upload that file."
        )
    warnings: list[str] = []
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise ImportFileError(
                "The file says it is UTF-16 but cannot be read as such."
            ) from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
            warnings.append(
                "The file is not UTF-8, so it was read as Windows-1252 / Latin-1. Check that "
                "accented letters look right in the preview; saving the file as “CSV UTF-8” "
                "avoids the guess."
            )
    if "\x00" in text:
        raise ImportFileError("The file contains NUL characters, so it is not a text CSV file.")
    if not text.strip():
        raise ImportFileError("The file is empty.")
    return text, warnings


def detect_delimiter(text: str) -> str:
    """Comma, semicolon (Excel in most of Europe) or tab, whichever the header uses most."""
    first_line = text.split("\n", 1)[0]
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


@dataclass(frozen=True)
class Header:
    """One key per header cell: a column name, ``traits.<name>`` for a custom trait, or
    ``None`` for a blank header cell (Excel leaves those behind), whose values are ignored."""

    kind: str
    delimiter: str
    keys: tuple[str | None, ...]


def _plural(word: str, count: int) -> str:
    return word if count == 1 else f"{word}s"


def read_header(text: str, kind: str) -> Header:
    """Check the header row, naming every missing, unknown or repeated column at once."""
    spec = spec_for(kind)
    delimiter = detect_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        cells = next(reader)
    except StopIteration:
        raise ImportFileError("The file is empty.") from None
    except csv.Error as exc:
        raise ImportFileError(f"The header row cannot be read: {exc}.") from None
    keys: list[str | None] = []
    unknown: list[str] = []
    repeated: list[str] = []
    for cell in cells:
        name = cell.strip()
        lowered = name.lower()
        prefix = next((p for p in TRAIT_PREFIXES if lowered.startswith(p)), None)
        if not name:
            keys.append(None)
            continue
        if prefix and spec.traits and name[len(prefix) :].strip():
            key = f"traits.{name[len(prefix) :].strip()}"
        elif lowered in spec.columns:
            key = lowered
        else:
            unknown.append(name)
            continue
        if key in keys:
            repeated.append(name)
        keys.append(key)
    missing = [column for column in spec.required if column not in keys]
    problems = []
    if missing:
        problems.append(f"missing required {_plural('column', len(missing))}: {', '.join(missing)}")
    if unknown:
        quoted = ", ".join(f"“{name}”" for name in unknown)
        problems.append(f"unknown {_plural('column', len(unknown))}: {quoted}")
    if repeated:
        quoted = ", ".join(f"“{name}”" for name in repeated)
        problems.append(f"{_plural('column', len(repeated))} given twice: {quoted}")
    if problems:
        expected = ", ".join(spec.columns)
        if spec.traits:
            expected += ", and traits.<name> (or trait:<name>) for custom traits"
        message = "; ".join(problems)
        raise ImportFileError(
            f"The header row does not fit a {kind} import: {message}. Expected columns: {expected}."
        )
    return Header(kind=kind, delimiter=delimiter, keys=tuple(keys))


@dataclass(frozen=True)
class Record:
    row: int
    values: dict[str, str]
    extra_cells: int = 0  # non-empty cells beyond the header's width


def iter_records(text: str, header: Header) -> Iterator[Record]:
    """Data rows as they come, without holding the file's rows in memory; blank rows skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=header.delimiter)
    width = len(header.keys)
    row = 1
    try:
        next(reader)
        for cells in reader:
            row += 1
            if not any(cell.strip() for cell in cells):
                continue
            values = {
                key: (cells[index].strip() if index < len(cells) else "")
                for index, key in enumerate(header.keys)
                if key is not None
            }
            extra = sum(1 for cell in cells[width:] if cell.strip())
            yield Record(row=row, values=values, extra_cells=extra)
    except csv.Error as exc:
        raise ImportFileError(f"Row {row + 1} cannot be read: {exc}.") from None


def count_records(text: str, header: Header) -> int:
    return sum(1 for _ in iter_records(text, header))


# --- one row -------------------------------------------------------------------------------

# A parsed row: column → Python value. A column that is absent or empty is missing from the
# dict, which the services read as "leave the stored value unchanged" (the convention CSM tools
# use for imports, so a partial file never blanks out data).
Clean = dict[str, Any]
Problem = tuple[str, str]  # (column, message)


# Each column's parser: the ingest API's own (customers.ingest.fields), so a value means the
# same whichever way it comes in. A cell is a string; an empty cell is never parsed.
Parser = Callable[[str, str], Any]
COLUMN_PARSERS: dict[str, dict[str, Parser]] = {
    ImportKind.ACCOUNTS: {
        "id": fields.external_id,
        "name": partial(fields.text, max_length=255),
        "domain": fields.domain,
        "plan": partial(fields.text, max_length=100),
        "currency": fields.currency,
        "owner_email": fields.email,
        "stage": partial(fields.choice, choices=LifecycleStage, what="lifecycle stage"),
        "renewal_date": fields.renewal_date,
    },
    ImportKind.CONTACTS: {
        "id": fields.external_id,
        "account": fields.external_id,
        "email": fields.email,
        "name": partial(fields.text, max_length=255),
        "role": partial(fields.text, max_length=120),
        "locale": fields.locale,
        "birthday": fields.birthday,
        "do_not_survey": fields.boolean,
    },
    ImportKind.REVENUE: {
        "id": fields.external_id,
        "account": fields.external_id,
        "effective_at": fields.moment,
        "mrr": fields.amount,
        "kind": partial(fields.choice, choices=RevenueKind, what="kind of revenue change"),
        "plan": partial(fields.text, max_length=100),
    },
}


def _require(values: dict[str, str], columns: Iterable[str], problems: list[Problem]) -> None:
    for column in columns:
        if not values.get(column):
            problems.append((column, "is required"))


def parse_row(kind: str, record: Record) -> tuple[Clean, list[Problem]]:
    """Everything that can be said about a row without the database."""
    values = record.values
    clean: Clean = {}
    problems: list[Problem] = []
    spec = spec_for(kind)
    _require(values, spec.required, problems)
    for column, parser in COLUMN_PARSERS[kind].items():
        value = values.get(column, "")
        if not value:
            continue
        try:
            clean[column] = parser(value, column)
        except ItemError as error:
            problems.append((column, error.reason))
    if spec.traits:
        traits = {key[7:]: value for key, value in values.items() if key.startswith("traits.")}
        traits = {key: value for key, value in traits.items() if value}
        if traits:
            clean["traits"] = traits
    if clean.get("kind") == RevenueKind.CANCELLED and clean.get("mrr", 0) != 0:
        problems.append(("mrr", "a cancellation sets MRR to 0"))
    if record.extra_cells:
        problems.append(
            (
                "",
                f"has {record.extra_cells} more filled {_plural('cell', record.extra_cells)} "
                "than the header has columns",
            )
        )
    # A problem in a column means that column is missing from ``clean``; duplicate and
    # reference checks look only at what parsed.
    return clean, problems


class DuplicateCheck:
    """Remembers each row's id (or, for revenue rows without one, the change itself) and names
    the earlier row when it comes again. The first occurrence is the one that is kept."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.seen: dict[tuple, int] = {}

    def check(self, row: int, clean: Clean) -> Problem | None:
        if clean.get("id"):
            key: tuple = ("id", clean["id"])
        elif self.kind == ImportKind.REVENUE and all(
            column in clean for column in ("account", "effective_at", "mrr")
        ):
            key = ("change", clean["account"], clean["effective_at"], clean["mrr"])
        else:
            return None
        first = self.seen.setdefault(key, row)
        if first == row:
            return None
        if key[0] == "id":
            return "id", f"“{clean['id']}” is already on row {first}; each id may appear once"
        return "effective_at", f"the same change (account, date and MRR) is already on row {first}"


# --- what needs the database ---------------------------------------------------------------


@dataclass(frozen=True)
class AccountRef:
    pk: int
    currency: str
    has_revenue: bool = False


@dataclass(frozen=True)
class RevenueRef:
    account_pk: int
    effective_at: dt.datetime
    mrr: Decimal


@dataclass
class References:
    """What the database knows about the ids in one chunk of rows, gathered set-based by the
    services so that checking a row is a dictionary look-up, never a query."""

    accounts: dict[str, AccountRef] = field(default_factory=dict)
    owners: dict[str, int] = field(default_factory=dict)  # email → user pk
    contacts: set[str] = field(default_factory=set)  # contact external ids that exist
    revenue_by_id: dict[str, RevenueRef] = field(default_factory=dict)
    revenue_keys: set[tuple[int, dt.datetime, Decimal]] = field(default_factory=set)
    rate_starts: dict[str, dt.date] = field(default_factory=dict)  # first rate per currency
    base_currency: str = "USD"


CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"


def check_references(kind: str, clean: Clean, refs: References) -> tuple[str, list[Problem]]:
    """The row's fate (create, update, or unchanged for revenue already recorded) and the
    problems only the database can reveal."""
    problems: list[Problem] = []
    action = CREATE
    if kind == ImportKind.ACCOUNTS:
        existing = refs.accounts.get(clean.get("id", ""))
        action = UPDATE if existing else CREATE
        if not existing and "name" not in clean:
            problems.append(("name", "is required for a new account"))
        email = clean.get("owner_email")
        if email and email not in refs.owners:
            problems.append(("owner_email", f"no active CSM or admin has the email “{email}”"))
        currency = clean.get("currency")
        if existing and currency and existing.has_revenue and currency != existing.currency:
            problems.append(
                (
                    "currency",
                    f"the account already has revenue history in {existing.currency}; "
                    "its currency cannot change",
                )
            )
        return action, problems
    account_id = clean.get("account")
    account = refs.accounts.get(account_id) if account_id else None
    if account_id and account is None:
        problems.append(("account", f"no account has the id “{account_id}”; import it first"))
    if kind == ImportKind.CONTACTS:
        action = UPDATE if clean.get("id") in refs.contacts else CREATE
        return action, problems
    # Revenue history is appended, never edited: a change already recorded is left alone.
    moment = clean.get("effective_at")
    mrr = clean.get("mrr")
    if account is None or moment is None or mrr is None:
        return action, problems
    recorded = refs.revenue_by_id.get(clean.get("id", ""))
    if recorded is not None:
        if recorded != RevenueRef(account.pk, moment, mrr):
            problems.append(
                (
                    "id",
                    f"a revenue change with the id “{clean['id']}” is already recorded with "
                    f"other values ({recorded.mrr} on {recorded.effective_at:%Y-%m-%d}); "
                    "an import does not edit history",
                )
            )
        action = UNCHANGED
    elif not clean.get("id") and (account.pk, moment, mrr) in refs.revenue_keys:
        action = UNCHANGED
    if account.currency != refs.base_currency:
        start = refs.rate_starts.get(account.currency)
        if start is None or start > moment.date():
            problems.append(
                (
                    "effective_at",
                    f"no exchange rate from {account.currency} to {refs.base_currency} on or "
                    f"before {moment:%Y-%m-%d}; add one in the admin first",
                )
            )
    return action, problems


# --- what the pages show -------------------------------------------------------------------


def merge_problems(found: list[Problem], more: list[Problem]) -> list[Problem]:
    """One message per column is enough: a later check does not repeat a column's trouble."""
    columns = {column for column, _ in found}
    return found + [problem for problem in more if problem[0] not in columns]


def row_error(row: int, column: str, message: str) -> dict[str, Any]:
    return {"row": row, "column": column, "error": message}


def file_error(message: str) -> dict[str, Any]:
    return {"row": None, "column": None, "error": message}


def file_warning(message: str) -> dict[str, Any]:
    return {"row": None, "column": None, "warning": message}


@dataclass(frozen=True)
class ErrorSummary:
    warnings: list[str]
    file_errors: list[str]
    row_errors: list[dict[str, Any]]
    invalid_rows: int
    valid_rows: int

    @property
    def blocking(self) -> bool:
        """Nothing can be imported: the file itself is wrong, or no row is valid."""
        return bool(self.file_errors) or self.valid_rows == 0


def summarize_errors(errors: list[dict[str, Any]], *, total_rows: int) -> ErrorSummary:
    warnings = [e["warning"] for e in errors if e.get("row") is None and "warning" in e]
    file_errors = [e["error"] for e in errors if e.get("row") is None and "error" in e]
    row_errors = [e for e in errors if e.get("row") is not None]
    invalid = len({e["row"] for e in row_errors})
    return ErrorSummary(
        warnings=warnings,
        file_errors=file_errors,
        row_errors=row_errors,
        invalid_rows=invalid,
        valid_rows=max(total_rows - invalid, 0),
    )


def error_rows(errors: list[dict[str, Any]]) -> set[int]:
    return {e["row"] for e in errors if e.get("row") is not None}


def preview_row(kind: str, row: int, action: str, clean: Clean) -> dict[str, Any]:
    """A JSON-safe copy of a normalized row. Missing columns stay ``None`` ("unchanged")."""
    shown: dict[str, Any] = {"row": row, "action": action}
    for column in spec_for(kind).columns:
        value = clean.get(column)
        if isinstance(value, dt.datetime):
            value = value.isoformat().replace("+00:00", "Z")
        elif isinstance(value, dt.date | Decimal):
            value = str(value)
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        shown[column] = value
    if spec_for(kind).traits:
        shown["traits"] = clean.get("traits") or None
    return shown


def preview_table(kind: str, preview: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Columns and cell values in a fixed order (JSON objects in PostgreSQL keep no key order)."""
    columns = ["row", "action", *spec_for(kind).columns]
    if spec_for(kind).traits:
        columns.append("traits")
    rows = []
    for item in preview:
        cells = []
        for column in columns:
            value = item.get(column)
            if isinstance(value, dict):
                value = "; ".join(f"{key}: {text}" for key, text in value.items())
            cells.append(value)
        rows.append(cells)
    return columns, rows
