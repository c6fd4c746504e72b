from django.urls import path

from metrics import rfm_views, views

app_name = "metrics"

urlpatterns = [
    path("", views.index, name="index"),
    path("accounts/<int:pk>/rfm/", rfm_views.account_rfm, name="account_rfm"),
]
