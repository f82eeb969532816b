"""What a benchmark returns: figures per batch size, the run, SLO misses and notes.

Units are in the names: seconds, joules, watts, grams CO2e (docs/evaluate.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from carbonlens._frozen import frozen
from carbonlens.accounting import RunReport
from carbonlens.errors import CarbonLensError
from carbonlens.evaluate.slo import SloMiss


class BenchmarkError(CarbonLensError):
    """The benchmarked function raised; `traceback` is its formatted traceback and
    `run_id` the run, stored as failed."""

    def __init__(self, message: str, *, traceback_text: str, run_id: str) -> None:
        super().__init__(message)
        self.traceback = traceback_text
        self.run_id = run_id


@frozen
class BatchResult:
    """The figures of one batch size (seconds, joules, grams CO2e)."""

    batch_size: int
    calls: int
    predictions: int
    duration_s: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    throughput_per_s: float
    energy_j: float
    energy_low_j: float
    energy_high_j: float
    idle_energy_j: float
    energy_per_prediction_j: float
    energy_per_prediction_low_j: float
    energy_per_prediction_high_j: float
    energy_per_prediction_total_j: float
    emissions_per_1000_predictions_g: float
    flop_per_j: float | None


@frozen
class BenchmarkResult:
    """A benchmark's figures, the stored run's id and report, and the SLOs missed."""

    run_id: str
    batches: tuple[BatchResult, ...]
    idle_s: float
    idle_power_w: float
    methods: Mapping[str, str]
    flops_per_prediction: float | None
    flops_source: str | None
    warmup: int
    repeats: int
    min_time_s: float
    max_j_per_prediction: float | None = None
    max_p95_s: float | None = None
    slo_misses: tuple[SloMiss, ...] = ()
    notes: tuple[str, ...] = ()
    report: RunReport | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible figures, units in key names (docs/evaluate.md)."""
        batches = []
        for batch in self.batches:
            entry = asdict(batch)
            entry["emissions_per_1000_predictions_gco2e"] = entry.pop(
                "emissions_per_1000_predictions_g"
            )
            batches.append(entry)
        return {
            "warmup": self.warmup,
            "repeats": self.repeats,
            "min_time_s": self.min_time_s,
            "max_energy_per_prediction_j": self.max_j_per_prediction,
            "max_latency_p95_s": self.max_p95_s,
            "idle_s": self.idle_s,
            "idle_power_w": self.idle_power_w,
            "methods": dict(self.methods),
            "flops_per_prediction": self.flops_per_prediction,
            "flops_source": self.flops_source,
            "batches": batches,
            "slo_misses": [asdict(miss) for miss in self.slo_misses],
            "notes": list(self.notes),
        }


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) of `values`, interpolating linearly between
    order statistics (numpy's default method)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def result_notes(batches: Sequence[BatchResult], idle_power_w: float) -> list[str]:
    """What the reader of the figures must know: idle not measured, or a window
    that drew less than the idle power (other load on the machine changed)."""
    if idle_power_w == 0:
        return ["idle power not measured (idle_s=0): energy per prediction includes idle"]
    return [
        f"batch {b.batch_size}: the machine drew {b.energy_j / b.duration_s:.3g} W, less than "
        f"the {idle_power_w:.3g} W measured idle (other load changed?): dynamic energy set "
        "to 0; measure on a quiet machine, with a longer idle_s"
        for b in batches
        if b.energy_j < b.idle_energy_j
    ]
