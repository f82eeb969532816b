"""A stored serving run with known figures, shared by the report and schema tests."""

from __future__ import annotations

from pathlib import Path

from carbonlens.records import Channel, Component, Method
from carbonlens.testing import FakeClock, FakeSensor, FakeShares
from carbonlens.tracking.tracker import Tracker

GPU = Channel("fake", Component.GPU, "gpu0", Method.MEASURED)


def record_serving_run(path: Path, model: str = "llama") -> str:
    """Store a serving run in `path`: 100 requests of 0.8 s, one a second (400
    tokens in, 100 out each), 36 kJ over 100 s; returns its run id."""
    clock = FakeClock()
    tracker = Tracker(
        name="chat-api",
        sensors=[FakeSensor(GPU, energy_j=[0.0, 36_000.0])],
        store=path,
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
        country="FR",
    )
    tracker.start()
    for _ in range(100):
        with tracker.request("/chat", model, tokens_in=400, tokens_out=100):
            clock.advance(0.8)
        clock.advance(0.2)
    tracker.stop()
    return tracker.run_id
