"""Budgets and prediction with a fake clock and a fake meter: warn, raise at a
checkpoint, terminate a real child process, and predict a run with known energy."""

from __future__ import annotations

import logging
import math
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import carbonlens
from carbonlens.config import Settings
from carbonlens.errors import ConfigError
from carbonlens.records import Channel, Component, Method, Reading, RunStatus
from carbonlens.store import SqliteStore
from carbonlens.store.base import Budget, BudgetKind, BudgetPeriod
from carbonlens.testing.fakes import FakeClock, FakeSensor, FakeShares
from carbonlens.tracking.budget import BudgetExceeded, terminate_child
from carbonlens.tracking.budget_limits import parse_amount, parse_run_budgets
from carbonlens.tracking.prediction import StepPredictor
from carbonlens.tracking.tracker import Tracker

CPU = Channel("meter", Component.CPU, "package-0", Method.MEASURED)
KWH_J = 3_600_000.0
FR_G_PER_KWH = 41.44  # grid_intensity_country.csv, FR 2025


class Meter(FakeSensor):
    """A sensor whose cumulative energy the test sets."""

    def __init__(self) -> None:
        super().__init__(CPU, energy_j=[0.0])
        self.energy_j = 0.0

    def read(self, t_s: float, pids: frozenset[int] = frozenset()) -> list[Reading]:
        return [Reading(CPU, t_s, self.energy_j, None)]


def make(tmp_path: Path, clock: FakeClock, meter: Meter, **kw: Any) -> Tracker:
    return Tracker(
        project=kw.pop("project", "p"),
        sensors=[meter],
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,  # the background thread never ticks; tick() below does
        country="FR",
        pue=1.0,
        settings=Settings(embodied=False),
        **kw,
    )


def tick(tracker: Tracker, clock: FakeClock, meter: Meter, energy_j: float) -> None:
    """One second later the meter reads `energy_j`: one sampling tick."""
    clock.advance(1.0)
    meter.energy_j = energy_j
    tracker._sampler.tick()  # type: ignore[union-attr]  # what the sampler thread does


def test_warns_at_80_percent_then_at_100_and_keeps_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock, meter = FakeClock(), Meter()
    tracker = make(tmp_path, clock, meter, budget_kwh=1.0)
    with caplog.at_level(logging.WARNING, logger="carbonlens"), tracker:
        tick(tracker, clock, meter, 0.5 * KWH_J)
        assert "budget" not in caplog.text
        tick(tracker, clock, meter, 0.85 * KWH_J)
        assert "85% of the run budget of 1 kWh spent" in caplog.text
        tick(tracker, clock, meter, 1.01 * KWH_J)
        assert "run budget of 1 kWh exceeded: 1.01 kWh spent after 3 s; warned only" in caplog.text
        tracker.checkpoint()  # action warn: nothing is raised
    report = tracker.report
    assert report is not None and report.info.status is RunStatus.FINISHED
    budget = report.info.settings["budget"]
    assert [e["event"] for e in budget["events"]] == ["warn", "exceeded"]
    doc = report.to_dict()["budget"]
    assert doc["limits"][0]["limit_kwh"] == pytest.approx(1.0)
    assert doc["limits"][0]["spent_kwh"] == pytest.approx(1.01)
    assert doc["limits"][0]["spent_ratio"] == pytest.approx(1.01)
    assert report.to_dict()["stop_reason"] is None
    assert any("exceeded" in note for note in report.notes)


def test_raise_happens_at_the_next_checkpoint_once_and_interrupts_the_run(
    tmp_path: Path,
) -> None:
    clock, meter = FakeClock(), Meter()
    tracker = make(tmp_path, clock, meter, budget_kgco2e=0.001, budget_action="raise")
    grams_per_j = FR_G_PER_KWH / KWH_J
    with pytest.raises(BudgetExceeded) as caught, tracker:
        tick(tracker, clock, meter, 0.5 / grams_per_j)  # 0.5 g of 1 g
        tracker.checkpoint()
        tick(tracker, clock, meter, 1.2 / grams_per_j)  # the sampler only records it
        tracker.checkpoint()
    error = caught.value
    assert (error.scope, error.kind) == ("run", BudgetKind.EMISSIONS)
    assert error.limit == pytest.approx(0.001)
    assert error.spent == pytest.approx(0.0012)
    assert isinstance(error, carbonlens.CarbonLensError)
    assert type(error).__module__ == "carbonlens"
    report = tracker.report
    assert report is not None and report.info.status is RunStatus.INTERRUPTED
    assert report.info.settings["stop_reason"].startswith("budget: run budget of 0.001 kgCO2e")
    assert report.to_dict()["stop_reason"] == tracker.stop_reason
    tracker.checkpoint()  # raised once only


