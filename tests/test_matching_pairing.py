"""Cohort pairing (core/matching/pairing.py) against networkx's exact max_weight_matching as the oracle."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.matching import pairing
from core.matching.pairing import pair_by_score, total_score, two_sides


def oracle(scores: np.ndarray) -> float:
    """The exact maximum total over pairs with a positive, finite score."""
    graph = nx.Graph()
    count = scores.shape[0]
    for i in range(count):
        for j in range(i + 1, count):
            if math.isfinite(scores[i, j]) and scores[i, j] > 0:
                graph.add_edge(i, j, weight=float(scores[i, j]))
    return sum(float(scores[i, j]) for i, j in nx.max_weight_matching(graph))


def assert_valid(scores: np.ndarray, pairs: list[tuple[int, int]]) -> None:
    """Disjoint pairs, i < j, each with a positive finite score."""
    seen = [row for pair in pairs for row in pair]
    assert len(seen) == len(set(seen)), f"a row is in two pairs: {pairs}"
    for i, j in pairs:
        assert i < j
        assert math.isfinite(scores[i, j]) and scores[i, j] > 0, f"pair {(i, j)} has score {scores[i, j]}"


@st.composite
def cohorts(draw: st.DrawFn, most: int) -> np.ndarray:
    """A symmetric score matrix with refused pairs (-inf), zeros and ties among the scores."""
    count = draw(st.integers(0, most))
    values = st.one_of(st.just(-math.inf), st.just(0.0), st.sampled_from([0.25, 0.5, 0.75]),
                       st.floats(0.01, 1.0, allow_nan=False))
    scores = np.full((count, count), -math.inf)
    for i in range(count):
        for j in range(i + 1, count):
            scores[i, j] = scores[j, i] = draw(values)
    return scores


def random_scores(count: int, seed: int, refused: float = 0.3) -> np.ndarray:
    """Structured random scores: a difference term, a common-interest term, some refused pairs."""
    rng = np.random.default_rng(seed)
    lean, interests = rng.beta(2, 2, count), rng.random((count, 5))
    scores = np.abs(lean[:, None] - lean[None, :]) + interests @ interests.T / 5
    scores[np.triu(rng.random((count, count)) < refused, 1)] = -np.inf
    scores = np.minimum(scores, scores.T)
    np.fill_diagonal(scores, -np.inf)
    return scores


@settings(max_examples=150, deadline=None)
@given(cohorts(pairing.EXACT_UP_TO))
def test_small_cohorts_equal_the_oracle(scores):
    pairs = pair_by_score(scores)

    assert_valid(scores, pairs)
    assert total_score(scores, pairs) == pytest.approx(oracle(scores), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(cohorts(40))
def test_cohorts_up_to_the_integer_program_size_equal_the_oracle(scores):
    pairs = pair_by_score(scores)

    assert_valid(scores, pairs)
    assert total_score(scores, pairs) == pytest.approx(oracle(scores), abs=1e-7)


@settings(max_examples=40, deadline=None)
@given(cohorts(30))
def test_the_heuristic_on_any_cohort_is_valid_and_not_far_from_the_oracle(scores):
    # adversarial sparse cohorts (hypothesis finds some) can end short; realistic ones: the tests below
    original = pairing.INTEGER_PROGRAM_UP_TO
    pairing.INTEGER_PROGRAM_UP_TO = 0
    try:
        pairs = pair_by_score(scores)
    finally:
        pairing.INTEGER_PROGRAM_UP_TO = original

    assert_valid(scores, pairs)
    assert total_score(scores, pairs) >= 0.8 * oracle(scores) - 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_cohorts_of_a_hundred_reach_the_oracle_within_one_percent(seed):  # above INTEGER_PROGRAM_UP_TO
    scores = random_scores(100, seed)

    pairs = pair_by_score(scores)

    assert_valid(scores, pairs)
    assert total_score(scores, pairs) >= 0.99 * oracle(scores)


@pytest.mark.parametrize("seed", range(3))
def test_large_cohorts_use_each_rows_best_candidates_and_stay_close_to_the_oracle(seed, monkeypatch):
    monkeypatch.setattr(pairing, "DENSE_UP_TO", 20)  # the sparse path, on a cohort the oracle can solve
    scores = random_scores(120, seed)

    pairs = pair_by_score(scores, candidates=10)

    assert_valid(scores, pairs)
    assert total_score(scores, pairs) >= 0.98 * oracle(scores)


def bipartite_scores(left: int, right: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores that allow only pairs across two sides, and the sides."""
    rng = np.random.default_rng(seed)
    count = left + right
    sides = np.array([0] * left + [1] * right)
    scores = np.full((count, count), -np.inf)
    across = rng.random((left, right)) * (rng.random((left, right)) > 0.2)
    scores[:left, left:] = np.where(across > 0, across, -np.inf)
    scores[left:, :left] = scores[:left, left:].T
    order = rng.permutation(count)
    return scores[np.ix_(order, order)], sides[order]


@pytest.mark.parametrize(("left", "right", "seed"), [(1, 1, 0), (3, 7, 1), (20, 20, 2), (35, 15, 3), (60, 61, 4)])
def test_two_sided_cohorts_are_solved_exactly_with_or_without_the_sides_given(left, right, seed):
    scores, sides = bipartite_scores(left, right, seed)
    best = oracle(scores)

    for given_sides in (sides, None):
        pairs = pair_by_score(scores, given_sides)
        assert_valid(scores, pairs)
        assert total_score(scores, pairs) == pytest.approx(best, abs=1e-9)


def test_wrong_sides_are_ignored_and_the_result_is_still_correct():
    scores = random_scores(12, 7, refused=0.0)  # pairs within any split are allowed: not two-sided
    wrong = np.array([0, 1] * 6)

    pairs = pair_by_score(scores, wrong)

    assert total_score(scores, pairs) == pytest.approx(oracle(scores), abs=1e-9)


def test_two_sides_are_found_and_an_odd_cycle_has_none():
    path = np.zeros((4, 4), dtype=bool)
    for i, j in [(0, 1), (1, 2), (2, 3)]:
        path[i, j] = path[j, i] = True
    triangle = np.zeros((3, 3), dtype=bool)
    for i, j in [(0, 1), (1, 2), (0, 2)]:
        triangle[i, j] = triangle[j, i] = True

    colour = two_sides(path)

    assert colour is not None and all(colour[i] != colour[i + 1] for i in range(3))
    assert two_sides(triangle) is None


def test_refused_nan_and_zero_scores_never_become_pairs():
    scores = np.array([[0, np.nan, 0.0, -np.inf], [np.nan, 0, -1, 0], [0.0, -1, 0, np.nan], [-np.inf, 0, np.nan, 0]])

    assert pair_by_score(scores) == []
    assert pair_by_score(np.zeros((1, 1))) == []
    assert pair_by_score(np.zeros((0, 0))) == []


def test_the_callers_matrix_is_left_alone_unless_overwrite_is_asked():
    scores = random_scores(30, 9)
    before = scores.copy()

    pair_by_score(scores)

    assert np.array_equal(scores, before)
