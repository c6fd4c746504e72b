"""The form a CSM overrides an account's health with."""

from __future__ import annotations

from django import forms

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
