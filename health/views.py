"""Health pages: the account page's health and alerts sections (score, band, trend, history,
why it changed; an override and the CSM's sentiment; snoozing and closing alerts), the alerts
and task lists, the health dashboard, and the backtest page, which shows whether the score
foresaw who churned."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import worker_required
from core.http import safe_next
from customers.models import Account, Contact
from customers.sections import section_response
from customers.selectors import account_get
from health.backtest import backtest
from health.charts import backtest_figure, band_stack_figure, health_figure
from health.dashboard import (
    DEFAULT_PERIOD,
    FELL_LISTED,
    NOT_SCORED,
    Today,
    band_history,
    dashboard_today,
)
from health.dashboard import PERIODS as DASHBOARD_PERIODS
from health.forms import (
    AlertCloseForm,
    AlertFilterForm,
    BacktestForm,
    DashboardPeriodForm,
    OverrideForm,
    SentimentForm,
    SnoozeForm,
)
from health.models import Alert, CsmSentiment, EmailOptOut, MeasureKind, Task
from health.playbooks import contact_opt_out, task_complete, unsubscribe_contact_id
from health.selectors import (
    account_alerts,
    alert_list,
    change_since,
    health_fell,
    health_history,
    work_item_dicts,
    work_items,
)
from health.services import (
    alert_close,
    alert_snooze,
    csm_sentiment_set,
    health_override_create,
)

PANEL = "health/_panel.html"
BACKTEST = "health/backtest.html"
TREND_DAYS = (7, 30)
LABELS = dict(MeasureKind.choices)


def _panel(request: HttpRequest, account: Account, *, status: int = 200, **extra) -> HttpResponse:
    history = health_history(account_id=account.pk)
    latest = history[-1] if history else None
    trends = [t for t in (change_since(history, days=d) for d in TREND_DAYS) if t]
    change = trends[0] if trends and trends[0]["days"] == TREND_DAYS[0] else None
    for move in change["measures"] if change else []:
        move["label"] = LABELS.get(move["kind"], move["kind"])
    scored = [s for s in history if s.score is not None]
    profile = latest.profile if latest is not None else None
    context = {
        "latest": latest,
        "trends": trends,
        "change": change,
        "override": latest.components.get("override") if latest else None,
        "chart": health_figure(
            scored,
            red_max=profile.red_max if profile else 50,
            yellow_max=profile.yellow_max if profile else 75,
        )
        if len(scored) > 1
        else None,
        "charts": True,
        "can_work": request.user.can_work,
        "override_form": OverrideForm(auto_id="override_%s"),
        "sentiment": CsmSentiment.objects.filter(account=account).first(),
        "sentiment_form": SentimentForm(auto_id="sentiment_%s"),
    } | extra
    return section_response(
        request, account=account, template=PANEL, title="Health", context=context, status=status
    )


@require_GET
def account_panel(request: HttpRequest, pk: int) -> HttpResponse:
    return _panel(request, account_get(user=request.user, account_id=pk))


def _change(
    request: HttpRequest,
    pk: int,
    *,
    form: forms.Form,
    name: str,
    save: Callable[[Account, dict], object],
    done: str,
) -> HttpResponse:
    """Save a panel form: the section again (htmx) or the account page (a plain POST); a
    refused form comes back in place with its errors."""
    account = account_get(user=request.user, account_id=pk)
    if form.is_valid():
        try:
            save(account, form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
    if not form.is_valid():
        status = 422 if request.htmx else 400
        return _panel(
            request, account, status=status, **{f"{name}_form": form, f"{name}_open": True}
        )
    if request.htmx:
        return _panel(request, account, **{f"{name}_saved": True})
    messages.success(request, done)
    return redirect("customers:account", pk=account.pk)


@require_POST
@worker_required
def account_override(request: HttpRequest, pk: int) -> HttpResponse:
    """A CSM's override: the score and band until it expires, with the reason on record."""
    return _change(
        request,
        pk,
        form=OverrideForm(request.POST, auto_id="override_%s"),
        name="override",
        save=lambda account, data: health_override_create(
            account=account,
            score=data["score"],
            reason=data["reason"],
            expires_at=timezone.now() + dt.timedelta(days=data["days"]),
            user=request.user,
        ),
        done="Health score overridden.",
    )


@require_POST
@worker_required
def account_sentiment(request: HttpRequest, pk: int) -> HttpResponse:
    """The CSM's own call on the account (poor, fair, good): one of the score's measures."""
    return _change(
        request,
        pk,
        form=SentimentForm(request.POST, auto_id="sentiment_%s"),
        name="sentiment",
        save=lambda account, data: csm_sentiment_set(
            account=account, value=data["value"], note=data["note"], user=request.user
        ),
        done="Sentiment saved.",
    )


# --- alerts ------------------------------------------------------------------------------------

SNOOZE_CHOICES = SnoozeForm.base_fields["days"].choices
ALERTS_PER_PAGE = 50


