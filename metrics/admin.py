from django.contrib import admin

from metrics.models import AccountRfm, PeriodFinance, RfmRun


@admin.register(PeriodFinance)
class PeriodFinanceAdmin(admin.ModelAdmin):
    """Gross margin and CAC per month, entered by finance: LTV and LTV:CAC read them."""

    list_display = ("month", "gross_margin", "cac")
    ordering = ("-month",)


@admin.register(AccountRfm)
class AccountRfmAdmin(admin.ModelAdmin):
    """Read-only: scores are written by the nightly recompute only."""

    list_display = ["account", "segment", "r", "f", "m", "recency_days", "frequency", "monetary"]
    list_filter = ["segment", "basis", "r", "f"]
    search_fields = ["account__name", "account__external_id"]
    list_select_related = ["account"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RfmRun)
class RfmRunAdmin(admin.ModelAdmin):
    list_display = ["as_of", "computed_at", "scored"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