def test_progress_is_a_checkpoint_too(tmp_path: Path) -> None:
    clock, meter = FakeClock(), Meter()
    tracker = make(tmp_path, clock, meter, budget_kwh=0.001, budget_action="raise")
    tracker.start()
    tick(tracker, clock, meter, 0.002 * KWH_J)
    with pytest.raises(BudgetExceeded, match="run budget of 0.001 kWh exceeded"):
        tracker.progress(1, 10)
    tracker.stop()


def test_project_budget_counts_the_periods_earlier_runs(tmp_path: Path) -> None:
    clock, meter = FakeClock(), Meter()
    earlier = make(tmp_path, clock, meter)
    with earlier:
        tick(earlier, clock, meter, 0.7 * KWH_J)
    store = SqliteStore(tmp_path / "runs.db")
    store.set_budget(Budget("p", BudgetKind.ENERGY, 1.0, BudgetPeriod.MONTH))
    store.close()

    meter = Meter()
    tracker = make(tmp_path, clock, meter, budget_action="raise")
    with pytest.raises(BudgetExceeded, match=r"project 'p' \(month\) budget"), tracker:
        tick(tracker, clock, meter, 0.2 * KWH_J)  # 0.9 kWh with the earlier run: a warning
        tracker.checkpoint()
        tick(tracker, clock, meter, 0.35 * KWH_J)
        tracker.checkpoint()
    assert tracker.report is not None
    [limit] = tracker.report.info.settings["budget"]["limits"]
    assert limit["spent_before_j"] == pytest.approx(0.7 * KWH_J)
    assert [e["event"] for e in tracker.report.info.settings["budget"]["events"]] == [
        "warn",
        "exceeded",
    ]


def test_another_projects_budget_does_not_apply(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "runs.db")
    store.set_budget(Budget("other", BudgetKind.ENERGY, 0.001, BudgetPeriod.TOTAL))
    store.close()
    clock, meter = FakeClock(), Meter()
    tracker = make(tmp_path, clock, meter, budget_action="raise")
    with tracker:
        tick(tracker, clock, meter, KWH_J)
        tracker.checkpoint()
    assert tracker.report is not None and "budget" not in tracker.report.info.settings


def _sleeper(ignore_term: bool = False) -> subprocess.Popen[str]:
    code = "import signal, sys, time\n"
    if ignore_term:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('ready', flush=True)\ntime.sleep(60)\n"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return child


@pytest.mark.slow
def test_terminate_stops_a_real_child_and_records_why(tmp_path: Path) -> None:
    clock, meter = FakeClock(), Meter()
    tracker = make(tmp_path, clock, meter, budget_kwh=1.0, budget_action="terminate")
    child = _sleeper()
    done = threading.Event()

    def stop_child(error: BudgetExceeded) -> None:
        terminate_child(child, grace_s=5.0)
        done.set()

    with child, tracker:
        tracker.on_budget_exceeded(stop_child)
        tick(tracker, clock, meter, 2 * KWH_J)
        assert done.wait(10.0)
        assert child.wait(timeout=10) == -signal.SIGTERM
    assert tracker.report is not None
    assert "terminated" in tracker.report.info.settings["stop_reason"]


@pytest.mark.slow
def test_terminate_child_kills_after_the_grace_period() -> None:
    child = _sleeper(ignore_term=True)
    with child:
        assert terminate_child(child, grace_s=0.3) == -signal.SIGKILL
        assert terminate_child(child, grace_s=0.3) == -signal.SIGKILL  # gone: no signal


def test_terminate_without_a_child_warns_only(tmp_path: Path) -> None:
    clock, meter = FakeClock(), Meter()
    tracker = make(tmp_path, clock, meter, budget_kwh=1.0, budget_action="terminate")
    with tracker:
        tick(tracker, clock, meter, 2 * KWH_J)
    assert tracker.report is not None and tracker.stop_reason is None
    assert any("nothing to terminate" in note for note in tracker.report.notes)
    called: list[BudgetExceeded] = []
    tracker.on_budget_exceeded(called.append)
    # registered after the fact: called at once, in its own thread
    for thread in threading.enumerate():
        if thread.name == "carbonlens-budget":
            thread.join(5.0)
    assert len(called) == 1


def _step_energy_j(step: int, total: int = 200) -> float:
    """Known energy per step: 50 J during warm-up (the first tenth), then 10 J +- 2 J."""
    return 50.0 if step <= total // 10 else 10.0 + 2.0 * math.sin(step)


