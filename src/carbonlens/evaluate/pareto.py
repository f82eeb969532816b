"""Pareto fronts and efficiency rankings: maximise a quality metric, minimise a cost.

Pure functions over `Point`s (a run's metric and cost); no store, no I/O.

* Run `a` dominates `b` when `a.metric >= b.metric` and `a.cost <= b.cost`, one
  of them strictly. The front is the set of runs no run dominates; equal runs
  (same metric and cost) do not dominate each other, so both stay on the front.
* Scores (stated in every ranking):
  `metric_per_cost`: metric / cost (e.g. accuracy per kWh), higher first; a
  run with zero cost has no such score and is left out, with that reason.
  `distance`: Euclidean distance, with metric and cost each scaled to 0-1 over
  the ranked runs (min-max), to the nearest run on the front; 0 on the front,
  lower first.
* Ranks are competition ranks: equal scores share a rank, the next rank skips
  (1, 2, 2, 4). Runs lacking the metric or the cost, or with a value that is not
  a finite number, are listed in `excluded` with the reason and left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import field
from itertools import groupby
from typing import Final

from carbonlens._frozen import frozen

SCORES: Final = {
    "metric_per_cost": "metric / cost, higher is better",
    "distance": "distance to the Pareto front, metric and cost min-max scaled to 0-1, "
    "lower is better (0: on the front)",
}
"""The efficiency scores a ranking can use, with how each is defined."""

DOMINATORS_SHOWN: Final = 3
"""Most front runs listed as dominating one run."""


@frozen
class Point:
    """One run to rank: its quality `metric` (higher is better), its `cost` (lower
    is better, in the unit the caller states), and side columns for display."""

    key: str
    label: str
    metric: float | None
    cost: float | None
    extra: Mapping[str, float | None] = field(default_factory=dict)


@frozen
class Ranked:
    """A ranked run: its rank and score, whether it is on the front, and (if not)
    up to `DOMINATORS_SHOWN` keys of front runs that dominate it."""

    point: Point
    rank: int
    score: float
    on_front: bool
    dominated_by: tuple[str, ...] = ()


@frozen
class Ranking:
    """Ranked runs, best first, with the score used and the runs left out (and why)."""

    score: str
    entries: tuple[Ranked, ...]
    excluded: tuple[tuple[Point, str], ...]

    @property
    def score_definition(self) -> str:
        """How the score is computed, in words."""
        return SCORES[self.score]


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether `(metric, cost)` `a` dominates `b` (maximise metric, minimise cost)."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def front_mask(points: Sequence[tuple[float, float]]) -> list[bool]:
    """For each `(metric, cost)`, whether no other point dominates it; O(n log n).

    Sweeping by increasing cost: a point is on the front when its metric is the
    highest among points of its cost and higher than every cheaper point's.
    """
    mask = [False] * len(points)
    order = sorted(range(len(points)), key=lambda i: points[i][1])
    best_cheaper = -math.inf
    for _, group in groupby(order, key=lambda i: points[i][1]):
        members = list(group)
        top = max(points[i][0] for i in members)
        if top > best_cheaper:
            for i in members:
                mask[i] = points[i][0] == top
        best_cheaper = max(best_cheaper, top)
    return mask


def _competition_ranks(scores: Sequence[float], higher_first: bool) -> list[int]:
    """1-based ranks where equal scores share a rank (1, 2, 2, 4)."""
    sign = -1.0 if higher_first else 1.0
    ordered = sorted(sign * s for s in scores)
    first: dict[float, int] = {}
    for position, value in enumerate(ordered, start=1):
        first.setdefault(value, position)
    return [first[sign * s] for s in scores]


def _scaled(values: Sequence[float]) -> list[float]:
    low, high = min(values), max(values)
    return [(v - low) / (high - low) if high > low else 0.0 for v in values]


def rank(points: Sequence[Point], score: str = "metric_per_cost") -> Ranking:
    """Rank `points` by `score` (see `SCORES`), marking the front and dominated runs.

    Raises:
        ValueError: `score` is not one of `SCORES`.
    """
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}: use one of {', '.join(SCORES)}")
    kept: list[Point] = []
    excluded: list[tuple[Point, str]] = []
    for point in points:
        reason = _exclusion(point, score)
        if reason:
            excluded.append((point, reason))
        else:
            kept.append(point)
    if not kept:
        return Ranking(score, (), tuple(excluded))
    pairs = [(float(p.metric or 0.0), float(p.cost or 0.0)) for p in kept]
    mask = front_mask(pairs)
    front = [i for i, on in enumerate(mask) if on]
    if score == "metric_per_cost":
        scores = [m / c for m, c in pairs]
    else:
        metric_n, cost_n = _scaled([m for m, _ in pairs]), _scaled([c for _, c in pairs])
        scores = [
            0.0
            if mask[i]
            else min(math.hypot(metric_n[i] - metric_n[j], cost_n[i] - cost_n[j]) for j in front)
            for i in range(len(kept))
        ]
    ranks = _competition_ranks(scores, higher_first=score == "metric_per_cost")
    entries = [
        Ranked(
            point=kept[i],
            rank=ranks[i],
            score=scores[i],
            on_front=mask[i],
            dominated_by=tuple(kept[j].key for j in front if dominates(pairs[j], pairs[i]))[
                :DOMINATORS_SHOWN
            ],
        )
        for i in range(len(kept))
    ]
    entries.sort(key=lambda e: (e.rank, not e.on_front, e.point.label, e.point.key))
    return Ranking(score, tuple(entries), tuple(excluded))


def _exclusion(point: Point, score: str) -> str:
    """Why `point` cannot be ranked, or '' if it can."""
    for name, value in (("metric", point.metric), ("cost", point.cost)):
        if value is None:
            return f"no {name}"
        if not math.isfinite(value):
            return f"{name} is not a finite number ({value!r})"
    if score == "metric_per_cost" and (point.cost or 0.0) <= 0:
        return "cost is zero or less: metric per cost is undefined"
    return ""
