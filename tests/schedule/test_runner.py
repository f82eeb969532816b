"""Carrying out a plan: waiting, pausing a real process tree, and SLURM/cron helpers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
import pytest

from carbonlens.intensity.base import IntensityAuthError
from carbonlens.records import IntensityPoint, IntensitySeries
from carbonlens.schedule import (
    Grid,
    Job,
    PauseController,
    ScheduleError,
    best_window,
    cron_line,
    follow_plan,
    pause_resume,
    plan_for_run,
    slurm_begin,
    wait_for_start,
)
from carbonlens.schedule.runner import forecast_series

T0 = datetime(2023, 6, 1, tzinfo=UTC)
H = 3600.0


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.t = now
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += timedelta(seconds=seconds)


def grid(values: tuple[float, ...]) -> Grid:
    return Grid("X", T0, H, values, "test")


def test_wait_for_start_sleeps_until_the_plan_and_reports_progress() -> None:
    plan = best_window(grid((9, 9, 1, 9)), Job.flat(H), T0, T0 + timedelta(hours=4))
    clock = FakeClock(T0 + timedelta(minutes=30))
    seen: list[tuple[float, str]] = []
    wait_for_start(plan, clock, lambda left, until, what: seen.append((left, what)), tick_s=600)
    assert clock.t == plan.start == T0 + timedelta(hours=2)
    assert sum(clock.sleeps) == 5400 and max(clock.sleeps) == 600
    assert seen[0] == (5400, "start") and len(seen) == 9
    wait_for_start(plan, clock)  # already started: returns at once
    assert sum(clock.sleeps) == 5400


def test_plan_for_run_plans_from_now_to_the_deadline() -> None:
    points = tuple(
        IntensityPoint(T0 + timedelta(hours=i), H, v) for i, v in enumerate((5, 1, 1, 5))
    )
    series = IntensitySeries("", "forecast", points)
    plan = plan_for_run(T0 + timedelta(hours=4), 2 * H, "GB", series, T0, power_w=500)
    assert (plan.location, plan.start, plan.plan_g_per_kwh, plan.run_now_g_per_kwh) == (
        "GB",
        T0 + timedelta(hours=1),
        1.0,
        3.0,
    )
    assert plan.saving_g == pytest.approx(2.0)  # 1 kWh
    paused = plan_for_run(T0 + timedelta(hours=4), H, "GB", series, T0, pause_and_resume=True)
    assert paused.strategy == "pause-resume"
    with pytest.raises(ScheduleError, match="does not cover"):
        plan_for_run(T0 + timedelta(hours=6), H, "GB", series, T0)


class FakeController(PauseController):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__(0)
        self.clock = clock
        self.calls: list[tuple[str, datetime]] = []

    def pause(self) -> bool:
        self.calls.append(("pause", self.clock.now()))
        self.paused = True
        return True

    def resume(self) -> bool:
        self.calls.append(("resume", self.clock.now()))
        self.paused = False
        return True


def test_follow_plan_pauses_between_chunks_on_the_clock() -> None:
    plan = pause_resume(grid((1, 9, 1, 9, 1)), Job.flat(3 * H), T0, T0 + timedelta(hours=5))
    assert plan.resumes == 2
    clock = FakeClock(plan.start)
    controller = FakeController(clock)
    assert follow_plan(plan, controller, alive=lambda: True, clock=clock, tick_s=900) == 2
    at = [T0 + timedelta(hours=h) for h in (1, 2, 3, 4)]
    assert controller.calls == [
        ("pause", at[0]),
        ("resume", at[1]),
        ("pause", at[2]),
        ("resume", at[3]),
    ]


def test_follow_plan_stops_when_the_job_ends_and_never_leaves_it_paused() -> None:
    plan = pause_resume(grid((1, 9, 1, 9, 1)), Job.flat(3 * H), T0, T0 + timedelta(hours=5))
    clock = FakeClock(plan.start)
    controller = FakeController(clock)
    ends = iter([True] * 6 + [False] * 100)
    assert follow_plan(plan, controller, alive=lambda: next(ends), clock=clock, tick_s=900) == 1
    assert [c for c, _ in controller.calls] == ["pause", "resume"]
    assert not controller.paused


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A real child that started a grandchild; both killed at the end by their pids."""
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(g.pid))\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    grandchild = int(pid_file.read_text())
    try:
        yield child, grandchild
    finally:
        for pid in (grandchild, child.pid):
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        child.wait(timeout=10)


