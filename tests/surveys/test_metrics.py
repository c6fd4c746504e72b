"""Survey formulas (docs/domain/survey-metrics.md) against cases worked by hand. No database."""

from decimal import Decimal

import pytest

from surveys import metrics
from surveys.metrics import CriterionTotal, ItemTotal

# --- NPS ------------------------------------------------------------------------------------


def test_nps_of_no_answers_is_none_not_a_crash():
    result = metrics.nps([])
    assert (result.responses, result.score, result.margin) == (0, None, None)


def test_unanswered_is_not_part_of_n():
    result = metrics.nps([10, None, None])
    assert result.responses == 1
    assert result.score == Decimal("100.0")


def test_all_detractors_score_minus_100_with_no_margin():
    result = metrics.nps([0, 3, 6, 6])
    assert result.score == Decimal("-100.0")
    assert result.margin == Decimal("0.0")


def test_all_promoters_score_100_with_no_margin():
    result = metrics.nps([9, 10, 10])
    assert result.score == Decimal("100.0")
    assert result.margin == Decimal("0.0")


def test_a_single_passive_scores_0_and_a_single_detractor_minus_100():
    assert metrics.nps([8]).score == Decimal("0.0")
    assert metrics.nps([8]).margin == Decimal("0.0")
    assert metrics.nps([6]).score == Decimal("-100.0")


def test_passives_count_in_n():
    """P = 5 (10, 10, 9, 9, 10), passives = 2 (8, 7), D = 3 (6, 5, 0), N = 10.

    NPS = 100 × (5 − 3) / 10 = 20.
    p = 0.5, d = 0.3: p + d − (p − d)² = 0.8 − 0.04 = 0.76;
    margin = 1.96 × 100 × sqrt(0.76 / 10) = 196 × 0.275681 = 54.03 → 54.0.
    """
    result = metrics.nps([10, 10, 9, 8, 7, 6, 5, 0, 9, 10])
    assert (result.promoters, result.passives, result.detractors) == (5, 2, 3)
    assert result.score == Decimal("20.0")
    assert result.margin == Decimal("54.0")


def test_nps_margin_of_a_three_way_split():
    """[10, 7, 0]: p = d = 1/3, NPS 0; p + d − 0 = 2/3; margin = 196 × sqrt(2/9) = 92.395
    → 92.4."""
    result = metrics.nps([10, 7, 0])
    assert result.score == Decimal("0.0")
    assert result.margin == Decimal("92.4")


def test_nps_rounds_half_up_to_one_decimal():
    """One promoter and 15 passives: 100 / 16 = 6.25 → 6.3 (half up, not to even)."""
    assert metrics.nps_from_counts(promoters=1, passives=15, detractors=0).score == Decimal("6.3")


def test_nps_from_counts_equals_nps_from_raw_answers():
    raw = metrics.nps([10, 10, 9, 8, 7, 6, 5, 0, 9, 10])
    counted = metrics.nps_from_counts(promoters=5, passives=2, detractors=3)
    assert raw == counted


# --- CSAT and CES ------------------------------------------------------------------------------


def test_csat_is_the_whole_percent_of_4_and_5_plus_the_mean():
    """[5, 4, 4, 3, 2, 1, 5]: 4 of 7 are 4–5 = 57.14 % → 57; mean 24 / 7 = 3.43."""
    result = metrics.csat([5, 4, 4, 3, 2, 1, 5])
    assert result.responses == 7
    assert result.percent == Decimal("57")
    assert result.mean == Decimal("3.43")


def test_csat_percent_rounds_half_up():
    """1 of 8 satisfied = 12.5 % → 13."""
    assert metrics.csat([5, 1, 1, 1, 1, 1, 1, 1]).percent == Decimal("13")


def test_csat_of_no_answers_is_none():
    result = metrics.csat([None])
    assert (result.responses, result.percent, result.mean) == (0, None, None)


def test_ces_is_the_share_agreeing_5_to_7_plus_the_mean():
    """[7, 6, 5, 4, 3, 2, 1, 5]: 4 of 8 agree = 50 %; mean 33 / 8 = 4.125 → 4.13."""
    result = metrics.ces([7, 6, 5, 4, 3, 2, 1, 5])
    assert result.percent == Decimal("50")
    assert result.mean == Decimal("4.13")


