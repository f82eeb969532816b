"""The reading checks: the reading that settles a held one, and gap spans.

Each test scripts a `FakeSensor` on a `FakeClock`, one tick per second from a
baseline at 0 s, then `stop()` (a final tick at the same time, which adds nothing).
Expected energies are worked out by hand in the comments; flags are
(channel, kind, count, first s, last s).
"""

from __future__ import annotations

import pytest

from carbonlens.records import Channel, Component, Method, Sample
from carbonlens.testing.fakes import FakeClock, FakeSensor
from carbonlens.tracking.sampler import Sampler

CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)
KEY = CPU.key
EIO = RuntimeError("EIO")


def _run(
    *,
    energy_j: list[float | Exception] | None = None,
    power_w: list[float | Exception] | None = None,
) -> tuple[list[Sample], set[tuple[str, str, int, float, float]]]:
    """One reading per second, then stop(); the kept samples and the flags."""
    script = energy_j if energy_j is not None else power_w
    assert script is not None
    clock = FakeClock()
    sink: list[Sample] = []
    sensor = FakeSensor(CPU, energy_j=energy_j, power_w=power_w)
    sampler = Sampler([sensor], clock, sink.extend, interval_s=3600.0)
    sampler.tick()
    for _ in script[1:]:
        clock.advance(1.0)
        sampler.tick()
    sampler.stop()
    flags = {
        (f.channel, f.kind.value, f.count, f.first_t_s, f.last_t_s) for f in sampler.quality_flags
    }
    return sink, flags


def _kept(sink: list[Sample]) -> list[tuple[float, float, float]]:
    return [(s.t_s, s.duration_s, pytest.approx(s.energy_j)) for s in sink]


def test_garbage_power_reading_right_after_a_load_step_is_still_a_spike() -> None:
    # 1000 W at 2 s is 10x the 100 W level: held. 100 kW at 3 s confirms it as a load
    # step, and is itself 100x the new 1000 W level: it must be held too, not taken
    # as 100 kW for a whole second. 1000 W at 4 s falls back below
    # sqrt(1000 x 100000) = 10 kW, so 100 kW was a glitch: dropped.
    sink, flags = _run(power_w=[100.0, 100.0, 1000.0, 100_000.0, 1000.0, 1000.0])
    # 100 J; (100 + 1000) / 2 = 550 J; the trapezoid 1000 -> 1000 W over 2 s = 2000 J;
    # 1000 J. The old code kept (1000 + 100000) / 2 twice: 102 650 J in all.
    assert _kept(sink) == [
        (1.0, 1.0, 100.0),
        (2.0, 1.0, 550.0),
        (4.0, 2.0, 2000.0),
        (5.0, 1.0, 1000.0),
    ]
    assert flags == {(KEY, "spike", 1, 3.0, 3.0), (KEY, "gap", 1, 2.0, 4.0)}


def test_garbage_counter_reading_right_after_a_burst_does_not_count() -> None:
    # Counter at 10 W, then 180 J in 1 s (18x): held. 5000 J at 4 s (4800 W) settles it
    # as a step, and is itself 10x the new 180 W level or more: held. 220 J at 5 s is
    # below 5000, so 5000 was garbage: dropped, and 220 closes the gap.
    sink, flags = _run(energy_j=[0.0, 10.0, 20.0, 200.0, 5000.0, 220.0, 230.0])
    # 10, 10, 180, then 220 - 200 = 20 J over 2 s, then 10: 230 J, the counter's own
    # total. The old code kept 4800 J, took 220 for a reset, and counted 5010 J.
    assert _kept(sink) == [
        (1.0, 1.0, 10.0),
        (2.0, 1.0, 10.0),
        (3.0, 1.0, 180.0),
        (5.0, 2.0, 20.0),
        (6.0, 1.0, 10.0),
    ]
    assert sum(s.energy_j for s in sink) == pytest.approx(230.0 - 0.0)
    assert flags == {(KEY, "spike", 1, 4.0, 4.0), (KEY, "gap", 1, 3.0, 5.0)}


