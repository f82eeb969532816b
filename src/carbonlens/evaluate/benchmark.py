"""The benchmark harness: latency, throughput and energy per prediction, per batch size.

`benchmark(fn, inputs, ...)` runs as one tracked run of kind `benchmark`:

1. idle: a window of `idle_s` seconds doing nothing gives the idle power
   (whole-machine IT energy / duration, on the run's sensors);
2. per batch size: `warmup` untimed calls, then a window of timed calls, at
   least `repeats` of them and at least `min_time_s` seconds (sensors need time
   to register energy). `fn` gets a list of `batch_size` inputs (cycling
   through `inputs`); each call is `batch_size` predictions.

Per batch size: latency p50/p95/p99 of one call (linear interpolation between
order statistics), throughput (predictions per second of call time), the
window's IT energy with the range of its sensors' methods
(`accounting.METHOD_RANGE`), energy per prediction: dynamic (the window's energy
minus idle power × its duration, the headline) and total (both shown), and
operational gCO2e per 1,000 predictions from the dynamic energy × PUE × the
run's annual-average intensity. The figures are stored with the run (settings
`benchmark`, and metrics with the batch size as step); a call that raises
stops the run as failed and raises `BenchmarkError` with the traceback.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from carbonlens.accounting import METHOD_RANGE
from carbonlens.errors import ConfigError
from carbonlens.evaluate.results import (
    BatchResult,
    BenchmarkError,
    BenchmarkResult,
    percentile,
    result_notes,
)
from carbonlens.evaluate.slo import check_slos, check_targets
from carbonlens.records import RunStatus, Sample
from carbonlens.tracking.tracker import Tracker
from carbonlens.units import J_PER_KWH

__all__ = [
    "DEFAULT_INTERVAL_S",
    "BatchResult",
    "BenchmarkError",
    "BenchmarkResult",
    "benchmark",
    "percentile",
]

T = TypeVar("T")

DEFAULT_INTERVAL_S = 0.25
"""Sampling interval of a benchmark run unless `interval_s` is given, seconds."""


class _Collector:
    """A tracker listener keeping every sample, to cut the run into windows."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []

    def __call__(self, samples: list[Sample]) -> None:
        self.samples.extend(samples)

    def last_t_s(self) -> float:
        return max((s.t_s for s in self.samples), default=0.0)

    def energy(self, start_t_s: float, end_t_s: float) -> tuple[float, float, float]:
        """IT energy (J) of the samples ending in (start, end], with its method range."""
        inside = [s for s in list(self.samples) if start_t_s < s.t_s <= end_t_s + 1e-9]
        total = sum(s.energy_j for s in inside)
        low = sum(s.energy_j * METHOD_RANGE[s.channel.method][0] for s in inside)
        high = sum(s.energy_j * METHOD_RANGE[s.channel.method][1] for s in inside)
        return total, low, high


def _count_flops(fn: Callable[[list[Any]], object], batch: list[Any], run_id: str) -> float | None:
    """FLOPs of one prediction by torch's FLOP counter, if the program already
    imported torch (carbonlens never imports it); None otherwise or if it counts none."""
    if "torch" not in sys.modules:
        return None
    import importlib

    counter = importlib.import_module("torch.utils.flop_counter").FlopCounterMode(display=False)
    with counter:
        _call(fn, batch, run_id)
    total = float(counter.get_total_flops())
    return total / len(batch) if total > 0 else None


def _check(
    batch_sizes: Sequence[int],
    warmup: int,
    repeats: int,
    items: list[Any],
    metrics: Mapping[str, float],
) -> None:
    problems: list[str] = []
    if not batch_sizes or any(not isinstance(b, int) or b < 1 for b in batch_sizes):
        problems.append(f"batch sizes must be integers >= 1, got {list(batch_sizes)}")
    elif len(set(batch_sizes)) < len(batch_sizes):
        problems.append(f"batch sizes must differ, got {list(batch_sizes)}")
    if warmup < 0 or repeats < 1:
        problems.append(f"need warmup >= 0 and repeats >= 1, got {warmup} and {repeats}")
    if not items:
        problems.append("inputs is empty: give at least one input")
    for name, value in metrics.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            problems.append(f"metric {name!r} needs a finite number, got {value!r}")
    if problems:
        raise ConfigError("; ".join(problems), setting="benchmark")


