"""Survey scores as docs/domain/survey-metrics.md defines them: pure functions, no database.

Selectors count and sum in SQL and hand the totals to the ``*_from_*`` functions; the functions
over raw answers (``nps(scores)``, ``cli(answers)``, …) build the same totals in Python, so one
code path does the arithmetic whichever way the numbers arrive.

Rounding: every figure is a ``Decimal`` computed exactly (with fractions) and rounded once, half
up, at the end: NPS and every margin of error to one decimal, CSAT % and CES % agree to whole
percent (as the definitions say), means to two decimals, CLI and CSI to one decimal and CSI
weights to three. A figure with no answers behind it is ``None``, never 0 and never a crash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

NPS = "nps"
CSAT = "csat"
CES = "ces"
CLI = "cli"
CSI = "csi"

ONE_DECIMAL = Decimal("0.1")
TWO_DECIMALS = Decimal("0.01")
THREE_DECIMALS = Decimal("0.001")
WHOLE = Decimal("1")
Z_95 = Fraction(196, 100)

# Answer categories by kind, as inclusive score ranges. NPS uses its own names; CSAT and CES
# share satisfied / neutral / unsatisfied (CES "satisfied" = agrees it was easy, 5–7).
CATEGORIES: dict[str, dict[str, tuple[int, int]]] = {
    NPS: {"promoter": (9, 10), "passive": (7, 8), "detractor": (0, 6)},
    CSAT: {"satisfied": (4, 5), "neutral": (3, 3), "unsatisfied": (1, 2)},
    CES: {"satisfied": (5, 7), "neutral": (4, 4), "unsatisfied": (1, 3)},
}
CATEGORY_LABELS: dict[str, dict[str, str]] = {
    NPS: {
        "promoter": "Promoters (9–10)",
        "passive": "Passives (7–8)",
        "detractor": "Detractors (0–6)",
    },
    CSAT: {
        "satisfied": "Satisfied (4–5)",
        "neutral": "Neutral (3)",
        "unsatisfied": "Unsatisfied (1–2)",
    },
    CES: {
        "satisfied": "Found it easy (5–7)",
        "neutral": "Neutral (4)",
        "unsatisfied": "Found it hard (1–3)",
    },
}
# Close the loop (issue 4): these answers become a follow-up for the account's owner.
UNHAPPY_AT_MOST: dict[str, int] = {NPS: 6, CSAT: 2, CES: 3}

SCORE_LABELS: dict[str, str] = {
    NPS: "Net Promoter Score",
    CSAT: "CSAT: satisfied (4–5)",
    CES: "CES: agree it was easy (5–7)",
    CLI: "Customer Loyalty Index",
    CSI: "Customer Satisfaction Index",
}
SCORE_UNITS: dict[str, str] = {CSAT: " %", CES: " %"}

# Context shown next to a score (published SaaS data, docs/domain/survey-metrics.md): not targets.
BENCHMARKS: dict[str, str] = {
    NPS: "NPS ≥ 50 is good. In published SaaS data an NPS above 60 goes with renewal above "
    "85 %, and an NPS below 40 rarely with renewal of 70 % or more.",
    CSAT: "In published SaaS data a CSAT above 80 % goes with logo churn below 7 %.",
    CES: "Higher is easier: the share who agree (5–7) that we made it easy. Effort predicts "
    "disloyalty better than delight predicts loyalty.",
    CLI: "0–100: the mean of recommend, buy again and try other products, scaled to 100.",
    CSI: "10–100: satisfaction per criterion weighted by how important respondents say it is.",
}


def _decimal(value: Fraction, quantum: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 40
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return exact.quantize(quantum, rounding=ROUND_HALF_UP)


def _sqrt(value: Fraction, quantum: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 40
        exact = (Decimal(value.numerator) / Decimal(value.denominator)).sqrt()
        return exact.quantize(quantum, rounding=ROUND_HALF_UP)


def _scores(values: Iterable[int | None]) -> list[int]:
    """Unanswered (None) is not an answer: it is left out of N."""
    return [int(v) for v in values if v is not None]


def distribution(values: Iterable[int | None], low: int, high: int) -> dict[int, int]:
    """Count per score value, every value of the scale present (zeros included)."""
    counts = dict.fromkeys(range(low, high + 1), 0)
    for value in _scores(values):
        if low <= value <= high:
            counts[value] += 1
    return counts


def category(kind: str, score: int | None) -> str | None:
    """promoter / passive / detractor (NPS) or satisfied / neutral / unsatisfied (CSAT, CES)."""
    if score is None:
        return None
    for name, (low, high) in CATEGORIES.get(kind, {}).items():
        if low <= score <= high:
            return name
    return None


def is_unhappy(kind: str, score: int | None) -> bool:
    """A detractor (NPS ≤ 6), CSAT ≤ 2 or CES ≤ 3. CLI and CSI have no single unhappy score."""
    limit = UNHAPPY_AT_MOST.get(kind)
    return limit is not None and score is not None and score <= limit


# --- NPS ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NpsResult:
    responses: int
    promoters: int
    passives: int
    detractors: int
    score: Decimal | None  # −100…100, one decimal
    margin: Decimal | None  # ± points at 95 %, one decimal


def nps_from_counts(*, promoters: int, passives: int, detractors: int) -> NpsResult:
    """NPS = 100 × (P − D) / N; margin = 1.96 × 100 × sqrt((p + d − (p − d)²) / N)."""
    n = promoters + passives + detractors
    if n == 0:
        return NpsResult(0, 0, 0, 0, None, None)
    p, d = Fraction(promoters, n), Fraction(detractors, n)
    variance = max(p + d - (p - d) ** 2, Fraction(0))
    return NpsResult(
        responses=n,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        score=_decimal(100 * (p - d), ONE_DECIMAL),
        margin=_sqrt(Z_95**2 * 100**2 * variance / n, ONE_DECIMAL),
    )


def nps_from_distribution(counts: Mapping[int, int]) -> NpsResult:
    def total(low: int, high: int) -> int:
        return sum(c for v, c in counts.items() if low <= v <= high)

    return nps_from_counts(promoters=total(9, 10), passives=total(7, 8), detractors=total(0, 6))


def nps(scores: Iterable[int | None]) -> NpsResult:
    return nps_from_distribution(distribution(scores, 0, 10))


# --- CSAT and CES: a top box share and a mean ------------------------------------------------


@dataclass(frozen=True)
class ShareResult:
    """CSAT: share of 4–5 of 1–5. CES: share agreeing (5–7) of 1–7. Plus the mean."""

    responses: int
    in_box: int
    percent: Decimal | None  # whole percent
    mean: Decimal | None  # two decimals
    margin: Decimal | None = None  # ± percentage points at 95 %, one decimal


def _share(counts: Mapping[int, int], box_low: int) -> ShareResult:
    """The share's margin is the NPS one's two-way case (a share is a proportion):
    1.96 × 100 × sqrt(p × (1 − p) / N), so every headline score carries one."""
    n = sum(counts.values())
    if n == 0:
        return ShareResult(0, 0, None, None)
    in_box = sum(c for v, c in counts.items() if v >= box_low)
    total = sum(v * c for v, c in counts.items())
    p = Fraction(in_box, n)
    return ShareResult(
        responses=n,
        in_box=in_box,
        percent=_decimal(100 * p, WHOLE),
        mean=_decimal(Fraction(total, n), TWO_DECIMALS),
        margin=_sqrt(Z_95**2 * 100**2 * p * (1 - p) / n, ONE_DECIMAL),
    )


def csat_from_distribution(counts: Mapping[int, int]) -> ShareResult:
    return _share(counts, box_low=4)


def csat(scores: Iterable[int | None]) -> ShareResult:
    return csat_from_distribution(distribution(scores, 1, 5))


def ces_from_distribution(counts: Mapping[int, int]) -> ShareResult:
    return _share(counts, box_low=5)


def ces(scores: Iterable[int | None]) -> ShareResult:
    return ces_from_distribution(distribution(scores, 1, 7))


# --- margins of scores built from several answers ----------------------------------------------


@dataclass(frozen=True)
class Spread:
    """What a margin of error needs from the answers that rated every item: how many (``n``),
    each item's sum, and the sum of each pair's products (``(a, b)`` with a before b in item
    order, and ``(a, a)``): what SQL's COUNT and SUM return."""

    n: int = 0
    sums: Mapping[str, int] = field(default_factory=dict)
    products: Mapping[tuple[str, str], int] = field(default_factory=dict)


