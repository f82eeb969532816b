"""The Pareto front against brute force, ties and equal costs, scores and exclusions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonlens.evaluate.pareto import Point, dominates, front_mask, rank

# small integer grids make ties and equal costs frequent
values = st.integers(min_value=0, max_value=6).map(float)
pairs = st.lists(st.tuples(values, values), max_size=40)


def brute_force(points: list[tuple[float, float]]) -> list[bool]:
    return [not any(dominates(q, p) for q in points) for p in points]


@given(pairs)
def test_front_matches_brute_force(points: list[tuple[float, float]]) -> None:
    assert front_mask(points) == brute_force(points)


@given(pairs)
def test_every_dominated_run_names_a_front_run_that_dominates_it(
    points: list[tuple[float, float]],
) -> None:
    ranking = rank([Point(str(i), f"r{i}", m, c + 1.0) for i, (m, c) in enumerate(points)])
    by_key = {e.point.key: e for e in ranking.entries}
    for entry in ranking.entries:
        assert entry.on_front == (not entry.dominated_by)
        for key in entry.dominated_by:
            dominator = by_key[key]
            assert dominator.on_front
            assert dominates(
                (dominator.point.metric or 0.0, dominator.point.cost or 0.0),
                (entry.point.metric or 0.0, entry.point.cost or 0.0),
            )


@given(pairs)
def test_distance_is_zero_exactly_on_the_front(points: list[tuple[float, float]]) -> None:
    ranking = rank([Point(str(i), f"r{i}", m, c) for i, (m, c) in enumerate(points)], "distance")
    assert len(ranking.entries) == len(points)
    for entry in ranking.entries:
        assert (entry.score == 0.0) == entry.on_front
        assert 0.0 <= entry.score <= math.sqrt(2)


def test_equal_runs_both_stay_on_the_front_and_share_a_rank() -> None:
    ranking = rank(
        [
            Point("a", "a", 0.9, 2.0),
            Point("b", "b", 0.9, 2.0),
            Point("c", "c", 0.8, 2.0),  # same cost, lower metric: dominated
            Point("d", "d", 0.9, 3.0),  # same metric, higher cost: dominated
            Point("e", "e", 0.95, 4.0),
        ]
    )
    front = {e.point.key for e in ranking.entries if e.on_front}
    assert front == {"a", "b", "e"}
    ranks = {e.point.key: e.rank for e in ranking.entries}
    assert ranks["a"] == ranks["b"] == 1  # 0.45 per unit each
    assert ranks["c"] == 3  # 0.4: the next rank skips
    by_key = {e.point.key: e for e in ranking.entries}
    assert set(by_key["c"].dominated_by) == {"a", "b"}
    assert set(by_key["d"].dominated_by) == {"a", "b"}


def test_metric_per_cost_ranks_highest_first() -> None:
    ranking = rank([Point("a", "a", 0.9, 3.0), Point("b", "b", 0.6, 1.0)])
    assert [(e.point.key, e.rank, e.score) for e in ranking.entries] == [
        ("b", 1, pytest.approx(0.6)),
        ("a", 2, pytest.approx(0.3)),
    ]
    assert all(e.on_front for e in ranking.entries)  # a trade-off: neither dominates
    assert ranking.score_definition.startswith("metric / cost")


def test_distance_is_measured_to_the_nearest_front_run_after_scaling() -> None:
    ranking = rank(
        [Point("a", "a", 1.0, 10.0), Point("b", "b", 0.5, 10.0), Point("c", "c", 0.0, 0.0)],
        "distance",
    )
    scores = {e.point.key: e.score for e in ranking.entries}
    # scaled: a (1, 1), b (0.5, 1), c (0, 0); b's nearest front run is a, 0.5 away
    assert scores == {"a": 0.0, "c": 0.0, "b": pytest.approx(0.5)}


def test_runs_lacking_the_metric_or_cost_are_listed_and_left_out() -> None:
    ranking = rank(
        [
            Point("a", "a", 0.9, 1.0),
            Point("b", "b", None, 1.0),
            Point("c", "c", 0.8, None),
            Point("d", "d", math.nan, 1.0),
            Point("e", "e", 0.7, 0.0),
        ]
    )
    assert [e.point.key for e in ranking.entries] == ["a"]
    reasons = {point.key: reason for point, reason in ranking.excluded}
    assert reasons["b"] == "no metric"
    assert reasons["c"] == "no cost"
    assert "not a finite number" in reasons["d"]
    assert "undefined" in reasons["e"]  # zero cost: no metric per cost
    assert [e.point.key for e in rank([Point("e", "e", 0.7, 0.0)], "distance").entries] == ["e"]


def test_nothing_to_rank_and_unknown_score() -> None:
    assert rank([]).entries == ()
    with pytest.raises(ValueError, match="unknown score"):
        rank([], "best")
