"""The revenue and retention formulas against hand-computed cases (docs/domain/revenue.md)."""

from __future__ import annotations

import math
import random
from decimal import Decimal as D

import pytest

from metrics import formulas as f
from metrics.formulas import Movement, Movements


@pytest.mark.parametrize(
    ("opening", "closing", "paid_before", "expected"),
    [
        ("0", "100", False, Movement("new", D("100"))),
        ("0", "100", True, Movement("reactivation", D("100"))),
        ("100", "0", True, Movement("churn", D("100"))),
        ("100", "150", True, Movement("expansion", D("50"))),
        ("150", "100", True, Movement("contraction", D("50"))),
        ("100", "100", True, None),
        ("0", "0", True, None),
    ],
)
def test_each_change_in_mrr_is_classified(opening, closing, paid_before, expected):
    assert (
        f.classify_movement(opening=D(opening), closing=D(closing), paid_before=paid_before)
        == expected
    )


def test_negative_mrr_is_refused():
    with pytest.raises(ValueError, match="negative"):
        f.classify_movement(opening=D("-1"), closing=D("0"), paid_before=False)


def test_a_months_movements_add_up_from_opening_to_closing():
    """Opening 1,000 over four accounts (400, 300, 200, 100): A grows to 450, B shrinks to
    250, C churns, D stays; E is new at 80 and F comes back at 60. Closing: 450 + 250 + 100 +
    80 + 60 = 940 = 1000 + 80 + 50 + 60 − 50 − 200."""
    opening = {"A": D("400"), "B": D("300"), "C": D("200"), "D": D("100"), "E": D("0"), "F": D("0")}
    closing = {"A": D("450"), "B": D("250"), "C": D("0"), "D": D("100"), "E": D("80"), "F": D("60")}
    moves = f.movements_sum(
        f.classify_movement(opening=opening[k], closing=closing[k], paid_before=k == "F")
        for k in opening
    )

    assert moves == Movements(
        new=D("80"), expansion=D("50"), contraction=D("50"), churn=D("200"), reactivation=D("60")
    )
    assert moves.net_new == D("-60")
    assert moves.closing(sum(opening.values())) == sum(closing.values()) == D("940")
    assert f.quick_ratio(moves) == D("190") / D("250")  # (80 + 50 + 60) / (50 + 200) = 0.76
    assert f.grr(opening=D("1000"), contraction=D("50"), churn=D("200")) == D("0.75")
    assert f.nrr(opening=D("1000"), expansion=D("50"), contraction=D("50"), churn=D("200")) == D(
        "0.8"
    )
    assert f.revenue_churn_rate(opening=D("1000"), contraction=D("50"), churn=D("200")) == D("0.25")


def test_the_identity_holds_for_any_history():
    """Random books, month after month: opening + movements is always the closing MRR, GRR
    never exceeds 1 and NRR is never below GRR."""
    rng = random.Random(7)
    for _ in range(200):
        accounts = rng.randint(1, 30)
        opening = [D(rng.choice([0, 0, rng.randint(1, 5000)])) for _ in range(accounts)]
        closing = [
            D(rng.choice([0, rng.randint(1, 5000)])) if rng.random() < 0.5 else o for o in opening
        ]
        paid_before = [rng.random() < 0.5 for _ in range(accounts)]
        moves = f.movements_sum(
            f.classify_movement(opening=o, closing=c, paid_before=p)
            for o, c, p in zip(opening, closing, paid_before, strict=True)
        )
        start = sum(opening, D(0))
        assert moves.closing(start) == sum(closing, D(0))
        gross = f.grr(opening=start, contraction=moves.contraction, churn=moves.churn)
        net = f.nrr(
            opening=start,
            expansion=moves.expansion,
            contraction=moves.contraction,
            churn=moves.churn,
        )
        if start:
            assert gross <= 1 and net >= gross
        else:
            assert gross is None and net is None


def test_logo_churn_counts_only_accounts_paying_at_the_start():
    assert f.logo_churn_rate(churned=3, paying_at_start=60) == D("0.05")
    assert f.logo_retention_rate(churned=3, paying_at_start=60) == D("0.95")
    assert f.logo_churn_rate(churned=0, paying_at_start=0) is None
    with pytest.raises(ValueError, match="more churned"):
        f.logo_churn_rate(churned=5, paying_at_start=4)


def test_annualised_retention_compounds_twelve_months_and_annual_nrr_compares_a_year():
    assert f.annualised(D("0.99")) == D("0.99") ** 12
    assert round(f.annualised(D("0.99")), 4) == D("0.8864")
    assert f.annualised(None) is None
    assert f.annual_nrr(mrr_then=D("10000"), mrr_now=D("11200")) == D("1.12")


def test_arpa_ltv_and_ltv_to_cac():
    """ARPA 500 × margin 0.8 / mean churn of the last six months (2 % each, the seventh
    month back left out) = 20,000; with CAC 5,000 the ratio is 4."""
    assert f.arpa(mrr=D("50000"), paying=100) == D("500")
    assert f.arpa(mrr=D("0"), paying=0) is None
    churn = [D("0.50"), *[D("0.02")] * 6]
    value = f.ltv(arpa=D("500"), gross_margin=D("0.8"), monthly_churn_rates=churn)
    assert value == D("20000")
    assert f.ltv_to_cac(ltv=value, cac=D("5000")) == D("4")
    assert f.ltv_to_cac(ltv=value, cac=None) is None


