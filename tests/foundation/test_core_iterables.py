"""core.iterables.batched: the one chunker every set-based job pages with."""

import pytest

from core.iterables import batched


def test_it_yields_lists_of_the_size_asked_and_the_rest_last():
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]


def test_it_reads_a_generator_lazily_and_yields_nothing_for_nothing():
    assert list(batched((n for n in range(2)), 5)) == [[0, 1]]
    assert list(batched([], 5)) == []


def test_it_refuses_a_size_below_one():
    with pytest.raises(ValueError, match="at least 1"):
        list(batched([1], 0))
