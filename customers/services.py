"""Writes for customers. Keyword-only ``<noun>_<verb>`` functions; views, the API, CSV import
and the demo seeder all come through here so the invariants hold whoever writes."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, NullIf
from django.db.models.lookups import Exact
from django.utils import timezone

from customers.models import (
    MRR_LIMIT,
    Account,
    ApiKey,
    ExchangeRate,
    LifecycleStage,
    Note,
    RevenueChange,
    RevenueKind,
    StageChange,
)

CENT = Decimal("0.01")
NOTE_MAX_LENGTH = 10_000


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


# currency -> [(valid_from, per_base)] sorted by date; see exchange_rates_load.
RateTable = dict[str, list[tuple[dt.date, Decimal]]]
_RATE_MAX = Decimal("Infinity")


def exchange_rates_load(*, currencies: Iterable[str]) -> RateTable:
    """Every rate of the given currencies in one query, for converting a batch of amounts."""
    table: RateTable = {}
    rows = (
        ExchangeRate.objects.filter(currency__in={c.upper() for c in currencies})
        .order_by("currency", "valid_from")
        .values_list("currency", "valid_from", "per_base")
    )
    for currency, valid_from, per_base in rows:
        table.setdefault(currency, []).append((valid_from, per_base))
    return table


def currency_to_base(
    *, amount: Decimal, currency: str, on: dt.date, rates: RateTable | None = None
) -> Decimal:
    """Convert ``amount`` into the base currency with the rate in force on ``on``.

    A missing rate is an error, not a silent 1:1, because a wrong MRR is worse than a refused row.
    ``rates`` (from :func:`exchange_rates_load`) spares a query per amount in batches.
    """
    currency = currency.upper()
    base = settings.TENURE_BASE_CURRENCY
    if currency == base:
        return money(amount)
    if rates is None:
        rate = (
            ExchangeRate.objects.filter(currency=currency, valid_from__lte=on)
            .order_by("-valid_from")
            .values_list("per_base", flat=True)
            .first()
        )
    else:
        table = rates.get(currency, [])
        index = bisect_right(table, (on, _RATE_MAX))
        rate = table[index - 1][1] if index else None
    if rate is None:
        raise ValidationError(
            {"currency": f"No exchange rate from {currency} to {base} on or before {on}."}
        )
    return money(Decimal(amount) / rate)


@transaction.atomic
def account_change_stage(
    *, account: Account, to_stage: str, actor=None, source: str = "user", at=None
) -> Account:
    """Move an account to another lifecycle stage and record who moved it."""
    if to_stage not in LifecycleStage.values:
        raise ValidationError({"stage": f"Unknown lifecycle stage {to_stage!r}."})
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.stage == to_stage:
        return account
    StageChange.objects.create(
        account=account,
        from_stage=account.stage,
        to_stage=to_stage,
        changed_by=actor,
        source=source,
        changed_at=at or timezone.now(),
    )
    account.stage = to_stage
    account.save(update_fields=["stage", "updated_at"])
    return account


def accounts_refresh_revenue(*, accounts=None, now: dt.datetime | None = None) -> int:
    """Re-derive MRR, plan, first payment and churn from the revenue history, set-based.

    The one place these derived columns are computed (never typed twice): used after every
    recorded change, and hourly by a task so future-dated changes take effect on their date.
    """
    now = now or timezone.now()
    effective = RevenueChange.objects.filter(account=OuterRef("pk"), effective_at__lte=now)
    latest = effective.order_by("-effective_at", "-id")
    first_paid = (
        effective.filter(mrr__gt=0).order_by("effective_at", "id").values("effective_at")[:1]
    )
    queryset = accounts if accounts is not None else Account.objects.all()
    latest_mrr = Subquery(latest.values("mrr")[:1])
    return queryset.update(
        mrr=Coalesce(latest_mrr, Value(Decimal("0"))),
        mrr_base=Coalesce(Subquery(latest.values("mrr_base")[:1]), Value(Decimal("0"))),
        plan=Coalesce(NullIf(Subquery(latest.values("plan")[:1]), Value("")), F("plan")),
        first_paid_at=Subquery(first_paid),
        churned_at=Case(
            When(
                Q(Exists(effective.filter(mrr__gt=0))) & Q(Exact(latest_mrr, Decimal("0"))),
                then=Subquery(latest.values("effective_at")[:1]),
            ),
            default=None,
        ),
        updated_at=now,
    )


@dataclass(frozen=True)
class RevenueChangeInput:
    """One dated MRR change to record, in the account's currency."""

    account_id: int
    mrr: Decimal
    effective_at: dt.datetime
    kind: str | None = None
    plan: str = ""
    external_id: str | None = None