def _status_becomes(pid: int, wanted: bool) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if (psutil.Process(pid).status() == psutil.STATUS_STOPPED) == wanted:
            return True
        time.sleep(0.01)
    return False


def test_sigstop_and_sigcont_reach_the_whole_process_tree(
    tree: tuple[subprocess.Popen[bytes], int],
) -> None:
    child, grandchild = tree
    controller = PauseController(child.pid)
    assert controller.pause() and controller.paused
    assert _status_becomes(child.pid, True) and _status_becomes(grandchild, True)
    assert controller.resume() and not controller.paused
    assert _status_becomes(child.pid, False) and _status_becomes(grandchild, False)


def test_pausing_a_process_that_is_gone_fails_softly(caplog: pytest.LogCaptureFixture) -> None:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    controller = PauseController(done.pid)
    assert not controller.pause() and not controller.paused
    assert "cannot signal" in caplog.text


def test_user_commands_replace_the_signals(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "log.txt"
    write = f"open({str(log)!r}, 'a').write('%s {{pid}}\\n')"
    controller = PauseController(
        4242,
        pause_command=[sys.executable, "-c", write % "checkpoint"],
        resume_command=[sys.executable, "-c", write % "restore"],
    )
    assert controller.pause() and controller.resume()
    assert log.read_text() == "checkpoint 4242\nrestore 4242\n"
    failing = PauseController(1, pause_command=[sys.executable, "-c", "raise SystemExit(3)"])
    assert not failing.pause() and not failing.paused
    assert "exited with 3" in caplog.text
    missing = PauseController(1, pause_command=[str(tmp_path / "no-such-command")])
    assert not missing.pause()


def test_slurm_and_cron_use_local_time() -> None:
    plan = best_window(grid((9, 9, 1, 9)), Job.flat(H), T0, T0 + timedelta(hours=4))
    berlin = ZoneInfo("Europe/Berlin")  # CEST: 02:00 UTC is 04:00
    assert slurm_begin(plan, berlin) == "--begin=2023-06-01T04:00:00"
    assert cron_line(plan, ["python", "train.py", "--epochs", "3 4"], berlin) == (
        "0 4 1 6 * python train.py --epochs '3 4'"
    )
    assert cron_line(plan, "make train", UTC) == "0 2 1 6 * make train"
    assert slurm_begin(plan).startswith("--begin=2023-06-01T")


def test_forecast_needs_a_provider() -> None:
    with pytest.raises(ScheduleError, match="--series FILE.csv"):
        forecast_series(None, "GB", T0, T0 + timedelta(hours=24), {})
    with pytest.raises(IntensityAuthError, match="CARBONLENS_ELECTRICITYMAPS_TOKEN"):
        forecast_series("electricitymaps", "DE", T0, T0 + timedelta(hours=24), {})


def test_a_forecast_that_starts_at_the_next_period_moves_the_start_there() -> None:
    now = T0 + timedelta(minutes=20)
    points = tuple(
        IntensityPoint(T0 + timedelta(hours=i + 1), H, v) for i, v in enumerate((5, 1, 5))
    )
    plan = plan_for_run(T0 + timedelta(hours=4), H, "GB", IntensitySeries("GB", "f", points), now)
    assert plan.earliest == T0 + timedelta(hours=1) and plan.start == T0 + timedelta(hours=2)
    late = IntensitySeries("GB", "f", points[1:])  # starts 1 h 40 min after now: not moved
    with pytest.raises(ScheduleError, match="at the start"):
        plan_for_run(T0 + timedelta(hours=4), H, "GB", late, now)
