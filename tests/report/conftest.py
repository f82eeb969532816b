"""Runs with known numbers in a real SQLite store, for the report tests.

The known run (`KNOWN`): one hour from 2026-01-01T00:00Z, PUE 1.2, grid 100
gCO2e/kWh, GPU 200 W measured, CPU 100 W modelled, two 30-minute samples each:

    IT energy  = (200 + 100) W x 3600 s  = 1,080,000 J = 0.3 kWh
    facility   = 0.3 kWh x 1.2           = 0.36 kWh
    operational= 0.36 kWh x 100 g/kWh    = 36 g
    embodied   = 150 kg x 3600 s / 4 y   = 4.2779... g (gpu0, share 1)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from carbonlens.accounting import RunReport, build_report, pricing_settings
from carbonlens.records import (
    Channel,
    Component,
    EmbodiedShare,
    IntensityValue,
    Method,
    PueValue,
    RunInfo,
    RunStatus,
    Sample,
    Window,
)
from carbonlens.store.sqlite import SqliteStore
from carbonlens.units import S_PER_YEAR

START = datetime(2026, 1, 1, tzinfo=UTC)
GPU = Channel("nvml", Component.GPU, "gpu0", Method.MEASURED)
CPU = Channel("cpu-tdp", Component.CPU, "cpu", Method.MODELLED)
OPERATIONAL_G = 36.0
EMBODIED_G = 150_000.0 * 3600 / (4 * S_PER_YEAR)
TOTAL_G = OPERATIONAL_G + EMBODIED_G


def known_settings(**extra: Any) -> dict[str, Any]:
    """Settings of the known run: 100 g/kWh (FR), PUE 1.2, one GPU's embodied share."""
    return {
        **pricing_settings(
            IntensityValue(100.0, "FR", "test table", 2025, "lifecycle", "test run", "CC-BY-4.0"),
            PueValue(1.2, "user setting"),
            [EmbodiedShare("gpu0", Component.GPU, 150_000.0, 4 * S_PER_YEAR, 1.0, "CCF GPU")],
        ),
        "sensors": {
            "nvml": {"devices": {"gpu0": {"model": "NVIDIA H100 80GB HBM3", "method": "measured"}}},
            "cpu-tdp": {
                "cpu_model_name": "Intel Xeon Gold 6148",
                "max_power_w": 150.0,
                "idle_ratio": 0.2,
                "idle_ratio_source": "CCF SPECpower",
            },
        },
        **extra,
    }


def known_samples() -> list[Sample]:
    return [
        Sample(GPU, 1800.0, 1800.0, 360_000.0),
        Sample(CPU, 1800.0, 1800.0, 180_000.0),
        Sample(GPU, 3600.0, 1800.0, 360_000.0),
        Sample(CPU, 3600.0, 1800.0, 180_000.0),
    ]


@dataclass
class StoredRuns:
    """A real store under tmp_path and helpers to add runs to it."""

    store: SqliteStore
    path: Path

    def add(
        self,
        run_id: str = "known0001",
        *,
        name: str = "llama-ft",
        project: str = "paper",
        status: RunStatus = RunStatus.FINISHED,
        samples: Sequence[Sample] | None = None,
        windows: Sequence[Window] = (Window("epoch-1", 0.0, 1800.0),),
        started_at: datetime = START,
        settings: dict[str, Any] | None = None,
    ) -> RunInfo:
        samples = known_samples() if samples is None else samples
        info = RunInfo(
            run_id=run_id,
            project=project,
            name=name,
            started_at=started_at,
            host="node1",
            pid=1,
            settings=settings or known_settings(),
        )
        self.store.create_run(info)
        self.store.append_samples(run_id, samples)
        for window in windows:
            self.store.save_window(run_id, window)
        if status is not RunStatus.RUNNING:
            duration_s = max((s.t_s for s in samples), default=0.0)
            self.store.finish_run(
                run_id, status, started_at + timedelta(seconds=duration_s), duration_s
            )
        return info

    def report(self, run_id: str) -> RunReport:
        info = self.store.get_run(run_id)
        assert info is not None
        return build_report(
            info,
            self.store.samples(run_id),
            self.store.windows(run_id),
            store_location=self.store.location,
        )


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[StoredRuns]:
    path = tmp_path / "runs.db"
    store = SqliteStore(path)
    yield StoredRuns(store, path)
    store.close()
