from django.urls import path

from metrics.views.overview import overview
from metrics.views.rfm import account_rfm

app_name = "metrics"

urlpatterns = [
    path("", overview, name="index"),
    path("accounts/<int:pk>/rfm/", account_rfm, name="account_rfm"),
]