_STORED_METRICS = (
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "throughput_per_s",
    "energy_per_prediction_j",
    "energy_per_prediction_total_j",
    "emissions_per_1000_predictions_g",
)
"""Figures stored as metrics of the run, one point per batch size (the step)."""


def _call(fn: Callable[[list[Any]], object], batch: list[Any], run_id: str) -> None:
    try:
        fn(batch)
    except Exception as exc:
        text = traceback.format_exc()
        raise BenchmarkError(
            f"the benchmarked function raised {type(exc).__name__}: {exc} "
            f"(batch of {len(batch)}; run {run_id[:12]} stored as failed, without figures)",
            traceback_text=text,
            run_id=run_id,
        ) from exc


class _Harness:
    """Runs the calls inside one started tracker and turns windows into figures."""

    def __init__(self, tracker: Tracker, fn: Callable[[list[Any]], object], items: list[Any]):
        self.tracker = tracker
        self.collector = _Collector()
        tracker.add_listener(self.collector)
        self.fn = fn
        self.items = items

    def batch(self, size: int, call: int) -> list[Any]:
        n = len(self.items)
        return [self.items[(call * size + i) % n] for i in range(size)]

    def idle(self, idle_s: float) -> float:
        """Idle power (W) over `idle_s` seconds; 0 when `idle_s` is 0."""
        if idle_s <= 0:
            return 0.0
        with self.tracker.window("idle") as window:
            time.sleep(idle_s)
        end_t_s = self.collector.last_t_s()
        energy_j = self.collector.energy(window.start_t_s, end_t_s)[0]
        return energy_j / (end_t_s - window.start_t_s) if end_t_s > window.start_t_s else 0.0

    def timed(
        self, size: int, warmup: int, repeats: int, min_time_s: float
    ) -> tuple[list[float], float, float]:
        """Latencies (s) of the timed calls, and the window's start and end (run s)."""
        run_id = self.tracker.run_id
        for call in range(warmup):
            _call(self.fn, self.batch(size, call), run_id)
        latencies: list[float] = []
        with self.tracker.window(f"batch-{size}") as window:
            started = time.perf_counter()
            while len(latencies) < repeats or time.perf_counter() - started < min_time_s:
                batch = self.batch(size, warmup + len(latencies))
                t0 = time.perf_counter()
                _call(self.fn, batch, run_id)
                latencies.append(time.perf_counter() - t0)
        return latencies, window.start_t_s, self.collector.last_t_s()

    def figures(
        self,
        size: int,
        latencies: list[float],
        window: tuple[float, float],
        idle_power_w: float,
        flops_per_prediction: float | None,
    ) -> BatchResult:
        settings = self.tracker.info.settings
        g_per_it_j = (  # grams of operational emissions per joule of IT energy
            settings["pue"]["pue_ratio"] * settings["intensity"]["intensity_g_per_kwh"] / J_PER_KWH
        )
        energy_j, low_j, high_j = self.collector.energy(*window)
        duration_s = window[1] - window[0]
        predictions = len(latencies) * size
        idle_j = idle_power_w * duration_s
        dynamic_j = max(0.0, energy_j - idle_j)
        per_j = dynamic_j / predictions
        spread = (low_j / energy_j, high_j / energy_j) if energy_j > 0 else (1.0, 1.0)
        return BatchResult(
            batch_size=size,
            calls=len(latencies),
            predictions=predictions,
            duration_s=duration_s,
            latency_p50_s=percentile(latencies, 50),
            latency_p95_s=percentile(latencies, 95),
            latency_p99_s=percentile(latencies, 99),
            throughput_per_s=predictions / max(sum(latencies), 1e-9),
            energy_j=energy_j,
            energy_low_j=low_j,
            energy_high_j=high_j,
            idle_energy_j=idle_j,
            energy_per_prediction_j=per_j,
            energy_per_prediction_low_j=per_j * spread[0],
            energy_per_prediction_high_j=per_j * spread[1],
            energy_per_prediction_total_j=energy_j / predictions,
            emissions_per_1000_predictions_g=1000 * per_j * g_per_it_j,
            flop_per_j=flops_per_prediction / per_j if flops_per_prediction and per_j > 0 else None,
        )

    def methods(self) -> dict[str, str]:
        """The method of each component's figures (`cpu`: `modelled`, ...)."""
        found: dict[str, set[str]] = {}
        for sample in self.collector.samples:
            found.setdefault(sample.channel.component.value, set()).add(sample.channel.method.value)
        return {component: "+".join(sorted(methods)) for component, methods in found.items()}


