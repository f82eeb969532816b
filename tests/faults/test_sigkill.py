"""SIGKILL at random points: the stored run keeps every sample but the last flush.

A run of benchmarks/faults.py (60 kills: 30 of a Python process hosting a
`Tracker`, 30 of `carbonlens run -- sleep 60`, at seeded random points, 6 at a
time, sampling every 0.05 s), then every victim's store and side file (the `t_s`
of each sample it produced, one line per tick) read back here, independently of
the benchmark's own figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from carbonlens.records import RunStatus
from carbonlens.store import open_existing_store
from carbonlens.tracking.writer import FLUSH_S

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "faults.py"
KILLS, INTERVAL_S = 60, 0.05
SLACK_S = 0.3
"""Scheduling delay allowed on a loaded machine: a sample's `t_s` is taken before
its sensors are read, the writer's clock after."""


def produced_t_s(side: Path) -> list[float]:
    """The `t_s` of every sample the victim produced (a torn last line dropped)."""
    text = side.read_text()
    lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
    assert sum(line.startswith("t0 ") for line in lines) == 1  # the run's start
    return [float(value) for line in lines if not line.startswith("t0 ") for value in line.split()]


@pytest.mark.slow
def test_sigkill_loses_at_most_the_last_flush_and_marks_interrupted(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--kills", str(KILLS), "--parallel", "6"]
        + ["--interval-s", str(INTERVAL_S), "--seed", "11", "--keep", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout)
    assert len(figures["kills"]) == KILLS
    assert {kill["mode"] for kill in figures["kills"]} == {"tracker", "cli"}

    worst_samples, worst_s = 0, 0.0
    for kill in figures["kills"]:
        workdir = Path(kill["workdir"])
        produced = produced_t_s(workdir / "sampled.txt")
        store = open_existing_store(workdir / "runs.db")
        try:
            [run] = store.list_runs()  # reading marks the killed run
            stored = [sample.t_s for sample in store.samples(run.run_id)]
        finally:
            store.close()
        assert run.status is RunStatus.INTERRUPTED, workdir
        assert produced, f"the kill came before the first sample: {workdir}"
        # Stored but not produced: only the tick being handed over when the kill
        # came (written, its listener not yet called): later than all produced.
        extra = Counter(stored) - Counter(produced)
        assert all(t_s > max(produced) for t_s in extra), workdir
        missing = Counter(produced) - Counter(stored)
        lost_s = max(missing) - max(stored, default=0.0) if missing else 0.0
        # A sample waits less than FLUSH_S before it is written, so what was
        # produced and lost spans less than FLUSH_S past the last stored sample.
        assert lost_s < FLUSH_S + SLACK_S, (workdir, lost_s)
        # every sample older than that is stored
        assert all(t_s > max(produced) - FLUSH_S - SLACK_S for t_s in missing), workdir
        worst_samples = max(worst_samples, sum(missing.values()))
        worst_s = max(worst_s, lost_s)

    summary = figures["summary"]
    assert summary["kills"] == summary["runs_found"] == summary["runs_interrupted"] == KILLS
    assert (summary["samples_lost_max"], summary["seconds_lost_max_s"]) == (worst_samples, worst_s)
    # at 0.05 s, 1 s holds at most 20 ticks of 1 (tracker) or 2 (cli: CPU, RAM) samples
    assert worst_samples <= 2 * (FLUSH_S + SLACK_S) / INTERVAL_S
    print(
        f"\n{KILLS} SIGKILLs: max {worst_samples} samples / {worst_s:.3f} s lost, "
        f"max {summary['seconds_unstored_max_s']:.3f} s of run unstored"
    )
