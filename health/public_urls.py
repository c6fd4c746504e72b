"""The public pages behind links in playbook emails (no sign-in)."""

from django.urls import path

from health import views

urlpatterns = [
    path("<str:token>/", views.playbook_unsubscribe, name="playbook-unsubscribe"),
    path(
        "<str:token>/one-click/",
        views.playbook_unsubscribe_one_click,
        name="playbook-unsubscribe-one-click",
    ),
]
