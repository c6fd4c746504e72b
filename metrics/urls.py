from django.urls import path

from metrics.views.overview import overview
from metrics.views.retention import retention
from metrics.views.revenue import movement_accounts_page, revenue
from metrics.views.rfm import account_rfm, rfm_dashboard
from metrics.views.satisfaction import satisfaction

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
    path("satisfaction/", satisfaction, name="satisfaction"),
    path("rfm/", rfm_dashboard, name="rfm"),
    path("accounts/<int:pk>/rfm/", account_rfm, name="account_rfm"),
]