def revenue_change_record(
    *,
    account: Account,
    mrr: Decimal,
    effective_at: dt.datetime,
    kind: str | None = None,
    plan: str = "",
    external_id: str | None = None,
) -> RevenueChange:
    """Record a dated MRR change in the account's currency.

    ``kind`` is inferred from the previous MRR when not given (0 → paid is a start or a
    reactivation, paid → 0 a cancellation), so importers cannot contradict the numbers.
    The rules live in :func:`revenue_changes_record`; this is its batch of one.
    """
    change = RevenueChangeInput(
        account_id=account.pk,
        mrr=mrr,
        effective_at=effective_at,
        kind=kind,
        plan=plan,
        external_id=external_id,
    )
    (result,) = revenue_changes_record(changes=[change])
    if isinstance(result, ValidationError):
        raise result
    return result


@transaction.atomic
def revenue_changes_record(
    *, changes: Sequence[RevenueChangeInput]
) -> list[RevenueChange | ValidationError]:
    """Record many dated MRR changes by one set of rules, in a fixed number of queries.

    Returns, in input order, the created change or the ValidationError that refused it: a
    refused change writes nothing and the others still land. Within an account the batch is
    applied in date order, so each change's kind is inferred from the MRR in force just before
    it, whichever order the caller sent them in. Derived MRR is refreshed once at the end.
    """
    results: list[RevenueChange | ValidationError | None] = [None] * len(changes)
    valid: list[tuple[int, RevenueChangeInput, Decimal]] = []
    for index, change in enumerate(changes):
        if timezone.is_naive(change.effective_at):
            results[index] = ValidationError({"effective_at": "Timestamps must carry a timezone."})
            continue
        # Bounded before rounding: quantizing 1e30 to cents overflows Decimal's precision
        # (and 999999999999.995 rounds up to the limit).
        raw = Decimal(change.mrr)
        mrr = money(raw) if raw.copy_abs() < MRR_LIMIT else raw
        if mrr < 0:
            results[index] = ValidationError({"mrr": "MRR cannot be negative."})
        elif mrr >= MRR_LIMIT:
            results[index] = ValidationError({"mrr": f"MRR must be below {MRR_LIMIT:,}."})
        elif change.kind is not None and change.kind not in RevenueKind.values:
            results[index] = ValidationError(
                {"kind": f"Unknown revenue change kind {change.kind!r}."}
            )
        else:
            valid.append((index, change, mrr))
    account_ids = sorted({change.account_id for _, change, _ in valid})
    # Lock the accounts in one order so concurrent batches queue instead of deadlocking.
    currency_of = dict(
        Account.objects.select_for_update()
        .filter(pk__in=account_ids)
        .order_by("pk")
        .values_list("pk", "currency")
    )
    history: dict[int, list[tuple[dt.datetime, int, Decimal]]] = {}
    recorded = (
        RevenueChange.objects.filter(account_id__in=account_ids)
        .order_by("effective_at", "id")
        .values_list("account_id", "effective_at", "id", "mrr")
    )
    for account_id, effective_at, pk, mrr in recorded:
        history.setdefault(account_id, []).append((effective_at, pk, mrr))
    rates = exchange_rates_load(currencies=set(currency_of.values()))
    sequence = 1 + max((pk for rows in history.values() for _, pk, _ in rows), default=0)
    created: list[tuple[int, RevenueChange]] = []
    for index, change, mrr in sorted(valid, key=lambda v: (v[1].account_id, v[1].effective_at)):
        currency = currency_of.get(change.account_id)
        if currency is None:
            results[index] = ValidationError({"account": "Unknown account."})
            continue
        timeline = history.setdefault(change.account_id, [])
        position = bisect_right(timeline, (change.effective_at, sequence))
        previous = RevenueChange(mrr=timeline[position - 1][2]) if position else None
        kind = change.kind or _infer_kind(previous=previous, account=None, mrr=mrr)
        try:
            if kind == RevenueKind.CANCELLED and mrr != 0:
                raise ValidationError({"mrr": "A cancellation sets MRR to 0."})
            mrr_base = currency_to_base(
                amount=mrr, currency=currency, on=change.effective_at.date(), rates=rates
            )
        except ValidationError as error:
            results[index] = error
            continue
        timeline.insert(position, (change.effective_at, sequence, mrr))
        sequence += 1
        row = RevenueChange(
            account_id=change.account_id,
            external_id=change.external_id or None,
            kind=kind,
            effective_at=change.effective_at,
            mrr=mrr,
            currency=currency,
            mrr_base=mrr_base,
            plan=change.plan,
        )
        created.append((index, row))
        results[index] = row
    if created:
        RevenueChange.objects.bulk_create([row for _, row in created])
        touched = {row.account_id for _, row in created}
        accounts_refresh_revenue(accounts=Account.objects.filter(pk__in=touched))
    return results  # type: ignore[return-value]