def test_ltv_is_not_shown_without_churn():
    no_churn = [D("0")] * 6
    assert f.ltv(arpa=D("500"), gross_margin=D("0.8"), monthly_churn_rates=no_churn) is None
    assert f.ltv(arpa=D("500"), gross_margin=D("0.8"), monthly_churn_rates=[None, None]) is None
    with pytest.raises(ValueError, match="gross margin"):
        f.ltv(arpa=D("500"), gross_margin=D("80"), monthly_churn_rates=[D("0.1")])


def test_quintiles_score_five_for_the_best_fifth_with_ties_broken_by_rank():
    payments = [(f"a{i}", v) for i, v in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])]
    scores = f.quintile_scores(payments)
    assert [scores[f"a{i}"] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]

    ties = f.quintile_scores([("x", 7), ("y", 7), ("z", 7), ("w", 7), ("v", 7)])
    assert sorted(ties.values()) == [1, 2, 3, 4, 5]
    assert ties == {"v": 1, "w": 2, "x": 3, "y": 4, "z": 5}

    recency = f.quintile_scores([("fresh", 2), ("stale", 200)], higher_is_better=False)
    assert recency == {"stale": 1, "fresh": 3}


@pytest.mark.parametrize(
    ("r", "fr", "segment"),
    [
        (5, 5, "Champions"),
        (5, 4, "Champions"),
        (4, 5, "Loyal"),
        (3, 4, "Loyal"),
        (5, 3, "Potential loyalist"),
        (4, 2, "Potential loyalist"),
        (5, 1, "New"),
        (4, 1, "Promising"),
        (3, 3, "Need attention"),
        (3, 2, "About to sleep"),
        (3, 1, "About to sleep"),
        (2, 4, "At risk"),
        (1, 3, "At risk"),
        (2, 5, "Can't lose them"),
        (1, 5, "Can't lose them"),
        (2, 2, "Hibernating"),
        (1, 1, "Hibernating"),
    ],
)
def test_the_rfm_segment_map(r, fr, segment):
    assert f.rfm_segment(r, fr) == segment


def test_every_r_f_pair_has_a_segment_and_scores_outside_1_to_5_are_refused():
    assert {f.rfm_segment(r, fr) for r in range(1, 6) for fr in range(1, 6)} == {
        "Champions",
        "Loyal",
        "Potential loyalist",
        "New",
        "Promising",
        "Need attention",
        "About to sleep",
        "At risk",
        "Can't lose them",
        "Hibernating",
    }
    with pytest.raises(ValueError):
        f.rfm_segment(0, 3)


# --- projected retention (sBG) ---------------------------------------------------------------

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(
    ("survivors", "alpha", "beta", "log_likelihood"),
    [(REGULAR, 0.704, 1.182, -1680.3), (HIGH_END, 0.668, 3.806, -1611.2)],
)
def test_the_sbg_fit_reproduces_fader_and_hardies_published_estimates(
    survivors, alpha, beta, log_likelihood
):
    """Fader & Hardie (2007), "How to project customer retention", the regular and high-end
    customers of their worked example: α, β and the log-likelihood as the paper prints them."""
    fit = f.fit_shifted_beta_geometric(survivors)
    assert round(fit.alpha, 3) == alpha
    assert round(fit.beta, 3) == beta
    assert round(fit.log_likelihood, 1) == log_likelihood


def test_the_sbg_fit_recovers_the_parameters_it_simulated():
    """Ten thousand customers whose churn probabilities are drawn from Beta(1.5, 4.0), over
    eight periods: the fit lands near the truth."""
    import numpy as np

    rng = np.random.default_rng(11)
    theta = rng.beta(1.5, 4.0, size=10_000)
    lifetimes = rng.geometric(theta)  # the period each customer churns in
    survivors = [int((lifetimes > t).sum()) for t in range(9)]

    fit = f.fit_shifted_beta_geometric(survivors)

    assert fit.alpha == pytest.approx(1.5, rel=0.15)
    assert fit.beta == pytest.approx(4.0, rel=0.15)


def test_survival_retention_and_churn_probability_agree():
    fit = f.SbgFit(alpha=0.704, beta=1.182, log_likelihood=0.0)
    assert fit.survival(0) == pytest.approx(1.0)
    for t in range(1, 10):
        assert fit.survival(t) == pytest.approx(fit.survival(t - 1) * fit.retention(t))
        assert fit.churn_probability(t) == pytest.approx(fit.survival(t - 1) - fit.survival(t))
    assert fit.retention(1) == pytest.approx(1.182 / (0.704 + 1.182))


def test_the_discounted_expected_lifetime_matches_its_closed_form():
    """With α = β = 1, S(t) = 1/(t+1), so DEL(d) = (1+d)·ln((1+d)/d): 2.6377 at d = 10 %."""
    fit = f.SbgFit(alpha=1.0, beta=1.0, log_likelihood=0.0)
    assert fit.discounted_expected_lifetime(0.10) == pytest.approx(1.1 * math.log(11), rel=1e-9)
    with pytest.raises(ValueError, match="discount"):
        fit.discounted_expected_lifetime(0)


@pytest.mark.parametrize(
    ("survivors", "message"),
    [
        ([1000], "at least one later"),
        ([0, 0], "at least one later"),
        ([100, 120], "must not rise"),
        ([100, 100, 100], "no churn"),
        # Two lost in the first month, none since (seen in a demo segment): α, β → 0.
        ([1936, 1934, 1934, 1934], "did not converge"),
    ],
)
def test_survivor_counts_that_cannot_be_fitted_are_refused(survivors, message):
    with pytest.raises(ValueError, match=message):
        f.fit_shifted_beta_geometric(survivors)
