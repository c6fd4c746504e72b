"""The CSV import's steps that workers run: check every row, then write a confirmed file.

Upload → check (a task that writes nothing but the job) → the user confirms → apply (a task,
in chunks). The rules for one row live in customers.imports.parsing; the steps gather what the
database knows about a chunk of rows set-based and write each chunk in its own transaction
together with the job's progress, so a killed worker resumes after the last committed chunk
and a replay finds every row already there (upserts by external id; revenue by id or by
account + date + MRR). Steps import no task: customers.imports.services → customers.tasks →
these steps, one way.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, Min, OuterRef
from django.utils import timezone

from core.iterables import batched
from customers.imports import parsing
from customers.ingest import parked
from customers.models import (
    Account,
    Contact,
    ExchangeRate,
    ImportJob,
    ImportKind,
    ImportStatus,
    RevenueChange,
    StageChange,
)
from customers.selectors import owners_by_email
from customers.services import RevenueChangeInput, records_upsert, revenue_changes_record

_import_log = logging.getLogger("customers.imports")

IMPORT_VALIDATE_CHUNK = 1000
IMPORT_APPLY_CHUNK = 500
IMPORT_RUNNING = (ImportStatus.VALIDATING, ImportStatus.IMPORTING)
IMPORT_SOURCE = "csv_import"  # StageChange.source for moves an import makes
IMPORT_CHUNK_ATTEMPTS = 3


def import_job_validate(*, job_id: int) -> ImportJob | None:
    """Check every row, store row-level errors and a preview, and wait for confirmation.

    Writes no customer data. Ends in PREVIEW when every row is good, INVALID otherwise; does
    nothing (and returns the job) unless the job is still being validated.
    """
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.status != ImportStatus.VALIDATING:
        return job
    warnings = [e for e in job.errors if e.get("row") is None and "warning" in e]
    try:
        header = parsing.read_header(job.content, job.kind)
        errors, preview, total = _import_check_rows(job, header)
    except parsing.ImportFileError as exc:
        errors, preview, total = [parsing.file_error(str(exc))], [], job.total_rows
    with transaction.atomic():
        job = _import_lock(job_id)
        if job is None or job.status != ImportStatus.VALIDATING:
            return job
        job.errors = warnings + errors
        job.preview = preview
        job.total_rows = total
        job.processed_rows = 0
        job.status = ImportStatus.INVALID if errors else ImportStatus.PREVIEW
        job.save(update_fields=["errors", "preview", "total_rows", "processed_rows", "status"])
    return job


def import_job_apply(*, job_id: int) -> ImportJob | None:
    """Write a confirmed import, chunk by chunk, skipping the rows the check flagged.

    Safe to run twice at once (each chunk locks the job row and starts from its committed
    progress) and safe to re-run after a crash (it resumes; what is already in is found and
    counted as unchanged). Rows that turn bad between the check and now (an account deleted
    meanwhile) are skipped and added to the job's errors.
    """
    job = ImportJob.objects.filter(pk=job_id).select_related("created_by").first()
    if job is None or job.status != ImportStatus.IMPORTING:
        return job
    header = parsing.read_header(job.content, job.kind)
    skip = parsing.error_rows(job.errors)
    rate_starts = _import_rate_starts() if job.kind == ImportKind.REVENUE else {}
    position = 0
    records = parsing.iter_records(job.content, header)
    for chunk in batched(records, IMPORT_APPLY_CHUNK):
        for attempt in range(1, IMPORT_CHUNK_ATTEMPTS + 1):
            try:
                still_importing = _import_apply_chunk(
                    job, chunk, position=position, skip=skip, rate_starts=rate_starts
                )
                break
            except IntegrityError:
                # Someone (the API, another import) created the same external id between our
                # read and our insert; the chunk rolled back whole, and the next attempt sees
                # that row as existing.
                if attempt == IMPORT_CHUNK_ATTEMPTS:
                    raise
                _import_log.info(
                    "import %s: chunk at %s raced a writer, retrying", job_id, position
                )
        if not still_importing:
            return ImportJob.objects.defer("content").filter(pk=job_id).first()
        position += len(chunk)
    with transaction.atomic():
        locked = _import_lock(job_id)
        if locked is not None and locked.status == ImportStatus.IMPORTING:
            locked.status = ImportStatus.DONE
            locked.finished_at = timezone.now()
            locked.total_rows = max(locked.total_rows, locked.processed_rows)
            locked.save(update_fields=["status", "finished_at", "total_rows"])
    return locked


def import_job_fail(*, job_id: int, error: str) -> ImportJob | None:
    """Mark a job that its task gave up on, so its page stops saying "in progress"."""
    with transaction.atomic():
        job = _import_lock(job_id)
        if job is None or job.status not in IMPORT_RUNNING:
            return job
        job.status = ImportStatus.FAILED
        job.finished_at = timezone.now()
        job.errors = [*job.errors, parsing.file_error(error)]
        job.save(update_fields=["status", "finished_at", "errors"])
    return job


def import_failure_message(exc: BaseException) -> str:
    return (
        f"The import stopped on an unexpected error ({type(exc).__name__}). Rows imported "
        "before it are kept; upload the file again to finish: rows already imported are found "
        "and left as they are."
    )


def _import_lock(job_id: int) -> ImportJob | None:
    return ImportJob.objects.select_for_update().defer("content").filter(pk=job_id).first()


def _import_check_rows(
    job: ImportJob, header: parsing.Header
) -> tuple[list[dict], list[dict], int]:
    kind = job.kind
    duplicates = parsing.DuplicateCheck(kind)
    rate_starts = _import_rate_starts() if kind == ImportKind.REVENUE else {}
    errors: list[dict] = []
    preview: list[dict] = []
    checked = 0
    records = parsing.iter_records(job.content, header)
    for chunk in batched(records, IMPORT_VALIDATE_CHUNK):
        parsed = [(record.row, *parsing.parse_row(kind, record)) for record in chunk]
        refs = _import_references(kind, [clean for _, clean, _ in parsed], rate_starts)
        for row, clean, problems in parsed:
            duplicate = duplicates.check(row, clean)
            if duplicate:
                problems.append(duplicate)
            action, more = parsing.check_references(kind, clean, refs)
            problems = parsing.merge_problems(problems, more)
            errors.extend(parsing.row_error(row, column, text) for column, text in problems)
            if not problems and len(preview) < parsing.PREVIEW_ROWS:
                preview.append(parsing.preview_row(kind, row, action, clean))
        checked += len(chunk)
        # Progress for the page's bar; outside any transaction so the poll sees it at once.
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.VALIDATING).update(
            processed_rows=checked
        )
        if len(errors) >= parsing.MAX_ERRORS:
            errors = errors[: parsing.MAX_ERRORS]
            errors.append(
                parsing.file_error(
                    f"More than {parsing.MAX_ERRORS:,} errors (listing stopped at row "
                    f"{chunk[-1].row}): this file needs fixing before it can be imported."
                )
            )
            return errors, preview, job.total_rows
    return errors, preview, checked


def _import_rate_starts() -> dict[str, dt.date]:
    rows = ExchangeRate.objects.values("currency").annotate(first=Min("valid_from"))
    return {row["currency"]: row["first"] for row in rows}


def _import_references(
    kind: str, cleans: list[dict], rate_starts: dict[str, dt.date]
) -> parsing.References:
    """What the database knows about one chunk's ids: a fixed handful of queries per chunk."""
    refs = parsing.References(rate_starts=rate_starts, base_currency=settings.TENURE_BASE_CURRENCY)
    if kind == ImportKind.ACCOUNTS:
        ids = {clean["id"] for clean in cleans if "id" in clean}
        has_revenue = Exists(RevenueChange.objects.filter(account=OuterRef("pk")))
        rows = (
            Account.objects.filter(external_id__in=ids)
            .annotate(has_revenue=has_revenue)
            .values_list("external_id", "pk", "currency", "has_revenue")
        )
        refs.accounts = {ext: parsing.AccountRef(pk, cur, has) for ext, pk, cur, has in rows}
        emails = {clean["owner_email"] for clean in cleans if "owner_email" in clean}
        refs.owners = owners_by_email(emails) if emails else {}
        return refs
    account_ids = {clean["account"] for clean in cleans if "account" in clean}
    rows = Account.objects.filter(external_id__in=account_ids).values_list(
        "external_id", "pk", "currency"
    )
    refs.accounts = {ext: parsing.AccountRef(pk, cur) for ext, pk, cur in rows}
    ids = {clean["id"] for clean in cleans if "id" in clean}
    if kind == ImportKind.CONTACTS:
        refs.contacts = set(
            Contact.objects.filter(external_id__in=ids).values_list("external_id", flat=True)
        )
        return refs
    recorded = RevenueChange.objects.filter(external_id__in=ids).values_list(
        "external_id", "account_id", "effective_at", "mrr"
    )
    refs.revenue_by_id = {
        ext: parsing.RevenueRef(account_id, moment, mrr)
        for ext, account_id, moment, mrr in recorded
    }
    moments = {clean["effective_at"] for clean in cleans if "effective_at" in clean}
    account_pks = [ref.pk for ref in refs.accounts.values()]
    if moments and account_pks:
        refs.revenue_keys = set(
            RevenueChange.objects.filter(
                account_id__in=account_pks, effective_at__in=moments
            ).values_list("account_id", "effective_at", "mrr")
        )
    return refs


