"""Forms for the customer pages. The portfolio's query string goes through a form too, so a
hand-edited or stale URL gets a message naming the bad field instead of a server error."""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import QueryDict
from django.utils import timezone

from core.parsing import ascii_int
from customers.models import LifecycleStage, Segment
from customers.segments import (
    EQUALS,
    GT,
    GTE,
    LT,
    LTE,
    MAX_RULES,
    NO_VALUE,
    ONE_OF,
    OPERATOR_LABELS,
    TRAIT_PREFIX,
    WITHIN_DAYS,
    SegmentField,
    SegmentRulesError,
    field_get,
    portfolio_fields,
    rules_q,
)
from customers.segments import fields as segment_fields
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
    segment = forms.ChoiceField(
        label="Segment",
        required=False,
        error_messages={
            "invalid_choice": "there is no segment %(value)s (it may have been deleted).",
        },
    )
    sort = forms.ChoiceField(
        label="Sort",
        required=False,
        choices=[(key, key) for key in SORTS],
        widget=forms.HiddenInput,
    )
    page = WholeNumberField(label="Page", required=False, min_value=1, widget=forms.HiddenInput)

    # The order the canonical URL lists its parameters in.
    PARAMS = (
        "q",
        "owner",
        "plan",
        "stage",
        "health",
        "renewal",
        "mrr_min",
        "mrr_max",
        "segment",
        "sort",
    )

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
        # One query for the select and for the chosen segment's rules.
        self._segments = {
            str(pk): (name, rules, match)
            for pk, name, rules, match in Segment.objects.order_by("name", "pk").values_list(
                "pk", "name", "rules", "match"
            )
        }
        self.fields["segment"].choices = [("", "Any segment")] + [
            (pk, name) for pk, (name, _rules, _match) in self._segments.items()
        ]
        self.segment_q = None
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
        # Filters registered by apps above customers (e.g. metrics' ?rfm=): one select each.
        self._registered = {f.portfolio_param: f for f in portfolio_fields()}
        for param, segment_field in self._registered.items():
            self.fields[param] = forms.ChoiceField(
                label=segment_field.portfolio_label or segment_field.label,
                required=False,
                choices=[("", "Any"), *segment_field.choices],
            )

    def registered_filters(self) -> list[forms.BoundField]:
        """The registered filters' widgets, for the template."""
        return [self[param] for param in self._registered]

    def clean_segment(self) -> str:
        """The chosen segment's rules, read by the one parser; rules stored before a field
        went away are refused here with their message rather than failing the page."""
        chosen = self.cleaned_data.get("segment") or ""
        if chosen:
            name, rules, match = self._segments[chosen]
            try:
                self.segment_q = rules_q(rules, match=match)
            except SegmentRulesError as error:
                raise ValidationError(
                    f"“{name}” cannot be applied: {' '.join(error.messages)}"
                ) from error
        return chosen

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
            segment_q=self.segment_q,
            registered_q=self._registered_q(),
            sort=data["sort"],
        )

    def _registered_q(self) -> Q | None:
        q = None
        for param, segment_field in self._registered.items():
            value = self.cleaned_data.get(param)
            if value:
                one = segment_field.compile(EQUALS, value, now=timezone.now())
                q = one if q is None else q & one
        return q

    def canonical_params(self) -> QueryDict:
        """The filters as a tidy query string: empty values and the default sort left out,
        the owner always kept so a shared link shows the same book."""
        params = QueryDict(mutable=True)
        for name in (*self.PARAMS[:-1], *self._registered, self.PARAMS[-1]):
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


# --- segments ----------------------------------------------------------------------------------

TRAIT_CHOICE = "traits"  # the field select's entry for traits.<key>; the key has its own box
RULE_NAME = re.compile(r"^rule-(\d{1,3})-field$")


