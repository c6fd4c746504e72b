from django.urls import path

from metrics.views.overview import overview
from metrics.views.retention import retention
from metrics.views.revenue import movement_accounts_page, revenue

app_name = "metrics"

urlpatterns = [
    path("", overview, name="index"),
    path("revenue/", revenue, name="revenue"),
    path(
        "revenue/<str:month>/<str:kind>/accounts/",
        movement_accounts_page,
        name="movement_accounts",
    ),
    path("retention/", retention, name="retention"),
]
