"""CSV import pages: upload, a job page with preview and row errors, confirmation, progress.

The work happens in tasks (``validate_import``, ``apply_import``); these views only store the
upload, show the job and record the user's confirmation. While a job is being checked or
imported its page polls the progress URL with htmx every second; the fragment it gets back
stops the polling by no longer asking for it. Importing is for CSMs and admins: every view
here refuses anyone without the right to create imports (viewers) with a 403.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.imports import parsing
from customers.imports.services import import_job_confirm, import_job_create
from customers.models import ImportJob, ImportKind, ImportStatus

PAGE_NEW = "customers/import_new.html"
PAGE_JOB = "customers/import_job.html"
IMPORT_PERMISSION = "customers.add_importjob"
RECENT_IMPORTS = 20
ERRORS_SHOWN = 500  # the rest are counted; a file with more needs fixing, not reading
RUNNING = (ImportStatus.VALIDATING, ImportStatus.IMPORTING)
AWAITING = (ImportStatus.PREVIEW, ImportStatus.INVALID)


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label="The file holds", choices=ImportKind.choices)
    file = forms.FileField(
        label="CSV file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
        help_text=f"UTF-8 CSV, up to {parsing.MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
    )


class ImportConfirmForm(forms.Form):
    skip_invalid = forms.BooleanField(required=False)


def _require_importer(request: HttpRequest) -> None:
    if not request.user.has_perm(IMPORT_PERMISSION):
        raise PermissionDenied("Only CSMs and admins can import data.")


def _recent_imports():
    return ImportJob.objects.select_related("created_by").defer("content", "errors", "preview")[
        :RECENT_IMPORTS
    ]


@require_http_methods(["GET", "POST"])
def import_new(request: HttpRequest) -> HttpResponse:
    """The upload form, with the blank templates and the recent imports."""
    _require_importer(request)
    status = 200
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            # One byte past the limit is enough for the service to say "too large".
            content = upload.read(parsing.MAX_UPLOAD_BYTES + 1)
            try:
                job = import_job_create(
                    kind=form.cleaned_data["kind"],
                    filename=upload.name,
                    content_bytes=content,
                    user=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect("customers:import_detail", pk=job.pk)
        status = 400
    else:
        kind = request.GET.get("kind")
        form = ImportUploadForm(initial={"kind": kind if kind in ImportKind.values else None})
    templates = [
        {
            "kind": value,
            "label": label,
            "spec": parsing.SPECS[value],
        }
        for value, label in ImportKind.choices
    ]
    context = {"form": form, "templates": templates, "recent": _recent_imports()}
    return render(request, PAGE_NEW, context, status=status)


@require_GET
def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    """A blank file with the header row for ``kind``."""
    _require_importer(request)
    if kind not in ImportKind.values:
        raise Http404("No such kind of import.")
    response = HttpResponse(
        parsing.template_header(kind) + "\r\n", content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="tenure-{kind}-template.csv"'
    return response


def _job(pk: int) -> ImportJob:
    return get_object_or_404(ImportJob.objects.select_related("created_by").defer("content"), pk=pk)


def _job_context(job: ImportJob, **extra: Any) -> dict[str, Any]:
    summary = parsing.summarize_errors(job.errors, total_rows=job.total_rows)
    columns, rows = parsing.preview_table(job.kind, job.preview)
    total = job.total_rows
    processed = min(job.processed_rows, total)
    skipped = summary.invalid_rows
    context = {
        "job": job,
        "summary": summary,
        "running": job.status in RUNNING,
        "awaiting": job.status in AWAITING,
        "can_confirm": job.status in AWAITING and not summary.blocking,
        "percent": processed * 100 // total if total else 0,
        "processed": processed,
        "preview_columns": columns,
        "preview_rows": rows,
        "errors_shown": summary.row_errors[:ERRORS_SHOWN],
        "errors_hidden": max(len(summary.row_errors) - ERRORS_SHOWN, 0),
        "unchanged": max(processed - job.created_rows - job.updated_rows - skipped, 0),
        "skipped": skipped,
        "statuses": ImportStatus,
    }
    return context | extra


def _render_job(request: HttpRequest, job: ImportJob, *, status: int = 200, **extra: Any):
    partial = request.htmx and not request.htmx.history_restore_request
    template = f"{PAGE_JOB}#job" if partial else PAGE_JOB
    response = render(request, template, _job_context(job, **extra), status=status)
    return response


@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_importer(request)
    return _render_job(request, _job(pk))


@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """What the job page polls: the job's fragment for htmx, the whole page otherwise."""
    _require_importer(request)
    if not request.htmx:
        return redirect("customers:import_detail", pk=pk)
    return _render_job(request, _job(pk))


@require_POST
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    _require_importer(request)
    job = _job(pk)
    form = ImportConfirmForm(request.POST)
    form.is_valid()  # a lone optional checkbox: always valid
    try:
        import_job_confirm(job_id=job.pk, skip_invalid=form.cleaned_data["skip_invalid"])
    except ValidationError as exc:
        messages = [message for field in exc.message_dict.values() for message in field]
        status = 409 if "status" in exc.message_dict else 400
        return _render_job(request, _job(pk), status=status, confirm_errors=messages)
    return redirect("customers:import_detail", pk=job.pk)
