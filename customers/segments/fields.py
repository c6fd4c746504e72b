"""The fields a segment rule can test, and the registry apps above customers add theirs to.

customers cannot import the apps built on it, so a field that needs their data (the latest
NPS category needs surveys' answers) is registered from that app's ``AppConfig.ready``, the
way timeline sources are (customers.timeline). A field turns one validated ``(operator,
value)`` into a ``Q`` over ``Account``: set-based, so a segment is counted or listed with one
query whatever the size of the book.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.db import NotSupportedError
from django.db.models import CharField, F, Func, JSONField, Q, Value
from django.db.models.fields.json import KeyTransform
from django.db.models.lookups import In
from django.utils import timezone

from customers.models import LifecycleStage

# Operators, by the code stored in a rule. Labels are what the pages show.
EQUALS = "equals"
NOT_EQUALS = "not_equals"
ONE_OF = "one_of"
LT = "lt"
LTE = "lte"
GT = "gt"
GTE = "gte"
CONTAINS = "contains"
IS_SET = "is_set"
IS_NOT_SET = "is_not_set"
WITHIN_DAYS = "within_next_days"

OPERATOR_LABELS: dict[str, str] = {
    EQUALS: "equals",
    NOT_EQUALS: "does not equal",
    ONE_OF: "is one of",
    LT: "<",
    LTE: "≤",
    GT: ">",
    GTE: "≥",
    CONTAINS: "contains",
    IS_SET: "is set",
    IS_NOT_SET: "is not set",
    WITHIN_DAYS: "is within the next N days",
}
NO_VALUE = frozenset({IS_SET, IS_NOT_SET})
COMPARISONS = (LT, LTE, GT, GTE)

# Kinds of value, which decide how a rule's value is read (customers.segments.rules).
TEXT = "text"  # free text
CHOICE = "choice"  # one of ``choices``
USER = "user"  # a user id, or "none" for unowned accounts
DECIMAL = "decimal"  # a non-negative amount
INTEGER = "integer"  # a whole number between ``minimum`` and ``maximum``
DATE = "date"  # only "within the next N days", "is set", "is not set"
BOOLEAN = "boolean"  # yes / no
TRAIT = "trait"  # a JSON trait: string, number or true/false

TRAIT_PREFIX = "traits."
TRAIT_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\- ]{0,63}$")
OWNER_NONE = "none"
BAND_NONE = "none"

Compiler = Callable[..., Q]  # (operator, value, *, now) -> Q


@dataclass(frozen=True)
class SegmentField:
    key: str
    label: str
    kind: str
    operators: tuple[str, ...]
    compile: Compiler
    choices: tuple[tuple[str, str], ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    order: int = 100
    # When set (choice fields only), the portfolio also offers the field as a filter under this
    # query parameter: ``?<param>=<choice>`` lists the accounts the rule "equals <choice>" would.
    portfolio_param: str = ""
    portfolio_label: str = ""  # the filter's label there (short, like "Health"); else ``label``


_FIELDS: dict[str, SegmentField] = {}


def register_field(field: SegmentField) -> None:
    """Add a field rules can test (called from an ``AppConfig.ready``)."""
    _FIELDS[field.key] = field


def fields() -> list[SegmentField]:
    """Registered fields in the order the pages list them (traits are not among them: any
    ``traits.<key>`` is a field, see :func:`trait_field`)."""
    return sorted(_FIELDS.values(), key=lambda f: (f.order, f.key))


def portfolio_fields() -> list[SegmentField]:
    """The registered fields the portfolio offers as filters of their own."""
    return [f for f in fields() if f.portfolio_param and f.kind == CHOICE]


def field_get(key: str) -> SegmentField | None:
    """The field a rule names, or None when there is no such field."""
    if key.startswith(TRAIT_PREFIX):
        trait = key[len(TRAIT_PREFIX) :]
        return trait_field(trait) if TRAIT_KEY.fullmatch(trait) else None
    return _FIELDS.get(key)


# --- plain columns ----------------------------------------------------------------------------


def _column(column: str, *, blank_is_unset: bool = False, ignore_case: bool = False) -> Compiler:
    """A compiler for a column compared as it is stored."""
    exact = f"{column}__iexact" if ignore_case else column

    def compile(operator: str, value: Any, *, now: dt.datetime) -> Q:
        if operator == EQUALS:
            return Q(**{exact: value})
        if operator == NOT_EQUALS:
            return ~Q(**{exact: value})
        if operator == ONE_OF:
            return Q(**{f"{column}__in": value})
        if operator in COMPARISONS:
            return Q(**{f"{column}__{operator}": value})
        if operator == CONTAINS:
            return Q(**{f"{column}__icontains": value})
        unset = Q(**{column: ""}) if blank_is_unset else Q(**{f"{column}__isnull": True})
        if operator == IS_SET:
            return ~unset
        if operator == IS_NOT_SET:
            return unset
        raise ValueError(f"operator {operator} on {column}")

    return compile


def _owner(operator: str, value: Any, *, now: dt.datetime) -> Q:
    def one(v: int | str) -> Q:
        return Q(owner__isnull=True) if v == OWNER_NONE else Q(owner_id=v)

    if operator == EQUALS:
        return one(value)
    if operator == NOT_EQUALS:
        return ~one(value)
    if operator == ONE_OF:
        q = Q(owner_id__in=[v for v in value if v != OWNER_NONE])
        return q | Q(owner__isnull=True) if OWNER_NONE in value else q
    return Q(owner__isnull=operator == IS_NOT_SET)


def _health_band(operator: str, value: Any, *, now: dt.datetime) -> Q:
    def stored(v: str) -> str:
        return "" if v == BAND_NONE else v

    if operator == ONE_OF:
        return Q(health_band__in=[stored(v) for v in value])
    q = Q(health_band=stored(value))
    return q if operator == EQUALS else ~q


def _renewal(operator: str, value: Any, *, now: dt.datetime) -> Q:
    if operator == WITHIN_DAYS:
        today = timezone.localdate(now)
        return Q(renewal_date__gte=today, renewal_date__lte=today + dt.timedelta(days=value))
    return Q(renewal_date__isnull=operator == IS_NOT_SET)


def _age_days(operator: str, value: Any, *, now: dt.datetime) -> Q:
    """Age is whole days since ``created_at``: an account is N days old from exactly N×24 h
    after it was created until N+1 days. Compared on the column, so its index can serve."""

    def older_than(days: int) -> dt.datetime:
        return now - dt.timedelta(days=days)

    at_least = Q(created_at__lte=older_than(value))  # age ≥ value
    beyond = Q(created_at__lte=older_than(value + 1))  # age ≥ value + 1
    if operator == GTE:
        return at_least
    if operator == GT:
        return beyond
    if operator == LT:
        return ~at_least
    if operator == LTE:
        return ~beyond
    if operator == EQUALS:
        return at_least & ~beyond
    return ~(at_least & ~beyond)  # NOT_EQUALS


def _churned(operator: str, value: Any, *, now: dt.datetime) -> Q:
    churned = Q(churned_at__isnull=False)
    return churned if (operator == EQUALS) == value else ~churned


# --- traits -----------------------------------------------------------------------------------


class JSONKeyType(Func):
    """The JSON type of ``traits -> key`` as 'string', 'number', 'boolean', 'null', 'object',
    'array' or 'missing', on SQLite and PostgreSQL alike. Every trait comparison checks the type
    first: the two databases order mixed types differently (PostgreSQL puts every string below
    every number, SQLite above), SQLite reads true as 1, and a missing key would make NOT
    comparisons unknown instead of true."""

    output_field = CharField()

    def __init__(self, column: str, key: str) -> None:
        super().__init__(F(column))
        self.key = key

    def as_sql(self, compiler, connection, **extra):
        raise NotSupportedError(f"trait rules need SQLite or PostgreSQL, not {connection.vendor}")

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return f"COALESCE(jsonb_typeof({column} -> %s), 'missing')", (*params, self.key)

    def as_sqlite(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        path = "$." + json.dumps(self.key)
        sql = (
            f"COALESCE(CASE json_type({column}, %s) WHEN 'integer' THEN 'number' "
            "WHEN 'real' THEN 'number' WHEN 'text' THEN 'string' WHEN 'true' THEN 'boolean' "
            f"WHEN 'false' THEN 'boolean' ELSE json_type({column}, %s) END, 'missing')"
        )
        return sql, (*params, path, *params, path)


def trait_candidates(text: str) -> list[str | int | float | bool]:
    """What a typed trait value may equal: the text itself, and the number or true/false it
    spells ("42" matches the trait 42 and the trait "42"; "true" matches true and "true")."""
    candidates: list[str | int | float | bool] = [text]
    lowered = text.lower()
    if lowered in ("true", "false"):
        candidates.append(lowered == "true")
    number = trait_number(text)
    if number is not None:
        candidates.append(number)
    return candidates


def trait_number(text: Any) -> int | float | None:
    """A finite number from text (or a JSON number), as int when whole, else None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        text = str(text)
    if not isinstance(text, str) or not re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*", text):
        return None
    number = Decimal(text.strip())
    if abs(number) >= Decimal("1e15"):
        return None
    return int(number) if number == number.to_integral_value() else float(number)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _trait_compiler(key: str) -> Compiler:
    def kind_is(*kinds: str) -> Q:
        return Q(In(JSONKeyType("traits", key), list(kinds)))

    def lookup(name: str, value: Any) -> Q:
        # A lookup built outside a queryset does not encode its value as JSON by itself, so
        # the value says it is JSON (the text lookups compare plain text).
        transform = KeyTransform(key, "traits")
        rhs = value if name == "icontains" else Value(value, output_field=JSONField())
        return Q(transform.get_lookup(name)(transform, rhs))

    def equals(value: Any) -> Q:
        return kind_is(_json_kind(value)) & lookup("exact", value)

    def equals_any(texts: list[str]) -> Q:
        q = Q()
        for text in texts:
            for candidate in trait_candidates(text):
                q |= equals(candidate)
        return q

    def compile(operator: str, value: Any, *, now: dt.datetime) -> Q:
        if operator == EQUALS:
            return equals_any([value])
        if operator == NOT_EQUALS:
            return ~equals_any([value])
        if operator == ONE_OF:
            return equals_any(value)
        if operator in COMPARISONS:
            return kind_is("number") & lookup(operator, value)
        if operator == CONTAINS:
            return kind_is("string") & lookup("icontains", value)
        unset = kind_is("missing", "null")
        return ~unset if operator == IS_SET else unset

    return compile


