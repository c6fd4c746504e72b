"""The loyalty pages' forms: a manual award, a redemption on the account's behalf, a
customer link, the redemption list's filter and the dashboard's period."""

from __future__ import annotations

import uuid

from django import forms

from loyalty.models import RedemptionState, Reward

MAX_MANUAL_AWARD = 1_000_000


def _nonce() -> str:
    return uuid.uuid4().hex


class NonceField(forms.CharField):
    """A hidden once-per-form value: the idempotency key of what the form does, so a double
    click or a resubmitted page does it once."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("widget", forms.HiddenInput)
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("min_length", 16)
        super().__init__(**kwargs)

    def validate(self, value) -> None:
        super().validate(value)
        if value and not all(c.isalnum() or c in "-_" for c in value):
            raise forms.ValidationError("This form is out of date: reload the page.")


class AwardForm(forms.Form):
    points = forms.IntegerField(label="Points", min_value=1, max_value=MAX_MANUAL_AWARD)
    reason = forms.CharField(
        label="Reason",
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "Why the account earns these"}),
    )
    nonce = NonceField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("nonce", _nonce())

    def clean_reason(self) -> str:
        reason = " ".join(self.cleaned_data["reason"].split())
        if not reason:
            raise forms.ValidationError("Say why: the reason is kept with the points.")
        return reason


class RedeemForm(forms.Form):
    reward = forms.ModelChoiceField(
        label="Reward",
        queryset=Reward.objects.filter(active=True),
        error_messages={"invalid_choice": "That reward is not in the catalog any more."},
    )
    nonce = NonceField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("nonce", _nonce())


class LinkForm(forms.Form):
    contact = forms.TypedChoiceField(label="Contact", coerce=int, choices=())

    def __init__(self, *args, contacts=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact"].choices = [
            (c.pk, f"{c.name or c.email or c.external_id}") for c in contacts
        ]


class RedemptionFilterForm(forms.Form):
    state = forms.ChoiceField(
        required=False, choices=[("", "Open (requested or approved)"), *RedemptionState.choices]
    )


class CancelForm(forms.Form):
    reason = forms.CharField(label="Why", max_length=255, required=False)