def test_ces_of_everyone_disagreeing_is_0_percent():
    assert metrics.ces([1, 2, 3, 4]).percent == Decimal("0")


def test_csat_and_ces_carry_the_margin_of_error_of_their_share():
    """CSAT [5, 4, 3, 2, 1, 4]: p = 3/6 = 0.5, margin = 196 × sqrt(0.25 / 6) = 40.008 → 40.0.
    CES [7, 6, 6, 1, 2]: p = 3/5 = 0.6, margin = 196 × sqrt(0.24 / 5) = 42.941 → 42.9."""
    assert metrics.csat([5, 4, 3, 2, 1, 4]).margin == Decimal("40.0")
    assert metrics.ces([7, 6, 6, 1, 2]).margin == Decimal("42.9")


def test_a_unanimous_share_has_no_margin_and_no_answers_have_none():
    assert metrics.csat([5, 4, 5]).margin == Decimal("0.0")
    assert metrics.ces([1, 2]).margin == Decimal("0.0")
    assert metrics.csat([None]).margin is None


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_is_the_mean_of_all_answers_over_10_times_100():
    """Two respondents: (9, 8, 5) and (6, 7, 3). All six answers sum to 38; 38 / 6 = 6.333;
    / 10 × 100 = 63.3. Item means: recommend 7.5, buy again 7.5, try other 4."""
    result = metrics.cli(
        [
            {"recommend": 9, "buy_again": 8, "try_other": 5},
            {"recommend": 6, "buy_again": 7, "try_other": 3},
        ],
        ["recommend", "buy_again", "try_other"],
    )
    assert result.responses == 2
    assert result.score == Decimal("63.3")
    assert result.item_means == {
        "recommend": Decimal("7.50"),
        "buy_again": Decimal("7.50"),
        "try_other": Decimal("4.00"),
    }


def test_cli_bounds_and_no_answers():
    items = ["recommend", "buy_again", "try_other"]
    assert metrics.cli([dict.fromkeys(items, 0)], items).score == Decimal("0.0")
    assert metrics.cli([dict.fromkeys(items, 10)], items).score == Decimal("100.0")
    assert metrics.cli([], items).score is None


def test_cli_from_totals_matches_the_raw_computation():
    result = metrics.cli_from_totals(
        responses=2,
        items={
            "recommend": ItemTotal(15, 2),
            "buy_again": ItemTotal(15, 2),
            "try_other": ItemTotal(8, 2),
        },
    )
    assert result.score == Decimal("63.3")


def test_cli_margin_is_that_of_the_respondents_own_clis():
    """(10, 10, 10) and (4, 4, 4): CLIs 100 and 40, mean 70, variance 900,
    margin 1.96 × sqrt(900 / 2) = 41.58 → 41.6."""
    result = metrics.cli([{"a": 10, "b": 10, "c": 10}, {"a": 4, "b": 4, "c": 4}], ["a", "b", "c"])
    assert (result.score, result.margin) == (Decimal("70.0"), Decimal("41.6"))


def test_cli_margin_edges():
    assert metrics.cli([{"a": 7, "b": 3}], ["a", "b"]).margin == Decimal("0.0")
    assert metrics.cli([], ["a", "b"]).margin is None
    # An answer missing an item is left out of the margin (not of the score).
    partial = metrics.cli([{"a": 10, "b": 10}, {"a": 0, "b": None}], ["a", "b"])
    assert (partial.score, partial.margin) == (Decimal("66.7"), Decimal("0.0"))


# --- CSI ---------------------------------------------------------------------------------------


def test_csi_weights_satisfaction_by_mean_importance():
    """Two respondents, two criteria:
    R1: price importance 8, satisfaction 6; support importance 4, satisfaction 9.
    R2: price importance 6, satisfaction 4; support importance 6, satisfaction 7.
    Mean importance: price 7, support 5, sum 12 → w_price = 7/12 = 0.583, w_support = 0.417.
    Mean satisfaction: price 5, support 8.
    CSI = 10 × (7/12 × 5 + 5/12 × 8) = 10 × 75/12 = 62.5.
    """
    result = metrics.csi(
        [
            {
                "price": {"importance": 8, "satisfaction": 6},
                "support": {"importance": 4, "satisfaction": 9},
            },
            {
                "price": {"importance": 6, "satisfaction": 4},
                "support": {"importance": 6, "satisfaction": 7},
            },
        ],
        ["price", "support"],
    )
    assert result.score == Decimal("62.5")
    by_key = {c.key: c for c in result.criteria}
    assert by_key["price"].weight == Decimal("0.583")
    assert by_key["support"].weight == Decimal("0.417")
    assert by_key["price"].importance_mean == Decimal("7.00")
    assert by_key["support"].satisfaction_mean == Decimal("8.00")


