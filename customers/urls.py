from django.urls import path

from customers.views import account, portfolio

app_name = "customers"

urlpatterns = [
    path("", portfolio.portfolio, name="portfolio"),
    path("export.csv", portfolio.portfolio_export, name="portfolio_export"),
    path("<int:pk>/", account.account_detail, name="account"),
    path("<int:pk>/timeline/", account.account_timeline, name="account_timeline"),
    path("<int:pk>/contacts/", account.account_contacts_section, name="account_contacts"),
    path("<int:pk>/revenue/", account.account_revenue_chart, name="account_revenue"),
    path("<int:pk>/usage/", account.account_usage_chart, name="account_usage"),
    path("<int:pk>/notes/", account.account_note_create, name="account_note_create"),
    path("<int:pk>/stage/", account.account_stage_change, name="account_stage_change"),
]

# CSV import ---------------------------------------------------------------------------------
# Routes below this line belong to the CSV import; the pages helper does not edit them.
