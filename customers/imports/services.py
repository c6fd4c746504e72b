"""What a user does with a CSV import: upload a file, then confirm it. Each queues a task
(customers.tasks) once its transaction commits; the tasks run customers.imports.steps."""

from __future__ import annotations

import logging
import os
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from customers import tasks
from customers.imports import parsing
from customers.imports.steps import import_failure_message, import_job_fail
from customers.models import ImportJob, ImportKind, ImportStatus

_import_log = logging.getLogger("customers.imports")


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
        text, warnings = parsing.decode_upload(content_bytes)
        header = parsing.read_header(text, kind)
        total = parsing.count_records(text, header)
    except parsing.ImportFileError as exc:
        raise ValidationError({"file": str(exc)}) from None
    if total == 0:
        raise ValidationError({"file": "The file has a header row but no data rows."})
    job = ImportJob.objects.create(
        kind=kind,
        filename=_import_filename(filename),
        content=text,
        total_rows=total,
        errors=[parsing.file_warning(warning) for warning in warnings],
        created_by=user,
    )
    transaction.on_commit(partial(_import_enqueue, tasks.validate_import, job.pk), robust=True)
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
        summary = parsing.summarize_errors(job.errors, total_rows=job.total_rows)
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
        transaction.on_commit(partial(_import_enqueue, tasks.apply_import, job.pk), robust=True)
    return job


def _import_enqueue(task, job_id: int) -> None:
    if not task.app.conf.task_always_eager:
        task.delay(job_id)
        return
    # Embedded mode runs the task in this process. throw=False gives a transient error (SQLite
    # busy) one more try; if that fails too the job is marked failed rather than left "in
    # progress" with nobody working on it, and the request that queued it still answers.
    try:
        task.apply(args=(job_id,), throw=False)
    except Exception as exc:
        _import_log.exception("import %s: %s failed", job_id, task.name)
        cause = getattr(exc, "exc", None) or exc  # a Retry carries the error that caused it
        import_job_fail(job_id=job_id, error=import_failure_message(cause))


def _import_filename(filename: str) -> str:
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    return (name or "upload.csv")[:255]
