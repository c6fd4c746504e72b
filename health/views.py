"""The account page's health section: score, band, trend, history and why it changed."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from customers.models import Account
from health.charts import health_figure
from health.forms import OverrideForm, SentimentForm
from health.models import CsmSentiment, HealthSnapshot, MeasureKind
from health.selectors import health_change, health_history
from health.services import csm_sentiment_set, health_override_create

PANEL = "health/_panel.html"


def _trend(latest: HealthSnapshot | None, history: list[HealthSnapshot], days: int) -> dict | None:
    """The score's move since the last snapshot at least ``days`` days older than today's."""
    if latest is None or latest.score is None:
        return None
    cutoff = latest.day - dt.timedelta(days=days)
    earlier = [s for s in history if s.day <= cutoff and s.score is not None]
    if not earlier:
        return None
    by = latest.score - earlier[-1].score
    arrow = "↑" if by > 0 else "↓" if by < 0 else "→"
    return {
        "days": days,
        "by": by,
        "arrow": arrow,
        "direction": "up" if by > 0 else "down" if by < 0 else "flat",
    }


def _panel_context(request: HttpRequest, account: Account, **extra) -> dict:
    history = health_history(account_id=account.pk, days=120)
    latest = history[-1] if history else None
    labels = dict(MeasureKind.choices)
    change = None
    if latest is not None:
        change = health_change(account_id=account.pk, day=latest.day, days_back=7)
        if change:
            for move in change["measures"]:
                move["label"] = labels.get(move["kind"], move["kind"])
    profile = latest.profile if latest is not None else None
    scored = [s for s in history if s.score is not None]
    context = {
        "account": account,
        "latest": latest,
        "trends": [t for t in (_trend(latest, history, 7), _trend(latest, history, 30)) if t],
        "change": change,
        "override": (latest.components.get("override") if latest else None),
        "chart": health_figure(
            scored,
            red_max=profile.red_max if profile else 50,
            yellow_max=profile.yellow_max if profile else 75,
        )
        if len(scored) > 1
        else None,
        "today": timezone.localdate(),
        "charts": True,
        "section_title": "Health",
        "can_work": request.user.can_work,
        "override_form": OverrideForm(auto_id="override_%s"),
        "sentiment": CsmSentiment.objects.filter(account=account).first(),
        "sentiment_form": SentimentForm(auto_id="sentiment_%s"),
    }
    return context | extra


def _render_panel(request: HttpRequest, context: dict, *, status: int = 200) -> HttpResponse:
    """The fragment for htmx; a whole page around it for a browser following the link."""
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, PANEL, context, status=status)
    context["section_template"] = PANEL
    return render(request, "customers/account_section.html", context, status=status)


@require_GET
def account_panel(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=pk)
    return _render_panel(request, _panel_context(request, account))


@require_POST
def account_override(request: HttpRequest, pk: int) -> HttpResponse:
    """A CSM's override: the score and band until it expires, with the reason on record."""
    if not request.user.can_work:
        raise PermissionDenied("Viewers can read health but not override it.")
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=pk)
    form = OverrideForm(request.POST, auto_id="override_%s")
    if form.is_valid():
        try:
            health_override_create(
                account=account,
                score=form.cleaned_data["score"],
                reason=form.cleaned_data["reason"],
                expires_at=timezone.now() + dt.timedelta(days=form.cleaned_data["days"]),
                user=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
    if not form.is_valid():
        context = _panel_context(request, account, override_form=form, override_open=True)
        return _render_panel(request, context, status=422 if request.htmx else 400)
    if request.htmx:
        return _render_panel(request, _panel_context(request, account, override_saved=True))
    messages.success(request, "Health score overridden.")
    return redirect("customers:account", pk=account.pk)


@require_POST
def account_sentiment(request: HttpRequest, pk: int) -> HttpResponse:
    """The CSM's own call on the account (poor, fair, good): one of the score's measures."""
    if not request.user.can_work:
        raise PermissionDenied("Viewers can read health but not change it.")
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=pk)
    form = SentimentForm(request.POST, auto_id="sentiment_%s")
    if not form.is_valid():
        context = _panel_context(request, account, sentiment_form=form)
        return _render_panel(request, context, status=422 if request.htmx else 400)
    csm_sentiment_set(
        account=account,
        value=form.cleaned_data["value"],
        note=form.cleaned_data["note"],
        user=request.user,
    )
    if request.htmx:
        return _render_panel(request, _panel_context(request, account, sentiment_saved=True))
    messages.success(request, "Sentiment saved.")
    return redirect("customers:account", pk=account.pk)
