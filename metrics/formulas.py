"""Revenue and retention math as functions of plain values (docs/domain/revenue.md).

Selectors count and sum in SQL and hand the totals here, so every definition lives in one
place and is tested against hand-computed cases without a database. Money is ``Decimal``
(already in the reporting currency); a rate is a ``Decimal`` fraction (0.05 is 5 %). A rate
whose denominator is zero is ``None`` — "not defined for this period" — never 0 or infinity:
the pages show "—" with the reason. The sBG fit (projected retention) uses SciPy's optimizer.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal("0")
ONE = Decimal("1")

NEW = "new"
EXPANSION = "expansion"
CONTRACTION = "contraction"
CHURN = "churn"
REACTIVATION = "reactivation"


@dataclass(frozen=True)
class Movement:
    """One account's MRR movement in a period: its kind and its size (always ≥ 0)."""

    kind: str
    amount: Decimal


def classify_movement(*, opening: Decimal, closing: Decimal, paid_before: bool) -> Movement | None:
    """An account's movement between the period's opening and closing MRR (revenue.md, "MRR
    movements"): from nothing to paying is **new**, or **reactivation** when it had paid
    before the period; from paying to nothing is **churn** of the opening MRR; otherwise the
    rise is **expansion** and the fall **contraction**. No change: no movement."""
    if opening < ZERO or closing < ZERO:
        raise ValueError("MRR cannot be negative")
    if opening == closing:
        return None
    if opening == ZERO:
        return Movement(REACTIVATION if paid_before else NEW, closing)
    if closing == ZERO:
        return Movement(CHURN, opening)
    if closing > opening:
        return Movement(EXPANSION, closing - opening)
    return Movement(CONTRACTION, opening - closing)


@dataclass(frozen=True)
class Movements:
    """A period's movements summed over accounts."""

    new: Decimal = ZERO
    expansion: Decimal = ZERO
    contraction: Decimal = ZERO
    churn: Decimal = ZERO
    reactivation: Decimal = ZERO

    @property
    def net_new(self) -> Decimal:
        """Net new MRR: what the period added, less what it lost."""
        return self.new + self.expansion + self.reactivation - self.contraction - self.churn

    def closing(self, opening: Decimal) -> Decimal:
        """The identity MRR_end = MRR_start + new + expansion + reactivation − contraction −
        churn."""
        return opening + self.net_new


def movements_sum(movements: Iterable[Movement | None]) -> Movements:
    totals = {NEW: ZERO, EXPANSION: ZERO, CONTRACTION: ZERO, CHURN: ZERO, REACTIVATION: ZERO}
    for movement in movements:
        if movement is not None:
            totals[movement.kind] += movement.amount
    return Movements(**totals)


def _ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    if not denominator:
        return None
    return Decimal(numerator) / Decimal(denominator)


def logo_churn_rate(*, churned: int, paying_at_start: int) -> Decimal | None:
    """Accounts that churned in the period over those paying at its start. ``churned`` must
    count only accounts paying at the start: one that starts and churns within the period is
    left out of both (ChartMogul's B2B rule)."""
    if churned > paying_at_start:
        raise ValueError("more churned accounts than were paying at the start")
    return _ratio(churned, paying_at_start)


def logo_retention_rate(*, churned: int, paying_at_start: int) -> Decimal | None:
    rate = logo_churn_rate(churned=churned, paying_at_start=paying_at_start)
    return None if rate is None else ONE - rate


def revenue_churn_rate(*, opening: Decimal, contraction: Decimal, churn: Decimal) -> Decimal | None:
    """Gross MRR churn: the opening MRR lost to contraction and churn (1 − GRR)."""
    return _ratio(contraction + churn, opening)


def grr(*, opening: Decimal, contraction: Decimal, churn: Decimal) -> Decimal | None:
    """Gross revenue retention: (MRR_start − contraction − churn) / MRR_start. New and
    reactivated revenue do not count; it is at most 1."""
    return _ratio(opening - contraction - churn, opening)


def nrr(
    *, opening: Decimal, expansion: Decimal, contraction: Decimal, churn: Decimal
) -> Decimal | None:
    """Net revenue retention: (MRR_start + expansion − contraction − churn) / MRR_start; new
    and reactivated revenue excluded, so it is never below GRR."""
    return _ratio(opening + expansion - contraction - churn, opening)


