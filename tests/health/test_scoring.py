"""The health score's arithmetic against hand-computed cases (docs/domain/health-scores.md)."""

from __future__ import annotations

import pytest

from health.scoring import (
    BANDS,
    CHOICES,
    GroupSpec,
    MeasureSpec,
    ProfileSpec,
    band_of,
    map_value,
    score_account,
)


def linear(kind="x", worst=0.0, best=10.0, weight=1.0) -> MeasureSpec:
    return MeasureSpec(key=kind, kind=kind, weight=weight, worst=worst, best=best)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(15, 50.0), (0, 100.0), (30, 0.0), (45, 0.0), (-5, 100.0), (6, 80.0)],
)
def test_a_linear_measure_where_less_is_better_maps_and_clamps(raw, expected):
    days_since_activity = linear(worst=30, best=0)

    assert map_value(days_since_activity, raw) == pytest.approx(expected)


def test_a_linear_measure_where_more_is_better_maps_between_its_ends():
    active_contacts = linear(worst=0, best=5)

    assert [map_value(active_contacts, n) for n in (0, 2, 5, 9)] == [0.0, 40.0, 100.0, 100.0]


@pytest.mark.parametrize(
    ("raw", "expected"), [(0, 0.0), (6, 0.0), (7, 60.0), (8, 60.0), (9, 100.0)]
)
def test_bands_give_each_value_the_score_of_the_first_bound_it_does_not_exceed(raw, expected):
    nps = MeasureSpec(
        key="n", kind="n", weight=1, mapping=BANDS, bands=[(6, 0), (8, 60)], above=100
    )

    assert map_value(nps, raw) == expected


def test_named_values_map_by_name_and_an_unknown_one_is_missing_data():
    stage = MeasureSpec(
        key="s", kind="s", weight=1, mapping=CHOICES, choices={"loyalty": 100, "onboarding": 60}
    )

    assert (map_value(stage, "loyalty"), map_value(stage, "renewal")) == (100.0, None)


def test_no_value_is_no_score():
    assert map_value(linear(), None) is None


def test_missing_measures_are_left_out_and_the_weights_renormalised():
    profile = ProfileSpec(
        name="p",
        groups=[
            GroupSpec("A", 3, [linear("a1", weight=2), linear("a2", weight=1)]),
            GroupSpec("B", 1, [linear("b1")]),
        ],
    )

    # a1: 5 of 0..10 → 50; a2 missing → group A = 50 (a1 alone).
    # b1: 10 → 100 → group B = 100. Score = (50 × 3 + 100 × 1) / 4 = 62.5 → 63, yellow.
    scored = score_account(profile, {"a1": 5, "b1": 10})

    assert (scored.score, scored.band) == (63, "yellow")
    assert scored.components["groups"] == {"A": 50.0, "B": 100.0}
    assert scored.components["measures"]["a2"] == {
        "kind": "a2",
        "group": "A",
        "value": None,
        "score": None,
    }


def test_a_group_with_no_data_drops_out_whole():
    profile = ProfileSpec(
        name="p",
        groups=[GroupSpec("A", 3, [linear("a1")]), GroupSpec("B", 1, [linear("b1")])],
    )

    # Only B has data: the score is B's, 100 × 1 / 1.
    assert score_account(profile, {"b1": 10}).score == 100


def test_weights_inside_a_group_count():
    profile = ProfileSpec(
        name="p", groups=[GroupSpec("A", 1, [linear("a1", weight=3), linear("a2")])]
    )

    # (20 × 3 + 100 × 1) / 4 = 40.
    assert score_account(profile, {"a1": 2, "a2": 10}).score == 40


def test_no_data_at_all_gives_no_score_and_no_band():
    scored = score_account(ProfileSpec(name="p", groups=[GroupSpec("A", 1, [linear("a1")])]), {})

    assert (scored.score, scored.band) == (None, "")


@pytest.mark.parametrize(
    ("score", "band"),
    [(0, "red"), (50, "red"), (51, "yellow"), (75, "yellow"), (76, "green"), (100, "green")],
)
def test_the_bands_edges_are_as_documented(score, band):
    assert band_of(score) == band


def test_a_profile_may_move_the_band_edges():
    assert [band_of(s, red_max=40, yellow_max=60) for s in (40, 41, 60, 61)] == [
        "red",
        "yellow",
        "yellow",
        "green",
    ]
