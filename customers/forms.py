"""Forms for the customer pages. The portfolio's query string goes through a form too, so a
hand-edited or stale URL gets a message naming the bad field instead of a server error."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict

from core.parsing import ascii_int
from customers.models import LifecycleStage
from customers.selectors import (
    DEFAULT_SORT,
    OWNER_ALL,
    OWNER_ME,
    OWNER_NONE,
    SORTS,
    PortfolioFilters,
    portfolio_default_owner,
    portfolio_owners,
    portfolio_plans,
)
from customers.services import NOTE_MAX_LENGTH

RENEWAL_WINDOWS = [30, 60, 90, 180, 365]
MAX_RENEWAL_DAYS = 3650


class WholeNumberField(forms.IntegerField):
    """A whole number in ASCII digits. Django's IntegerField reads with int(), which takes
    "１２" and "1_0"; a hand-edited URL is held to the rule the ingest API keeps."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        number = ascii_int(str(value))
        if number is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return number


class PortfolioFilterForm(forms.Form):
    """Validates the portfolio's query string. Unbound values fall back to defaults: the
    user's own book for a CSM, everyone's for admins and viewers, sorted by name."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or domain"}),
    )
    owner = forms.ChoiceField(label="Owner", required=False)
    plan = forms.ChoiceField(label="Plan", required=False)
    stage = forms.ChoiceField(
        label="Stage", required=False, choices=[("", "Any stage"), *LifecycleStage.choices]
    )
    renewal = WholeNumberField(
        label="Renewal within",
        required=False,
        min_value=1,
        max_value=MAX_RENEWAL_DAYS,
        widget=forms.Select,
    )
    mrr_min = forms.DecimalField(
        label="MRR from", required=False, min_value=0, max_digits=14, decimal_places=2
    )
    mrr_max = forms.DecimalField(
        label="MRR to", required=False, min_value=0, max_digits=14, decimal_places=2
    )
    health = forms.ChoiceField(
        label="Health",
        required=False,
        choices=[
            ("", "Any health"),
            ("red", "Red"),
            ("yellow", "Yellow"),
            ("green", "Green"),
            ("none", "Not scored yet"),
        ],
    )
    sort = forms.ChoiceField(
        label="Sort",
        required=False,
        choices=[(key, key) for key in SORTS],
        widget=forms.HiddenInput,
    )
    page = WholeNumberField(label="Page", required=False, min_value=1, widget=forms.HiddenInput)

    # The order the canonical URL lists its parameters in.
    PARAMS = ("q", "owner", "plan", "stage", "health", "renewal", "mrr_min", "mrr_max", "sort")

    def __init__(self, data: QueryDict | None = None, *, user, **kwargs) -> None:
        self.default_owner = portfolio_default_owner(user=user)
        if data is not None and not data.get("owner"):
            # Rendered back, the owner select must show whose book is actually listed.
            data = data.copy()
            data["owner"] = self.default_owner
        super().__init__(data, **kwargs)
        self.user = user
        owners = [(str(u.pk), str(u)) for u in portfolio_owners()]
        self.fields["owner"].choices = [
            (OWNER_ME, "Mine"),
            (OWNER_ALL, "Everyone"),
            (OWNER_NONE, "Unassigned"),
            *owners,
        ]
        self.fields["plan"].choices = [("", "Any plan")] + [(p, p) for p in portfolio_plans()]
        windows = list(RENEWAL_WINDOWS)
        asked = ascii_int((data or {}).get("renewal", ""))  # "²" passes isdigit(), not int()
        if asked is not None and 1 <= asked <= MAX_RENEWAL_DAYS and asked not in windows:
            windows = sorted([*windows, asked])
        self.fields["renewal"].widget.choices = [("", "Any time")] + [
            (str(days), f"{days} days") for days in windows
        ]
        currency = settings.TENURE_BASE_CURRENCY
        self.fields["mrr_min"].label = f"MRR from ({currency})"
        self.fields["mrr_max"].label = f"MRR to ({currency})"
        for name in ("mrr_min", "mrr_max"):
            self.fields[name].widget.attrs.update({"inputmode": "decimal", "step": "any"})
        self.initial["owner"] = self.default_owner

    def clean_sort(self) -> str:
        return self.cleaned_data.get("sort") or DEFAULT_SORT

    def clean(self) -> dict:
        cleaned = super().clean()
        low, high = cleaned.get("mrr_min"), cleaned.get("mrr_max")
        if low is not None and high is not None and high < low:
            self.add_error("mrr_max", "MRR to must be at least MRR from.")
        return cleaned

    def filters(self) -> PortfolioFilters:
        """The validated filters; call after ``is_valid()``."""
        data = self.cleaned_data
        return PortfolioFilters(
            owner=data["owner"],
            plan=data.get("plan") or "",
            stage=data.get("stage") or "",
            renewal_days=data.get("renewal"),
            mrr_min=data.get("mrr_min"),
            mrr_max=data.get("mrr_max"),
            q=data.get("q") or "",
            health=data.get("health") or "",
            sort=data["sort"],
        )

    def canonical_params(self) -> QueryDict:
        """The filters as a tidy query string: empty values and the default sort left out,
        the owner always kept so a shared link shows the same book."""
        params = QueryDict(mutable=True)
        for name in self.PARAMS:
            value = self.cleaned_data.get(name)
            if value in (None, "") or (name == "sort" and value == DEFAULT_SORT):
                continue
            params[name] = str(value)
        return params

    def error_messages(self) -> list[str]:
        """Every error as one sentence that starts with the field's label."""
        messages = [str(e) for e in self.non_field_errors()]
        for field in self:
            messages.extend(f"{field.label}: {error}" for error in field.errors)
        return messages


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Note",
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What happened, what's next"}),
    )


class StageChangeForm(forms.Form):
    stage = forms.ChoiceField(label="Lifecycle stage", choices=LifecycleStage.choices)