def annualised(monthly_rate: Decimal | None) -> Decimal | None:
    """A monthly retention rate compounded over twelve months."""
    return None if monthly_rate is None else monthly_rate**12


def annual_nrr(*, mrr_then: Decimal, mrr_now: Decimal) -> Decimal | None:
    """The MRR now of the accounts that were paying twelve months ago, over their MRR then."""
    return _ratio(mrr_now, mrr_then)


def quick_ratio(movements: Movements) -> Decimal | None:
    """(new + expansion + reactivation) / (contraction + churn): above 1 the book grows; none
    when nothing was lost."""
    return _ratio(
        movements.new + movements.expansion + movements.reactivation,
        movements.contraction + movements.churn,
    )


def arpa(*, mrr: Decimal, paying: int) -> Decimal | None:
    """Average revenue per paying account."""
    return _ratio(mrr, paying)


LTV_CHURN_MONTHS = 6


def ltv(
    *, arpa: Decimal | None, gross_margin: Decimal, monthly_churn_rates: Sequence[Decimal | None]
) -> Decimal | None:
    """ARPA × gross margin / the mean monthly logo churn of the previous six months (the last
    six of ``monthly_churn_rates``; months without a rate are left out). None when churn is
    zero or unknown: a lifetime without churn is not a number to show."""
    if arpa is None:
        return None
    if not ZERO <= gross_margin <= ONE:
        raise ValueError("gross margin is a fraction between 0 and 1")
    rates = [r for r in monthly_churn_rates[-LTV_CHURN_MONTHS:] if r is not None]
    if not rates:
        return None
    mean = sum(rates, ZERO) / len(rates)
    if mean == ZERO:
        return None
    return arpa * gross_margin / mean


def ltv_to_cac(*, ltv: Decimal | None, cac: Decimal | None) -> Decimal | None:
    """LTV over the cost to acquire a customer; 3 or more is healthy."""
    if ltv is None or not cac:
        return None
    return ltv / cac


# --- RFM -----------------------------------------------------------------------------------