def benchmark(
    fn: Callable[[list[T]], object],
    inputs: Iterable[T],
    *,
    warmup: int = 3,
    repeats: int = 20,
    batch_sizes: Sequence[int] = (1,),
    min_time_s: float = 1.0,
    idle_s: float = 2.0,
    flops_per_prediction: float | None = None,
    metrics: Mapping[str, float] | None = None,
    max_j_per_prediction: float | None = None,
    max_p95_s: float | None = None,
    **tracker_kwargs: Any,
) -> BenchmarkResult:
    """Measure `fn` per batch size and store the results as a run of kind `benchmark`.

    Args:
        fn: Called with a list of `batch_size` inputs; each call makes that many
            predictions.
        inputs: The inputs, cycled through to fill batches.
        warmup: Untimed calls per batch size before measuring.
        repeats: Fewest timed calls per batch size.
        batch_sizes: The batch sizes to measure, in order.
        min_time_s: Fewest seconds of timed calls per batch size.
        idle_s: Seconds of idle measured first (0: no idle subtraction).
        flops_per_prediction: FLOPs of one prediction, if known; else counted with
            torch's FLOP counter when the program uses torch.
        metrics: Quality metrics to store beside the energy (`{"accuracy": 0.91}`).
        max_j_per_prediction: SLO: most dynamic joules per prediction.
        max_p95_s: SLO: longest p95 latency of one call, seconds.
        **tracker_kwargs: For `Tracker` (project, name, country, store, ...);
            `interval_s` defaults to `DEFAULT_INTERVAL_S`.

    Returns:
        The figures; `slo_misses` lists the targets missed (empty: all met).

    Raises:
        ConfigError: Bad batch sizes, counts or empty inputs.
        BenchmarkError: `fn` raised; the run is stored as failed, without figures.
    """
    items, metrics = list(inputs), dict(metrics or {})
    _check(batch_sizes, warmup, repeats, items, metrics)
    check_targets(max_j_per_prediction, max_p95_s)
    tracker = Tracker(kind="benchmark", **{"interval_s": DEFAULT_INTERVAL_S, **tracker_kwargs})
    harness = _Harness(tracker, fn, items)
    tracker.start()
    try:
        idle_power_w = harness.idle(idle_s)
        flops, source = flops_per_prediction, "given" if flops_per_prediction else None
        if flops is None:
            flops = _count_flops(fn, harness.batch(batch_sizes[0], 0), tracker.run_id)
            source = "torch.utils.flop_counter" if flops else None
        batches = []
        for size in batch_sizes:
            latencies, start_t_s, end_t_s = harness.timed(size, warmup, repeats, min_time_s)
            window = (start_t_s, end_t_s)
            batches.append(harness.figures(size, latencies, window, idle_power_w, flops))
    except BenchmarkError:
        tracker.stop(RunStatus.FAILED)
        raise
    except BaseException:
        tracker.stop(RunStatus.INTERRUPTED)
        raise
    result = BenchmarkResult(
        run_id=tracker.run_id,
        batches=tuple(batches),
        idle_s=idle_s,
        idle_power_w=idle_power_w,
        methods=harness.methods(),
        flops_per_prediction=flops,
        flops_source=source,
        warmup=warmup,
        repeats=repeats,
        min_time_s=min_time_s,
        max_j_per_prediction=max_j_per_prediction,
        max_p95_s=max_p95_s,
        slo_misses=tuple(check_slos(batches, max_j_per_prediction, max_p95_s)),
        notes=tuple(result_notes(batches, idle_power_w)),
    )
    for batch in result.batches:
        for name in _STORED_METRICS:
            tracker.log_metric(name, getattr(batch, name), step=batch.batch_size)
    tracker.log_metric("idle_power_w", idle_power_w, step=0)
    for name, value in metrics.items():
        tracker.log_metric(name, value, step=0)
    tracker.annotate("benchmark", result.to_dict())
    return dataclasses.replace(result, report=tracker.stop(RunStatus.FINISHED))
