"""Staff pages: the survey list, a survey's results, and follow-ups.

Every signed-in role reads; writing (tags, handling follow-ups) needs ``user.can_work``, so
viewers get 403. Filters live in the URL; htmx requests get the ``results`` partial back and
push the URL, and every link and form still works without JavaScript.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from accounts.decorators import worker_required
from core.http import safe_next
from core.spreadsheet import csv_safe
from customers.models import Account
from surveys import charts, metrics, selectors, services
from surveys.forms import FollowUpHandleForm, ResponseFilterForm, TagAddForm
from surveys.models import CLI_ITEMS, FollowUp, Response, Survey, SurveyKind, Tag
from surveys.texts import survey_texts

PAGE_SIZE = 25
# Refused input: a filter value (the other filters still apply) or a form without JavaScript.
BAD_INPUT_STATUS = 400
# htmx swaps 422 responses (see templates/surveys/_htmx_config.html) so form errors show inline.
FORM_ERROR_STATUS = 422


def _wants_partial(request: HttpRequest) -> bool:
    """htmx asked for a piece of the page (a history restore needs the whole page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


# --- survey list -----------------------------------------------------------------------------


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    rows = selectors.survey_index()
    return render(request, "surveys/index.html", {"rows": rows})


# --- results ---------------------------------------------------------------------------------


def _query_without(params, *names: str) -> str:
    """The current filters minus some (for "remove this filter" links and pagination)."""
    kept = [
        (key, value)
        for key, values in params.lists()
        if key not in names
        for value in values
        if value != ""
    ]
    return urlencode(kept)


def _comments_context(
    request: HttpRequest, survey: Survey, form: ResponseFilterForm, now: dt.datetime
) -> dict[str, Any]:
    """What the comments list needs: a page of answers and the links around it."""
    filters = form.filters()
    page = Paginator(
        selectors.survey_comments(survey=survey, filters=filters, now=now), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return {
        "survey": survey,
        "filters": filters,
        "page": page,
        "results_url": reverse("surveys:results", args=[survey.slug]),
        "current_url": request.get_full_path(),
        "query_without_page": _query_without(request.GET, "page"),
        "export_url": f"{reverse('surveys:results_export', args=[survey.slug])}?"
        f"{_query_without(request.GET, 'page')}",
        "can_work": request.user.can_work,
        "tag_form": TagAddForm(),
    }


def _results_context(request: HttpRequest, survey: Survey) -> tuple[dict[str, Any], int]:
    form = ResponseFilterForm(request.GET, survey=survey, plans=selectors.plans_in_use())
    status = 200 if form.is_valid() else BAD_INPUT_STATUS
    filters = form.filters()
    now = timezone.now()
    account = None
    if filters.account_id:
        account = Account.objects.filter(pk=filters.account_id).only("pk", "name").first()
    comparison, change_reason = None, ""
    if survey.kind in selectors.SCORED_KINDS:
        windows = form.comparison(filters, now)
        if isinstance(windows, str):
            change_reason = windows
        else:
            comparison = windows
    scores = selectors.survey_scores(survey=survey, filters=filters, now=now, comparison=comparison)
    summary, trend, change = scores.summary, scores.trend, scores.change
    criteria = getattr(summary.result, "criteria", None) or []
    labels = survey_texts(survey, "en").items if criteria else {}
    context = {
        **_comments_context(request, survey, form, now),
        # CSI criteria by the label respondents saw, not their storage key.
        "criteria_rows": [(labels.get(c.key) or c.key, c) for c in criteria],
        "form": form,
        "summary": summary,
        "trend": trend,
        "change": change,
        "change_reason": change_reason,
        "rate": selectors.survey_response_rate(survey=survey, filters=filters, now=now),
        "filter_account": account,
        "benchmark": metrics.BENCHMARKS.get(survey.kind, ""),
        "score_label": metrics.SCORE_LABELS[survey.kind],
        "score_unit": metrics.SCORE_UNITS.get(survey.kind, ""),
        "trend_chart": charts.trend_figure(survey.kind, trend),
        "distribution_chart": charts.distribution_figure(survey.kind, summary),
        "query_without_account": _query_without(request.GET, "account", "page"),
        "all_tags": Tag.objects.order_by("name").values_list("name", flat=True),
    }
    return context, status


@require_safe
def results(request: HttpRequest, slug: str) -> HttpResponse:
    survey = get_object_or_404(Survey, slug=slug)
    if _wants_partial(request) and request.htmx.target == "comments":
        # Paging through comments: the scores and charts above have not changed. A refused
        # filter was already reported above them; the valid ones apply, as on the page.
        form = ResponseFilterForm(request.GET, survey=survey, plans=selectors.plans_in_use())
        form.is_valid()
        context = _comments_context(request, survey, form, timezone.now())
        return render(request, "surveys/results.html#comments", context)
    context, status = _results_context(request, survey)
    template = "surveys/results.html"
    if _wants_partial(request):
        template += "#results"
    return render(request, template, context, status=status)


class _Echo:
    """csv.writer wants a file; this one hands each line straight back."""

    def write(self, value: str) -> str:
        return value


def _export_columns(survey: Survey) -> list[str]:
    columns = [
        "response_id",
        "answered_at",
        "updated_at",
        "account",
        "account_external_id",
        "plan",
        "stage",
        "contact",
        "contact_email",
        "language",
    ]
    if survey.kind == SurveyKind.CLI:
        columns += [*CLI_ITEMS, "cli"]
    elif survey.kind == SurveyKind.CSI:
        for key in survey.criteria:
            columns += [f"{key}_importance", f"{key}_satisfaction"]
        columns.append("csi")
    else:
        columns += ["score", "category"]
    return [*columns, "comment", "tags"]


def _export_rows(survey: Survey, responses: Iterable[Response]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(_export_columns(survey))
    for r in responses:
        row: list[Any] = [
            r.pk,
            r.created_at.astimezone(dt.UTC).isoformat(),
            r.updated_at.astimezone(dt.UTC).isoformat(),
            r.account.name,
            r.account.external_id,
            r.account.plan,
            r.account.stage,
            r.contact.name,
            r.contact.email,
            r.language,
        ]
        answers = r.answers or {}
        index = metrics.respondent_score(survey.kind, r.score, answers)
        if survey.kind == SurveyKind.CLI:
            row += [answers.get(item, "") for item in CLI_ITEMS]
            row.append("" if index is None else index)
        elif survey.kind == SurveyKind.CSI:
            for key in survey.criteria:
                pair = answers.get(key) or {}
                row += [pair.get("importance", ""), pair.get("satisfaction", "")]
            row.append("" if index is None else index)
        else:
            row += [r.score if r.score is not None else "", metrics.category(survey.kind, r.score)]
        row += [r.comment, "; ".join(tag.name for tag in r.tags.all())]
        yield writer.writerow([csv_safe(value) for value in row])


@require_safe
def results_export(request: HttpRequest, slug: str) -> HttpResponse:
    """The answers as filtered on the page (``show=all`` includes those without a comment),
    streamed in chunks so a big survey never sits in memory."""
    survey = get_object_or_404(Survey, slug=slug)
    form = ResponseFilterForm(request.GET, survey=survey, plans=selectors.plans_in_use())
    if not form.is_valid():
        lines = [f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()]
        return HttpResponse(
            "\n".join(lines), status=BAD_INPUT_STATUS, content_type="text/plain; charset=utf-8"
        )
    responses = selectors.responses_for_export(survey=survey, filters=form.filters())
    response = StreamingHttpResponse(
        _export_rows(survey, responses), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().astimezone(dt.UTC).strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="{survey.slug}-answers-{stamp}.csv"'
    return response


# --- tags ------------------------------------------------------------------------------------


def _tags_response(request: HttpRequest, response: Response, *, form=None, status=200):
    response = (
        Response.objects.select_related("survey").prefetch_related("tags").get(pk=response.pk)
    )
    context = {
        "r": response,
        "survey": response.survey,
        "can_work": True,
        "tag_form": form or TagAddForm(),
        "current_url": safe_next(request, reverse("surveys:results", args=[response.survey.slug])),
    }
    return render(request, "surveys/results.html#tags", context, status=status)


@require_POST
@worker_required
def response_tag_add(request: HttpRequest, pk: int) -> HttpResponse:
    response = get_object_or_404(Response.objects.select_related("survey"), pk=pk)
    fallback = reverse("surveys:results", args=[response.survey.slug])
    form = TagAddForm(request.POST)
    error = None
    if form.is_valid():
        try:
            services.response_tag_add(response=response, name=form.cleaned_data["name"])
        except ValidationError as exc:
            error = exc
            for field, messages_ in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, messages_)
    if request.htmx:
        if form.errors:
            return _tags_response(request, response, form=form, status=FORM_ERROR_STATUS)
        return _tags_response(request, response)
    if form.errors:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    elif error is None:
        messages.success(request, f"Tagged “{form.cleaned_data['name']}”.")
    return HttpResponseRedirect(safe_next(request, fallback))


@require_POST
@worker_required
def response_tag_remove(request: HttpRequest, pk: int, tag_id: int) -> HttpResponse:
    response = get_object_or_404(Response.objects.select_related("survey"), pk=pk)
    tag = get_object_or_404(Tag, pk=tag_id)
    services.response_tag_remove(response=response, tag=tag)
    if request.htmx:
        return _tags_response(request, response)
    messages.success(request, f"Removed the tag “{tag.name}”.")
    return HttpResponseRedirect(
        safe_next(request, reverse("surveys:results", args=[response.survey.slug]))
    )


# --- follow-ups --------------------------------------------------------------------------------

OWNER_CHOICES = [("me", "Mine"), ("all", "Everyone's"), ("none", "Nobody's (no owner)")]
STATUS_CHOICES = [("open", "Open"), ("handled", "Handled"), ("all", "All")]


def _follow_ups_context(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    default = "me" if selectors.follow_ups_default_owner(user=user) else "all"
    owner = request.GET.get("owner") or default
    if owner not in dict(OWNER_CHOICES):
        owner = default
    status = request.GET.get("status") or "open"
    if status not in dict(STATUS_CHOICES):
        status = "open"
    qs = selectors.follow_ups_list(
        owner=user if owner == "me" else None, status=status if status != "all" else ""
    )
    if owner == "none":
        qs = qs.filter(owner__isnull=True)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "page": page,
        "owner": owner,
        "status": status,
        "owner_choices": OWNER_CHOICES,
        "status_choices": STATUS_CHOICES,
        "can_work": user.can_work,
        "query_without_page": _query_without(request.GET, "page"),
        "current_url": request.get_full_path(),
    }


@require_safe
def follow_ups(request: HttpRequest) -> HttpResponse:
    context = _follow_ups_context(request)
    template = "surveys/follow_ups.html"
    if _wants_partial(request):
        template += "#list"
    return render(request, template, context)


def _follow_up_row(request, follow_up: FollowUp, *, form=None, status=200) -> HttpResponse:
    follow_up = selectors.follow_ups_list(status="").get(pk=follow_up.pk)
    context = {
        "f": follow_up,
        "can_work": True,
        "form": form,
        "current_url": safe_next(request, reverse("surveys:follow_ups")),
    }
    return render(request, "surveys/follow_ups.html#row", context, status=status)


@require_POST
@worker_required
def follow_up_handle(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark handled with a note. Without a note: the form again, with the error, and 4xx."""
    follow_up = get_object_or_404(FollowUp, pk=pk)
    form = FollowUpHandleForm(request.POST)
    if form.is_valid():
        try:
            services.follow_up_handle(
                follow_up=follow_up, user=request.user, note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            if "status" in exc.message_dict:
                # Someone else (or a double click) handled it first: show it as it now is.
                if request.htmx:
                    return _follow_up_row(request, follow_up)
                messages.warning(request, " ".join(exc.message_dict["status"]))
                return HttpResponseRedirect(safe_next(request, reverse("surveys:follow_ups")))
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
    if form.errors:
        if request.htmx:
            return _follow_up_row(request, follow_up, form=form, status=FORM_ERROR_STATUS)
        # Without JavaScript: the whole page, with the refused form on top.
        context = _follow_ups_context(request)
        context["error_row"] = selectors.follow_ups_list(status="").get(pk=follow_up.pk)
        context["error_form"] = form
        return render(request, "surveys/follow_ups.html", context, status=BAD_INPUT_STATUS)
    if request.htmx:
        return _follow_up_row(request, follow_up)
    messages.success(request, f"Marked the follow-up for {follow_up.account} handled.")
    return HttpResponseRedirect(safe_next(request, reverse("surveys:follow_ups")))
