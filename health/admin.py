from django.contrib import admin

from health.models import (
    Alert,
    AlertEvent,
    CsmSentiment,
    EmailOptOut,
    HealthOverride,
    HealthProfile,
    HealthSnapshot,
    Measure,
    MeasureGroup,
    Playbook,
    PlaybookEmail,
    PlaybookEmailText,
    PlaybookStep,
    SignalRule,
    Task,
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


class PlaybookStepInline(admin.StackedInline):
    model = PlaybookStep
    extra = 0
    fields = ["order", "kind", "days_after", "title", "body", "contact_roles"]
    show_change_link = True  # an email step's texts are edited on the step's own page


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "trigger", "alert_kind", "stage", "every_days"]
    list_editable = ["enabled"]
    list_filter = ["enabled", "trigger"]
    inlines = [PlaybookStepInline]
    fieldsets = [
        (None, {"fields": ["name", "description", "enabled"]}),
        (
            "Trigger",
            {
                "fields": [
                    "trigger",
                    "alert_kind",
                    "min_alert_days",
                    "stage",
                    "segment",
                    "every_days",
                    "churned_within_days",
                ]
            },
        ),
    ]


class PlaybookEmailTextInline(admin.StackedInline):
    model = PlaybookEmailText
    extra = 0


@admin.register(PlaybookStep)
class PlaybookStepAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "days_after"]
    list_filter = ["playbook", "kind"]
    inlines = [PlaybookEmailTextInline]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["title", "account", "owner", "due_on", "status"]
    list_filter = ["status"]
    list_select_related = ["account", "owner"]
    raw_id_fields = ["account", "run", "step"]
    search_fields = ["title", "account__name"]


@admin.register(PlaybookEmail)
class PlaybookEmailAdmin(admin.ModelAdmin):
    """The outbox, read-only: what went, what waits and why something did not go."""

    list_display = ["step", "contact", "status", "send_at", "sent_at", "skip_reason"]
    list_filter = ["status"]
    list_select_related = ["step__playbook", "contact"]
    readonly_fields = [f.name for f in PlaybookEmail._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EmailOptOut)
class EmailOptOutAdmin(admin.ModelAdmin):
    list_display = ["contact", "opted_out_at"]
    raw_id_fields = ["contact"]
