"""Named, step-indexed metrics of a run (`accuracy`, `loss`, a benchmark's figures).

`MetricLog` checks each value, numbers the steps a caller leaves out (0, 1, 2, ...
per metric) and keeps a summary per metric for the run's settings; the points
themselves go to the store through `RunWriter.add_metrics`.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from carbonlens.errors import ConfigError
from carbonlens.store.base import MetricPoint


class MetricLog:
    """Validates metric points and summarises them; safe to use from any thread."""

    def __init__(self) -> None:
        """Start with no metrics."""
        self._lock = threading.Lock()
        self._next_step: dict[str, int] = {}
        self._summary: dict[str, dict[str, Any]] = {}

    def point(self, name: str, value: float, step: int | None, t_s: float) -> MetricPoint:
        """A checked point of metric `name`, logged `t_s` seconds into the run.

        Args:
            name: Non-empty text.
            value: A finite number (bools are refused: they are not measurements).
            step: An integer >= 0, or None for the metric's next step (its latest
                step + 1, from 0).
            t_s: Seconds since the run started.

        Raises:
            ConfigError: One of the above is not met.
        """
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"a metric needs a non-empty name, got {name!r}", setting="metric")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ConfigError(
                f"metric {name!r} needs a finite number, got {value!r}", setting="metric"
            )
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise ConfigError(
                f"metric {name!r}: step must be an integer >= 0, got {step!r}", setting="metric"
            )
        with self._lock:
            chosen = self._next_step.get(name, 0) if step is None else step
            self._next_step[name] = max(self._next_step.get(name, 0), chosen + 1)
            entry = self._summary.setdefault(name, {"value": None, "step": -1, "count": 0})
            entry["count"] += 1
            if chosen >= entry["step"]:
                entry["value"], entry["step"] = float(value), chosen
        return MetricPoint(name, chosen, float(value), t_s)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per metric: `value` at its latest `step`, and how many points were logged."""
        with self._lock:
            return {name: dict(entry) for name, entry in sorted(self._summary.items())}