def _import_apply_chunk(
    job: ImportJob,
    chunk: list[parsing.Record],
    *,
    position: int,
    skip: set[int],
    rate_starts: dict[str, dt.date],
) -> bool:
    """Apply one chunk and move the job's progress in the same transaction. Returns False
    when the job is no longer importing (deleted, failed), so the caller stops."""
    kind = job.kind
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().only(
            "pk", "status", "processed_rows", "created_rows", "updated_rows"
        )
        locked = locked.filter(pk=job.pk).first()
        if locked is None or locked.status != ImportStatus.IMPORTING:
            return False
        end = position + len(chunk)
        if locked.processed_rows >= end:
            return True  # another run of this job committed this chunk already
        todo = chunk[max(locked.processed_rows - position, 0) :]
        parsed = [
            (record.row, *parsing.parse_row(kind, record))
            for record in todo
            if record.row not in skip
        ]
        refs = _import_references(kind, [clean for _, clean, _ in parsed], rate_starts)
        ready: list[tuple[int, dict]] = []
        new_errors: list[dict] = []
        for row, clean, problems in parsed:
            action, more = parsing.check_references(kind, clean, refs)
            problems = parsing.merge_problems(problems, more)
            if problems:
                new_errors.extend(parsing.row_error(row, col, text) for col, text in problems)
            elif action != parsing.UNCHANGED:
                ready.append((row, clean))
        writer = {
            ImportKind.ACCOUNTS: _import_write_accounts,
            ImportKind.CONTACTS: _import_write_contacts,
            ImportKind.REVENUE: _import_write_revenue,
        }[kind]
        created, updated, refused = writer(ready, refs=refs, actor=job.created_by)
        new_errors.extend(refused)
        locked.processed_rows = end
        locked.created_rows += created
        locked.updated_rows += updated
        fields = ["processed_rows", "created_rows", "updated_rows"]
        if new_errors:
            stored = ImportJob.objects.values_list("errors", flat=True).get(pk=job.pk)
            locked.errors = [*stored, *new_errors]
            fields.append("errors")
        locked.save(update_fields=fields)
    return True


