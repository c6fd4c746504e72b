from django.urls import path

from health import views

app_name = "health"

urlpatterns = [
    path("backtest/", views.backtest_page, name="backtest"),
    path("accounts/<int:pk>/", views.account_panel, name="account_panel"),
    path("accounts/<int:pk>/override/", views.account_override, name="account_override"),
    path("accounts/<int:pk>/sentiment/", views.account_sentiment, name="account_sentiment"),
]
