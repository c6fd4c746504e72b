from django.urls import path

from loyalty import views, views_dashboard, views_public

app_name = "loyalty"

urlpatterns = [
    path("", views_dashboard.dashboard, name="index"),
    path("redemptions/", views.redemptions, name="redemptions"),
    path(
        "redemptions/<int:pk>/<str:action>/",
        views.redemption_action,
        name="redemption_action",
    ),
    path("accounts/<int:pk>/", views.account_panel, name="account_panel"),
    path("accounts/<int:pk>/award/", views.account_award, name="account_award"),
    path("accounts/<int:pk>/redeem/", views.account_redeem, name="account_redeem"),
    path("accounts/<int:pk>/link/", views.account_link, name="account_link"),
    # The customer's page, outside the login wall (its views are login_not_required).
    path("l/<str:token>/", views_public.page, name="public"),
]
