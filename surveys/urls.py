from django.urls import path

from surveys.views import staff

app_name = "surveys"

urlpatterns = [path("", staff.index, name="index")]