def test_a_real_step_is_still_kept_unflagged() -> None:
    # 50 W then 600 W for good: held once, confirmed, kept; the confirming reading is
    # checked against the new 600 W level and passes
    sink, flags = _run(power_w=[50.0, 50.0, 600.0, 600.0, 600.0])
    assert [s.energy_j for s in sink] == pytest.approx([50.0, 325.0, 600.0, 600.0])
    assert flags == set()


def test_failed_read_after_a_held_burst_is_the_gap_after_it() -> None:
    # 120 J at 3 s is a 100 W burst over a 10 W level: held. The read at 4 s fails; 130 J
    # at 5 s keeps the counter above 120, so the burst is kept (and flagged).
    sink, flags = _run(energy_j=[0.0, 10.0, 20.0, 120.0, EIO, 130.0])
    # 10, 10, 100, then 130 - 120 = 10 J over 2 s: 130 J, all of it
    assert _kept(sink) == [(1.0, 1.0, 10.0), (2.0, 1.0, 10.0), (3.0, 1.0, 100.0), (5.0, 2.0, 10.0)]
    # the span without a reading is 3 s -> 5 s (the old code said 2 s -> 3 s)
    assert flags == {
        ("fake", "read_error", 1, 4.0, 4.0),
        (KEY, "spike", 1, 3.0, 3.0),
        (KEY, "gap", 1, 3.0, 5.0),
    }


def test_failed_read_after_a_held_spike_at_the_end_is_a_gap_to_the_end() -> None:
    # 1000 W at 2 s is held; the reads at 3 s and at stop fail: the spike is kept and
    # flagged at the end, and the gap is 2 s -> 3 s, after it (the old code: 1 s -> 2 s)
    sink, flags = _run(power_w=[100.0, 100.0, 1000.0, EIO])
    # 100 J, then (100 + 1000) / 2 = 550 J
    assert _kept(sink) == [(1.0, 1.0, 100.0), (2.0, 1.0, 550.0)]
    assert flags == {
        ("fake", "read_error", 2, 3.0, 3.0),  # the 3 s read and the final one
        (KEY, "spike", 1, 2.0, 2.0),
        (KEY, "gap", 1, 2.0, 3.0),
    }


def test_counter_reset_then_a_failed_read_flags_both_gaps() -> None:
    # 20 -> 5 at 3 s: backwards, held. The read at 4 s fails; 8 at 5 s is between 5 and
    # 20: a reset at 3 s. Two spans lack an accepted reading: 2 s -> 3 s (the reset,
    # energy lost) and 3 s -> 5 s (closed by the counter: 8 - 5 = 3 J).
    sink, flags = _run(energy_j=[0.0, 10.0, 20.0, 5.0, EIO, 8.0])
    assert _kept(sink) == [(1.0, 1.0, 10.0), (2.0, 1.0, 10.0), (5.0, 2.0, 3.0)]
    assert flags == {
        ("fake", "read_error", 1, 4.0, 4.0),
        (KEY, "counter_backwards", 1, 3.0, 3.0),
        (KEY, "gap", 2, 2.0, 5.0),  # the old code counted one, 2 s -> 3 s
    }


def test_counter_samples_add_up_to_last_minus_first_through_every_kind_of_gap() -> None:
    # failed reads, a NaN, a glitch backwards, a burst: the counter's own total, 620 J
    # from 0 J, whatever the resolution in between
    script: list[float | Exception] = [0.0, 10.0, EIO, 30.0, float("nan"), 50.0, 40.0]
    script += [60.0, 600.0, 610.0, EIO, 620.0]
    sink, flags = _run(energy_j=script)
    assert sum(s.energy_j for s in sink) == pytest.approx(620.0)
    assert {kind for _, kind, *_ in flags} == {
        "read_error",
        "non_finite",
        "counter_backwards",
        "spike",
        "gap",
    }
