"""The benchmark harness on a small real CPU function, with a meter whose power is
known: 5 W idle, 25 W while the function runs."""

from __future__ import annotations

import math
import re
import sys
import time
import types
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import carbonlens
from carbonlens.config import Settings
from carbonlens.errors import ConfigError
from carbonlens.evaluate.benchmark import BenchmarkError, benchmark, percentile
from carbonlens.records import Channel, Component, Method, Reading, RunStatus
from carbonlens.store import SqliteStore
from carbonlens.testing.fakes import FakeSensor

CPU = Channel("meter", Component.CPU, "package-0", Method.MEASURED)
IDLE_W, BUSY_W = 5.0, 25.0


class BusyMeter(FakeSensor):
    """Cumulative energy: 5 W all along, 20 W more during `work` (timed with perf_counter)."""

    def __init__(self) -> None:
        super().__init__(CPU, energy_j=[0.0])
        self.start_s: float | None = None
        self.busy_s = 0.0

    def read(self, t_s: float, pids: frozenset[int] = frozenset()) -> list[Reading]:
        if self.start_s is None:
            self.start_s = t_s
        energy_j = IDLE_W * (t_s - self.start_s) + (BUSY_W - IDLE_W) * self.busy_s
        return [Reading(CPU, t_s, energy_j, None)]

    def work(self, batch: list[int]) -> int:
        started = time.perf_counter()
        total = 0
        for x in batch:
            total += sum(i * x for i in range(5_000))
        self.busy_s += time.perf_counter() - started
        return total


def run(tmp_path: Path, meter: BusyMeter, fn: Any = None, **kw: Any) -> Any:
    options: dict[str, Any] = {
        "batch_sizes": [1, 4],
        "warmup": 2,
        "repeats": 5,
        "min_time_s": 0.3,
        "idle_s": 0.3,
        "project": "bench",
        "sensors": [meter],
        "store": tmp_path / "runs.db",
        "country": "FR",
        "pue": 1.5,
        "settings": Settings(embodied=False),
    }
    return benchmark(fn or meter.work, range(10), **(options | kw))


def test_figures_per_batch_size_on_a_real_cpu_function(tmp_path: Path) -> None:
    meter = BusyMeter()
    result = run(tmp_path, meter, metrics={"accuracy": 0.91})

    assert result.idle_power_w == pytest.approx(IDLE_W, rel=0.01)
    assert result.methods == {"cpu": "measured"}
    assert [b.batch_size for b in result.batches] == [1, 4]
    for b in result.batches:
        assert b.calls >= 5 and b.predictions == b.calls * b.batch_size
        assert b.duration_s >= 0.3
        assert 0 < b.latency_p50_s <= b.latency_p95_s <= b.latency_p99_s
        mean_latency_s = b.predictions / b.throughput_per_s / b.calls  # of one call
        # dynamic energy: 20 W while the function runs, per prediction
        expected_j = (BUSY_W - IDLE_W) * mean_latency_s / b.batch_size
        assert b.energy_per_prediction_j == pytest.approx(expected_j, rel=0.05)
        assert b.energy_per_prediction_total_j == pytest.approx(
            b.energy_per_prediction_j + IDLE_W * b.duration_s / b.predictions, rel=0.02
        )
        # measured: +-5 %
        assert b.energy_per_prediction_low_j == pytest.approx(0.95 * b.energy_per_prediction_j)
        assert b.energy_per_prediction_high_j == pytest.approx(1.05 * b.energy_per_prediction_j)
        # g per 1,000 = J x PUE / 3.6e6 x 41.44 g/kWh (FR) x 1000
        assert b.emissions_per_1000_predictions_g == pytest.approx(
            b.energy_per_prediction_j * 1.5 / 3.6e6 * 41.44 * 1000
        )
        assert b.flop_per_j is None
    assert result.slo_misses == ()

    report = result.report
    assert report is not None and report.info.kind == "benchmark"
    assert report.info.status is RunStatus.FINISHED
    assert [w.name for w in report.windows] == ["idle", "batch-1", "batch-4"]
    doc = report.to_dict()["benchmark"]
    assert doc["batches"][1]["batch_size"] == 4
    assert "emissions_per_1000_predictions_gco2e" in doc["batches"][1]
    with closing(SqliteStore(tmp_path / "runs.db")) as store:
        points = store.metrics(result.run_id)
    by_name = {(p.name, p.step): p.value for p in points}
    assert by_name[("accuracy", 0)] == 0.91
    assert by_name[("energy_per_prediction_j", 4)] == result.batches[1].energy_per_prediction_j
    assert by_name[("latency_p95_s", 1)] == result.batches[0].latency_p95_s


