"""Bad sensors: hangs, errors and impossible readings become gaps, warnings and flags.

Each test scripts a `FakeSensor` on a `FakeClock` (1 s per tick unless said) and
checks the samples kept, the flags (times in seconds since the sampler started),
the warnings, and for hangs that nothing waits longer than the read deadline.
Expected energies are worked out by hand in the comments.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

from carbonlens.accounting import build_report
from carbonlens.config import Settings
from carbonlens.records import Channel, Component, Method, QualityFlag, QualityKind, Sample
from carbonlens.store import SqliteStore
from carbonlens.testing.fakes import FakeClock, FakeSensor, FakeShares, Hang
from carbonlens.tracking.sampler import Sampler
from carbonlens.tracking.tracker import Tracker

CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)
GPU = Channel("other", Component.GPU, "gpu0", Method.SAMPLED)
DEADLINE_S = 0.2
MARGIN_S = 3.0
"""Generous slack on a busy 2-core machine; far below a hang that is never released."""


class OtherSensor(FakeSensor):
    """A second, healthy back-end with its own name."""

    name: ClassVar[str] = "other"


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """The event a `Hang` waits on; set at the end so no reader thread stays parked."""
    event = threading.Event()
    yield event
    event.set()


def _sampler(*sensors: FakeSensor) -> tuple[Sampler, FakeClock, list[Sample]]:
    clock = FakeClock()
    sink: list[Sample] = []
    sampler = Sampler(
        list(sensors), clock, sink.extend, interval_s=3600.0, read_timeout_s=DEADLINE_S
    )
    return sampler, clock, sink


def _ticks(sampler: Sampler, clock: FakeClock, n: int) -> None:
    """Baseline tick at 0 s, then `n - 1` ticks 1 s apart."""
    sampler.tick()
    for _ in range(n - 1):
        clock.advance(1.0)
        sampler.tick()


def _kept(sink: list[Sample], channel: Channel = CPU) -> list[tuple[float, float, float]]:
    """(end, duration, energy) of each kept sample of `channel`."""
    return [(s.t_s, s.duration_s, pytest.approx(s.energy_j)) for s in sink if s.channel == channel]


def _flags(sampler: Sampler) -> set[tuple[str, str, int, float, float]]:
    return {
        (f.channel, f.kind.value, f.count, f.first_t_s, f.last_t_s) for f in sampler.quality_flags
    }


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def _wait_for(test: Callable[[], bool]) -> None:
    """Poll `test()` for up to MARGIN_S (a released read finishing on its thread)."""
    deadline = time.monotonic() + MARGIN_S
    while not test() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_hung_read_is_a_gap_with_one_warning_and_the_sensor_is_not_reentered(
    release: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    hung = FakeSensor(CPU, energy_j=[0.0, 10.0, Hang(release, 25.0), 40.0])
    other = OtherSensor(GPU, power_w=[50.0])
    sampler, clock, sink = _sampler(hung, other)
    sampler.start()  # 0 s: baseline, read on the sampler's own thread
    clock.advance(1.0)
    sampler.tick()  # 1 s: 10 J
    clock.advance(1.0)
    began = time.monotonic()
    sampler.tick()  # 2 s: the read hangs; after the deadline the tick goes on without it
    assert sampler.hung_sensors == {"fake"}
    clock.advance(1.0)
    sampler.tick()  # 3 s: still hung, skipped without waiting
    waited_s = time.monotonic() - began
    assert DEADLINE_S <= waited_s < DEADLINE_S + MARGIN_S
    assert hung.reads == 2  # the hung third read was never started again
    release.set()
    _wait_for(lambda: not sampler.hung_sensors)
    clock.advance(1.0)
    sampler.tick()  # 4 s: the late 25 J answer was stale and dropped; a fresh read gives 40 J
    sampler.stop()
    # the counter closes the gap: 40 - 10 = 30 J over the 3 s since the last good read
    assert _kept(sink) == [(1.0, 1.0, 10.0), (4.0, 3.0, 30.0)]
    # the healthy sensor never missed a tick: 50 W x 1 s each
    assert _kept(sink, GPU) == [(t, 1.0, 50.0) for t in (1.0, 2.0, 3.0, 4.0)]
    assert _flags(sampler) == {
        ("fake", "read_timeout", 1, 2.0, 2.0),
        ("fake/cpu/package-0", "gap", 1, 1.0, 4.0),
    }
    [warning] = _warnings(caplog)
    assert "sensor fake gave no reading within 0.2 s" in warning
    assert sampler.read_errors == {"fake": 1}


def test_stop_waits_no_longer_than_the_deadline_for_a_hung_sensor(
    release: threading.Event,
) -> None:
    sensor = FakeSensor(CPU, energy_j=[0.0, Hang(release, 5.0)])
    sampler = Sampler(
        [sensor], FakeClock(), lambda _: None, interval_s=3600.0, read_timeout_s=DEADLINE_S
    )
    sampler.start()
    began = time.monotonic()
    sampler.stop()  # the final read hangs and is never released here
    assert time.monotonic() - began < DEADLINE_S + MARGIN_S
    assert [f.kind for f in sampler.quality_flags] == [QualityKind.READ_TIMEOUT]


def test_read_that_answers_after_the_deadline_is_dropped(release: threading.Event) -> None:
    sampler, clock, sink = _sampler(FakeSensor(CPU, energy_j=[0.0, Hang(release, 10.0), 20.0]))
    sampler.tick()
    clock.advance(1.0)
    timer = threading.Timer(DEADLINE_S + 0.1, release.set)  # answers 0.1 s too late
    timer.start()
    sampler.tick()  # read on this thread (no start()): it returns, but after the deadline
    timer.join()
    clock.advance(1.0)
    sampler.tick()
    # the late 10 J reading is not used; the counter closes the gap: 20 J over 2 s
    assert _kept(sink) == [(2.0, 2.0, 20.0)]
    assert _flags(sampler) == {
        ("fake", "read_timeout", 1, 1.0, 1.0),
        ("fake/cpu/package-0", "gap", 1, 0.0, 2.0),
    }


def test_raising_sensor_is_a_gap_and_one_warning_per_error_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sensor = FakeSensor(CPU, energy_j=[0.0, RuntimeError("EIO"), RuntimeError("EIO"), 30.0])
    sampler, clock, sink = _sampler(sensor)
    _ticks(sampler, clock, 4)
    # 30 J over the 3 s since the baseline: nothing lost, the resolution is coarser
    assert _kept(sink) == [(3.0, 3.0, 30.0)]
    assert _flags(sampler) == {
        ("fake", "read_error", 2, 1.0, 2.0),
        ("fake/cpu/package-0", "gap", 1, 0.0, 3.0),
    }
    [warning] = _warnings(caplog)
    assert "sensor fake failed (" in warning and "EIO" in warning


@pytest.mark.parametrize(
    ("script", "kind"),
    [
        ([100.0, -5.0, 100.0], "negative"),
        ([100.0, float("nan"), 100.0], "non_finite"),
        ([100.0, float("inf"), 100.0], "non_finite"),
    ],
)
def test_impossible_power_reading_is_dropped_and_interpolated(
    script: list[float], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    sampler, clock, sink = _sampler(FakeSensor(CPU, power_w=script))
    _ticks(sampler, clock, 3)
    # the 1 s reading is dropped; trapezoid 100 W -> 100 W over 2 s = 200 J
    assert _kept(sink) == [(2.0, 2.0, 200.0)]
    assert _flags(sampler) == {
        ("fake/cpu/package-0", kind, 1, 1.0, 1.0),
        ("fake/cpu/package-0", "gap", 1, 0.0, 2.0),
    }
    assert len(_warnings(caplog)) == 1


def test_nan_counter_reading_is_dropped_and_the_counter_closes_the_gap() -> None:
    sampler, clock, sink = _sampler(FakeSensor(CPU, energy_j=[0.0, float("nan"), 20.0]))
    _ticks(sampler, clock, 3)
    assert _kept(sink) == [(2.0, 2.0, 20.0)]
    assert {f.kind for f in sampler.quality_flags} == {QualityKind.NON_FINITE, QualityKind.GAP}


def test_counter_glitching_backwards_loses_nothing() -> None:
    # 110 -> 5 cannot be energy; 130 is back above 110, so 5 was a glitch
    sampler, clock, sink = _sampler(FakeSensor(CPU, energy_j=[100.0, 110.0, 5.0, 130.0]))
    _ticks(sampler, clock, 4)
    # 10 J, then 130 - 110 = 20 J over 2 s: 30 J = 130 - 100, all of it
    assert _kept(sink) == [(1.0, 1.0, 10.0), (3.0, 2.0, 20.0)]
    assert _flags(sampler) == {
        ("fake/cpu/package-0", "counter_backwards", 1, 2.0, 2.0),
        ("fake/cpu/package-0", "gap", 1, 1.0, 3.0),
    }


def test_counter_reset_resumes_from_the_new_value() -> None:
    # 110 -> 5 -> 8: the counter restarted (driver reload) and keeps counting from 5
    sampler, clock, sink = _sampler(FakeSensor(CPU, energy_j=[100.0, 110.0, 5.0, 8.0]))
    _ticks(sampler, clock, 4)
    # 10 J, then 8 - 5 = 3 J; the energy between 1 s and 2 s is unknown (a gap)
    assert _kept(sink) == [(1.0, 1.0, 10.0), (3.0, 1.0, 3.0)]
    assert _flags(sampler) == {
        ("fake/cpu/package-0", "counter_backwards", 1, 2.0, 2.0),
        ("fake/cpu/package-0", "gap", 1, 1.0, 2.0),
    }


def test_one_reading_spike_on_a_power_channel_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sampler, clock, sink = _sampler(FakeSensor(CPU, power_w=[100.0, 100.0, 100.0, 1000.0, 100.0]))
    _ticks(sampler, clock, 5)
    # 1000 W is 10x the 100 W level and the next reading falls back below
    # sqrt(100 x 1000) = 316 W: a glitch. Trapezoid 100 -> 100 W over 2 s = 200 J
    # instead of 550 + 550 J.
    assert _kept(sink) == [(1.0, 1.0, 100.0), (2.0, 1.0, 100.0), (4.0, 2.0, 200.0)]
    assert _flags(sampler) == {
        ("fake/cpu/package-0", "spike", 1, 3.0, 3.0),
        ("fake/cpu/package-0", "gap", 1, 2.0, 4.0),
    }
    [warning] = _warnings(caplog)
    assert "gave spike reading(s) on fake/cpu/package-0" in warning


def test_real_step_on_a_power_channel_is_kept_unflagged() -> None:
    sampler, clock, sink = _sampler(FakeSensor(CPU, power_w=[50.0, 50.0, 600.0, 600.0, 600.0]))
    _ticks(sampler, clock, 5)
    # 600 W is 12x the 50 W level and stays there: a load step, held one tick then kept.
    # 50 J; (50 + 600) / 2 = 325 J; 600 J; 600 J
    assert _kept(sink) == [
        (1.0, 1.0, 50.0),
        (2.0, 1.0, 325.0),
        (3.0, 1.0, 600.0),
        (4.0, 1.0, 600.0),
    ]
    assert sampler.quality_flags == ()


def test_short_burst_on_a_counter_is_kept_and_flagged() -> None:
    # 10 W, 10 W, then 100 J in 1 s (10x), then 10 W again: the counter never went
    # back, so the burst is real energy; kept, and flagged for the reader
    sampler, clock, sink = _sampler(FakeSensor(CPU, energy_j=[0.0, 10.0, 20.0, 120.0, 130.0]))
    _ticks(sampler, clock, 5)
    assert [e for _, _, e in _kept(sink)] == [10.0, 10.0, 100.0, 10.0]
    assert _flags(sampler) == {("fake/cpu/package-0", "spike", 1, 3.0, 3.0)}


def test_garbage_jump_on_a_counter_is_dropped_when_the_counter_falls_back() -> None:
    # 1000 J at 3 s, then 40 J at 4 s: the counter cannot fall, so 1000 was garbage
    sampler, clock, sink = _sampler(FakeSensor(CPU, energy_j=[0.0, 10.0, 20.0, 1000.0, 40.0]))
    _ticks(sampler, clock, 5)
    # 10, 10, then 40 - 20 = 20 J over 2 s: 40 J in all, the counter's own total
    assert _kept(sink) == [(1.0, 1.0, 10.0), (2.0, 1.0, 10.0), (4.0, 2.0, 20.0)]
    assert _flags(sampler) == {
        ("fake/cpu/package-0", "spike", 1, 3.0, 3.0),
        ("fake/cpu/package-0", "gap", 1, 2.0, 4.0),
    }


def test_run_report_carries_the_flags_and_keeps_them_after_reload(
    tmp_path: Path, release: threading.Event
) -> None:
    clock = FakeClock(wall=datetime(2026, 1, 1, tzinfo=UTC))
    hung = FakeSensor(CPU, energy_j=[0.0, Hang(release, 1.0)])
    spiky = OtherSensor(GPU, power_w=[100.0, 100.0, 1000.0])
    tracker = Tracker(
        sensors=[hung, spiky],
        settings=Settings(country="FR", sensor_timeout_s=DEADLINE_S),
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
    )
    tracker.start()
    clock.advance(1.0)
    with tracker.window("w"):  # ticks at 1 s (the GPU at 100 W) and at 2 s (1000 W, held)
        clock.advance(1.0)
    began = time.monotonic()
    report = tracker.stop()  # the CPU read at 1 s hung; stop does not wait for it again
    assert time.monotonic() - began < DEADLINE_S + MARGIN_S
    assert not hung.closed and spiky.closed  # a sensor stuck in a read is not closed
    expected = (
        QualityFlag("fake", QualityKind.READ_TIMEOUT, 1, 1.0, 1.0),
        QualityFlag("fake/cpu/package-0", QualityKind.GAP, 1, 0.0, 2.0),
        # the 1000 W reading at 2 s could not be confirmed by a later one: kept, flagged
        QualityFlag("other/gpu/gpu0", QualityKind.SPIKE, 1, 2.0, 2.0),
    )
    assert report.quality_flags == expected
    # GPU: 100 J, then (100 + 1000) / 2 = 550 J; the CPU never gave a second reading
    assert report.it_energy_j == pytest.approx(650.0)
    assert report.to_dict()["quality_flags"] == [
        {"channel": "fake", "kind": "read_timeout", "count": 1, "first_s": 1.0, "last_s": 1.0},
        {"channel": "fake/cpu/package-0", "kind": "gap", "count": 1, "first_s": 0.0, "last_s": 2.0},
        {"channel": "other/gpu/gpu0", "kind": "spike", "count": 1, "first_s": 2.0, "last_s": 2.0},
    ]
    assert report.summary().endswith("· quality flags: gap, read_timeout, spike")
    assert "fake: 1 failed read(s), left as gaps" in report.notes
    store = SqliteStore(tmp_path / "runs.db")
    info = store.get_run(tracker.run_id)
    assert info is not None
    again = build_report(info, store.samples(info.run_id), store.windows(info.run_id))
    store.close()
    assert again.quality_flags == expected


def test_clean_run_has_no_flags(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = Tracker(
        sensors=[FakeSensor(CPU, energy_j=[0.0, 5.0, 10.0])],
        settings=Settings(country="FR"),
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
    )
    tracker.start()
    clock.advance(1.0)
    report = tracker.stop()
    assert report.quality_flags == () and report.to_dict()["quality_flags"] == []
    assert "quality" not in report.summary()
