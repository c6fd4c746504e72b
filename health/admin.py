from django.contrib import admin

from health.models import (
    CsmSentiment,
    HealthOverride,
    HealthProfile,
    HealthSnapshot,
    Measure,
    MeasureGroup,
)


class MeasureGroupInline(admin.TabularInline):
    model = MeasureGroup
    extra = 0


@admin.register(HealthProfile)
class HealthProfileAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "priority",
        "is_default",
        "max_account_age_days",
        "red_max",
        "yellow_max",
    ]
    inlines = [MeasureGroupInline]


@admin.register(Measure)
class MeasureAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "weight", "mapping", "worst", "best"]
    list_filter = ["group__profile", "kind"]


@admin.register(HealthSnapshot)
class HealthSnapshotAdmin(admin.ModelAdmin):
    list_display = ["account", "day", "score", "band", "source", "profile"]
    list_filter = ["band", "source", "day"]
    list_select_related = ["account", "profile"]
    raw_id_fields = ["account"]
    readonly_fields = [f.name for f in HealthSnapshot._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(HealthOverride)
class HealthOverrideAdmin(admin.ModelAdmin):
    list_display = ["account", "score", "expires_at", "created_by", "created_at"]
    raw_id_fields = ["account"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(CsmSentiment)
class CsmSentimentAdmin(admin.ModelAdmin):
    list_display = ["account", "value", "set_by", "set_at"]
    raw_id_fields = ["account"]
