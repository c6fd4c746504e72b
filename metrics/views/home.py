"""The home page: the CSM's day."""

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from customers.models import Account
from health.forms import SnoozeForm
from health.selectors import (
    alerts_for_day,
    health_fell,
    renewals_ahead,
    work_item_dicts,
    work_items,
)
from metrics.selectors import home_figures

MY_DAY_ITEMS = 10
TASKS_AHEAD = dt.timedelta(days=7)


def home(request: HttpRequest) -> HttpResponse:
    """The CSM's day: open alerts, tasks and follow-ups due, accounts whose health fell this
    week, renewals ahead. A CSM sees their own book; admins and viewers, who own none, the
    team's (``?scope=`` switches)."""
    user = request.user
    scope = request.GET.get("scope") or ("mine" if user.is_csm else "team")
    scope = scope if scope in ("mine", "team") else "mine"
    owner = user if scope == "mine" else None
    work = work_items(owner=owner, due_until=timezone.localdate() + TASKS_AHEAD)
    alerts, alerts_total = alerts_for_day(owner=owner, limit=MY_DAY_ITEMS)
    renewals, renewals_total = renewals_ahead(owner=owner, limit=MY_DAY_ITEMS)
    accounts = Account.objects.visible_to(user)
    _, fell = health_fell(
        accounts=accounts if owner is None else accounts.filter(owner=owner), limit=MY_DAY_ITEMS
    )
    context = {
        "figures": home_figures(user=user),
        "scope": scope,
        "mine": scope == "mine",
        "work": work_item_dicts(work[:MY_DAY_ITEMS]),
        "work_total": work.count(),
        "alerts": alerts,
        "alerts_total": alerts_total,
        "fell": fell,
        "renewals": renewals,
        "renewals_total": renewals_total,
        "can_work": user.can_work,
        "snooze_choices": SnoozeForm.base_fields["days"].choices,
    }
    return render(request, "metrics/home.html", context)