def trait_field(key: str) -> SegmentField:
    """The field for ``traits.<key>``: any key may be tested, so traits are not registered."""
    return SegmentField(
        key=TRAIT_PREFIX + key,
        label=f"Trait “{key}”",
        kind=TRAIT,
        operators=(EQUALS, NOT_EQUALS, ONE_OF, CONTAINS, *COMPARISONS, IS_SET, IS_NOT_SET),
        compile=_trait_compiler(key),
    )


def register_builtin_fields() -> None:
    """customers' own fields; called when the package is imported."""
    text_ops = (EQUALS, NOT_EQUALS, ONE_OF, CONTAINS, IS_SET, IS_NOT_SET)
    number_ops = (EQUALS, NOT_EQUALS, *COMPARISONS)
    for field in (
        SegmentField(
            "name", "Name", TEXT, text_ops, _column("name", blank_is_unset=True, ignore_case=True)
        ),
        SegmentField("plan", "Plan", TEXT, text_ops, _column("plan", blank_is_unset=True)),
        SegmentField(
            "stage",
            "Lifecycle stage",
            CHOICE,
            (EQUALS, NOT_EQUALS, ONE_OF),
            _column("stage"),
            choices=tuple(LifecycleStage.choices),
        ),
        SegmentField(
            "owner", "Owner", USER, (EQUALS, NOT_EQUALS, ONE_OF, IS_SET, IS_NOT_SET), _owner
        ),
        SegmentField("mrr", "MRR (base currency)", DECIMAL, number_ops, _column("mrr_base")),
        SegmentField(
            "health_band",
            "Health band",
            CHOICE,
            (EQUALS, NOT_EQUALS, ONE_OF),
            _health_band,
            choices=(
                ("red", "Red"),
                ("yellow", "Yellow"),
                ("green", "Green"),
                ("none", "Not scored"),
            ),
        ),
        SegmentField(
            "health_score",
            "Health score",
            INTEGER,
            (*number_ops, IS_SET, IS_NOT_SET),
            _column("health_score"),
            minimum=0,
            maximum=100,
        ),
        SegmentField("renewal", "Renewal date", DATE, (WITHIN_DAYS, IS_SET, IS_NOT_SET), _renewal),
        SegmentField(
            "age_days",
            "Account age (days)",
            INTEGER,
            number_ops,
            _age_days,
            minimum=0,
            maximum=36500,
        ),
        SegmentField("churned", "Churned", BOOLEAN, (EQUALS, NOT_EQUALS), _churned),
    ):
        register_field(field)
    _order_builtins()


def _order_builtins() -> None:
    """Keep the fields in the order written above (registered fields come after them)."""
    for index, key in enumerate(list(_FIELDS)):
        _FIELDS[key] = replace(_FIELDS[key], order=index)
