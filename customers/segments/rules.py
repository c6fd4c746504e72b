"""The one reader of segment rules: the admin, the segment page, the preview, the portfolio
filter and the membership refresh all go through :func:`rules_clean` / :func:`rules_q`, so a
rule means the same thing wherever it is typed or used.

A rule is ``{"field": ..., "operator": ..., "value": ...}``. Reading one checks the field
exists, the operator suits it and the value is of the field's kind, and returns it in a
canonical form (operator codes, ids as ints, amounts as strings, lists for "is one of"), so
what is stored is what was checked. Every problem is reported at once, each message naming
the rule's position.
"""

from __future__ import annotations

import datetime as dt
import operator as op
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import reduce
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from core.parsing import ascii_int
from customers.segments.fields import (
    BAND_NONE,
    BOOLEAN,
    CHOICE,
    COMPARISONS,
    DATE,
    DECIMAL,
    NO_VALUE,
    ONE_OF,
    OPERATOR_LABELS,
    OWNER_NONE,
    TEXT,
    TRAIT,
    TRAIT_PREFIX,
    USER,
    WITHIN_DAYS,
    SegmentField,
    field_get,
    fields,
    trait_number,
)

MAX_RULES = 20
MAX_TEXT = 200
MAX_CHOICES = 50
MAX_DAYS = 3650
MRR_MAX = Decimal("1000000000000")
MATCHES = ("all", "any")

# Other spellings of the operators, accepted when typed (the admin's JSON) and stored as codes.
OPERATOR_ALIASES = {
    "=": "equals",
    "==": "equals",
    "eq": "equals",
    "!=": "not_equals",
    "≠": "not_equals",
    "ne": "not_equals",
    "in": ONE_OF,
    "<": "lt",
    "<=": "lte",
    "≤": "lte",
    ">": "gt",
    ">=": "gte",
    "≥": "gte",
}
YES = {"yes", "true", "1"}
NO = {"no", "false", "0"}


class SegmentRulesError(ValidationError):
    """Rules that cannot be used; ``problems`` pairs each message with its rule's index (None
    for the rule list as a whole), so a form can show it beside the rule."""

    def __init__(self, problems: list[tuple[int | None, str]]) -> None:
        self.problems = problems
        super().__init__([message for _index, message in problems])


class _Bad(Exception):
    """One rule's problem, before its position is added."""


@dataclass(frozen=True)
class Rule:
    field: SegmentField
    operator: str
    value: Any

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field.key, "operator": self.operator, "value": self.value}


def field_keys_hint() -> str:
    return ", ".join(f.key for f in fields()) + ", traits.<key>"


def _field(raw: Any) -> SegmentField:
    if not isinstance(raw, str) or not raw.strip():
        raise _Bad("choose a field.")
    key = raw.strip()
    found = field_get(key)
    if found is not None:
        return found
    if key.startswith(TRAIT_PREFIX):
        raise _Bad(
            f"“{key[:80]}” is not a trait name: after “traits.” put the trait's key, starting "
            "with a letter or _, then letters, digits, _, -, . or spaces (64 at most)."
        )
    raise _Bad(f"unknown field “{key[:80]}”. Fields: {field_keys_hint()}.")


def _operator(raw: Any, field: SegmentField) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise _Bad(f"choose an operator for {field.label}.")
    code = raw.strip()
    code = OPERATOR_ALIASES.get(code.lower(), code.lower())
    if code not in field.operators:
        allowed = ", ".join(OPERATOR_LABELS[o] for o in field.operators)
        shown = OPERATOR_LABELS.get(code, raw.strip()[:40])
        raise _Bad(f"{field.label} cannot use “{shown}”; use one of: {allowed}.")
    return code


def _text(raw: Any, field: SegmentField) -> str:
    if isinstance(raw, bool) or raw is None or isinstance(raw, list | dict):
        raise _Bad(f"{field.label} needs a value.")
    text = str(raw).strip()
    if not text:
        raise _Bad(f"{field.label} needs a value.")
    if len(text) > MAX_TEXT:
        raise _Bad(f"{field.label}: a value may be at most {MAX_TEXT} characters.")
    if any(ord(c) < 32 for c in text):
        raise _Bad(f"{field.label}: the value has a control character.")
    return text


