"""The forms a CSM changes an account's health with: an override, and their own sentiment."""

from __future__ import annotations

from django import forms

from health.dashboard import PERIODS as DASHBOARD_PERIODS
from health.models import Sentiment

OVERRIDE_DAYS = (7, 14, 30, 90)


class OverrideForm(forms.Form):
    score = forms.IntegerField(label="Score", min_value=0, max_value=100)
    reason = forms.CharField(
        label="Why",
        max_length=1000,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "What you know that the data does not"}
        ),
    )
    days = forms.TypedChoiceField(
        label="For",
        coerce=int,
        choices=[(d, f"{d} days") for d in OVERRIDE_DAYS],
        initial=30,
    )


class SentimentForm(forms.Form):
    value = forms.TypedChoiceField(label="Your sentiment", coerce=int, choices=Sentiment.choices)
    note = forms.CharField(label="Context", max_length=500, required=False)


SNOOZE_DAYS = (1, 3, 7, 14, 30, 90)


class SnoozeForm(forms.Form):
    days = forms.TypedChoiceField(
        label="Snooze for",
        coerce=int,
        choices=[(d, f"{d} day{'s' if d > 1 else ''}") for d in SNOOZE_DAYS],
        initial=7,
    )
    note = forms.CharField(label="Note", max_length=300, required=False)


class AlertCloseForm(forms.Form):
    note = forms.CharField(label="Note", max_length=300, required=False)


class AlertFilterForm(forms.Form):
    """The alerts list's filters; they live in the URL."""

    owner = forms.ChoiceField(
        choices=[("me", "Mine"), ("all", "Everyone's")], required=False, initial="me"
    )
    status = forms.ChoiceField(
        choices=[
            ("live", "Open or snoozed"),
            ("open", "Open"),
            ("snoozed", "Snoozed"),
            ("closed", "Closed"),
        ],
        required=False,
    )
    kind = forms.ChoiceField(required=False)
    severity = forms.ChoiceField(required=False)

    def __init__(self, *args, **kwargs):
        from health.models import Severity, SignalKind

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "Any signal"), *SignalKind.choices]
        self.fields["severity"].choices = [("", "Any severity"), *Severity.choices]


class DashboardPeriodForm(forms.Form):
    """The health dashboard's period, from ``?days=``; absent means the default."""

    days = forms.TypedChoiceField(
        label="Period",
        coerce=int,
        required=False,
        empty_value=None,
        choices=[(str(d), f"{d} days") for d in DASHBOARD_PERIODS],
        error_messages={
            "invalid_choice": "Choose a period of "
            + ", ".join(str(d) for d in DASHBOARD_PERIODS[:-1])
            + f" or {DASHBOARD_PERIODS[-1]} days."
        },
    )
