"""A real SQLite store holding one finished run whose every user-given text is hostile.

The run: 5 CPU samples of 600 J (10 W for 60 s each) = 3000 J = 0.833 Wh, at
100 gCO2e/kWh = 0.0833 g; a window, a metric, a tag, a note and a budget, all
named with markup and quotes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carbonlens.accounting import pricing_settings
from carbonlens.records import (
    Channel,
    Component,
    IntensityValue,
    Method,
    PueValue,
    RunInfo,
    RunStatus,
    Sample,
    Window,
)
from carbonlens.store.base import Budget, BudgetKind, BudgetPeriod, MetricPoint
from carbonlens.store.sqlite import SqliteStore

HOSTILE = "<script>alert('x')</script>\"'&</script><!--"
PROJECT = "p<script>alert(1)</script>"  # also a path segment of /projects/...
RUN_ID = "d4444444hostile"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """One finished run whose every user-given text is hostile."""
    path = tmp_path / "runs.db"
    store = SqliteStore(path)
    started = datetime.now(UTC) - timedelta(hours=1)
    intensity = IntensityValue(100.0, HOSTILE, HOSTILE, 2025, HOSTILE, HOSTILE)
    info = RunInfo(
        run_id=RUN_ID,
        project=PROJECT,
        name=HOSTILE,
        started_at=started,
        host=HOSTILE,
        pid=1,
        tags=(HOSTILE, "ok"),
        settings=pricing_settings(intensity, PueValue(1.0, HOSTILE), [], [HOSTILE]),
    )
    channel = Channel("cpu-tdp", Component.CPU, HOSTILE, Method.MODELLED)
    try:
        store.create_run(info)
        store.append_samples(RUN_ID, [Sample(channel, 60.0 * n, 60.0, 600.0) for n in range(1, 6)])
        store.save_window(RUN_ID, Window(HOSTILE, 0.0, 120.0))
        store.log_metrics(RUN_ID, [MetricPoint(HOSTILE, 1, 0.5, 60.0)])
        store.set_budget(Budget(PROJECT, BudgetKind.ENERGY, 1.0, BudgetPeriod.MONTH))
        store.finish_run(RUN_ID, RunStatus.FINISHED, started + timedelta(seconds=300), 300.0)
    finally:
        store.close()
    return path
