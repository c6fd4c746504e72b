"""The program dashboard at /loyalty/: members, points issued / redeemed / expired, the
outstanding liability in money, redemption and breakage rates, tiers, and the retention of
members against the other paying accounts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from loyalty.charts import points_by_month_figure, tier_figure
from loyalty.models import Redemption, RedemptionState
from loyalty.selectors_dashboard import program_dashboard


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    figures = program_dashboard()
    context = {
        "d": figures,
        "program": figures.program,
        "open_redemptions": Redemption.objects.filter(
            state__in=[RedemptionState.REQUESTED, RedemptionState.APPROVED]
        ).count(),
        "points_chart": points_by_month_figure(figures.months, figures.monthly),
        "tier_chart": tier_figure(figures.tiers),
        "retention": [
            ("Members", figures.members_retention),
            ("Other accounts", figures.others_retention),
        ],
    }
    return render(request, "loyalty/index.html", context)
