from django.urls import path

from metrics.views.overview import overview
from metrics.views.satisfaction import satisfaction

app_name = "metrics"

urlpatterns = [
    path("", overview, name="index"),
    path("satisfaction/", satisfaction, name="satisfaction"),
]
