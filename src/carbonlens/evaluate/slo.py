"""Sustainability and latency SLOs of a benchmark: targets per batch size, for CI.

A target is met when every batch size meets it: dynamic energy per prediction
at most `max_j_per_prediction` joules, p95 latency of one call at most
`max_p95_s` seconds. `carbonlens bench` exits with status 1 when one is missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from carbonlens._frozen import frozen
from carbonlens.errors import ConfigError

if TYPE_CHECKING:
    from carbonlens.evaluate.results import BatchResult

EXIT_SLO_MISSED = 1
"""Exit status of `carbonlens bench` when a target is missed."""


@frozen
class SloMiss:
    """One batch size over one target: `figure` (`energy_per_prediction_j` or
    `latency_p95_s`) was `value`, more than `limit` (same unit)."""

    batch_size: int
    figure: str
    limit: float
    value: float

    def message(self) -> str:
        """One line for people, e.g. `batch 8: latency_p95_s 0.0121 > 0.01`."""
        return f"batch {self.batch_size}: {self.figure} {self.value:.4g} > {self.limit:.4g}"


def check_targets(max_j_per_prediction: float | None, max_p95_s: float | None) -> None:
    """Refuse targets of zero or less before anything runs.

    Raises:
        ConfigError: A target is not a positive number.
    """
    for name, value in (("max_j_per_prediction", max_j_per_prediction), ("max_p95_s", max_p95_s)):
        if value is not None and not value > 0:
            raise ConfigError(f"SLO {name} must be more than zero, got {value!r}", setting=name)


def check_slos(
    batches: Sequence[BatchResult],
    max_j_per_prediction: float | None,
    max_p95_s: float | None,
) -> list[SloMiss]:
    """The targets each batch size misses (empty: all met, or no targets)."""
    misses = []
    for batch in batches:
        for figure, limit, value in (
            ("energy_per_prediction_j", max_j_per_prediction, batch.energy_per_prediction_j),
            ("latency_p95_s", max_p95_s, batch.latency_p95_s),
        ):
            if limit is not None and value > limit:
                misses.append(SloMiss(batch.batch_size, figure, limit, value))
    return misses