def _synthetic_run(tmp_path: Path, total: int, until: int, **kw: Any) -> Tracker:
    clock, meter = FakeClock(), Meter()
    tracker = make(tmp_path, clock, meter, **kw)
    tracker.start()
    for step in range(1, until + 1):
        clock.advance(1.0)  # the step takes 1 s and its energy
        meter.energy_j += _step_energy_j(step, total)
        tracker.progress(step, total)  # reported as the step ends
        tracker._sampler.tick()  # type: ignore[union-attr]  # the sampler, at the same time
    return tracker


def test_prediction_from_the_first_30_percent_is_within_2_percent(tmp_path: Path) -> None:
    tracker = _synthetic_run(tmp_path, total=200, until=60)
    truth_j = sum(_step_energy_j(s) for s in range(1, 201))
    [first, *_] = tracker._fanout.monitor.record()["prediction"]["predictions"]  # type: ignore[union-attr]
    latest = tracker._fanout.monitor.predictor.predict()  # type: ignore[union-attr]
    assert latest is not None and latest.warmup_steps == 20
    assert latest.energy_j == pytest.approx(truth_j, rel=0.02)
    assert latest.energy_low_j <= truth_j <= latest.energy_high_j
    assert latest.energy_high_j - latest.energy_low_j < 0.06 * truth_j
    assert first["at_step"] < 60
    tracker.stop()


def test_leaving_warm_up_in_would_overshoot(tmp_path: Path) -> None:
    settings = {"settings": Settings(embodied=False, prediction_warmup_ratio=0.0)}
    clock, meter = FakeClock(), Meter()
    tracker = Tracker(
        sensors=[meter],
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
        pue=1.0,
        **settings,  # type: ignore[arg-type]
    )
    tracker.start()
    for step in range(1, 41):
        clock.advance(1.0)
        meter.energy_j += _step_energy_j(step)
        tracker.progress(step, 200)
        tracker._sampler.tick()  # type: ignore[union-attr]
    prediction = tracker._fanout.monitor.predictor.predict()  # type: ignore[union-attr]
    truth_j = sum(_step_energy_j(s) for s in range(1, 201))
    assert prediction is not None and prediction.energy_j > 1.5 * truth_j
    tracker.stop()


def test_prediction_and_its_error_are_stored(tmp_path: Path) -> None:
    tracker = _synthetic_run(tmp_path, total=100, until=100)
    report = tracker.stop()
    stored = report.info.settings["prediction"]
    assert stored["last_step"] == stored["total_steps"] == 100
    assert stored["actual_energy_j"] == pytest.approx(report.facility_energy_j)
    errors = [p["error_ratio"] for p in stored["predictions"]]
    assert len(errors) >= 8  # one kept per tenth of progress after warm-up
    first = stored["predictions"][0]  # two steps after warm-up: noisy, but covered
    assert first["energy_low_j"] <= stored["actual_energy_j"] <= first["energy_high_j"]
    assert all(abs(e) < 0.01 for e in errors[1:])
    assert errors[-1] == 0.0  # the last one, at the last step, is the actual total
    doc = report.to_dict()["prediction"]
    assert doc["predictions"][-1]["energy_kwh"] == pytest.approx(
        stored["predictions"][-1]["energy_j"] / KWH_J
    )
    assert "emissions_gco2e" in doc["predictions"][-1]
    assert doc["actual_energy_kwh"] == pytest.approx(report.facility_energy_j / KWH_J)


def test_energy_before_the_first_progress_report_counts(tmp_path: Path) -> None:
    # Without a budget the monitor is made by the first progress report; it must
    # start from what was measured before: 300 J in 3 s, then 20 steps of 50 J.
    clock, meter = FakeClock(), Meter()
    tracker = make(tmp_path, clock, meter)
    tracker.start()
    for second in range(1, 4):
        tick(tracker, clock, meter, 100.0 * second)
    for step in range(1, 21):
        clock.advance(1.0)
        meter.energy_j = 300.0 + 50.0 * step
        tracker.progress(step, 20)  # reported as the step ends
        tracker._sampler.tick()  # type: ignore[union-attr]  # the sampler, at the same time
    report = tracker.stop()
    stored = report.info.settings["prediction"]
    assert report.facility_energy_j == pytest.approx(1300.0)
    assert stored["actual_energy_j"] == pytest.approx(1300.0)  # 300 J + 20 x 50 J


