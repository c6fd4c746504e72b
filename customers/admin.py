from django.contrib import admin, messages
from django.utils import timezone
from django.utils.timesince import timesince

from customers import services
from customers.models import (
    Account,
    ApiKey,
    Contact,
    ExchangeRate,
    ImportJob,
    Note,
    ParkedMessage,
    RevenueChange,
    Segment,
    Ticket,
)
from customers.services import api_key_create, api_key_revoke


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "external_id", "plan", "mrr", "currency", "stage", "owner"]
    list_filter = ["stage", "plan", "currency"]
    search_fields = ["name", "domain", "external_id"]
    raw_id_fields = ["owner"]
    # Derived from the revenue history and the usage events by the services: shown, never
    # typed (an edit here would be overwritten, or worse, be saved over a fresher value).
    readonly_fields = [
        "mrr",
        "mrr_base",
        "first_paid_at",
        "churned_at",
        "last_activity_at",
        "created_at",
    ]
    list_select_related = ["owner"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # The currency of an account with revenue history is what that history is in.
        if obj is not None and obj.revenue_changes.exists():
            return [*self.readonly_fields, "currency"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        """Write only what the form changed, so derived columns updated meanwhile by a task
        or the ingest API are not overwritten; a stage change goes through the service so
        the move is recorded like any other."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        changed = [name for name in form.changed_data if name != "stage"]
        if changed:
            obj.save(update_fields=[*changed, "updated_at"])
        if "stage" in form.changed_data:
            services.account_change_stage(
                account=obj, to_stage=obj.stage, actor=request.user, source="admin"
            )


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "account", "locale", "do_not_survey"]
    list_filter = ["locale", "do_not_survey"]
    search_fields = ["name", "email", "external_id"]
    raw_id_fields = ["account"]
    list_select_related = ["account"]
    show_full_result_count = False


@admin.register(RevenueChange)
class RevenueChangeAdmin(admin.ModelAdmin):
    list_display = ["account", "kind", "effective_at", "mrr", "currency", "mrr_base"]
    list_filter = ["kind"]
    raw_id_fields = ["account"]
    list_select_related = ["account"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False  # history is appended through services so MRR stays derived


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["subject", "account", "priority", "status", "opened_at", "closed_at"]
    list_filter = ["priority", "status"]
    raw_id_fields = ["account", "contact"]
    list_select_related = ["account"]
    show_full_result_count = False


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["account", "author", "created_at"]
    raw_id_fields = ["account", "author"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "per_base", "valid_from"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Read-only: imports are made and confirmed on the import pages, where rows are checked
    (the list links there)."""

    change_list_template = "admin/customers/importjob/change_list.html"

    list_display = [
        "filename",
        "kind",
        "status",
        "total_rows",
        "processed_rows",
        "created_rows",
        "updated_rows",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["filename"]
    list_select_related = ["created_by"]
    exclude = ["content"]  # up to 20 MB of text: not for a form
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("content")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ParkedMessage)
class ParkedMessageAdmin(admin.ModelAdmin):
    """Read-only: Segment messages answered 200 and kept until the account or contact they
    name exists (applied ones leave the list; given-up ones stay, with why)."""

    list_display = [
        "kind",
        "waiting_for",
        "reason",
        "age",
        "attempts",
        "last_tried_at",
        "given_up_at",
    ]
    list_filter = ["kind", "waiting_kind", ("given_up_at", admin.EmptyFieldListFilter)]
    search_fields = ["waiting_id", "message_id"]
    readonly_fields = [
        "source",
        "kind",
        "message_id",
        "message",
        "reason",
        "waiting_kind",
        "waiting_id",
        "received_at",
        "attempts",
        "last_tried_at",
        "given_up_at",
    ]
    show_full_result_count = False

    @admin.display(description="waiting for", ordering="waiting_id")
    def waiting_for(self, obj: ParkedMessage) -> str:
        return f"{obj.waiting_kind} {obj.waiting_id}"

    @admin.display(description="age", ordering="received_at")
    def age(self, obj: ParkedMessage) -> str:
        return timesince(obj.received_at, timezone.now())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- API keys ------------------------------------------------------------------------------


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys for the ingest API. Creating one shows the key once, in a message; only its hash
    is stored, so a lost key is revoked and replaced, never looked up."""

    list_display = ["name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    fields = ["name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["created_by"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        api_key, key = api_key_create(name=obj.name, created_by=request.user)
        for field in ("pk", "prefix", "key_hash", "created_by", "created_at"):
            setattr(obj, field, getattr(api_key, field))
        obj._state.adding = False
        self.message_user(
            request,
            f"The key for “{api_key.name}” is {key} — copy it now: it is not stored and will "
            "not be shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected keys (they stop working at once)")
    def revoke(self, request, queryset):
        active = list(queryset.filter(revoked_at__isnull=True))
        for api_key in active:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {len(active)} key(s).", messages.SUCCESS)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    """Rules are typed as JSON here and read by the same parser as the segment page
    (``Segment.clean``), so a bad rule gets the same message and nothing is saved."""

    list_display = ["name", "match", "created_by", "updated_at"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "match", "rules", "created_by", "created_at", "updated_at"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    list_select_related = ["created_by"]

    def save_model(self, request, obj, form, change):
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