def _infer_kind(*, previous: RevenueChange | None, account: Account, mrr: Decimal) -> str:
    if mrr == 0:
        return RevenueKind.CANCELLED
    if previous is None:
        return RevenueKind.STARTED
    if previous.mrr == 0:
        return RevenueKind.REACTIVATED
    return RevenueKind.CHANGED


def note_create(*, account: Account, author, body: str) -> Note:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "A note cannot be empty."})
    if len(body) > NOTE_MAX_LENGTH:
        raise ValidationError({"body": f"A note is at most {NOTE_MAX_LENGTH} characters."})
    return Note.objects.create(account=account, author=author, body=body)


# --- API keys ------------------------------------------------------------------------------
# A key is shown once, when created; only its SHA-256 is stored, so a stolen database does not
# hand out working keys.

API_KEY_PREFIX = "tk_"
API_KEY_TOUCH_EVERY = dt.timedelta(minutes=1)


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(*, name: str, created_by=None) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is never stored or shown again."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the key a name that says who uses it."})
    if len(name) > 100:
        raise ValidationError({"name": "A key's name is at most 100 characters."})
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        name=name,
        prefix=key[: len(API_KEY_PREFIX) + 7],
        key_hash=api_key_hash(key),
        created_by=created_by,
    )
    return api_key, key


