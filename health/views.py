"""The account page's health section: score, band, trend, history and why it changed."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from customers.models import Account
from health.charts import health_figure
from health.models import HealthSnapshot, MeasureKind
from health.selectors import health_change, health_history

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


@require_GET
def account_panel(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=pk)
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
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, PANEL, context)
    context["section_template"] = PANEL
    return render(request, "customers/account_section.html", context)
