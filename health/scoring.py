"""The health score's arithmetic, with no database (docs/domain/health-scores.md).

Each measure maps its raw value onto 0–100 (linearly between a worst and a best value, by
bands, or by named choices); a group is the weighted mean of its measures, the score the
weighted mean of its groups. A measure without data is left out and the remaining weights
renormalised; a group with no measure left drops out the same way. Kept pure so every rule is
tested against hand-computed cases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

LINEAR = "linear"
BANDS = "bands"
CHOICES = "choices"

RED, YELLOW, GREEN = "red", "yellow", "green"


@dataclass(frozen=True)
class MeasureSpec:
    """One measure of a profile: which input, how it maps, and its weight in its group.

    ``bands`` is a list of ``[upper bound, score]`` in ascending bound order: a value up to
    and including the first bound it does not exceed gets that score; above the last bound it
    gets ``above``. ``choices`` maps a named value (a lifecycle stage) to its score."""

    key: str
    kind: str
    weight: float
    mapping: str = LINEAR
    worst: float | None = None
    best: float | None = None
    bands: Sequence[tuple[float, float]] = ()
    above: float = 100.0
    choices: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupSpec:
    name: str
    weight: float
    measures: Sequence[MeasureSpec]


@dataclass(frozen=True)
class ProfileSpec:
    name: str
    groups: Sequence[GroupSpec]
    red_max: int = 50
    yellow_max: int = 75


@dataclass(frozen=True)
class Scored:
    score: int | None
    band: str
    components: dict[str, Any]


def map_value(measure: MeasureSpec, raw: Any) -> float | None:
    """The measure's 0–100 score for ``raw``, or None when there is no data to score."""
    if raw is None:
        return None
    if measure.mapping == CHOICES:
        value = measure.choices.get(str(raw))
        return None if value is None else float(value)
    number = float(raw) if isinstance(raw, int | float | Decimal) else None
    if number is None:
        return None
    if measure.mapping == BANDS:
        for upper, score in measure.bands:
            if number <= upper:
                return float(score)
        return float(measure.above)
    worst, best = float(measure.worst), float(measure.best)  # type: ignore[arg-type]
    share = (number - worst) / (best - worst)  # works whichever of the two is larger
    return 100.0 * min(1.0, max(0.0, share))


def _weighted_mean(pairs: Sequence[tuple[float, float]]) -> float | None:
    total = sum(weight for _, weight in pairs)
    if not pairs or total <= 0:
        return None
    return sum(value * weight for value, weight in pairs) / total


def band_of(score: int | None, *, red_max: int = 50, yellow_max: int = 75) -> str:
    """red 0–red_max, yellow up to yellow_max, green above; no score, no band."""
    if score is None:
        return ""
    if score <= red_max:
        return RED
    if score <= yellow_max:
        return YELLOW
    return GREEN


def score_account(profile: ProfileSpec, raw: Mapping[str, Any]) -> Scored:
    """Score one account's raw inputs (keyed by measure kind) with ``profile``.

    Returns the rounded score (half up), its band and every component: each measure's raw
    value and mapped score, and each group's score, for "why it changed" later."""
    components: dict[str, Any] = {"measures": {}, "groups": {}}
    groups: list[tuple[float, float]] = []
    for group in profile.groups:
        mapped: list[tuple[float, float]] = []
        for measure in group.measures:
            value = raw.get(measure.kind)
            score = map_value(measure, value)
            components["measures"][measure.key] = {
                "kind": measure.kind,
                "group": group.name,
                "value": _plain(value),
                "score": None if score is None else round(score, 1),
            }
            if score is not None:
                mapped.append((score, measure.weight))
        group_score = _weighted_mean(mapped)
        components["groups"][group.name] = None if group_score is None else round(group_score, 1)
        if group_score is not None:
            groups.append((group_score, group.weight))
    total = _weighted_mean(groups)
    score = (
        None if total is None else int(Decimal(str(total)).quantize(Decimal("1"), "ROUND_HALF_UP"))
    )
    return Scored(
        score, band_of(score, red_max=profile.red_max, yellow_max=profile.yellow_max), components
    )


def _plain(value: Any) -> Any:
    """A raw value as JSON can hold it."""
    if isinstance(value, Decimal):
        return float(value)
    return value