def api_key_revoke(*, api_key: ApiKey, at: dt.datetime | None = None) -> ApiKey:
    """Stop a key from working, at once and for good; revoking twice keeps the first date."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=at or timezone.now()
    )
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def api_key_authenticate(*, key: str) -> ApiKey | None:
    """The active key behind ``key``, or None. Records when it was last used, at most once a
    minute per key, so busy ingest traffic does not turn into a write per request."""
    if not key or len(key) > 200:
        return None
    api_key = ApiKey.objects.filter(key_hash=api_key_hash(key), revoked_at__isnull=True).first()
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or api_key.last_used_at <= now - API_KEY_TOUCH_EVERY:
        ApiKey.objects.filter(pk=api_key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - API_KEY_TOUCH_EVERY)
        ).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


# --- CSV import ----------------------------------------------------------------------------
# Upload → check (a task that writes nothing but the job) → the user confirms → apply (a task,
# in chunks). The rules for one row live in customers.csv_import; this section gathers what the
# database knows about a chunk of rows set-based and writes each chunk in its own transaction
# together with the job's progress, so a killed worker resumes after the last committed chunk
# and a replay finds every row already there (upserts by external id; revenue by id or by
# account + date + MRR).

import logging  # noqa: E402
import os  # noqa: E402
from functools import partial  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import IntegrityError  # noqa: E402
from django.db.models import Min  # noqa: E402
from django.db.models.functions import Lower  # noqa: E402

from accounts.roles import Role  # noqa: E402
from customers import csv_import  # noqa: E402
from customers.models import Contact, ImportJob, ImportKind, ImportStatus  # noqa: E402

_import_log = logging.getLogger("customers.csv_import")

IMPORT_VALIDATE_CHUNK = 1000
IMPORT_APPLY_CHUNK = 500
IMPORT_RUNNING = (ImportStatus.VALIDATING, ImportStatus.IMPORTING)
IMPORT_SOURCE = "csv_import"  # StageChange.source for moves an import makes
IMPORT_CHUNK_ATTEMPTS = 3


def import_job_create(*, kind: str, filename: str, content_bytes: bytes, user) -> ImportJob:
    """Store an upload and queue its check.

    A file that cannot be imported at all (too large, not text, a wrong header, no rows) is
    refused with a ValidationError naming ``file`` (or ``kind``) and leaves nothing behind.
    The text goes into the database, not a web server's disk, so any worker can read it.
    """
    if kind not in ImportKind.values:
        raise ValidationError(
            {"kind": f"Unknown kind of import {kind!r}; choose accounts, contacts or revenue."}
        )
    try:
        text, warnings = csv_import.decode_upload(content_bytes)
        header = csv_import.read_header(text, kind)
        total = csv_import.count_records(text, header)
    except csv_import.ImportFileError as exc:
        raise ValidationError({"file": str(exc)}) from None
    if total == 0:
        raise ValidationError({"file": "The file has a header row but no data rows."})
    job = ImportJob.objects.create(
        kind=kind,
        filename=_import_filename(filename),
        content=text,
        total_rows=total,
        errors=[csv_import.file_warning(warning) for warning in warnings],
        created_by=user,
    )
    transaction.on_commit(partial(_import_enqueue, "validate_import", job.pk), robust=True)
    return job


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
        header = csv_import.read_header(job.content, job.kind)
        errors, preview, total = _import_check_rows(job, header)
    except csv_import.ImportFileError as exc:
        errors, preview, total = [csv_import.file_error(str(exc))], [], job.total_rows
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


def import_job_confirm(*, job_id: int, skip_invalid: bool = False) -> ImportJob:
    """The user's go-ahead. Rows with errors block the import unless the user explicitly
    chose to skip them (the "skip N rows with errors" checkbox); a second click is harmless."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().defer("content").get(pk=job_id)
        if job.status in (ImportStatus.IMPORTING, ImportStatus.DONE):
            return job
        if job.status not in (ImportStatus.PREVIEW, ImportStatus.INVALID):
            raise ValidationError(
                {
                    "status": f"This import is “{job.get_status_display()}”; only a checked "
                    "file waiting for confirmation can be imported."
                }
            )
        summary = csv_import.summarize_errors(job.errors, total_rows=job.total_rows)
        if summary.file_errors:
            raise ValidationError(
                {"file": "This file cannot be imported: " + " ".join(summary.file_errors)}
            )
        if summary.valid_rows == 0:
            raise ValidationError(
                {"file": "No row of this file is valid; fix it and upload it again."}
            )
        if summary.invalid_rows and not skip_invalid:
            n, valid = summary.invalid_rows, summary.valid_rows
            rows = "row has" if n == 1 else "rows have"
            raise ValidationError(
                {
                    "skip_invalid": f"{n} {rows} errors. Tick “Skip {n} rows with errors” to "
                    f"import the other {valid}, or fix the file and upload it again."
                }
            )
        job.status = ImportStatus.IMPORTING
        job.confirmed_at = timezone.now()
        job.processed_rows = job.created_rows = job.updated_rows = 0
        job.save(
            update_fields=[
                "status",
                "confirmed_at",
                "processed_rows",
                "created_rows",
                "updated_rows",
            ]
        )
        transaction.on_commit(partial(_import_enqueue, "apply_import", job.pk), robust=True)
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
    header = csv_import.read_header(job.content, job.kind)
    skip = csv_import.error_rows(job.errors)
    rate_starts = _import_rate_starts() if job.kind == ImportKind.REVENUE else {}
    position = 0
    records = csv_import.iter_records(job.content, header)
    for chunk in csv_import.chunks(records, IMPORT_APPLY_CHUNK):
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
        job.errors = [*job.errors, csv_import.file_error(error)]
        job.save(update_fields=["status", "finished_at", "errors"])
    return job


