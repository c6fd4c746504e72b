"""Risk signals, decided from one account's facts: pure functions, no database.

The recompute reads every account's facts set-based (health.selectors.signal_facts) and asks
:func:`findings` which signals hold today; health.services turns the answer into alerts that
open, stay or close. Keeping the decisions here means each threshold is tested by hand.
Reasons name the numbers that fired the signal, so a CSM can act without opening a chart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Kinds, as health.models.SignalKind spells them (kept as strings: this module is pure).
INACTIVE = "inactive"
USAGE_DROP = "usage_drop"
DETRACTOR = "detractor"
LOW_CSAT = "low_csat"
LOW_CES = "low_ces"
CARD_EXPIRING = "card_expiring"
FAILED_PAYMENT = "failed_payment"
DATA_EXPORT = "data_export"
CANCEL_PAGE = "cancel_page"
RENEWAL_AT_RISK = "renewal_at_risk"
STALE_TICKET = "stale_ticket"
NO_CSM_TOUCH = "no_csm_touch"
EXPANSION = "expansion"

PAYMENT_SUCCEEDED = "payment_succeeded"
SEATS_NEAR_FULL = 90.0  # % of seats (or of the plan's limit) used that counts as "near"
PROMOTER_FROM = 9
HAPPY_CSAT = 4.0


@dataclass(frozen=True)
class RuleSpec:
    kind: str
    severity: str
    threshold: float | None = None
    window_days: int = 30
    event_types: tuple[str, ...] = ()
    bands: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: str
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)


def _plural(n: int | float, word: str) -> str:
    return f"{n:g} {word}{'' if n == 1 else 's'}"


def _days(n: int) -> str:
    return _plural(n, "day")


def _within(on: dt.date | None, day: dt.date, window_days: int) -> bool:
    """``on`` falls in the ``window_days`` days ending on ``day``."""
    return on is not None and day - dt.timedelta(days=window_days) < on <= day


def _latest_of(facts: dict, event_types: Iterable[str]) -> tuple[str, dt.date] | None:
    seen = facts.get("last_event_days", {})
    found = [(seen[t], t) for t in event_types if seen.get(t) is not None]
    if not found:
        return None
    on, kind = max(found)
    return kind, on


def _answer(facts: dict, key: str, rule: RuleSpec, day: dt.date) -> tuple[float, dt.date] | None:
    answer = facts.get(key)
    if answer is None or not _within(answer[1], day, rule.window_days):
        return None
    return answer


def _inactive(rule: RuleSpec, facts: dict, day: dt.date) -> Finding | None:
    limit = int(rule.threshold)
    latest = _latest_of(facts, rule.event_types)
    names = " or ".join(rule.event_types)
    if latest is None:
        age = facts["age_days"]
        if age < limit:
            return None
        return Finding(
            INACTIVE,
            rule.severity,
            f"No {names} since the account was created {_days(age)} ago.",
            {"days": age, "last": None},
        )
    idle = (day - latest[1]).days
    if idle < limit:
        return None
    return Finding(
        INACTIVE,
        rule.severity,
        f"No {names} for {_days(idle)} (last on {latest[1].isoformat()}).",
        {"days": idle, "last": latest[1].isoformat()},
    )


def _usage_drop(rule: RuleSpec, facts: dict, day: dt.date) -> Finding | None:
    recent, prior = facts.get("usage_recent", 0), facts.get("usage_prior", 0)
    if not prior:
        return None
    change = round(100.0 * (recent - prior) / prior, 1)
    if change > -rule.threshold:
        return None
    return Finding(
        USAGE_DROP,
        rule.severity,
        f"Usage down {-change:g} %: {recent:,} events in the last 30 days against {prior:,} "
        "in the 30 before.",
        {"recent": recent, "prior": prior, "change_pct": change},
    )


def _low_answer(kind: str, key: str, label: str):
    def check(rule: RuleSpec, facts: dict, day: dt.date) -> Finding | None:
        answer = _answer(facts, key, rule, day)
        if answer is None or answer[0] > rule.threshold:
            return None
        score, on = answer
        return Finding(
            kind,
            rule.severity,
            f"{label} answer {score:g} on {on.isoformat()} (counts up to {rule.threshold:g}).",
            {"score": score, "on": on.isoformat()},
        )

    return check


def _card_expiring(rule: RuleSpec, facts: dict, day: dt.date) -> Finding | None:
    left = facts.get("card_expiry_days")
    if left is None or left > rule.threshold:
        return None
    text = (
        f"The card on file expires in {_days(left)}."
        if left >= 0
        else f"The card on file expired {_days(-left)} ago."
    )
    return Finding(CARD_EXPIRING, rule.severity, text, {"days_left": left})


def _failed_payment(rule: RuleSpec, facts: dict, day: dt.date) -> Finding | None:
    failed = _latest_of(facts, rule.event_types)
    if failed is None or not _within(failed[1], day, rule.window_days):
        return None
    succeeded = facts.get("last_event_days", {}).get(PAYMENT_SUCCEEDED)
    if succeeded is not None and succeeded > failed[1]:
        return None
    return Finding(
        FAILED_PAYMENT,
        rule.severity,
        f"A payment failed on {failed[1].isoformat()} and none has succeeded since.",
        {"on": failed[1].isoformat()},
    )


def _event_seen(kind: str, label: str):
    def check(rule: RuleSpec, facts: dict, day: dt.date) -> Finding | None:
        latest = _latest_of(facts, rule.event_types)
        if latest is None or not _within(latest[1], day, rule.window_days):
            return None
        return Finding(
            kind,
            rule.severity,
            f"{label}: {latest[0]} on {latest[1].isoformat()}.",
            {"event": latest[0], "on": latest[1].isoformat()},
        )

    return check


def _renewal_at_risk(rule: RuleSpec, facts: dict, day: dt.date) -> Finding | None:
    renewal, band = facts.get("renewal_date"), facts.get("band")
    if renewal is None or band not in rule.bands:
        return None
    left = (renewal - day).days
    if not 0 <= left <= rule.threshold:
        return None
    return Finding(
        RENEWAL_AT_RISK,
        rule.severity,
        f"Renews in {_days(left)} ({renewal.isoformat()}) with a {band} score of "
        f"{facts.get('score')}.",
        {"days_left": left, "band": band, "score": facts.get("score")},
    )


def _stale_ticket(rule: RuleSpec, facts: dict, day: dt.date) -> Finding | None:
    ticket = facts.get("oldest_urgent_ticket")
    if ticket is None:
        return None
    age = (day - ticket["opened"]).days
    if age <= rule.threshold:
        return None
    return Finding(
        STALE_TICKET,
        rule.severity,
        f"{ticket['priority'].capitalize()}-priority ticket “{ticket['subject'][:120]}” "
        f"open for {_days(age)}.",
        {"days": age, "ticket": ticket["external_id"]},
    )


def _no_csm_touch(rule: RuleSpec, facts: dict, day: dt.date) -> Finding | None:
    if not facts.get("has_owner"):
        return None
    limit = int(rule.threshold)
    touched = facts.get("last_touch")
    if touched is None:
        if facts["age_days"] < limit:
            return None
        return Finding(
            NO_CSM_TOUCH,
            rule.severity,
            f"No CSM note, follow-up or alert action since the account was created "
            f"{_days(facts['age_days'])} ago.",
            {"days": facts["age_days"], "last": None},
        )
    quiet = (day - touched).days
    if quiet < limit:
        return None
    return Finding(
        NO_CSM_TOUCH,
        rule.severity,
        f"No CSM touch for {_days(quiet)} (last on {touched.isoformat()}).",
        {"days": quiet, "last": touched.isoformat()},
    )


def _expansion(rule: RuleSpec, facts: dict, day: dt.date) -> Finding | None:
    if facts.get("band") != "green":
        return None
    recent, prior = facts.get("usage_recent", 0), facts.get("usage_prior", 0)
    if not prior:
        return None
    growth = round(100.0 * (recent - prior) / prior, 1)
    if growth < rule.threshold:
        return None
    why = []
    seats = facts.get("seats_used")
    if seats is not None and seats >= SEATS_NEAR_FULL:
        why.append(f"{seats:g} % of seats used")
    plan = facts.get("plan_used")
    if plan is not None and plan >= SEATS_NEAR_FULL:
        why.append(f"{plan:g} % of the plan's limit used")
    nps = _answer(facts, "nps", rule, day)
    if nps is not None and nps[0] >= PROMOTER_FROM:
        why.append(f"promoter answer {nps[0]:g}")
    csat = _answer(facts, "csat", rule, day)
    if csat is not None and csat[0] >= HAPPY_CSAT:
        why.append(f"CSAT {csat[0]:g}")
    if not why:
        return None
    return Finding(
        EXPANSION,
        rule.severity,
        f"Green at {facts.get('score')}, usage up {growth:g} %, {', '.join(why)}.",
        {"growth_pct": growth, "score": facts.get("score")},
    )


CHECKS = {
    INACTIVE: _inactive,
    USAGE_DROP: _usage_drop,
    DETRACTOR: _low_answer(DETRACTOR, "nps", "NPS"),
    LOW_CSAT: _low_answer(LOW_CSAT, "csat", "CSAT"),
    LOW_CES: _low_answer(LOW_CES, "ces", "CES"),
    CARD_EXPIRING: _card_expiring,
    FAILED_PAYMENT: _failed_payment,
    DATA_EXPORT: _event_seen(DATA_EXPORT, "Data export"),
    CANCEL_PAGE: _event_seen(CANCEL_PAGE, "Cancel page visited"),
    RENEWAL_AT_RISK: _renewal_at_risk,
    STALE_TICKET: _stale_ticket,
    NO_CSM_TOUCH: _no_csm_touch,
    EXPANSION: _expansion,
}


def findings(rules: Iterable[RuleSpec], facts: dict[str, Any], *, day: dt.date) -> list[Finding]:
    """The signals that hold for an account on ``day``. A churned account raises none: its
    alerts close, and winning it back is a playbook's work, not an alert's."""
    if facts.get("churned"):
        return []
    found = []
    for rule in rules:
        check = CHECKS.get(rule.kind)
        if check is None:
            continue
        finding = check(rule, facts, day)
        if finding is not None:
            found.append(finding)
    return found
