"""A Ledger on a real Tracker: the tracker's own intervals shared among requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonlens.records import Channel, Component, Method
from carbonlens.serving import Ledger
from carbonlens.testing import FakeClock, FakeSensor, FakeShares
from carbonlens.tracking.tracker import Tracker

GPU = Channel("fake", Component.GPU, "gpu0", Method.MEASURED)


def test_requests_get_the_busy_interval_and_idle_is_kept_apart(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = Tracker(
        sensors=[FakeSensor(GPU, energy_j=[0.0, 10.0, 15.0])],
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
        country="FR",
    )
    tracker.start()
    ledger = Ledger.for_tracker(tracker)
    with ledger.request(route="/generate"), ledger.request(route="/generate"):
        clock.advance(1.0)  # both requests in flight for the whole first second
    with tracker.window("busy"):
        clock.advance(1.0)  # nothing in flight: idle
    tracker.stop()
    ledger.close()
    summary = ledger.summary()
    # interval 1: 10 J shared by two overlapping requests; interval 2: 5 J idle
    assert summary.attributed_energy_j == pytest.approx(10.0)
    assert summary.idle_energy_j == pytest.approx(5.0)
    [route] = summary.routes
    assert route.requests == 2
    assert tracker.elapsed_s() == pytest.approx(2.0)