def _import_enqueue(task_name: str, job_id: int) -> None:
    from customers import tasks  # tasks import this module

    task = getattr(tasks, task_name)
    if not task.app.conf.task_always_eager:
        task.delay(job_id)
        return
    # Embedded mode runs the task in this process. throw=False gives a transient error (SQLite
    # busy) one more try; if that fails too the job is marked failed rather than left "in
    # progress" with nobody working on it, and the request that queued it still answers.
    try:
        task.apply(args=(job_id,), throw=False)
    except Exception as exc:
        _import_log.exception("import %s: %s failed", job_id, task_name)
        cause = getattr(exc, "exc", None) or exc  # a Retry carries the error that caused it
        import_job_fail(job_id=job_id, error=import_failure_message(cause))


def import_failure_message(exc: BaseException) -> str:
    return (
        f"The import stopped on an unexpected error ({type(exc).__name__}). Rows imported "
        "before it are kept; upload the file again to finish: rows already imported are found "
        "and left as they are."
    )


def _import_lock(job_id: int) -> ImportJob | None:
    return ImportJob.objects.select_for_update().defer("content").filter(pk=job_id).first()


def _import_filename(filename: str) -> str:
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    return (name or "upload.csv")[:255]


def _import_check_rows(
    job: ImportJob, header: csv_import.Header
) -> tuple[list[dict], list[dict], int]:
    kind = job.kind
    duplicates = csv_import.DuplicateCheck(kind)
    rate_starts = _import_rate_starts() if kind == ImportKind.REVENUE else {}
    errors: list[dict] = []
    preview: list[dict] = []
    checked = 0
    records = csv_import.iter_records(job.content, header)
    for chunk in csv_import.chunks(records, IMPORT_VALIDATE_CHUNK):
        parsed = [(record.row, *csv_import.parse_row(kind, record)) for record in chunk]
        refs = _import_references(kind, [clean for _, clean, _ in parsed], rate_starts)
        for row, clean, problems in parsed:
            duplicate = duplicates.check(row, clean)
            if duplicate:
                problems.append(duplicate)
            action, more = csv_import.check_references(kind, clean, refs)
            problems = csv_import.merge_problems(problems, more)
            errors.extend(csv_import.row_error(row, column, text) for column, text in problems)
            if not problems and len(preview) < csv_import.PREVIEW_ROWS:
                preview.append(csv_import.preview_row(kind, row, action, clean))
        checked += len(chunk)
        # Progress for the page's bar; outside any transaction so the poll sees it at once.
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.VALIDATING).update(
            processed_rows=checked
        )
        if len(errors) >= csv_import.MAX_ERRORS:
            errors = errors[: csv_import.MAX_ERRORS]
            errors.append(
                csv_import.file_error(
                    f"More than {csv_import.MAX_ERRORS:,} errors (listing stopped at row "
                    f"{chunk[-1].row}): this file needs fixing before it can be imported."
                )
            )
            return errors, preview, job.total_rows
    return errors, preview, checked


