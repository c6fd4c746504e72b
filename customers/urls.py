from django.urls import path

from customers.views import account, imports, portfolio, segments

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
    path("segments/", segments.segment_list, name="segments"),
    path("segments/new/", segments.segment_new, name="segment_new"),
    path("segments/rules/", segments.segment_rules, name="segment_rules"),
    path("segments/preview/", segments.segment_preview, name="segment_preview"),
    path("segments/<int:pk>/", segments.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/delete/", segments.segment_delete_view, name="segment_delete"),
]

# CSV import ---------------------------------------------------------------------------------
# Routes below this line belong to the CSV import; the pages helper does not edit them.
urlpatterns += [
    path("imports/", imports.import_new, name="import_new"),
    path("imports/template/<str:kind>.csv", imports.import_template, name="import_template"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/progress/", imports.import_progress, name="import_progress"),
    path("imports/<int:pk>/confirm/", imports.import_confirm, name="import_confirm"),
]