def spread_of(rows: Iterable[Mapping[str, int | None]], keys: list[str]) -> Spread:
    """The same totals from raw answers (rows with any item missing are left out)."""
    complete = [
        [int(row[k]) for k in keys] for row in rows if all(row.get(k) is not None for k in keys)
    ]
    return Spread(
        n=len(complete),
        sums={k: sum(values[i] for values in complete) for i, k in enumerate(keys)},
        products={
            (a, b): sum(values[i] * values[j] for values in complete)
            for i, a in enumerate(keys)
            for j, b in enumerate(keys)
            if i <= j
        },
    )


def linear_margin(spread: Spread, coefficients: Mapping[str, Fraction]) -> Decimal | None:
    """95 % margin of the mean of per-respondent scores Σ cᵢ·xᵢ: 1.96 × sqrt(c′·Σ·c / n), with Σ
    the items' covariance (population, as in the NPS margin) over the complete answers. The
    NPS margin's reasoning for a score made of several answers; CSI's weights count as fixed."""
    n = spread.n
    if n == 0:
        return None
    keys = list(coefficients)
    means = {k: Fraction(spread.sums.get(k, 0), n) for k in keys}
    variance = Fraction(0)
    for a in keys:
        for b in keys:
            product = spread.products.get((a, b), spread.products.get((b, a), 0))
            covariance = Fraction(product, n) - means[a] * means[b]
            variance += coefficients[a] * coefficients[b] * covariance
    return _sqrt(Z_95**2 * max(variance, Fraction(0)) / n, ONE_DECIMAL)


