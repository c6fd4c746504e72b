"""Respondent links, mounted at /s/ outside the login wall (each view is login_not_required)."""

from django.urls import path

from surveys.views import public

app_name = "respond"

urlpatterns = [
    path("<str:token>/", public.answer, name="answer"),
    path("<str:token>/more/", public.comment, name="comment"),
    path("<str:token>/thanks/", public.thanks, name="thanks"),
    path("<str:token>/unsubscribe/", public.unsubscribe, name="unsubscribe"),
    path(
        "<str:token>/unsubscribe/one-click/",
        public.unsubscribe_one_click,
        name="unsubscribe_one_click",
    ),
]
