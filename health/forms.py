"""The health pages' forms: an override and the CSM's sentiment, snoozing and closing an
alert, and the query strings of the alerts list, the dashboard and the backtest."""

from __future__ import annotations

import datetime as dt

from django import forms

from customers.forms import WholeNumberField
from health.backtest import DEFAULT_DAYS_BEFORE
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


BACKTEST_MAX_DAYS = 730
BACKTEST_MAX_PERIOD_DAYS = 3 * 366


class BacktestForm(forms.Form):
    """The backtest's query string: how far ahead, and over which period. Empty or missing
    values take the defaults (90 days, the 12 months up to today), so the bare URL works and a
    shared link reproduces what its sender saw; a bad value is named in a message instead of
    reaching the query."""

    days = WholeNumberField(
        label="Days before the outcome",
        required=False,
        min_value=1,
        max_value=BACKTEST_MAX_DAYS,
        widget=forms.NumberInput(attrs={"min": 1, "max": BACKTEST_MAX_DAYS}),
    )
    start = forms.DateField(
        label="Period from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="Period to", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, today: dt.date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        end = data.get("end") or self.today
        start = data.get("start") or _year_before(end)
        if data.get("days") is None:
            data["days"] = DEFAULT_DAYS_BEFORE
        if end > self.today:
            self.add_error("end", "The period cannot end after today: nobody knows yet who stays.")
        elif start > end:
            self.add_error("start", "The period must start on or before its last day.")
        elif (end - start).days >= BACKTEST_MAX_PERIOD_DAYS:
            self.add_error("start", "The period can be at most three years long.")
        data["start"], data["end"] = start, end
        return data

    def error_messages(self) -> list[str]:
        """Every error as one sentence that starts with the field's label."""
        messages = [str(e) for e in self.non_field_errors()]
        for field in self:
            messages.extend(f"{field.label}: {error}" for error in field.errors)
        return messages


def _year_before(end: dt.date) -> dt.date:
    """The first day of the 12 months that end on ``end`` (29 February falls back a day)."""
    try:
        start = end.replace(year=end.year - 1)
    except ValueError:
        start = end.replace(year=end.year - 1, day=28)
    return start + dt.timedelta(days=1)


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
