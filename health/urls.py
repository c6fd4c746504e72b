from django.urls import path

from health import views

app_name = "health"

urlpatterns = [
    path("backtest/", views.backtest_page, name="backtest"),
    path("", views.dashboard, name="dashboard"),
    path("accounts/<int:pk>/", views.account_panel, name="account_panel"),
    path("accounts/<int:pk>/override/", views.account_override, name="account_override"),
    path("accounts/<int:pk>/sentiment/", views.account_sentiment, name="account_sentiment"),
    path("accounts/<int:pk>/alerts/", views.account_alerts_panel, name="account_alerts"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:pk>/snooze/", views.alert_snooze_view, name="alert_snooze"),
    path("alerts/<int:pk>/close/", views.alert_close_view, name="alert_close"),
    path("tasks/", views.tasks, name="tasks"),
    path("tasks/<int:pk>/done/", views.task_done_view, name="task_done"),
]
