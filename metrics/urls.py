from django.urls import path

from metrics.views.overview import overview

app_name = "metrics"

urlpatterns = [path("", overview, name="index")]
