"""Shared pieces of the integration tests: a tracker on fake sensors and a fake clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from carbonlens.records import Channel, Component, Method
from carbonlens.testing import FakeClock, FakeSensor, FakeShares

CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)
POWER_W = 10.0
"""The fake CPU's constant power: every second of fake time is 10 J."""


@pytest.fixture
def clock() -> FakeClock:
    """A clock the tests move by hand (one second per training step)."""
    return FakeClock()


@pytest.fixture
def tracker_options(tmp_path: Path, clock: FakeClock) -> dict[str, Any]:
    """`Tracker` options: one 10 W fake CPU, the fake clock, a store under tmp_path.

    The sampler's thread waits an hour between ticks, so only window edges and
    start/stop take samples: the figures follow from the fake clock alone.
    """
    return {
        "project": "integrations",
        "country": "FR",
        "pue": 1.0,
        "sensors": [FakeSensor(CPU, power_w=[POWER_W])],
        "store": tmp_path / "runs.db",
        "clock": clock,
        "shares": FakeShares(cpu_ratio=1.0),
        "interval_s": 3600.0,
    }