def test_slo_targets_that_are_missed_are_listed_and_stored(tmp_path: Path) -> None:
    result = run(tmp_path, BusyMeter(), batch_sizes=[2], max_p95_s=1e-9, max_j_per_prediction=1e3)
    [miss] = result.slo_misses
    assert (miss.batch_size, miss.figure, miss.limit) == (2, "latency_p95_s", 1e-9)
    assert miss.message().startswith("batch 2: latency_p95_s ")
    stored = result.report.info.settings["benchmark"]
    assert stored["slo_misses"][0]["figure"] == "latency_p95_s"
    assert stored["max_energy_per_prediction_j"] == 1e3


def test_a_function_that_raises_is_reported_and_nothing_stored_as_valid(tmp_path: Path) -> None:
    meter = BusyMeter()

    def broken_model(batch: list[int]) -> None:
        if len(batch) > 1:
            raise ValueError("shape mismatch")

    with pytest.raises(BenchmarkError, match="raised ValueError: shape mismatch") as caught:
        run(tmp_path, meter, broken_model)
    assert "broken_model" in caught.value.traceback
    assert "ValueError: shape mismatch" in caught.value.traceback
    with closing(SqliteStore(tmp_path / "runs.db")) as store:
        info = store.get_run(caught.value.run_id)
        assert info is not None and info.status is RunStatus.FAILED
        assert "benchmark" not in info.settings
        assert store.metrics(info.run_id) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_sizes": [0, 8]}, "batch sizes must be integers >= 1"),
        ({"batch_sizes": []}, "batch sizes"),
        ({"batch_sizes": [8, 8]}, "batch sizes must differ"),
        ({"repeats": 0}, "repeats >= 1"),
        ({"metrics": {"accuracy": math.nan}}, "finite number"),
        ({"max_p95_s": 0.0}, "max_p95_s must be more than zero"),
        ({"max_j_per_prediction": -1.0}, "more than zero"),
    ],
)
def test_bad_input_fails_before_anything_runs(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        run(tmp_path, BusyMeter(), **options)
    assert not (tmp_path / "runs.db").exists()


def test_empty_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="inputs is empty"):
        benchmark(len, [], store=tmp_path / "runs.db")


def test_flops_given_or_counted_by_torch_when_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = run(tmp_path, BusyMeter(), batch_sizes=[1], flops_per_prediction=2e6)
    [batch] = given.batches
    assert given.flops_source == "given"
    assert batch.flop_per_j == pytest.approx(2e6 / batch.energy_per_prediction_j)

    class FlopCounterMode:  # what torch.utils.flop_counter offers
        def __init__(self, display: bool) -> None:
            assert display is False

        def __enter__(self) -> FlopCounterMode:
            return self

        def __exit__(self, *_: object) -> None:
            return None

        def get_total_flops(self) -> int:
            return 8_000

    counter = types.ModuleType("torch.utils.flop_counter")
    counter.FlopCounterMode = FlopCounterMode  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    monkeypatch.setitem(sys.modules, "torch.utils.flop_counter", counter)
    counted = run(tmp_path, BusyMeter(), batch_sizes=[2, 4])
    assert counted.flops_source == "torch.utils.flop_counter"
    assert counted.flops_per_prediction == 4_000  # 8,000 FLOPs for a batch of 2


def test_percentiles_interpolate_linearly() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([float(i) for i in range(1, 101)], 95) == pytest.approx(95.05)
    assert percentile([7.0], 99) == 7.0


def test_benchmark_is_public_and_lazy() -> None:
    assert carbonlens.benchmark is benchmark


class BusierIdleMeter(BusyMeter):
    """10 W more during the first 0.4 s (the idle window): other load that stopped."""

    def read(self, t_s: float, pids: frozenset[int] = frozenset()) -> list[Reading]:
        [reading] = super().read(t_s, pids)
        extra_j = 10.0 * min(t_s - (self.start_s or t_s), 0.4)
        return [Reading(CPU, t_s, (reading.energy_j or 0.0) + extra_j, None)]


def test_a_window_below_idle_power_is_noted_not_hidden(tmp_path: Path) -> None:
    result = run(tmp_path, BusierIdleMeter(), len, batch_sizes=[1], idle_s=0.3)
    [batch] = result.batches
    assert result.idle_power_w == pytest.approx(15.0, rel=0.05)
    assert batch.energy_per_prediction_j == 0.0
    [note] = result.notes
    assert re.match(r"batch 1: the machine drew [\d.]+ W, less than the 15 W measured idle", note)
    assert result.report.info.settings["benchmark"]["notes"] == [note]


def test_no_idle_measurement_is_noted(tmp_path: Path) -> None:
    result = run(tmp_path, BusyMeter(), batch_sizes=[1], idle_s=0)
    [batch] = result.batches
    assert result.idle_power_w == 0.0
    assert batch.energy_per_prediction_j == batch.energy_per_prediction_total_j
    assert result.notes == (
        "idle power not measured (idle_s=0): energy per prediction includes idle",
    )
