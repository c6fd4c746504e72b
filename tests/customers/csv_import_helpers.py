"""Helpers shared by the CSV import tests (plain functions; fixtures live in the modules)."""

from __future__ import annotations

from customers.imports.services import import_job_confirm, import_job_create
from customers.imports.steps import import_job_apply, import_job_validate
from customers.models import Account, Contact, ImportJob, RevenueChange, StageChange


def csv_text(*rows: str) -> str:
    return "\r\n".join(rows) + "\r\n"


def checked_job(kind: str, *rows: str, user=None, filename: str = "upload.csv") -> ImportJob:
    """Upload and check a file, as the validate task would after the upload's commit."""
    job = import_job_create(
        kind=kind,
        filename=filename,
        content_bytes=csv_text(*rows).encode(),
        user=user,
    )
    return import_job_validate(job_id=job.pk)


def imported_job(kind: str, *rows: str, user=None, skip_invalid: bool = False) -> ImportJob:
    job = checked_job(kind, *rows, user=user)
    import_job_confirm(job_id=job.pk, skip_invalid=skip_invalid)
    return import_job_apply(job_id=job.pk)


def domain_counts() -> dict[str, int]:
    """Rows of every table an import may write, to prove what it did not write."""
    return {
        "accounts": Account.objects.count(),
        "contacts": Contact.objects.count(),
        "revenue": RevenueChange.objects.count(),
        "stage_changes": StageChange.objects.count(),
    }


def errors_by_row(job: ImportJob) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for error in job.errors:
        if error.get("row") is not None:
            found.setdefault(error["row"], set()).add(error["column"])
    return found
