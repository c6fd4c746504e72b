from django.urls import path

from customers.views import portfolio

app_name = "customers"

urlpatterns = [path("", portfolio.portfolio, name="portfolio")]
