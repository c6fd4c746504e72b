"""Admin for surveys: texts per language inline, campaigns, and read-only logs of links and
skipped sends (so an admin can answer "why did this person get no survey?")."""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from surveys.defaults import TEXT_FIELDS
from surveys.models import (
    Campaign,
    CampaignRun,
    FollowUp,
    Invitation,
    SendSkip,
    Survey,
    SurveyKind,
    SurveyText,
    Tag,
)
from surveys.services import invitations_revoke, survey_texts_fill_defaults

_CRITERION_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Logs are written by the sending machinery only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SurveyForm(forms.ModelForm):
    class Meta:
        model = Survey
        fields = [
            "slug",
            "name",
            "kind",
            "is_active",
            "closes_at",
            "expiry_days",
            "fatigue_days",
            "reminder_after_days",
            "ask_follow_up",
            "csi_criteria",
            "send_after_ticket_close",
        ]

    def clean_csi_criteria(self):
        criteria = self.cleaned_data.get("csi_criteria") or []
        if not isinstance(criteria, list) or not all(
            isinstance(key, str) and _CRITERION_KEY.match(key) for key in criteria
        ):
            raise forms.ValidationError(
                'Give a list of keys like ["price", "support"]: lowercase letters, digits and _.'
            )
        if len(set(criteria)) != len(criteria):
            raise forms.ValidationError("Each criterion may appear once.")
        return criteria

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("csi_criteria") and cleaned.get("kind") != SurveyKind.CSI:
            self.add_error("csi_criteria", "Criteria only apply to CSI surveys.")
        return cleaned


ITEM_LABEL_MAX_LENGTH = 200


class SurveyTextForm(forms.ModelForm):
    class Meta:
        model = SurveyText
        fields = ["language", *TEXT_FIELDS, "items"]  # laid out by the inline's fieldsets

    def clean_items(self):
        """Labels of CLI questions or CSI criteria, by key: anything else would reach the
        respondent page, which reads them as ``{key: label}``."""
        items = self.cleaned_data.get("items") or {}
        if not isinstance(items, dict) or not all(
            isinstance(key, str) and isinstance(label, str) for key, label in items.items()
        ):
            raise forms.ValidationError(
                'Give labels by key, like {"price": "Price", "support": "Support"}.'
            )
        too_long = [key for key, label in items.items() if len(label) > ITEM_LABEL_MAX_LENGTH]
        if too_long:
            raise forms.ValidationError(
                f"Labels are at most {ITEM_LABEL_MAX_LENGTH} characters: {', '.join(too_long)}."
            )
        return items


class SurveyTextInline(admin.StackedInline):
    model = SurveyText
    form = SurveyTextForm
    extra = 0
    max_num = 5
    fieldsets = [
        (None, {"fields": ["language", "question", "low_label", "high_label", "items"]}),
        (
            "Follow-up and thank-you",
            {
                "fields": [
                    "follow_up_question",
                    "follow_up_promoter",
                    "follow_up_passive",
                    "follow_up_detractor",
                    "thank_you",
                ]
            },
        ),
        ("Email", {"fields": ["email_subject", "email_intro"]}),
    ]


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    form = SurveyForm
    list_display = ["name", "slug", "kind", "is_active", "closes_at", "send_after_ticket_close"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [SurveyTextInline]
    actions = ["fill_default_texts"]

    @admin.action(description="Add texts for missing languages from the built-in defaults")
    def fill_default_texts(self, request, queryset):
        created = sum(survey_texts_fill_defaults(survey=survey) for survey in queryset)
        self.message_user(request, f"Added {created} language text(s).", messages.SUCCESS)


class CampaignRunInline(admin.TabularInline):
    model = CampaignRun
    extra = 0
    fields = ["run_at", "started_at", "invited", "skipped"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "survey",
        "audience",
        "segment",
        "sample_percent",
        "spread_days",
        "repeat_every_months",
        "starts_at",
        "next_run_at",
        "status",
    ]
    list_filter = ["status", "audience", "survey"]
    search_fields = ["name"]
    autocomplete_fields = ["accounts"]
    raw_id_fields = ["created_by"]
    readonly_fields = ["next_run_at"]
    inlines = [CampaignRunInline]
    list_select_related = ["survey", "segment"]

    def save_model(self, request, obj, form, change):
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = [
        "survey",
        "contact",
        "trigger",
        "language",
        "scheduled_for",
        "sent_at",
        "expires_at",
        "reminded_at",
        "revoked_at",
    ]
    list_filter = ["survey", "trigger", "language"]
    search_fields = ["contact__email", "contact__name"]
    list_select_related = ["survey", "contact"]
    exclude = ["token_hash", "reminder_token_hash"]
    raw_id_fields = ["contact", "ticket", "campaign", "campaign_run"]
    date_hierarchy = "scheduled_for"
    show_full_result_count = False
    actions = ["revoke"]

    @admin.action(description="Revoke the selected links (they will show “not found”)")
    def revoke(self, request, queryset):
        count = invitations_revoke(invitations=queryset, now=timezone.now())
        self.message_user(request, f"Revoked {count} link(s).", messages.SUCCESS)


@admin.register(SendSkip)
class SendSkipAdmin(ReadOnlyAdmin):
    list_display = ["at", "survey", "contact", "reason", "detail", "campaign"]
    list_filter = ["reason", "survey"]
    search_fields = ["contact__email", "contact__name"]
    list_select_related = ["survey", "contact", "campaign"]
    raw_id_fields = ["contact", "campaign"]
    date_hierarchy = "at"
    show_full_result_count = False

    def has_view_permission(self, request, obj=None):
        user = request.user
        return bool(getattr(user, "is_admin", False)) and super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return self.has_view_permission(request)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "keywords"]
    search_fields = ["name", "keywords"]


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["account", "reason", "owner", "status", "created_at", "handled_at"]
    list_filter = ["status"]
    raw_id_fields = ["response", "account", "owner", "handled_by"]
    list_select_related = ["account", "owner"]
    show_full_result_count = False