@dataclass
class RuleRow:
    """One rule as the segment page shows it: what was typed (kept as typed, so a refused
    value is shown back for correcting) and the widgets that suit its field and operator."""

    field: str = "plan"
    key: str = ""
    operator: str = ""
    value: str | list[str] = ""
    error: str = ""
    index: int = 0
    owner_choices: list[tuple[str, str]] = dc_field(default_factory=list)

    @property
    def spec(self) -> SegmentField:
        if self.is_trait:  # a key not typed yet, or mistyped, still gets a trait's operators
            return field_get(f"{TRAIT_PREFIX}{self.key.strip()}") or field_get(f"{TRAIT_PREFIX}key")
        return field_get(self.field) or segment_fields()[0]

    @property
    def is_trait(self) -> bool:
        return self.field == TRAIT_CHOICE

    @property
    def operator_choices(self) -> list[tuple[str, str]]:
        return [(code, OPERATOR_LABELS[code]) for code in self.spec.operators]

    @property
    def widget(self) -> str:
        """none, select, multiselect, number or text."""
        kind = self.spec.kind
        if self.operator in NO_VALUE:
            return "none"
        if kind in ("choice", "user", "boolean"):
            return "multiselect" if self.operator == ONE_OF else "select"
        if kind in ("decimal", "integer") or self.operator == WITHIN_DAYS:
            return "number"
        if kind == "trait" and self.operator in (LT, LTE, GT, GTE):
            return "number"
        return "text"

    @property
    def value_choices(self) -> list[tuple[str, str]]:
        kind = self.spec.kind
        if kind == "user":
            return self.owner_choices
        if kind == "boolean":
            return [("yes", "Yes"), ("no", "No")]
        return list(self.spec.choices)

    @property
    def selected(self) -> list[str]:
        return self.value if isinstance(self.value, list) else [self.value]

    @property
    def text_value(self) -> str:
        return ", ".join(self.value) if isinstance(self.value, list) else self.value

    def as_rule(self) -> dict[str, Any]:
        field = f"{TRAIT_PREFIX}{self.key.strip()}" if self.is_trait else self.field
        value: Any = self.value
        if self.widget == "multiselect" and not isinstance(value, list):
            value = [value] if value else []
        if self.widget != "multiselect" and isinstance(value, list):
            value = ", ".join(value)
        return {"field": field, "operator": self.operator, "value": value}


def rule_rows_from_rules(rules: list[dict[str, Any]]) -> list[RuleRow]:
    """The stored rules as rows for the page."""
    rows = []
    for rule in rules if isinstance(rules, list) else []:
        field = str(rule.get("field", ""))
        key = ""
        if field.startswith(TRAIT_PREFIX):
            field, key = TRAIT_CHOICE, field[len(TRAIT_PREFIX) :]
        value = rule.get("value")
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, list):
            value = [str(v) for v in value]
        else:
            value = "" if value is None else str(value)
        rows.append(
            RuleRow(field=field, key=key, operator=str(rule.get("operator", "")), value=value)
        )
    return _tidy(rows or [RuleRow()])


def rule_rows_from_data(data: QueryDict) -> list[RuleRow]:
    """The rows a submitted page holds (``rule-<n>-field``, ``-key``, ``-operator``,
    ``-value``), in their order on the page; ``add_rule`` appends a row and ``remove_rule=<n>``
    drops one, for the page's "Add rule" and "Remove" buttons with or without htmx."""
    indexes = sorted(int(m.group(1)) for name in data if (m := RULE_NAME.match(name)))
    removed = ascii_int(data.get("remove_rule", ""))
    rows = []
    for n in indexes[: MAX_RULES + 1]:
        if n == removed:
            continue
        values = [v for v in data.getlist(f"rule-{n}-value")]
        rows.append(
            RuleRow(
                field=data.get(f"rule-{n}-field", ""),
                key=data.get(f"rule-{n}-key", "")[:100],
                operator=data.get(f"rule-{n}-operator", ""),
                value=values if len(values) > 1 else (values[0] if values else ""),
            )
        )
    if data.get("add_rule") and len(rows) < MAX_RULES:
        rows.append(RuleRow())
    return _tidy(rows or [RuleRow()])


def _tidy(rows: list[RuleRow]) -> list[RuleRow]:
    """Number the rows and give each a field and an operator its field allows (a new field
    keeps nothing that no longer fits), with the owner list loaded once for them all."""
    known = {f.key for f in segment_fields()} | {TRAIT_CHOICE}
    owners = None
    for index, row in enumerate(rows):
        row.index = index
        if row.field not in known:
            row.field = "plan"
        if row.operator not in row.spec.operators:
            row.operator = row.spec.operators[0]
        if row.widget == "multiselect" and not isinstance(row.value, list):
            row.value = [v.strip() for v in row.value.split(",") if v.strip()]
        if row.spec.kind == "user":
            if owners is None:
                owners = [(OWNER_NONE, "Nobody (unowned)")] + [
                    (str(u.pk), str(u)) for u in portfolio_owners()
                ]
            row.owner_choices = owners
    return rows


def rule_rows_errors(rows: list[RuleRow], error: SegmentRulesError) -> list[str]:
    """Put each rule's message beside its row; return the messages about the rules as a whole."""
    general = []
    for index, message in error.problems:
        if index is not None and index < len(rows):
            rows[index].error = message
        else:
            general.append(message)
    return general


class SegmentForm(forms.Form):
    """The segment page's name, description and match; the rules come as rows
    (:func:`rule_rows_from_data`) and are read by customers.segments like everywhere else."""

    name = forms.CharField(label="Name", max_length=120)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    match = forms.ChoiceField(
        label="Accounts must match", choices=Segment.Match.choices, initial=Segment.Match.ALL
    )
