"""The program is set up here: settings, earning rules, tiers and rewards.

"Every change recorded": ``ModelAdmin`` already writes a ``LogEntry`` for each add, change and
delete; :class:`AuditedAdmin` makes that entry name the old and new value of every changed field
(Django's own message only names the fields) and puts a History link on every row. The ledger
itself is read-only here: points move only through ``loyalty.services``.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.urls import reverse
from django.utils.html import format_html

from loyalty import services
from loyalty.models import (
    EarningRule,
    LedgerEntry,
    LotAllocation,
    LoyaltyLink,
    LoyaltyProgram,
    Member,
    Redemption,
    RedemptionState,
    Reward,
    Tier,
    TierChange,
)


def _shown(obj: models.Model, field: models.Field) -> str:
    value = getattr(obj, field.name)
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return "—" if value in (None, "") else str(value)


class AuditedAdmin(admin.ModelAdmin):
    """A change's log entry says what each changed field was and became."""

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # Kept before the form writes into the instance, for the change message.
            obj._audit_before = {
                f.name: _shown(obj, f) for f in obj._meta.concrete_fields if not f.primary_key
            }
        return obj

    def construct_change_message(self, request, form, formsets, add=False):
        before = getattr(form.instance, "_audit_before", None)
        if add or before is None or not form.changed_data:
            return super().construct_change_message(request, form, formsets, add)
        parts = []
        for name in form.changed_data:
            if name not in before:  # a form-only field: nothing stored to compare
                continue
            field = form.instance._meta.get_field(name)
            label = str(field.verbose_name)
            parts.append(f"{label}: {before.get(name, '—')} → {_shown(form.instance, field)}")
        return ("Changed " + "; ".join(parts) + ".") if parts else ""

    @admin.display(description="History")
    def history_link(self, obj: models.Model) -> str:
        meta = obj._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_history", args=[obj.pk])
        return format_html('<a href="{}">History</a>', url)


@admin.register(LoyaltyProgram)
class LoyaltyProgramAdmin(AuditedAdmin):
    list_display = [
        "name",
        "enabled",
        "point_value",
        "currency",
        "pending_days",
        "expiry_policy",
        "tier_window",
        "history_link",
    ]

    def has_add_permission(self, request) -> bool:
        return not LoyaltyProgram.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EarningRule)
class EarningRuleAdmin(AuditedAdmin):
    list_display = ["name", "kind", "event_type", "points", "cap_period", "enabled", "history_link"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "event_type"]


@admin.register(Tier)
class TierAdmin(AuditedAdmin):
    list_display = ["name", "threshold", "multiplier", "history_link"]


@admin.register(Reward)
class RewardAdmin(AuditedAdmin):
    list_display = ["name", "kind", "cost_points", "min_tier", "stock", "active", "history_link"]
    list_filter = ["kind", "active"]
    search_fields = ["name"]


class TierChangeInline(admin.TabularInline):
    model = TierChange
    extra = 0
    can_delete = False
    readonly_fields = [
        "from_tier",
        "to_tier",
        "reason",
        "window_points",
        "changed_by",
        "changed_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Member)
class MemberAdmin(AuditedAdmin):
    """Only the manual tier floor is edited here; it goes through the service so the tier and
    its history follow at once."""

    list_display = ["account", "balance", "pending", "debt", "tier", "window_points"]
    list_filter = ["tier"]
    list_select_related = ["account", "tier"]
    search_fields = ["account__name"]
    raw_id_fields = ["account"]
    readonly_fields = [
        "account",
        "balance",
        "pending",
        "debt",
        "tier",
        "tier_qualified_at",
        "tier_review_at",
        "window_points",
        "window_points_at",
        "joined_at",
    ]
    fields = [*readonly_fields, "tier_floor", "tier_floor_expires_at"]
    inlines = [TierChangeInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        services.tier_floor_set(
            member=obj,
            tier=obj.tier_floor,
            expires_at=obj.tier_floor_expires_at,
            changed_by=request.user,
        )


class AllocationInline(admin.TabularInline):
    model = LotAllocation
    extra = 0
    can_delete = False
    readonly_fields = ["lot", "points"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "member", "kind", "points", "reason", "rule", "created_by"]
    list_filter = ["kind"]
    list_select_related = ["member__account", "rule", "created_by"]
    search_fields = ["idempotency_key", "member__account__name", "reason"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in LedgerEntry._meta.fields]
    inlines = [AllocationInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Redemption)
class RedemptionAdmin(admin.ModelAdmin):
    list_display = ["requested_at", "member", "reward", "points", "state", "history_link"]
    list_filter = ["state", "reward"]
    list_select_related = ["member__account", "reward"]
    search_fields = ["member__account__name", "idempotency_key"]
    readonly_fields = [f.name for f in Redemption._meta.fields if f.name != "note"]
    actions = ["approve", "fulfil", "cancel"]

    history_link = AuditedAdmin.history_link

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _act(self, request, queryset, action, label: str, states: set[str]) -> None:
        done = 0
        for redemption in queryset.filter(state__in=states):
            try:
                action(redemption=redemption, by=request.user)
            except services.LoyaltyError as exc:
                self.message_user(request, f"{redemption}: {exc}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"{label}: {done}.")

    @admin.action(description="Approve the selected redemptions")
    def approve(self, request, queryset) -> None:
        self._act(request, queryset, services.redemption_approve, "Approved", {"requested"})

    @admin.action(description="Fulfil the selected redemptions (makes a task for the owner)")
    def fulfil(self, request, queryset) -> None:
        states = {RedemptionState.REQUESTED, RedemptionState.APPROVED}
        self._act(request, queryset, services.redemption_fulfil, "Fulfilled", states)

    @admin.action(description="Cancel the selected redemptions (points returned)")
    def cancel(self, request, queryset) -> None:
        states = {RedemptionState.REQUESTED, RedemptionState.APPROVED}
        self._act(request, queryset, services.redemption_cancel, "Cancelled", states)


@admin.register(LoyaltyLink)
class LoyaltyLinkAdmin(admin.ModelAdmin):
    list_display = ["contact", "created_at", "expires_at", "revoked_at", "last_used_at"]
    raw_id_fields = ["contact"]
    readonly_fields = ["contact", "token_hash", "created_by", "created_at", "last_used_at"]

    def has_add_permission(self, request) -> bool:
        return False