def _import_assign(instance, values: dict) -> bool:
    changed = False
    for attr, value in values.items():
        if getattr(instance, attr) != value:
            setattr(instance, attr, value)
            changed = True
    return changed


ACCOUNT_IMPORT_FIELDS = {
    "name": "name",
    "domain": "domain",
    "plan": "plan",
    "currency": "currency",
    "stage": "stage",
    "renewal_date": "renewal_date",
}


def _import_write_accounts(
    rows: list[tuple[int, dict]], *, refs: parsing.References, actor
) -> tuple[int, int, list[dict]]:
    now = timezone.now()
    ids = [clean["id"] for _, clean in rows]
    existing = {
        account.external_id: account
        for account in Account.objects.select_for_update()
        .filter(external_id__in=ids)
        .order_by("pk")
    }
    new: list[Account] = []
    changed: list[Account] = []
    moves: list[tuple[Account, str, str]] = []
    for _, clean in rows:
        values = {attr: clean[col] for col, attr in ACCOUNT_IMPORT_FIELDS.items() if col in clean}
        if "owner_email" in clean:
            values["owner_id"] = refs.owners[clean["owner_email"]]
        account = existing.get(clean["id"])
        if account is None:
            account = Account(
                external_id=clean["id"],
                currency=settings.TENURE_BASE_CURRENCY,
                traits=clean.get("traits", {}),
                created_at=now,
                updated_at=now,
            )
            _import_assign(account, values)
            new.append(account)
            if "stage" in clean:
                moves.append((account, "", clean["stage"]))
            continue
        before = account.stage
        dirty = _import_assign(account, values)
        traits = account.traits if isinstance(account.traits, dict) else {}
        merged = {**traits, **clean.get("traits", {})}
        if merged != account.traits:
            account.traits = merged
            dirty = True
        if account.stage != before:
            moves.append((account, before, account.stage))
        if dirty:
            account.updated_at = now
            changed.append(account)
    Account.objects.bulk_create(new)
    parked.wake(accounts=[account.external_id for account in new])
    records_upsert(
        model=Account,
        objects=changed,
        fields=[*ACCOUNT_IMPORT_FIELDS.values(), "owner_id", "traits"],
    )
    StageChange.objects.bulk_create(
        StageChange(
            account=account,
            from_stage=before,
            to_stage=after,
            changed_by=actor,
            source=IMPORT_SOURCE,
            changed_at=now,
        )
        for account, before, after in moves
    )
    return len(new), len(changed), []