def test_csi_runs_from_10_to_100():
    keys = ["price", "support"]
    lowest = {k: {"importance": 5, "satisfaction": 1} for k in keys}
    highest = {k: {"importance": 5, "satisfaction": 10} for k in keys}
    assert metrics.csi([lowest], keys).score == Decimal("10.0")
    assert metrics.csi([highest], keys).score == Decimal("100.0")


def test_csi_of_no_answers_is_none():
    assert metrics.csi([], ["price"]).score is None


def test_a_criterion_nobody_rated_is_left_out_and_the_rest_renormalised():
    """Only price answered (importance 8, satisfaction 6): its weight is 1, CSI = 60."""
    result = metrics.csi_from_totals(
        responses=1,
        criteria={
            "price": CriterionTotal(ItemTotal(8, 1), ItemTotal(6, 1)),
            "support": CriterionTotal(),
        },
    )
    assert result.score == Decimal("60.0")
    weights = {c.key: c.weight for c in result.criteria}
    assert weights == {"price": Decimal("1.000"), "support": None}


# --- categories and the unhappy rule ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "score", "category", "unhappy"),
    [
        ("nps", 10, "promoter", False),
        ("nps", 9, "promoter", False),
        ("nps", 8, "passive", False),
        ("nps", 7, "passive", False),
        ("nps", 6, "detractor", True),
        ("nps", 0, "detractor", True),
        ("csat", 5, "satisfied", False),
        ("csat", 3, "neutral", False),
        ("csat", 2, "unsatisfied", True),
        ("csat", 1, "unsatisfied", True),
        ("ces", 5, "satisfied", False),
        ("ces", 4, "neutral", False),
        ("ces", 3, "unsatisfied", True),
        ("ces", 1, "unsatisfied", True),
    ],
)
def test_categories_and_unhappy_answers_at_their_boundaries(kind, score, category, unhappy):
    assert metrics.category(kind, score) == category
    assert metrics.is_unhappy(kind, score) is unhappy


def test_multi_item_kinds_and_missing_scores_are_never_unhappy():
    assert metrics.is_unhappy("cli", 0) is False
    assert metrics.is_unhappy("csi", 1) is False
    assert metrics.is_unhappy("nps", None) is False


def test_one_respondents_cli_and_csi():
    """CLI (9, 8, 7) = 24 / 3 / 10 × 100 = 80; CSI of one criterion = 10 × satisfaction."""
    assert metrics.respondent_score(
        "cli", None, {"recommend": 9, "buy_again": 8, "try_other": 7}
    ) == Decimal("80.0")
    assert metrics.respondent_score(
        "csi", None, {"price": {"importance": 3, "satisfaction": 7}}
    ) == Decimal("70.0")
    assert metrics.respondent_score("nps", 4, {}) == Decimal(4)


def test_distribution_counts_every_value_of_the_scale():
    assert metrics.distribution([1, 1, 5, None], 1, 5) == {1: 2, 2: 0, 3: 0, 4: 0, 5: 1}


def test_csi_margin_is_that_of_the_respondents_own_csis_at_the_weights():
    """Weights 0.8 / 0.2 (importance 8 and 2); satisfactions (10, 5) and (6, 5) give CSIs 90
    and 58 around 74: variance 256, margin 1.96 × sqrt(256 / 2) = 22.17 → 22.2."""
    answers = [
        {"a": {"importance": 8, "satisfaction": 10}, "b": {"importance": 2, "satisfaction": 5}},
        {"a": {"importance": 8, "satisfaction": 6}, "b": {"importance": 2, "satisfaction": 5}},
    ]
    result = metrics.csi(answers, ["a", "b"])
    assert (result.score, result.margin) == (Decimal("74.0"), Decimal("22.2"))
    assert metrics.csi([], ["a", "b"]).margin is None
