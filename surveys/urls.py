from django.urls import path

from surveys.views import staff

app_name = "surveys"

urlpatterns = [
    path("", staff.index, name="index"),
    # Before "<slug>/": these words are not survey slugs.
    path("follow-ups/", staff.follow_ups, name="follow_ups"),
    path("follow-ups/<int:pk>/handle/", staff.follow_up_handle, name="follow_up_handle"),
    path("responses/<int:pk>/tags/", staff.response_tag_add, name="response_tag_add"),
    path(
        "responses/<int:pk>/tags/<int:tag_id>/remove/",
        staff.response_tag_remove,
        name="response_tag_remove",
    ),
    path("<slug:slug>/", staff.results, name="results"),
    path("<slug:slug>/export.csv", staff.results_export, name="results_export"),
]
