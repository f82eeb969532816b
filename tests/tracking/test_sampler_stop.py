"""The sampler's threads at stop(): repeated and concurrent stops, a tick
still running when stop() gives up on it, and threads left behind.

Real threads with a `FakeClock` and a short read deadline; nothing here sleeps
except to poll for a thread that is expected to end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from carbonlens.records import Channel, Component, Method, Sample
from carbonlens.testing.fakes import FakeClock, FakeSensor
from carbonlens.tracking.judge import Outcome
from carbonlens.tracking.sampler import Sampler

CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)
DEADLINE_S = 0.1
MARGIN_S = 3.0
"""Generous slack on a busy 2-core machine."""


def _sampler(sensor: FakeSensor, clock: FakeClock, sink: list[Sample]) -> Sampler:
    return Sampler([sensor], clock, sink.extend, interval_s=3600.0, read_timeout_s=DEADLINE_S)


def _wait_for(test: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + MARGIN_S
    while not test() and time.monotonic() < deadline:
        time.sleep(0.005)
    return test()


def _ours(before: set[threading.Thread]) -> list[str]:
    """Names of the carbonlens threads alive now that were not alive `before`."""
    return [
        t.name
        for t in threading.enumerate()
        if t.name.startswith("carbonlens-") and t not in before
    ]


def test_concurrent_stops_take_one_final_reading_and_raise_nothing() -> None:
    clock, sink = FakeClock(), []
    sensor = FakeSensor(CPU, energy_j=[0.0, 10.0, 20.0, 30.0])
    sampler = _sampler(sensor, clock, sink)
    sampler.start()  # baseline: 0 J
    clock.advance(1.0)
    errors: list[BaseException] = []

    def stop() -> None:
        try:
            sampler.stop()
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    # the old code had each late stopper read the sensor again on its own thread, with
    # no deadline, and one could raise AttributeError ('NoneType' has no 'join')
    threads = [threading.Thread(target=stop) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(MARGIN_S)
    assert errors == []
    assert sensor.reads == 2  # the baseline and one final reading
    assert [(s.t_s, s.energy_j) for s in sink] == [(1.0, 10.0)]


def test_tick_and_stop_after_stop_read_no_sensor() -> None:
    clock, sink = FakeClock(), []
    sensor = FakeSensor(CPU, energy_j=[0.0, 10.0, 20.0, 30.0])
    sampler = _sampler(sensor, clock, sink)
    sampler.start()
    clock.advance(1.0)
    sampler.stop()
    reads = sensor.reads
    clock.advance(1.0)
    # the old code read the (by then closed) sensor on the caller's thread, with no
    # deadline, twice here
    assert sampler.tick() == []
    sampler.stop()
    assert sensor.reads == reads
    assert [s.energy_j for s in sink] == [10.0]


def test_tick_still_running_when_stop_gives_up_emits_nothing_after_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, sink = FakeClock(), []
    sampler = _sampler(FakeSensor(CPU, energy_j=[0.0, 10.0]), clock, sink)
    sampler.start()  # baseline: 0 J
    loop = sampler._thread
    assert loop is not None
    gate = threading.Event()
    read = sampler._read

    def read_then_stall(gen: int, index: int, t_s: float) -> Outcome:
        # the loop thread got its reading (10 J), then is held up before judging it
        # (descheduled on a busy machine) until stop() has returned
        outcome = read(gen, index, t_s)
        gate.wait(MARGIN_S)
        return outcome

    monkeypatch.setattr(sampler, "_read", read_then_stall)
    clock.advance(1.0)
    began = time.monotonic()
    sampler.stop()  # no read in progress to leave behind: gives up after 2 x deadline
    assert time.monotonic() - began < 2 * DEADLINE_S + MARGIN_S
    at_stop = list(sink)
    gate.set()
    loop.join(MARGIN_S)
    assert not loop.is_alive()
    # the old code judged the 10 J reading after the channels were closed and handed
    # it to the sink after stop() had returned (after the run was written)
    assert sink == at_stop == []


def test_many_runs_leave_no_thread_behind() -> None:
    before = set(threading.enumerate())
    for _ in range(50):
        clock = FakeClock()
        sampler = _sampler(FakeSensor(CPU, energy_j=[0.0, 10.0, 20.0]), clock, [])
        sampler.start()
        clock.advance(1.0)
        sampler.tick()
        clock.advance(1.0)
        sampler.stop()
    # the watchdogs end at stop(), the loop threads once the final tick is served
    assert _wait_for(lambda: _ours(before) == []), _ours(before)
