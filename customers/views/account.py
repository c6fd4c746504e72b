"""Account 360: one customer on one page.

The page itself renders only the header and the forms; every other section is its own URL,
fetched by htmx once the page has loaded and reachable as a plain page without JavaScript.
Writes (notes, stage changes) are refused to viewers and answer htmx with the fragment to swap.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from accounts.decorators import worker_required
from customers.charts import revenue_figure, usage_figure
from customers.forms import NoteForm, StageChangeForm
from customers.models import Account
from customers.sections import header_facts, section_response, sections
from customers.selectors import (
    account_contacts,
    account_get,
    account_revenue_series,
    account_traits,
    account_usage_series,
)
from customers.services import account_change_stage, note_create
from customers.timeline import timeline_for

PAGE = "customers/account.html"
TIMELINE_LIMIT = 50
CONTACTS_LIMIT = 100
# htmx event that makes the timeline section reload itself after a write.
TIMELINE_CHANGED = "timeline-changed"


def _page_context(request: HttpRequest, account: Account, **extra: Any) -> dict[str, Any]:
    can_work = request.user.can_work
    context = {
        "account": account,
        "traits": account_traits(account=account),
        "can_work": can_work,
        "base_currency": settings.TENURE_BASE_CURRENCY,
        "note_form": NoteForm(),
        "stage_form": StageChangeForm(initial={"stage": account.stage}),
        "sections": sections(),
        "header_facts": header_facts(account),
    }
    return context | extra


@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_get(user=request.user, account_id=pk)
    return render(request, PAGE, _page_context(request, account))


def _section(
    request: HttpRequest, account: Account, name: str, title: str, context: dict[str, Any]
) -> HttpResponse:
    return section_response(
        request, account=account, template=f"{PAGE}#{name}", title=title, context=context
    )


@require_GET
def account_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_get(user=request.user, account_id=pk)
    items = timeline_for(account, limit=TIMELINE_LIMIT)
    return _section(request, account, "timeline", "Timeline", {"items": items})


@require_GET
def account_contacts_section(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_get(user=request.user, account_id=pk)
    contacts, total = account_contacts(account=account, limit=CONTACTS_LIMIT)
    return _section(
        request, account, "contacts", "Contacts", {"contacts": contacts, "contacts_total": total}
    )


@require_GET
def account_revenue_chart(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_get(user=request.user, account_id=pk)
    series = account_revenue_series(account=account)
    context = {"chart": revenue_figure(series) if series["points"] else None, "charts": True}
    return _section(request, account, "revenue_chart", "Revenue", context)


@require_GET
def account_usage_chart(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_get(user=request.user, account_id=pk)
    series = account_usage_series(account=account)
    context = {
        "chart": usage_figure(series) if series["total"] else None,
        "charts": True,
        "usage_days": len(series["days"]),
    }
    return _section(request, account, "usage_chart", "Usage", context)


@require_POST
@worker_required
def account_note_create(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_get(user=request.user, account_id=pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            note_create(account=account, author=request.user, body=form.cleaned_data["body"])
        except ValidationError as error:
            form.add_error(None, error)
    if form.is_valid():
        if request.htmx:
            response = render(
                request,
                f"{PAGE}#note_form",
                {"account": account, "note_form": NoteForm(), "note_saved": True},
            )
            return trigger_client_event(response, TIMELINE_CHANGED)
        messages.success(request, "Note added.")
        return redirect("customers:account", pk=account.pk)
    if request.htmx:
        return render(
            request, f"{PAGE}#note_form", {"account": account, "note_form": form}, status=400
        )
    return render(request, PAGE, _page_context(request, account, note_form=form), status=400)


@require_POST
@worker_required
def account_stage_change(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_get(user=request.user, account_id=pk)
    form = StageChangeForm(request.POST)
    if form.is_valid():
        try:
            account = account_change_stage(
                account=account, to_stage=form.cleaned_data["stage"], actor=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
    if form.is_valid():
        if request.htmx:
            account = account_get(user=request.user, account_id=pk)  # owner joined again
            response = render(request, f"{PAGE}#header", _page_context(request, account))
            return trigger_client_event(response, TIMELINE_CHANGED)
        messages.success(request, f"Stage changed to {account.get_stage_display()}.")
        return redirect("customers:account", pk=account.pk)
    context = _page_context(request, account, stage_form=form)
    template = f"{PAGE}#header" if request.htmx else PAGE
    return render(request, template, context, status=400)
