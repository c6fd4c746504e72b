from django.contrib import admin

from metrics.models import PeriodFinance


@admin.register(PeriodFinance)
class PeriodFinanceAdmin(admin.ModelAdmin):
    """Gross margin and CAC per month, entered by finance: LTV and LTV:CAC read them."""

    list_display = ("month", "gross_margin", "cac")
    ordering = ("-month",)