def test_a_run_without_budget_or_progress_loads_no_budget_code(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import carbonlens\n"
        f"carbonlens.Tracker(country='FR', store={str(tmp_path / 'r.db')!r}).start().stop()\n"
        "print(sorted(m for m in sys.modules if 'budget' in m or 'prediction' in m))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_error_when_the_run_stops_before_its_last_step(tmp_path: Path) -> None:
    report = _synthetic_run(tmp_path, total=100, until=50).stop()
    stored = report.info.settings["prediction"]
    assert stored["actual_energy_j"] is None
    assert all(p["error_ratio"] is None for p in stored["predictions"])


def test_prediction_warns_early_when_it_exceeds_the_budget(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    budget_kwh = 2000.0 / KWH_J  # the run will need about 2800 J
    with caplog.at_level(logging.WARNING, logger="carbonlens"):
        tracker = _synthetic_run(tmp_path, total=200, until=40, budget_kwh=budget_kwh)
    events = tracker._fanout.monitor.events  # type: ignore[union-attr]
    assert [e["event"] for e in events] == ["predicted_over"]  # 1200 J of 2000 J: no 80 % yet
    assert "predicted total" in caplog.text and "at step" in caplog.text
    tracker.stop()


def test_predictor_needs_two_intervals_after_warm_up() -> None:
    predictor = StepPredictor(warmup_ratio=0.1)
    energy_j = 0.0
    predictions = []
    for step in range(1, 15):
        predictor.report(step, 100, float(step))
        energy_j += 5.0
        predictor.observe(float(step), energy_j)
        predictions.append(predictor.predict())
    # warm-up: steps up to 10; the base is step 10; two intervals need step 12
    assert predictions[:11] == [None] * 11
    first = predictions[11]
    assert first is not None and first.at_step == 12
    assert first.energy_j == pytest.approx(500.0)
    assert first.energy_low_j == pytest.approx(500.0)  # constant energy per step: no spread
    assert first.duration_s == pytest.approx(100.0)


def test_predictor_interpolates_between_ticks() -> None:
    predictor = StepPredictor(warmup_ratio=0.0)
    predictor.observe(0.0, 0.0)
    predictor.report(1, 10, 0.5)
    assert predictor.observe(1.0, 100.0)
    assert predictor.observe(2.0, 200.0) is False  # no new step reported
    assert predictor.last_step == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2kg", (BudgetKind.EMISSIONS, 2.0)),
        ("500 g", (BudgetKind.EMISSIONS, 0.5)),
        ("1.5t", (BudgetKind.EMISSIONS, 1500.0)),
        ("3kWh", (BudgetKind.ENERGY, 3.0)),
        ("800Wh", (BudgetKind.ENERGY, 0.8)),
        ("2MWh", (BudgetKind.ENERGY, 2000.0)),
    ],
)
def test_budget_amounts_with_units(text: str, expected: tuple[BudgetKind, float]) -> None:
    kind, amount = parse_amount(text)
    assert (kind, amount) == (expected[0], pytest.approx(expected[1]))


@pytest.mark.parametrize(
    ("text", "expected", "message"),
    [
        ("0kg", None, "more than zero"),
        ("-2kg", None, "more than zero"),
        ("2", None, "has no unit"),
        ("2 furlongs", None, "unknown unit"),
        ("lots", None, "not an amount"),
        ("50kWh", BudgetKind.EMISSIONS, "conflicting units"),
        ("5kg", BudgetKind.ENERGY, "conflicting units"),
    ],
)
def test_bad_budget_amounts(text: str, expected: BudgetKind | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_amount(text, expected)


def test_run_budget_options() -> None:
    assert parse_run_budgets(["2kg", "3kWh"]) == {"budget_kgco2e": 2.0, "budget_kwh": 3.0}
    assert parse_amount("50", BudgetKind.EMISSIONS) == (BudgetKind.EMISSIONS, 50.0)
    with pytest.raises(ConfigError, match="conflicting budgets '2kg' and '3000g'"):
        parse_run_budgets(["2kg", "3000g"])


def test_zero_or_negative_run_budgets_and_bad_actions_fail_at_construction(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="budget_kgco2e"):
        Tracker(budget_kgco2e=0, store=tmp_path / "r.db")
    with pytest.raises(ConfigError, match="budget_kwh"):
        Tracker(budget_kwh=-1.0, store=tmp_path / "r.db")
    with pytest.raises(ConfigError, match="warn, raise, terminate"):
        Tracker(budget_action="explode", store=tmp_path / "r.db")


def test_bad_progress_reports_are_refused(tmp_path: Path) -> None:
    clock, meter = FakeClock(), Meter()
    tracker = make(tmp_path, clock, meter).start()
    for step, total in ((-1, 10), (11, 10), (1, 0), (1.5, 10)):
        with pytest.raises(ConfigError, match="progress needs"):
            tracker.progress(step, total)  # type: ignore[arg-type]
    tracker.stop()
    with pytest.raises(RuntimeError, match="not started"):
        Tracker(store=tmp_path / "r.db").progress(1, 2)