# --- CLI --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemTotal:
    """Sum and count of one item's answers (what SQL's SUM and COUNT return)."""

    total: int = 0
    count: int = 0

    @property
    def mean(self) -> Decimal | None:
        return _decimal(Fraction(self.total, self.count), TWO_DECIMALS) if self.count else None


@dataclass(frozen=True)
class CliResult:
    responses: int
    score: Decimal | None  # 0–100, one decimal
    item_means: dict[str, Decimal | None] = field(default_factory=dict)
    margin: Decimal | None = None  # ± points at 95 %, one decimal


def cli_from_totals(
    *, responses: int, items: Mapping[str, ItemTotal], spread: Spread | None = None
) -> CliResult:
    """CLI = mean of all answers (every item of every respondent) / 10 × 100. Its margin is
    that of the respondents' own CLIs (each the mean of their answers × 10)."""
    total = sum(item.total for item in items.values())
    count = sum(item.count for item in items.values())
    margin = None
    if spread is not None and items:
        share = Fraction(10, len(items))
        margin = linear_margin(spread, {key: share for key in items})
    return CliResult(
        responses=responses,
        score=_decimal(Fraction(total * 10, count), ONE_DECIMAL) if count else None,
        item_means={key: item.mean for key, item in items.items()},
        margin=margin,
    )


def cli(answers: Iterable[Mapping[str, int | None]], items: Iterable[str]) -> CliResult:
    answers = list(answers)
    keys = list(items)
    totals = {key: [0, 0] for key in keys}
    responses = 0
    for answer in answers:
        responses += 1
        for key in keys:
            value = answer.get(key)
            if value is not None:
                totals[key][0] += int(value)
                totals[key][1] += 1
    return cli_from_totals(
        responses=responses,
        items={k: ItemTotal(total=t, count=c) for k, (t, c) in totals.items()},
        spread=spread_of(answers, keys),
    )


# --- CSI --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionTotal:
    importance: ItemTotal = ItemTotal()
    satisfaction: ItemTotal = ItemTotal()


@dataclass(frozen=True)
class CsiCriterion:
    key: str
    importance_mean: Decimal | None
    satisfaction_mean: Decimal | None
    weight: Decimal | None  # three decimals; the weights of the scored criteria sum to ~1


@dataclass(frozen=True)
class CsiResult:
    responses: int
    score: Decimal | None  # 10–100, one decimal
    criteria: list[CsiCriterion] = field(default_factory=list)
    margin: Decimal | None = None  # ± points at 95 %, one decimal


def csi_from_totals(
    *,
    responses: int,
    criteria: Mapping[str, CriterionTotal],
    spread: Spread | None = None,
) -> CsiResult:
    """w_i = mean importance_i / Σ mean importance; CSI = 10 × Σ w_i × mean satisfaction_i.

    A criterion nobody rated (no importance or no satisfaction) is left out and the weights of
    the others renormalised, as with missing data in health scores. The margin is that of the
    respondents' own CSIs at these weights (``spread`` holds their satisfaction answers).
    """
    means: dict[str, tuple[Fraction, Fraction]] = {}
    for key, totals in criteria.items():
        if totals.importance.count and totals.satisfaction.count:
            means[key] = (
                Fraction(totals.importance.total, totals.importance.count),
                Fraction(totals.satisfaction.total, totals.satisfaction.count),
            )
    importance_sum = sum((imp for imp, _ in means.values()), Fraction(0))
    score = None
    weights: dict[str, Fraction] = {}
    if importance_sum > 0:
        weights = {key: imp / importance_sum for key, (imp, _) in means.items()}
        score = _decimal(10 * sum(weights[k] * sat for k, (_, sat) in means.items()), ONE_DECIMAL)
    margin = None
    if spread is not None and weights:
        margin = linear_margin(spread, {key: 10 * weights.get(key, 0) for key in criteria})
    return CsiResult(
        responses=responses,
        score=score,
        margin=margin,
        criteria=[
            CsiCriterion(
                key=key,
                importance_mean=totals.importance.mean,
                satisfaction_mean=totals.satisfaction.mean,
                weight=_decimal(weights[key], THREE_DECIMALS) if key in weights else None,
            )
            for key, totals in criteria.items()
        ],
    )


