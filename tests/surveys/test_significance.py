"""Whether a score really moved (docs/domain/survey-metrics.md, "Did it really move?"):
the difference of two periods' scores against sqrt(m₁² + m₂²), worked by hand. No database."""

from decimal import Decimal

from surveys import metrics
from surveys.metrics import PeriodScore


def _period(label: str, result) -> PeriodScore:
    score = getattr(result, "score", None)
    if score is None:
        score = getattr(result, "percent", None)
    return PeriodScore(label, result.responses, score, result.margin)


def test_a_big_nps_jump_beyond_both_margins_is_significant():
    """Now: 20 promoters → 100.0 ± 0.0. Before: 10, 7, 0 → 0.0 ± 92.4.
    Difference 100.0; margin sqrt(0² + 92.4²) = 92.4; 100.0 > 92.4 → significant."""
    change = metrics.score_change(
        current=_period("Nov 2026", metrics.nps([10] * 20)),
        previous=_period("Oct 2026", metrics.nps([10, 7, 0])),
    )
    assert change.difference == Decimal("100.0")
    assert change.margin == Decimal("92.4")
    assert change.verdict == metrics.SIGNIFICANT
    assert change.reason == ""


def test_an_nps_move_smaller_than_the_combined_margin_is_within_noise():
    """Now: the doc example, 20.0 ± 54.0 (N = 10). Before: 10, 7, 0 → 0.0 ± 92.4.
    Difference 20.0; margin sqrt(54.0² + 92.4²) = sqrt(2916 + 8537.76) = sqrt(11453.76)
    = 107.02 → 107.0; 20.0 ≤ 107.0 → within noise."""
    change = metrics.score_change(
        current=_period("Q4", metrics.nps([10, 10, 9, 8, 7, 6, 5, 0, 9, 10])),
        previous=_period("Q3", metrics.nps([10, 7, 0])),
    )
    assert change.difference == Decimal("20.0")
    assert change.margin == Decimal("107.0")
    assert change.verdict == metrics.WITHIN_NOISE


def test_csat_just_beyond_the_combined_margin_is_significant():
    """Now: 5, 4, 4, 3, 2, 1, 5 → 57 % ± 36.7. Before: one satisfied in eight → 13 %;
    margin 196 × sqrt((1/8)(7/8)/8) = 196 × 0.116927 = 22.92 → 22.9.
    Difference 57 − 13 = 44; margin sqrt(36.7² + 22.9²) = sqrt(1346.89 + 524.41)
    = sqrt(1871.30) = 43.26 → 43.3; 44 > 43.3 → significant."""
    before = metrics.csat([5, 1, 1, 2, 2, 3, 3, 1])
    assert (before.percent, before.margin) == (Decimal("13"), Decimal("22.9"))
    change = metrics.score_change(
        current=_period("This year", metrics.csat([5, 4, 4, 3, 2, 1, 5])),
        previous=_period("Last year", before),
    )
    assert change.difference == Decimal("44.0")
    assert change.margin == Decimal("43.3")
    assert change.verdict == metrics.SIGNIFICANT


def test_a_ces_drop_is_a_negative_difference_and_can_be_significant():
    """Now: 1, 1, 1, 1 → 0 % ± 0.0. Before: 7, 6, 5, 4, 3, 2, 1, 5 → 50 % ± 34.6.
    Difference −50.0; margin 34.6; |−50.0| > 34.6 → significant."""
    change = metrics.score_change(
        current=_period("Dec", metrics.ces([1, 1, 1, 1])),
        previous=_period("Nov", metrics.ces([7, 6, 5, 4, 3, 2, 1, 5])),
    )
    assert change.difference == Decimal("-50.0")
    assert change.margin == Decimal("34.6")
    assert change.verdict == metrics.SIGNIFICANT


def test_a_difference_equal_to_the_margin_is_still_within_noise():
    """5.0 ± 3.0 against 0.0 ± 4.0: margin sqrt(9 + 16) = 5.0 = |5.0| → not beyond it."""
    change = metrics.score_change(
        current=PeriodScore("A", 40, Decimal("5.0"), Decimal("3.0")),
        previous=PeriodScore("B", 40, Decimal("0.0"), Decimal("4.0")),
    )
    assert (change.difference, change.margin) == (Decimal("5.0"), Decimal("5.0"))
    assert change.verdict == metrics.WITHIN_NOISE
    beyond = metrics.score_change(
        current=PeriodScore("A", 40, Decimal("5.1"), Decimal("3.0")),
        previous=PeriodScore("B", 40, Decimal("0.0"), Decimal("4.0")),
    )
    assert beyond.verdict == metrics.SIGNIFICANT


def test_the_same_score_twice_with_no_spread_is_within_noise():
    change = metrics.score_change(
        current=_period("A", metrics.nps([10, 10])),
        previous=_period("B", metrics.nps([9])),
    )
    assert (change.difference, change.margin) == (Decimal("0.0"), Decimal("0.0"))
    assert change.verdict == metrics.WITHIN_NOISE


def test_no_answers_in_one_period_gives_no_verdict_and_names_the_period():
    change = metrics.score_change(
        current=_period("Nov 2026", metrics.nps([10, 9])),
        previous=_period("Oct 2026", metrics.nps([])),
    )
    assert change.verdict is None
    assert change.difference is None and change.margin is None
    assert change.reason == "No answers in Oct 2026."


def test_no_answers_in_either_period_names_both():
    change = metrics.score_change(
        current=_period("Q2", metrics.csat([])), previous=_period("Q1", metrics.csat([]))
    )
    assert change.verdict is None
    assert change.reason == "No answers in Q2 or Q1."


def test_churn_rate_is_a_percent_with_one_decimal_and_none_without_accounts():
    """1 of 3 churned → 33.333… → 33.3; 2 of 3 → 66.7 (half up); none at risk → None."""
    assert metrics.churn_rate(accounts=3, churned=1) == Decimal("33.3")
    assert metrics.churn_rate(accounts=3, churned=2) == Decimal("66.7")
    assert metrics.churn_rate(accounts=8, churned=0) == Decimal("0.0")
    assert metrics.churn_rate(accounts=0, churned=0) is None
