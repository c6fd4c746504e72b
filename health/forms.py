"""The forms a CSM changes an account's health with: an override, and their own sentiment."""

from __future__ import annotations

from django import forms

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