def csi(
    answers: Iterable[Mapping[str, Mapping[str, int | None]]], criteria: Iterable[str]
) -> CsiResult:
    answers = list(answers)
    keys = list(criteria)
    sums = {key: {"importance": [0, 0], "satisfaction": [0, 0]} for key in keys}
    responses = 0
    for answer in answers:
        responses += 1
        for key in keys:
            pair = answer.get(key) or {}
            for part in ("importance", "satisfaction"):
                value = pair.get(part)
                if value is not None:
                    sums[key][part][0] += int(value)
                    sums[key][part][1] += 1
    return csi_from_totals(
        responses=responses,
        criteria={
            key: CriterionTotal(
                importance=ItemTotal(*parts["importance"]),
                satisfaction=ItemTotal(*parts["satisfaction"]),
            )
            for key, parts in sums.items()
        },
        spread=spread_of(
            [{k: (a.get(k) or {}).get("satisfaction") for k in keys} for a in answers], keys
        ),
    )


# --- one respondent ---------------------------------------------------------------------------


def respondent_score(kind: str, score: int | None, answers: Mapping | None) -> Decimal | None:
    """What one answer says on the survey's own scale: the score for NPS/CSAT/CES, that
    respondent's CLI or CSI for the multi-item kinds (for the timeline and exports)."""
    if kind in (NPS, CSAT, CES):
        return None if score is None else Decimal(score)
    answers = answers or {}
    if kind == CLI:
        return cli([answers], list(answers)).score
    if kind == CSI:
        return csi([answers], list(answers)).score
    return None


# --- did a score really move? (two periods) ------------------------------------------------

SIGNIFICANT = "significant"
WITHIN_NOISE = "within noise"


@dataclass(frozen=True)
class PeriodScore:
    """One period's headline score as the results show it: the answers behind it, the score
    and its 95 % margin (both already rounded, as shown)."""

    label: str
    responses: int
    score: Decimal | None
    margin: Decimal | None


@dataclass(frozen=True)
class ScoreChange:
    current: PeriodScore
    previous: PeriodScore
    difference: Decimal | None  # current − previous, points, one decimal
    margin: Decimal | None  # 95 % margin of the difference, one decimal
    verdict: str | None  # SIGNIFICANT, WITHIN_NOISE, or None with a reason
    reason: str = ""  # why there is no verdict


def score_change(*, current: PeriodScore, previous: PeriodScore) -> ScoreChange:
    """Whether a score moved between two periods beyond what sampling alone explains
    (DESIGN §2: every score carries its 95 % margin, so a reader can tell change from noise).

    The two periods' answers are independent samples, so the variance of the difference is the
    sum of their variances: margin = sqrt(m₁² + m₂²). The move is *significant* when
    |difference| is strictly greater than that margin, *within noise* otherwise. Both inputs
    are the rounded figures the page shows, so the verdict agrees with what a reader can check.
    A period with no answers has no score, hence no difference and no verdict: the reason
    names the period.
    """
    empty = [p.label for p in (current, previous) if not p.responses or p.score is None]
    if empty:
        return ScoreChange(
            current, previous, None, None, None, reason=f"No answers in {' or '.join(empty)}."
        )
    if current.margin is None or previous.margin is None:
        return ScoreChange(
            current, previous, None, None, None, reason="A margin of error is missing."
        )
    difference = current.score - previous.score
    with localcontext() as ctx:
        ctx.prec = 40
        margin = (current.margin**2 + previous.margin**2).sqrt()
    margin = margin.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)
    verdict = SIGNIFICANT if abs(difference) > margin else WITHIN_NOISE
    return ScoreChange(
        current,
        previous,
        difference.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP),
        margin,
        verdict,
    )


def churn_rate(*, accounts: int, churned: int) -> Decimal | None:
    """Churned accounts as a percent of the accounts at risk, one decimal; None without any
    (a rate of nobody is not 0 %)."""
    if not accounts:
        return None
    return _decimal(Fraction(100 * churned, accounts), ONE_DECIMAL)
