"""Runs with known numbers in a real SQLite store, for the dashboard tests.

Grid 100 gCO2e/kWh and PUE 1.2 for every run:

    llama-ft  (paper, 2026-01-01, 1 h):  GPU 200 W + CPU 100 W = 0.3 kWh IT, 0.36 kWh facility,
              36 g operational, embodied 150 kg x 1 h / 4 y = 4.2779... g
    bert-eval (paper, 2026-01-02, 30 min): GPU 100 W = 0.05 kWh IT, 0.06 kWh facility, 6 g
    <script>alert(1)</script> (xss, started now, running in this process): CPU 60 W, 10 min =
              0.01 kWh IT, 0.012 kWh facility, 1.2 g so far
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from carbonlens.accounting import pricing_settings
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
from carbonlens.store import this_host
from carbonlens.store.sqlite import SqliteStore
from carbonlens.units import S_PER_YEAR

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
GPU = Channel("nvml", Component.GPU, "gpu0", Method.MEASURED)
CPU = Channel("cpu-tdp", Component.CPU, "cpu", Method.MODELLED)
XSS = "<script>alert(1)</script>"
EMBODIED_G = 150_000.0 * 3600 / (4 * S_PER_YEAR)
LLAMA_G = 36.0 + EMBODIED_G
BERT_G = 6.0
LIVE_G = 1.2


def settings(embodied: bool = False, **extra: Any) -> dict[str, Any]:
    """Pricing settings: 100 gCO2e/kWh (FR), PUE 1.2, and one GPU's embodied share if asked."""
    shares = [EmbodiedShare("gpu0", Component.GPU, 150_000.0, 4 * S_PER_YEAR, 1.0, "CCF GPU")]
    return {
        **pricing_settings(
            IntensityValue(100.0, "FR", "test table", 2025, "lifecycle", "test run"),
            PueValue(1.2, "user setting"),
            shares if embodied else [],
        ),
        **extra,
    }


def steady(
    channel: Channel, power_w: float, duration_s: float, step_s: float, swing_w: float = 0.0
) -> list[Sample]:
    """Samples of `power_w`, one per `step_s`, plus a wave of `swing_w` over every ten
    samples (so any span of whole tens of samples averages `power_w` exactly)."""
    count = round(duration_s / step_s)
    return [
        Sample(
            channel,
            step_s * (n + 1),
            step_s,
            (power_w + swing_w * math.sin(2 * math.pi * n / 10)) * step_s,
        )
        for n in range(count)
    ]


@dataclass
class StoredRuns:
    """A real store under tmp_path, and a helper to add runs to it."""

    store: SqliteStore
    path: Path

    def add(
        self,
        run_id: str,
        *,
        name: str,
        project: str,
        samples: Sequence[Sample],
        started_at: datetime = JAN_1,
        status: RunStatus = RunStatus.FINISHED,
        windows: Sequence[Window] = (),
        run_settings: dict[str, Any] | None = None,
        tags: tuple[str, ...] = (),
    ) -> RunInfo:
        info = RunInfo(
            run_id=run_id,
            project=project,
            name=name,
            started_at=started_at,
            host=this_host(),
            pid=os.getpid(),
            tags=tags,
            settings=settings() if run_settings is None else run_settings,
        )
        self.store.create_run(info)
        self.store.append_samples(run_id, samples)
        for window in windows:
            self.store.save_window(run_id, window)
        if status is not RunStatus.RUNNING:
            duration_s = max((s.t_s for s in samples), default=0.0)
            ended_at = started_at + timedelta(seconds=duration_s)
            self.store.finish_run(run_id, status, ended_at, duration_s)
        return info

    def add_known(self) -> None:
        """The three runs of the module docstring."""
        self.add(
            "a1111111llama",
            name="llama-ft",
            project="paper",
            samples=[
                *steady(GPU, 200.0, 3600.0, 60.0, 60.0),
                *steady(CPU, 100.0, 3600.0, 60.0, 15.0),
            ],
            windows=[Window("epoch-1", 0.0, 1800.0), Window("epoch-2", 1800.0, 3600.0)],
            run_settings=settings(embodied=True),
            tags=("finetune",),
        )
        self.add(
            "b2222222bert",
            name="bert-eval",
            project="paper",
            samples=steady(GPU, 100.0, 1800.0, 60.0),
            started_at=JAN_1 + timedelta(days=1),
        )
        self.add(
            "c3333333live",
            name=XSS,
            project="xss",
            samples=steady(CPU, 60.0, 600.0, 10.0),
            started_at=datetime.now(UTC),
            status=RunStatus.RUNNING,
        )


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[StoredRuns]:
    path = tmp_path / "runs.db"
    store = SqliteStore(path)
    yield StoredRuns(store, path)
    store.close()


@pytest.fixture
def known(runs: StoredRuns) -> StoredRuns:
    runs.add_known()
    return runs


@contextmanager
def serving(store_path: Path, token: str | None = None) -> Iterator[str]:
    """A real uvicorn server of the dashboard on 127.0.0.1 and a port the system picks.

    Yields:
        The server's base address, `http://127.0.0.1:PORT`.
    """
    from carbonlens.dashboard.server import build_server

    server = build_server(store_path, host="127.0.0.1", port=0, token=token)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the dashboard server did not start")
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
            thread.join(15)