def _import_rate_starts() -> dict[str, dt.date]:
    rows = ExchangeRate.objects.values("currency").annotate(first=Min("valid_from"))
    return {row["currency"]: row["first"] for row in rows}


def _import_owners(emails: set[str]) -> dict[str, int]:
    """Active CSMs and admins by lower-case email: the people an account can belong to."""
    users = (
        get_user_model()
        .objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails, is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[Role.CSM, Role.ADMIN]))
        .values_list("email_lower", "pk")
        .distinct()
    )
    return dict(users)


def _import_references(
    kind: str, cleans: list[dict], rate_starts: dict[str, dt.date]
) -> csv_import.References:
    """What the database knows about one chunk's ids: a fixed handful of queries per chunk."""
    refs = csv_import.References(
        rate_starts=rate_starts, base_currency=settings.TENURE_BASE_CURRENCY
    )
    if kind == ImportKind.ACCOUNTS:
        ids = {clean["id"] for clean in cleans if "id" in clean}
        has_revenue = Exists(RevenueChange.objects.filter(account=OuterRef("pk")))
        rows = (
            Account.objects.filter(external_id__in=ids)
            .annotate(has_revenue=has_revenue)
            .values_list("external_id", "pk", "currency", "has_revenue")
        )
        refs.accounts = {ext: csv_import.AccountRef(pk, cur, has) for ext, pk, cur, has in rows}
        emails = {clean["owner_email"] for clean in cleans if "owner_email" in clean}
        refs.owners = _import_owners(emails) if emails else {}
        return refs
    account_ids = {clean["account"] for clean in cleans if "account" in clean}
    rows = Account.objects.filter(external_id__in=account_ids).values_list(
        "external_id", "pk", "currency"
    )
    refs.accounts = {ext: csv_import.AccountRef(pk, cur) for ext, pk, cur in rows}
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
        ext: csv_import.RevenueRef(account_id, moment, mrr)
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
    chunk: list[csv_import.Record],
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
            (record.row, *csv_import.parse_row(kind, record))
            for record in todo
            if record.row not in skip
        ]
        refs = _import_references(kind, [clean for _, clean, _ in parsed], rate_starts)
        ready: list[tuple[int, dict]] = []
        new_errors: list[dict] = []
        for row, clean, problems in parsed:
            action, more = csv_import.check_references(kind, clean, refs)
            problems = csv_import.merge_problems(problems, more)
            if problems:
                new_errors.extend(csv_import.row_error(row, col, text) for col, text in problems)
            elif action != csv_import.UNCHANGED:
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
    rows: list[tuple[int, dict]], *, refs: csv_import.References, actor
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
    rows: list[tuple[int, dict]], *, refs: csv_import.References, actor
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
    records_upsert(model=Contact, objects=changed, fields=[*CONTACT_IMPORT_FIELDS, "account_id"])
    return len(new), len(changed), []


def records_upsert(*, model, objects: list, fields: Sequence[str]) -> None:
    """Insert or update rows by external id in one INSERT … ON CONFLICT (external_id) DO
    UPDATE of ``fields`` (and ``updated_at`` where the model has it); sets pk on every object.
    The API and the CSV import both write this way (``bulk_update`` builds a CASE per field
    per row and took ten times as long)."""
    if objects:
        stamped = any(f.name == "updated_at" for f in model._meta.concrete_fields)
        model.objects.bulk_create(
            objects,
            update_conflicts=True,
            unique_fields=["external_id"],
            update_fields=[*fields, *(["updated_at"] if stamped else [])],
        )


def _import_write_revenue(
    rows: list[tuple[int, dict]], *, refs: csv_import.References, actor
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
    columns = csv_import.SPECS[ImportKind.REVENUE].columns
    found = []
    for field, messages in error.message_dict.items():
        column = field if field in columns else "effective_at" if field == "currency" else ""
        found.extend(csv_import.row_error(row, column, message) for message in messages)
    return found
