"""The account page's health section (score, band, trend, history and why it changed, and the
two things a CSM changes there: an override, their sentiment) and the backtest page, which
shows whether the score foresaw who churned."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import worker_required
from customers.models import Account
from customers.sections import section_response
from customers.selectors import account_get
from health.backtest import backtest
from health.charts import backtest_figure, health_figure
from health.forms import BacktestForm, OverrideForm, SentimentForm
from health.models import CsmSentiment, MeasureKind
from health.selectors import change_since, health_history
from health.services import csm_sentiment_set, health_override_create

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
