"""Many processes tracking into one store at once: nothing lost, no lock errors.

A small run of benchmarks/store_load.py (8 processes x 10 Hz x 3 s, started all
at once so their once-a-second flushes collide) into a new SQLite file, and into
a new PostgreSQL database when a server can be started; then the store read back
here, independently of the benchmark's own checks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carbonlens.store import open_existing_store
from carbonlens.testing.postgres import (
    URL_VARIABLE,
    create_database,
    drop_database,
    find_postgres_bin,
    throwaway_server,
)

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "store_load.py"
PROCESSES, RATE_HZ, DURATION_S = 8, 10, 3
POWER_W = 250.0  # the benchmark's fake sensor


def run_benchmark(*options: str) -> dict[str, Any]:
    """Run the benchmark small; its figures (the JSON line it prints last)."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--processes", str(PROCESSES), "--rate-hz", str(RATE_HZ)]
        + ["--duration-s", str(DURATION_S), "--stagger-s", "0", *options],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return figures


def assert_nothing_lost(figures: dict[str, Any]) -> None:
    # 8 processes x 10 Hz x 3 s = 240 ticks after the baseline; one more each at stop.
    # A sampler never ticks faster than its rate, so at most 8 x (30 + 3); on a busy
    # machine it may skip ticks, so at least half of them.
    assert 120 <= figures["samples_expected"] <= PROCESSES * (RATE_HZ * DURATION_S + 3)
    assert figures["runs_found"] == PROCESSES
    assert figures["samples_stored"] == figures["samples_expected"]
    assert figures["samples_lost"] == 0
    assert (figures["errors"], figures["locked_errors"], figures["fallbacks"]) == (0, 0, 0)
    assert figures["problems"] == [] and figures["ok"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new store: an SQLite file, or a database on a throwaway PostgreSQL server."""
    if request.param == "sqlite":
        yield str(tmp_path / "runs.db")
        return
    pytest.importorskip("sqlalchemy", reason="the postgres extra is not installed")
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    if not os.environ.get(URL_VARIABLE) and find_postgres_bin() is None:
        pytest.skip(f"no PostgreSQL binaries (initdb, pg_ctl) and {URL_VARIABLE} is unset")
    with throwaway_server(durable=False) as server_url:
        url = create_database(server_url)
        yield url
        drop_database(url)


def test_processes_into_one_store_lose_nothing(store_target: str) -> None:
    figures = run_benchmark("--store", store_target)
    assert_nothing_lost(figures)
    store = open_existing_store(store_target)
    try:
        runs = store.list_runs(project="store-load")
        assert len(runs) == PROCESSES
        assert {run.status.value for run in runs} == {"finished"}
        stored = 0
        for run in runs:
            samples = store.samples(run.run_id)
            stored += len(samples)
            # constant power: energy = 250 W x the time the samples cover, about 3 s
            covered_s = sum(s.duration_s for s in samples)
            assert sum(s.energy_j for s in samples) == pytest.approx(POWER_W * covered_s)
            assert 0.5 * DURATION_S <= covered_s <= 2 * DURATION_S
            # no gap: each sample starts where the one before ended
            for before, after in zip(samples, samples[1:], strict=False):
                assert after.t_s - after.duration_s == pytest.approx(before.t_s, abs=1e-6)
    finally:
        store.close()
    assert stored == figures["samples_stored"]
