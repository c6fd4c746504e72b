from django.urls import path

from metrics.views.overview import overview
from metrics.views.rfm import account_rfm, rfm_dashboard

app_name = "metrics"

urlpatterns = [
    path("", overview, name="index"),
    path("rfm/", rfm_dashboard, name="rfm"),
    path("accounts/<int:pk>/rfm/", account_rfm, name="account_rfm"),
]
