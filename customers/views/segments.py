"""Saved segments: the list with live counts, the rule editor with its live count, and
deleting. Every signed-in role reads; only CSMs and admins change (accounts.decorators).

The editor works without JavaScript (its "Add rule" and "Remove" buttons submit the page, which
comes back with the row added or removed, unsaved); with htmx the same buttons, and changing a
rule's field or operator, fetch only the rule rows, and the count follows every change.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import worker_required
from customers.forms import (
    TRAIT_CHOICE,
    RuleRow,
    SegmentForm,
    rule_rows_errors,
    rule_rows_from_data,
    rule_rows_from_rules,
)
from customers.models import Segment
from customers.segments import MAX_RULES, SegmentRulesError, fields, match_clean, rules_clean
from customers.selectors import portfolio_plans, segment_count, segments_with_counts
from customers.services import segment_delete, segment_save

FORM = "customers/segment_form.html"


@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "customers/segment_list.html",
        {"summaries": segments_with_counts(user=request.user), "can_work": request.user.can_work},
    )


def _preview(request: HttpRequest, rows: list[RuleRow], match: Any) -> dict[str, Any]:
    """The live count for the rules on the page, or why there is none yet."""
    try:
        rules = rules_clean([row.as_rule() for row in rows], user=request.user)
        count = segment_count(user=request.user, rules=rules, match=match_clean(match))
    except SegmentRulesError as error:
        return {"preview_errors": error.messages}
    return {"preview_count": count}


def _form_context(request: HttpRequest, form: SegmentForm, rows: list[RuleRow], **extra) -> dict:
    return {
        "form": form,
        "rows": rows,
        "fields": _field_choices(),
        "plans": portfolio_plans(),
        "can_add": len(rows) < MAX_RULES,
        **extra,
    }


def _field_choices() -> list[tuple[str, str]]:
    return [(f.key, f.label) for f in fields()] + [(TRAIT_CHOICE, "Trait (custom field)")]


@worker_required
@require_http_methods(["GET", "POST"])
def segment_new(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@worker_required
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, get_object_or_404(Segment, pk=pk))


def _edit(request: HttpRequest, segment: Segment | None) -> HttpResponse:
    if request.method == "GET":
        initial = (
            {"name": segment.name, "description": segment.description, "match": segment.match}
            if segment
            else {}
        )
        rows = rule_rows_from_rules(segment.rules if segment else [])
        context = _form_context(request, SegmentForm(initial=initial), rows, segment=segment)
        context |= _preview(request, rows, initial.get("match", "all"))
        return render(request, FORM, context)

    rows = rule_rows_from_data(request.POST)
    if "add_rule" in request.POST or "remove_rule" in request.POST:
        # The page without JavaScript: show the rows changed, save nothing yet (and judge
        # nothing but the rules: the name may come after).
        form = SegmentForm(initial=request.POST.dict())
        context = _form_context(request, form, rows, segment=segment)
        return render(request, FORM, context | _preview(request, rows, request.POST.get("match")))
    form = SegmentForm(request.POST)
    rules_problems: list[str] = []
    if form.is_valid():
        try:
            saved = segment_save(
                segment=segment,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                rules=[row.as_rule() for row in rows],
                match=form.cleaned_data["match"],
                actor=request.user,
            )
        except SegmentRulesError as error:
            rules_problems = rule_rows_errors(rows, error)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                if field == "rules":
                    rules_problems.extend(errors)
                else:
                    form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Segment “{saved.name}” saved.")
            return redirect("customers:segments")
    else:
        try:
            rules_clean([row.as_rule() for row in rows], user=request.user)
        except SegmentRulesError as error:
            rules_problems = rule_rows_errors(rows, error)
    context = _form_context(request, form, rows, segment=segment, rules_problems=rules_problems)
    context |= _preview(request, rows, request.POST.get("match"))
    return render(request, FORM, context, status=422)


@require_GET
def segment_rules(request: HttpRequest) -> HttpResponse:
    """The rule rows again after a change of field or operator, or a row added or removed;
    the live count travels with them (out of band)."""
    rows = rule_rows_from_data(request.GET)
    context = _form_context(request, SegmentForm(), rows, oob_preview=True)
    context |= _preview(request, rows, request.GET.get("match"))
    return render(request, f"{FORM}#rules", context)


@require_GET
def segment_preview(request: HttpRequest) -> HttpResponse:
    """How many accounts the rules on the page match now, or what stops them being read."""
    context = _preview(request, rule_rows_from_data(request.GET), request.GET.get("match"))
    status = 400 if "preview_errors" in context else 200
    return render(request, f"{FORM}#preview", context, status=status)


@worker_required
@require_http_methods(["GET", "POST"])
def segment_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    if request.method == "POST":
        try:
            segment_delete(segment=segment)
        except ProtectedError as error:
            users = sorted(str(obj) for obj in error.protected_objects)
            context = {"segment": segment, "protected_by": users}
            return render(request, "customers/segment_delete.html", context, status=409)
        messages.success(request, f"Segment “{segment.name}” deleted.")
        return redirect("customers:segments")
    return render(request, "customers/segment_delete.html", {"segment": segment})
