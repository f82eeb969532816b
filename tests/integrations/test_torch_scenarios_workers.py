"""Real PyTorch training with short-lived worker processes, on this machine's /proc.

DataLoader workers (non-persistent) live one epoch, and `carbonlens run`'s command
may last less than the old 5 s between searches for descendants: their CPU time
must be attributed while they run, in their own epoch, not when they are reaped
(lumped into a later window, or lost at the end of the run).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from carbonlens.records import Component, RunStatus
from carbonlens.sensors.base import Host
from carbonlens.store import SqliteStore
from carbonlens.tracking.attribution import Attribution, ProcfsReader
from carbonlens.tracking.tracker import Tracker

pytestmark = pytest.mark.skipif(
    not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
    reason="the kernel does not list children (CONFIG_PROC_CHILDREN): descendants "
    "are searched every 5 s there",
)

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass"


def test_default_attribution_searches_each_sample_where_the_kernel_lists_children() -> None:
    assert ProcfsReader(Host()).lists_children(os.getpid())
    shares = Attribution(os.getpid())  # the default, as a Tracker makes it
    shares.sample()
    child = subprocess.Popen([sys.executable, "-c", BURN.format(s=30)])
    try:
        time.sleep(0.5)
        result = shares.sample()  # well before 5 s: the child must be seen running
    finally:
        child.kill()
        child.wait()
    assert child.pid in result.pids
    assert result.cpu_ratio is not None and result.cpu_ratio > 0.1


class _Burn:
    """A dataset whose items each take 10 ms of a worker's CPU."""

    def __len__(self) -> int:
        return 48

    def __getitem__(self, index: int) -> Any:
        import torch

        start = time.process_time()
        while time.process_time() - start < 0.01:
            pass
        return torch.zeros(8), index % 2


def test_dataloader_workers_count_in_their_own_epoch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    torch = pytest.importorskip("torch")
    loader = torch.utils.data.DataLoader(
        _Burn(), batch_size=8, num_workers=2, multiprocessing_context="fork"
    )
    store = tmp_path / "runs.db"
    tracker = Tracker(project="torch", country="FR", interval_s=0.1, store=store)
    with caplog.at_level(logging.WARNING, logger="carbonlens"), tracker:
        for epoch in range(3):
            with tracker.window(f"epoch-{epoch}"):
                for _batch in loader:
                    pass
    report = tracker.report
    assert report is not None and report.info.status is RunStatus.FINISHED
    assert not [r for r in caplog.records if "fork" in r.getMessage()]
    opened = SqliteStore(store)
    try:
        assert [run.run_id for run in opened.list_runs()] == [report.info.run_id]
    finally:
        opened.close()
    cpu = [c for c in report.components if c.channel.component is Component.CPU]
    assert cpu and all(c.process_energy_j is not None for c in cpu)
    # each epoch's workers burn 0.48 CPU s in it: every window gets a like part
    # of the process energy (before, the first got almost none and the workers'
    # time arrived one window late; the last epoch's was lost)
    per_window = [w.process_energy_j or 0.0 for w in report.windows]
    assert len(per_window) == 3
    assert min(per_window) > 0.5 * max(per_window), per_window