CONTACT_IMPORT_FIELDS = ("email", "name", "role", "locale", "birthday", "do_not_survey")


def _import_write_contacts(
    rows: list[tuple[int, dict]], *, refs: parsing.References, actor
) -> tuple[int, int, list[dict]]:
    now = timezone.now()
    ids = [clean["id"] for _, clean in rows]
    existing = {
        contact.external_id: contact
        for contact in Contact.objects.select_for_update()
        .filter(external_id__in=ids)
        .order_by("pk")
    }
    new: list[Contact] = []
    changed: list[Contact] = []
    for _, clean in rows:
        values = {field: clean[field] for field in CONTACT_IMPORT_FIELDS if field in clean}
        values["account_id"] = refs.accounts[clean["account"]].pk
        contact = existing.get(clean["id"])
        if contact is None:
            contact = Contact(external_id=clean["id"], created_at=now, updated_at=now)
            _import_assign(contact, values)
            new.append(contact)
        elif _import_assign(contact, values):
            contact.updated_at = now
            changed.append(contact)
    Contact.objects.bulk_create(new)
    parked.wake(contacts=[contact.external_id for contact in new])
    records_upsert(model=Contact, objects=changed, fields=[*CONTACT_IMPORT_FIELDS, "account_id"])
    return len(new), len(changed), []


def _import_write_revenue(
    rows: list[tuple[int, dict]], *, refs: parsing.References, actor
) -> tuple[int, int, list[dict]]:
    """Append revenue changes through :func:`revenue_changes_record`, the rules every writer
    of revenue shares (kind inferred from the MRR before each change, a cancellation is 0,
    the base amount converted at entry, derived MRR refreshed), one batch per chunk."""
    changes = [
        RevenueChangeInput(
            account_id=refs.accounts[clean["account"]].pk,
            mrr=clean["mrr"],
            effective_at=clean["effective_at"],
            kind=clean.get("kind"),
            plan=clean.get("plan", ""),
            external_id=clean.get("id"),
        )
        for _, clean in rows
    ]
    results = revenue_changes_record(changes=changes) if changes else []
    errors = []
    for (row, _), result in zip(rows, results, strict=True):
        if isinstance(result, ValidationError):
            errors.extend(_import_refusals(row, result))
    created = sum(isinstance(result, RevenueChange) for result in results)
    return created, 0, errors


def _import_refusals(row: int, error: ValidationError) -> list[dict]:
    """A service's refusal as row errors, under the CSV column it is about where there is one."""
    columns = parsing.SPECS[ImportKind.REVENUE].columns
    found = []
    for field, messages in error.message_dict.items():
        column = field if field in columns else "effective_at" if field == "currency" else ""
        found.extend(parsing.row_error(row, column, message) for message in messages)
    return found