def _alert_context(request: HttpRequest) -> dict:
    return {"can_work": request.user.can_work, "snooze_choices": SNOOZE_CHOICES}


@require_GET
def account_alerts_panel(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_get(user=request.user, account_id=pk)
    return section_response(
        request,
        account=account,
        template="health/_account_alerts.html",
        title="Alerts",
        context={"alerts": account_alerts(account_id=account.pk)} | _alert_context(request),
    )


def _alert_answer(
    request: HttpRequest, alert: Alert, *, error: str = "", done: str = ""
) -> HttpResponse:
    """The alert's row again (htmx swaps it in place, and the timeline reloads), or back to
    the page the plain form was posted from."""
    if request.htmx:
        context = {
            "alert": alert,
            "error": error,
            "done": done,
            "next_url": request.POST.get("next", ""),
        } | _alert_context(request)
        context["show_account"] = request.POST.get("list") == "1"
        response = render(request, "health/_alert.html", context, status=422 if error else 200)
        response["HX-Trigger"] = "timeline-changed"
        return response
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect(safe_next(request, reverse("customers:account", args=[alert.account_id])))


def _visible_alert(request: HttpRequest, alert_id: int) -> Alert:
    account_ids = Account.objects.visible_to(request.user).values("pk")
    return get_object_or_404(
        Alert.objects.select_related("account"), pk=alert_id, account_id__in=account_ids
    )


@require_POST
@worker_required
def alert_snooze_view(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _visible_alert(request, pk)
    form = SnoozeForm(request.POST)
    if not form.is_valid():
        return _alert_answer(request, alert, error="Choose how long to snooze for.")
    until = timezone.now() + dt.timedelta(days=form.cleaned_data["days"])
    try:
        alert = alert_snooze(
            alert_id=alert.pk, until=until, user=request.user, note=form.cleaned_data["note"]
        )
    except ValidationError as error:
        return _alert_answer(request, alert, error=" ".join(error.messages))
    return _alert_answer(request, alert, done="Snoozed.")


@require_POST
@worker_required
def alert_close_view(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _visible_alert(request, pk)
    form = AlertCloseForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        alert = alert_close(alert_id=alert.pk, user=request.user, note=note)
    except ValidationError as error:
        return _alert_answer(request, alert, error=" ".join(error.messages))
    return _alert_answer(request, alert, done="Closed.")


@require_GET
def alerts(request: HttpRequest) -> HttpResponse:
    """Everyone's or one's own alerts, filtered by status, signal and severity in the URL."""
    filters = AlertFilterForm(request.GET or None)
    data = filters.cleaned_data if filters.is_valid() else {}
    mine = data.get("owner", "me") != "all"
    rows = alert_list(
        owner=request.user if mine else None,
        status=data.get("status") or "live",
        kind=data.get("kind", ""),
        severity=data.get("severity", ""),
    )
    page = Paginator(rows, ALERTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filters": filters if request.GET else AlertFilterForm(initial={"owner": "me"}),
        "page_obj": page,
        "query": query.urlencode(),
        "show_account": True,
    } | _alert_context(request)
    template = "health/alerts.html#list" if request.htmx else "health/alerts.html"
    return render(request, template, context)


# --- the contact's unsubscribe page (public, behind the signed link in every email) ---------


@login_not_required
@never_cache
def playbook_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks, the POST of the button unsubscribes: mail scanners follow links, and a GET
    must never change anything."""
    contact_id = unsubscribe_contact_id(token)
    contact = Contact.objects.filter(pk=contact_id).first() if contact_id else None
    language = (contact.locale if contact else "") or settings.LANGUAGE_CODE
    done = contact is not None and EmailOptOut.objects.filter(contact=contact).exists()
    if contact is not None and request.method == "POST":
        contact_opt_out(contact_id=contact.pk)
        done = True
    with translation.override(language):
        return render(
            request,
            "health/public/unsubscribe.html",
            {
                "known": contact is not None,
                "done": done,
                "language": language,
                "email": contact.email if contact else "",
            },
            status=200 if contact is not None else 404,
        )


@csrf_exempt  # RFC 8058 one-click: the mail provider POSTs; the signed token is the secret.
@login_not_required
@never_cache
@require_POST
def playbook_unsubscribe_one_click(request: HttpRequest, token: str) -> HttpResponse:
    contact_id = unsubscribe_contact_id(token)
    if contact_id is None or not Contact.objects.filter(pk=contact_id).exists():
        return HttpResponse("Unknown link.", status=404, content_type="text/plain; charset=utf-8")
    contact_opt_out(contact_id=contact_id)
    return HttpResponse("Unsubscribed.", content_type="text/plain; charset=utf-8")


# --- tasks -----------------------------------------------------------------------------------

TASKS_PER_PAGE = 50


@require_GET
def tasks(request: HttpRequest) -> HttpResponse:
    """Playbook tasks and survey follow-ups in one list: mine (a CSM's default) or everyone's,
    open or done, soonest first."""
    owner = request.GET.get("owner") or ("me" if request.user.is_csm else "all")
    status = "done" if request.GET.get("status") == "done" else "open"
    mine = owner != "all"
    rows = work_items(owner=request.user if mine else None, done=status == "done")
    page = Paginator(rows, TASKS_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = work_item_dicts(page.object_list)
    return render(
        request,
        "health/tasks.html",
        {
            "page_obj": page,
            "mine": mine,
            "owner": "me" if mine else "all",
            "status": status,
            "can_work": request.user.can_work,
        },
    )


@require_POST
@worker_required
def task_done_view(request: HttpRequest, pk: int) -> HttpResponse:
    visible = Account.objects.visible_to(request.user).values("pk")
    task = get_object_or_404(Task.objects.select_related("account"), pk=pk, account_id__in=visible)
    error = ""
    try:
        task_complete(task_id=task.pk, user=request.user)
    except ValidationError as refused:
        error = " ".join(refused.messages)
    if request.htmx:
        item = {
            "source": "task",
            "pk": task.pk,
            "account_id": task.account_id,
            "account_name": task.account.name,
            "title": task.title,
            "due": task.due_on,
            "detail": "",
            "done": True,
            "overdue": False,
        }
        response = render(
            request,
            "health/_work_item.html",
            {"item": item, "can_work": True, "error": error},
            status=422 if error else 200,
        )
        response["HX-Trigger"] = "timeline-changed"
        return response
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "Task done.")
    return redirect(safe_next(request, reverse("health:tasks")))


@require_GET
def backtest_page(request: HttpRequest) -> HttpResponse:
    """The backtest for the days and period in the query string (defaults when absent): the
    whole page, or only its results for htmx. A bad value answers 400 with its message."""
    form = BacktestForm(request.GET, today=timezone.localdate())
    context: dict = {"form": form}
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        result = backtest(
            days_before=data["days"], period_start=data["start"], period_end=data["end"]
        )
        context |= {
            # The values used, defaults included, so the form shows what the figures are for.
            "form": BacktestForm(initial=data, today=form.today),
            "result": result,
            "chart": backtest_figure(result.bands) if result.accounts else None,
        }
    else:
        status = 400
        context["errors"] = form.error_messages()
    partial = request.htmx and not request.htmx.history_restore_request
    template = f"{BACKTEST}#results" if partial else BACKTEST
    return render(request, template, context, status=status)


# --- the health dashboard ---------------------------------------------------------------------


def _portfolio_link(**params: str) -> str:
    """The portfolio filtered to what a figure counts: everyone's book (a CSM's portfolio
    opens on their own), so the list matches the figure."""
    return f"{reverse('customers:portfolio')}?{urlencode({'owner': 'all', **params})}"


def _band_rows(today: Today) -> list[dict]:
    rows = []
    for figure in today.bands:
        rows.append(
            {
                "figure": figure,
                "label": "Not scored yet" if figure.band == NOT_SCORED else figure.band.title(),
                "accounts_url": _portfolio_link(health=figure.band),
                # Paying accounts of the band, largest first: exactly the MRR the row sums.
                "mrr_url": _portfolio_link(health=figure.band, mrr_min="0.01", sort="-mrr"),
            }
        )
    return rows


def _history_context(days: int, *, user) -> dict:
    history = band_history(user=user, days=days)
    return {
        "history": history,
        "accounts_chart": band_stack_figure(
            history.days, history.accounts, unit="accounts", hover="%{y:,.0f} accounts"
        ),
        "mrr_chart": band_stack_figure(
            history.days,
            history.mrr,
            unit=f"MRR ({history.currency})",
            hover=f"%{{y:,.2f}} {history.currency}",
        ),
    }


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Accounts and MRR per band today and over a period (``?days=``), at-risk MRR and the
    accounts whose band fell this week. htmx asks only for the period's charts."""
    period = DashboardPeriodForm(request.GET)
    status = 200
    context: dict = {"periods": DASHBOARD_PERIODS, "days": DEFAULT_PERIOD}
    if period.is_valid():
        context["days"] = period.cleaned_data["days"] or DEFAULT_PERIOD
        context |= _history_context(context["days"], user=request.user)
    else:
        status = 400
        context["errors"] = period.errors["days"]
    partial = request.htmx and not request.htmx.history_restore_request
    if partial:
        return render(request, "health/dashboard.html#history", context, status=status)
    today = dashboard_today(user=request.user)
    fell_count, fell = health_fell(
        accounts=Account.objects.visible_to(request.user), by="mrr", limit=FELL_LISTED
    )
    context |= {
        "today": today,
        "bands": _band_rows(today),
        "at_risk_url": _portfolio_link(health="red", mrr_min="0.01", sort="-mrr"),
        "watch_url": _portfolio_link(health="yellow", mrr_min="0.01", sort="-mrr"),
        "fell_count": fell_count,
        "fell": fell,
    }
    return render(request, "health/dashboard.html", context, status=status)