def _scalar(raw: Any, field: SegmentField, operator: str) -> Any:
    """One value of the field's kind, in its canonical form."""
    kind = field.kind
    if kind in (TEXT, TRAIT) and operator not in COMPARISONS:
        return _text(raw, field)
    if kind == TRAIT:  # a comparison: the trait is compared as a number
        number = trait_number(raw)
        if number is None:
            raise _Bad(
                f"{field.label} {OPERATOR_LABELS[operator]} needs a number, not “{_shown(raw)}”."
            )
        return number
    if kind == CHOICE:
        text = _text(raw, field).lower()
        valid = [key for key, _label in field.choices]
        if text not in valid:
            raise _Bad(
                f"{field.label} cannot be “{_shown(raw)}”; choose one of: {', '.join(valid)}."
            )
        return text
    if kind == USER:
        if isinstance(raw, str) and raw.strip().lower() == OWNER_NONE:
            return OWNER_NONE
        number = ascii_int(raw.strip() if isinstance(raw, str) else raw)
        if number is None or number < 1:
            raise _Bad(f"{field.label} needs a user id or “none” (unowned), not “{_shown(raw)}”.")
        return number
    if kind == DECIMAL:
        try:
            amount = (
                Decimal(str(raw).strip()) if not isinstance(raw, bool) and raw is not None else None
            )
        except InvalidOperation:
            amount = None
        if (
            amount is None
            or not amount.is_finite()
            or not re.fullmatch(r"[\d.+-]+", str(raw).strip())
        ):
            raise _Bad(f"{field.label} needs an amount like 1500 or 99.50, not “{_shown(raw)}”.")
        if amount < 0 or amount >= MRR_MAX:
            raise _Bad(f"{field.label} must be between 0 and {MRR_MAX:,}.")
        return str(amount.quantize(Decimal("0.01")))
    if kind == BOOLEAN:
        text = str(raw).strip().lower() if raw is not None else ""
        if raw is True or text in YES:
            return True
        if raw is False or text in NO:
            return False
        raise _Bad(f"{field.label} needs yes or no, not “{_shown(raw)}”.")
    # INTEGER, and DATE's day count
    number = ascii_int(raw.strip() if isinstance(raw, str) else raw)
    low = 0 if kind == DATE else field.minimum
    high = MAX_DAYS if kind == DATE else field.maximum
    if number is None:
        raise _Bad(f"{field.label} needs a whole number, not “{_shown(raw)}”.")
    if (low is not None and number < low) or (high is not None and number > high):
        raise _Bad(f"{field.label} must be between {low} and {high}.")
    return number


def _shown(raw: Any) -> str:
    text = str(raw)
    return text if len(text) <= 40 else text[:39] + "…"


def _value(raw: Any, field: SegmentField, operator: str) -> Any:
    if operator in NO_VALUE:
        return None
    if operator == WITHIN_DAYS:
        number = ascii_int(raw.strip() if isinstance(raw, str) else raw)
        if number is None or not 0 <= number <= MAX_DAYS:
            raise _Bad(f"{field.label} needs a number of days between 0 and {MAX_DAYS}.")
        return number
    if operator == ONE_OF:
        items = raw if isinstance(raw, list) else str(raw or "").split(",")
        items = [item for item in items if not (isinstance(item, str) and not item.strip())]
        if not items:
            raise _Bad(f"{field.label} is one of: give at least one value (commas between).")
        if len(items) > MAX_CHOICES:
            raise _Bad(f"{field.label} is one of: at most {MAX_CHOICES} values.")
        values: list[Any] = []
        for item in items:
            value = _scalar(item, field, operator)
            if value not in values:
                values.append(value)
        return values
    return _scalar(raw, field, operator)


def _rule(raw: Any) -> Rule:
    if not isinstance(raw, dict):
        raise _Bad("expected an object with field, operator and value.")
    field = _field(raw.get("field"))
    operator = _operator(raw.get("operator"), field)
    return Rule(field, operator, _value(raw.get("value"), field, operator))


