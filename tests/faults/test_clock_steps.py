"""Wall-clock steps during a run (NTP, a user setting the time): durations, energy and
windows come from the monotonic clock, so they stay right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carbonlens.config import Settings
from carbonlens.records import Channel, Component, Method
from carbonlens.testing.fakes import FakeClock, FakeSensor, FakeShares
from carbonlens.tracking.tracker import Tracker

CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)
GPU = Channel("fake", Component.GPU, "gpu0", Method.SAMPLED)
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR_S = 3600.0


@pytest.mark.parametrize("step_s", [-HOUR_S, HOUR_S])
def test_wall_clock_step_leaves_duration_energy_and_windows_alone(
    tmp_path: Path, step_s: float
) -> None:
    clock = FakeClock(wall=START)
    # a 10 W counter (read at 0, 10 and 20 s) and a steady 100 W power channel
    cpu = FakeSensor(CPU, energy_j=[0.0, 100.0, 200.0])
    gpu = FakeSensor(GPU, power_w=[100.0])
    tracker = Tracker(
        sensors=[cpu, gpu],
        settings=Settings(country="FR"),
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(),
        interval_s=HOUR_S,
    )
    tracker.start()
    clock.advance(10.0)
    with tracker.window("step"):
        clock.advance(5.0)
        clock.step_wall(step_s)  # the wall clock jumps an hour mid-window
        clock.advance(5.0)
    report = tracker.stop()

    assert report.duration_s == 20.0  # 10 + 5 + 5 s of monotonic time, not 20 s ± 1 h
    # wall timestamps do move with the step: they are only labels
    assert report.info.started_at == START
    assert report.info.ended_at == START + timedelta(seconds=20.0 + step_s)
    # CPU: the counter's 200 J; GPU: 100 W x 20 s = 2000 J
    assert [c.energy_j for c in report.components] == [pytest.approx(200.0), 2000.0]
    [window] = report.windows
    assert (window.start_t_s, window.end_t_s) == (10.0, 20.0)
    # CPU 100 J (100 -> 200) + GPU 100 W x 10 s = 1000 J
    assert window.it_energy_j == pytest.approx(1100.0)
    assert report.quality_flags == ()
