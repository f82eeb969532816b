"""SampleFanout: the monitor first, then the listeners; nothing raises; one warning each."""

from __future__ import annotations

import logging

import pytest

from carbonlens.records import Channel, Component, Method, Sample
from carbonlens.tracking.fanout import SampleFanout

CPU = Channel("fake", Component.CPU, "cpu", Method.MODELLED)


class _Monitor:
    """Records what it is given; `observe` raises when `broken`."""

    def __init__(self, broken: bool = False) -> None:
        self.seeded: tuple[float, float] | None = None
        self.seen: list[float] = []
        self.broken = broken

    def seed(self, it_j: float, t_s: float) -> None:
        self.seeded = (it_j, t_s)

    def observe(self, samples: list[Sample]) -> None:
        if self.broken:
            raise RuntimeError("monitor broke")
        self.seen += [s.t_s for s in samples]


def test_a_monitor_made_mid_run_starts_from_the_energy_so_far() -> None:
    fanout = SampleFanout()
    fanout([Sample(CPU, 1.0, 1.0, 10.0), Sample(CPU, 2.0, 1.0, 15.0)])
    monitor = _Monitor()
    assert fanout.monitor_with(lambda: monitor) is monitor  # type: ignore[arg-type, return-value]
    assert fanout.monitor_with(lambda: _Monitor()) is monitor  # type: ignore[arg-type, return-value]
    fanout([Sample(CPU, 3.0, 1.0, 5.0)])
    assert monitor.seeded == (25.0, 2.0)  # 10 J + 15 J, up to t = 2 s
    assert monitor.seen == [3.0]  # the samples after it, not those before


def test_a_failing_monitor_or_listener_warns_once_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fanout = SampleFanout()
    fanout.monitor_with(lambda: _Monitor(broken=True))  # type: ignore[arg-type, return-value]
    got: list[float] = []

    def broken(samples: list[Sample]) -> None:
        raise ValueError("listener broke")

    fanout.add_listener(broken)
    fanout.add_listener(lambda samples: got.extend(s.t_s for s in samples))
    with caplog.at_level(logging.WARNING, logger="carbonlens"):
        for t_s in (1.0, 2.0, 3.0):
            fanout([Sample(CPU, t_s, 1.0, 1.0)])
    assert got == [1.0, 2.0, 3.0]
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2, warned  # once for the monitor's observe, once for the listener
    assert "monitor broke" in warned[0] and "listener broke" in warned[1]
