"""Predict a run's total energy from its progress: energy per step, warm-up left out.

The method (docs/evaluate.md#prediction):

1. The user reports progress, step `s` of `S` (`Tracker.progress`). At each
   sampling tick the latest report becomes a point `(s, t, E)`: `E` is the run's
   cumulative IT energy at the time of the report, interpolated linearly between
   the ticks before and after it (power is taken as constant within one sampling
   interval, the resolution of every sensor).
2. Warm-up: the steps up to `w = ceil(warmup_ratio × S)` (data loading,
   compilation, caches) are left out. The base is the first point with `s >= w`.
3. Energy per step: `r = (E_last - E_base) / (s_last - s_base)`, in joules.
4. Total: `E_total = E_last + (S - s_last) × r`; the duration likewise from the
   time per step.
5. 95 % confidence interval (batch means): the steps from the base to the last
   point are cut into `B = min(10, n)` equal batches (`n`: intervals between
   points); each batch's energy per step comes from `E` interpolated at its
   edges; `r ± t(0.975, B - 1) × sd / sqrt(B)` (Student t over the batch means)
   gives `E_last + (S - s_last) × (r ± h)`. Batch means tame the correlation of
   neighbouring intervals. A prediction needs two intervals after the base.

The interval covers the step-to-step variability of the energy, not a sensor's
own method range (accounting.METHOD_RANGE), nor a change of regime (a slower
evaluation phase) that has not happened yet.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Final

from carbonlens._frozen import frozen

MAX_BATCHES: Final = 10
"""Most batches of the batch-means interval."""

_T_975: Final = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262)
"""Student t quantile 0.975 for 1..9 degrees of freedom."""


@frozen
class Prediction:
    """A prediction of a run's total IT energy (joules) and duration (seconds),
    made at step `at_step` of `total_steps`, `at_t_s` seconds into the run."""

    at_step: int
    total_steps: int
    at_t_s: float
    energy_j: float
    energy_low_j: float
    energy_high_j: float
    duration_s: float
    warmup_steps: int
    batches: int


def _interpolate(xs: list[float], ys: list[float], x: float) -> float:
    """y at x on the polyline through (xs, ys); xs increasing, x within their range."""
    i = bisect_left(xs, x)
    if i < len(xs) and xs[i] == x:
        return ys[i]
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


class StepPredictor:
    """Turns progress reports and cumulative energy into `Prediction`s (see module).

    `report` may be called from any thread (it only stores the latest report);
    `observe` and `predict` are called from the sampler's thread.
    """

    def __init__(self, warmup_ratio: float) -> None:
        """Leave the first `warmup_ratio` (0-1) of the steps out as warm-up."""
        self._warmup_ratio = warmup_ratio
        self._report: tuple[int, int, float] | None = None
        self._tick: tuple[float, float] | None = None
        self._steps: list[float] = []
        self._times: list[float] = []
        self._energies: list[float] = []
        self.total_steps = 0

    def report(self, step: int, total_steps: int, t_s: float) -> None:
        """Record that `step` of `total_steps` was reached at `t_s` (run seconds)."""
        self._report = (step, total_steps, t_s)

    def observe(self, t_s: float, energy_j: float) -> bool:
        """A tick at `t_s` with cumulative IT energy `energy_j`; True if it added a point."""
        previous, self._tick = self._tick, (t_s, energy_j)
        report = self._report
        if report is None or previous is None:
            return False
        step, total_steps, report_t_s = report
        if (self._steps and step <= self._steps[-1]) or report_t_s > t_s:
            return False
        prev_t_s, prev_j = previous
        if report_t_s <= prev_t_s or t_s <= prev_t_s:
            at_j = prev_j
        else:
            at_j = prev_j + (energy_j - prev_j) * (report_t_s - prev_t_s) / (t_s - prev_t_s)
        self._steps.append(float(step))
        self._times.append(report_t_s)
        self._energies.append(at_j)
        self.total_steps = total_steps
        return True

    @property
    def last_step(self) -> int | None:
        """The latest step turned into a point, None before the first."""
        return int(self._steps[-1]) if self._steps else None

    def warmup_steps(self) -> int:
        """Steps left out as warm-up: `ceil(warmup_ratio × total_steps)`."""
        return math.ceil(self._warmup_ratio * self.total_steps)

    def predict(self) -> Prediction | None:
        """The prediction from the points so far; None until two intervals follow warm-up."""
        warmup = self.warmup_steps()
        base = bisect_left(self._steps, warmup)
        intervals = len(self._steps) - 1 - base
        if intervals < 2:
            return None
        steps, energies = self._steps, self._energies
        s0, s1 = steps[base], steps[-1]
        rate = (energies[-1] - energies[base]) / (s1 - s0)
        step_s = (self._times[-1] - self._times[base]) / (s1 - s0)
        batches = min(MAX_BATCHES, intervals)
        edges = [s0 + (s1 - s0) * k / batches for k in range(batches + 1)]
        at = [_interpolate(steps, energies, edge) for edge in edges]
        rates = [(at[k + 1] - at[k]) / (edges[k + 1] - edges[k]) for k in range(batches)]
        from statistics import stdev  # lazy: only once there is enough progress

        half = _T_975[batches - 2] * stdev(rates) / math.sqrt(batches)
        remaining = max(0.0, self.total_steps - s1)
        return Prediction(
            at_step=int(s1),
            total_steps=self.total_steps,
            at_t_s=self._times[-1],
            energy_j=energies[-1] + remaining * rate,
            energy_low_j=energies[-1] + remaining * max(0.0, rate - half),
            energy_high_j=energies[-1] + remaining * (rate + half),
            duration_s=self._times[-1] + remaining * step_s,
            warmup_steps=warmup,
            batches=batches,
        )