def quintile_scores(
    values: Iterable[tuple[Hashable, float | Decimal]], *, higher_is_better: bool = True
) -> dict[Hashable, int]:
    """Score each key 1–5 by the quintile of its value's rank, 5 the best. Ties are broken by
    rank (the order of the keys among equal values), so the quintiles stay equal in size."""
    pairs = list(values)
    if higher_is_better:
        ranked = sorted(pairs, key=lambda kv: (kv[1], kv[0]))
    else:  # e.g. recency: the fewest days since the last payment is best
        ranked = sorted(pairs, key=lambda kv: (-kv[1], kv[0]))
    n = len(ranked)
    return {key: 1 + (5 * position) // n for position, (key, _) in enumerate(ranked)}


def rfm_segment(recency: int, frequency: int) -> str:
    """The segment of an account's (R, F) scores (revenue.md, "RFM")."""
    if not (1 <= recency <= 5 and 1 <= frequency <= 5):
        raise ValueError("R and F scores are 1–5")
    if recency == 5:
        return (
            "Champions" if frequency >= 4 else ("Potential loyalist" if frequency >= 2 else "New")
        )
    if recency == 4:
        if frequency >= 4:
            return "Loyal"
        return "Potential loyalist" if frequency >= 2 else "Promising"
    if recency == 3:
        if frequency >= 4:
            return "Loyal"
        return "Need attention" if frequency == 3 else "About to sleep"
    if frequency == 5:
        return "Can't lose them"
    return "At risk" if frequency >= 3 else "Hibernating"


# --- projected retention: the shifted-beta-geometric model ---------------------------------


@dataclass(frozen=True)
class SbgFit:
    """A cohort's sBG fit (Fader & Hardie 2007): each customer churns each period with a
    probability θ of their own, θ ~ Beta(α, β) across the cohort, so the survivors' retention
    rises with time as the likely churners leave first."""

    alpha: float
    beta: float
    log_likelihood: float

    def churn_probability(self, t: int) -> float:
        """P(T = t) = B(α+1, β+t−1) / B(α, β): a customer churns in period t (t ≥ 1)."""
        from scipy.special import betaln

        if t < 1:
            raise ValueError("periods count from 1")
        return math.exp(betaln(self.alpha + 1, self.beta + t - 1) - betaln(self.alpha, self.beta))

    def survival(self, t: int) -> float:
        """S(t) = B(α, β+t) / B(α, β): the share of the cohort still a customer after t."""
        from scipy.special import betaln

        if t < 0:
            raise ValueError("t cannot be negative")
        return math.exp(betaln(self.alpha, self.beta + t) - betaln(self.alpha, self.beta))

    def retention(self, t: int) -> float:
        """r_t = (β+t−1) / (α+β+t−1) = S(t) / S(t−1), for t ≥ 1."""
        if t < 1:
            raise ValueError("periods count from 1")
        return (self.beta + t - 1) / (self.alpha + self.beta + t - 1)

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        """DEL(d) = Σ_{t≥0} S(t) / (1+d)^t, summed until the terms no longer matter; times
        the margin per period it is the cohort's expected value per customer (CLV)."""
        if discount_rate <= 0:
            raise ValueError("the discount rate must be above 0")
        total, survival, factor = 0.0, 1.0, 1.0
        for t in range(1_000_000):
            if t:
                survival *= self.retention(t)
                factor /= 1 + discount_rate
            term = survival * factor
            total += term
            if term < 1e-12:
                break
        return total


# α or β below this is the optimiser running off to a degenerate limit, not a fit. (Both very
# large is a legitimate limit: everyone churns with the same probability, a geometric model.)
SBG_SMALLEST_PARAMETER = 1e-6


def fit_shifted_beta_geometric(survivors: Sequence[int]) -> SbgFit:
    """Fit α and β by maximum likelihood to a cohort's survivor counts: ``survivors[0]`` is
    the cohort's size and ``survivors[t]`` those still active after t periods. Those lost in
    period t contribute P(T = t); those still active after the last period are right-censored
    and contribute S(T), as in Fader & Hardie's papers."""
    import numpy
    from scipy.optimize import minimize
    from scipy.special import betaln

    counts = [int(n) for n in survivors]
    if len(counts) < 2 or counts[0] <= 0:
        raise ValueError("give the cohort size and at least one later survivor count")
    if any(n < 0 for n in counts) or any(b > a for a, b in itertools.pairwise(counts)):
        raise ValueError("survivor counts must not rise or go below 0")
    if counts[-1] == counts[0]:
        raise ValueError("nobody churned: there is no churn to fit")
    last = len(counts) - 1
    lost = [(t, counts[t - 1] - counts[t]) for t in range(1, last + 1)]

    def negative_log_likelihood(params) -> float:
        a, b = math.exp(params[0]), math.exp(params[1])
        base = betaln(a, b)
        ll = sum(n * (betaln(a + 1, b + t - 1) - base) for t, n in lost if n)
        ll += counts[last] * (betaln(a, b + last) - base)
        return -ll

    # A degenerate cohort overflows on the way (checked below); numpy would only warn.
    with numpy.errstate(all="ignore"):
        result = minimize(
            negative_log_likelihood,
            x0=[0.0, 0.0],
            method="Nelder-Mead",
            options={"xatol": 1e-9, "fatol": 1e-9, "maxiter": 20_000},
        )
    alpha, beta = (math.exp(v) for v in result.x)
    log_likelihood = -float(result.fun)
    # Churn only in the first period and never after drives α and β towards 0 (a cohort split
    # into "leaves at once" and "never leaves"): no finite spread of churn fits it, and the
    # optimiser ends on underflowed parameters with an infinite likelihood.
    if not (
        math.isfinite(log_likelihood)
        and log_likelihood <= 0
        and alpha >= SBG_SMALLEST_PARAMETER
        and beta >= SBG_SMALLEST_PARAMETER
    ):
        raise ValueError(
            "the fit did not converge: the few who left all left at once, too little to "
            "estimate how churn spreads"
        )
    return SbgFit(alpha=alpha, beta=beta, log_likelihood=log_likelihood)
