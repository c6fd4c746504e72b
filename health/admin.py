from django.contrib import admin

from health.models import (
    Alert,
    AlertEvent,
    CsmSentiment,
    HealthOverride,
    HealthProfile,
    HealthSnapshot,
    Measure,
    MeasureGroup,
    SignalRule,
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


@admin.register(SignalRule)
class SignalRuleAdmin(admin.ModelAdmin):
    """One row per signal: switch it off, change its severity, thresholds and event types.
    The next recompute applies the change (and closes alerts of a signal switched off)."""

    list_display = ["kind", "enabled", "severity", "threshold", "window_days", "help"]
    list_editable = ["enabled", "severity", "threshold", "window_days"]
    list_filter = ["enabled", "severity"]
    readonly_fields = ["help"]
    fields = [
        "kind",
        "help",
        "enabled",
        "severity",
        "threshold",
        "window_days",
        "event_types",
        "bands",
    ]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # switch a signal off instead: its row keeps the settings

    def get_readonly_fields(self, request, obj=None):
        return ["kind", "help"] if obj is not None else ["help"]


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    fields = ["at", "action", "by", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """Read-only: alerts open and close from the data, and CSMs snooze or close them on
    the account page where the timeline records who did it."""

    list_display = ["account", "kind", "severity", "status", "owner", "opened_at", "closed_at"]
    list_filter = ["status", "kind", "severity"]
    list_select_related = ["account", "owner"]
    search_fields = ["account__name", "account__external_id", "reason"]
    raw_id_fields = ["account"]
    readonly_fields = [f.name for f in Alert._meta.fields]
    inlines = [AlertEventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