def rules_parse(raw: Any) -> list[Rule]:
    """Read rules without touching the database; raises :class:`SegmentRulesError` listing
    every problem."""
    if not isinstance(raw, list):
        raise SegmentRulesError([(None, "Rules must be a list of {field, operator, value}.")])
    if not raw:
        raise SegmentRulesError([(None, "Add at least one rule.")])
    if len(raw) > MAX_RULES:
        raise SegmentRulesError([(None, f"A segment may have at most {MAX_RULES} rules.")])
    rules: list[Rule] = []
    problems: list[tuple[int | None, str]] = []
    for index, item in enumerate(raw):
        try:
            rules.append(_rule(item))
        except _Bad as bad:
            problems.append((index, f"Rule {index + 1}: {bad}"))
    if problems:
        raise SegmentRulesError(problems)
    return rules


def _owner_ids(rules: Iterable[Rule]) -> set[int]:
    ids: set[int] = set()
    for rule in rules:
        if rule.field.kind == USER and rule.value is not None:
            values = rule.value if isinstance(rule.value, list) else [rule.value]
            ids.update(v for v in values if isinstance(v, int))
    return ids


def rules_clean(raw: Any, *, user=None) -> list[dict[str, Any]]:
    """Validate rules as typed and return them in canonical form, ready to store.

    ``user`` lets an owner rule say "me", stored as that user's id (a segment means the same
    whoever opens it). Owner ids must name existing users (one query). Raises
    :class:`SegmentRulesError`.
    """
    if user is not None and isinstance(raw, list):
        raw = [_me_to_id(item, user) for item in raw]
    rules = rules_parse(raw)
    wanted = _owner_ids(rules)
    if wanted:
        known = set(get_user_model().objects.filter(pk__in=wanted).values_list("pk", flat=True))
        problems = [
            (index, f"Rule {index + 1}: no user with id {pk}.")
            for index, rule in enumerate(rules)
            for pk in sorted(_owner_ids([rule]) - known)
        ]
        if problems:
            raise SegmentRulesError(problems)
    return [rule.as_json() for rule in rules]


def _me_to_id(item: Any, user) -> Any:
    if not isinstance(item, dict) or item.get("field") != "owner":
        return item
    value = item.get("value")
    if isinstance(value, str) and value.strip().lower() == "me":
        return item | {"value": user.pk}
    if isinstance(value, list):
        return item | {"value": [user.pk if str(v).strip().lower() == "me" else v for v in value]}
    return item


def match_clean(raw: Any) -> str:
    if raw not in MATCHES:
        raise SegmentRulesError([(None, "Match must be “all” or “any”.")])
    return raw


def rules_q(rules: Any, *, match: str = "all", now: dt.datetime | None = None) -> Q:
    """The accounts matching ``rules`` as one ``Q`` over ``Account``: every rule (match
    "all") or at least one (match "any"). Stored rules are read again, so a rule whose field
    is no longer registered raises :class:`SegmentRulesError` instead of matching wrongly."""
    now = now or timezone.now()
    match_clean(match)
    parts = [rule.field.compile(rule.operator, rule.value, now=now) for rule in rules_parse(rules)]
    return reduce(op.and_ if match == "all" else op.or_, parts)


def rule_describe(rule: dict[str, Any], *, user_names: dict[int, str] | None = None) -> str:
    """A stored rule in words, for lists and summaries (plain text; templates escape it)."""
    field = field_get(str(rule.get("field", "")))
    label = field.label if field else str(rule.get("field"))
    operator = str(rule.get("operator", ""))
    words = OPERATOR_LABELS.get(operator, operator)
    if operator in NO_VALUE:
        return f"{label} {words}"
    if operator == WITHIN_DAYS:
        return f"{label} is within the next {rule.get('value')} days"
    values = rule.get("value")
    values = values if isinstance(values, list) else [values]
    shown = ", ".join(_describe_value(field, v, user_names or {}) for v in values)
    return f"{label} {words} {shown}"


def _describe_value(field: SegmentField | None, value: Any, user_names: dict[int, str]) -> str:
    if field is None:
        return str(value)
    if field.kind == USER:
        return (
            "nobody (unowned)" if value == OWNER_NONE else user_names.get(value, f"user #{value}")
        )
    if field.kind == BOOLEAN:
        return "yes" if value else "no"
    if field.kind == CHOICE:
        return dict(field.choices).get(value, str(value))
    return str(value)


__all__ = [
    "BAND_NONE",
    "MATCHES",
    "MAX_RULES",
    "Rule",
    "SegmentRulesError",
    "match_clean",
    "rule_describe",
    "rules_clean",
    "rules_parse",
    "rules_q",
]
