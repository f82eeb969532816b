"""The store fails under a running tracker: disk full, locked, corrupt, host crash.

Each test runs a user's "job" (a loop) under a `Tracker` sampling a fake 10 W
sensor every 0.02 s, injects the fault mid-run or before the start, and checks
that the job went on, that the run continued in a fallback file named in the
report's notes, and that every sample the tracker produced is in the store or
the fallback file, exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from carbonlens.accounting import RunReport
from carbonlens.errors import StoreError
from carbonlens.records import Channel, Component, Method, RunStatus, Sample
from carbonlens.store import SqliteStore, open_existing_store, open_fallback
from carbonlens.store.jsonl import JsonlStore
from carbonlens.store.repair import check_store, healthy, repair_store
from carbonlens.testing import FakeSensor
from carbonlens.tracking.tracker import Tracker

CHANNEL = Channel("fake", Component.CPU, "cpu", Method.SAMPLED)
INTERVAL_S = 0.02
PAGE_BYTES = 4096  # SQLite's default page size
LOCKER = (
    "import sqlite3, sys, time\n"
    "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "conn.execute('BEGIN IMMEDIATE')\n"
    "print('locked', flush=True)\n"
    "time.sleep(float(sys.argv[2]))\n"
    "conn.execute('ROLLBACK')\n"
)


@pytest.fixture
def fallback_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where fallback files go in these tests (`$XDG_STATE_HOME/carbonlens`)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("CARBONLENS_STORE", raising=False)
    return tmp_path / "state" / "carbonlens"


class Job:
    """The user's job: a loop that records its longest pause between two steps."""

    def __init__(self) -> None:
        self.steps = 0
        self.longest_pause_s = 0.0

    def run(self, seconds: float) -> None:
        last = end = time.monotonic()
        end += seconds
        while (now := time.monotonic()) < end:
            self.longest_pause_s = max(self.longest_pause_s, now - last)
            last = now
            self.steps += 1
            time.sleep(0.005)


def track(
    store: Any, fault: Callable[[], None], *, before_s: float = 0.3, after_s: float = 0.5
) -> tuple[RunReport, list[Sample], Job]:
    """Run a job under a tracker writing to `store`, with `fault()` after `before_s`."""
    seen: list[Sample] = []
    tracker = Tracker(
        project="faults",
        country="FR",
        interval_s=INTERVAL_S,
        store=store,
        sensors=[FakeSensor(CHANNEL, power_w=[10.0])],
    )
    tracker.add_listener(seen.extend)  # before start: no sample is missed
    job = Job()
    with tracker:
        job.run(before_s)
        fault()
        job.run(after_s)
    assert tracker.report is not None
    return tracker.report, seen, job


def run_samples(location: Path | str, run_id: str) -> list[Sample]:
    with closing(open_existing_store(location)) as store:
        return store.samples(run_id)


def the_fallback(fallback_dir: Path, report: RunReport) -> Path:
    """The one fallback file, which the report's notes name."""
    [fallback] = fallback_dir.glob("fallback-*.jsonl")
    assert any(str(fallback) in note for note in report.notes), report.notes
    return fallback


def assert_split_without_loss(
    report: RunReport, seen: list[Sample], store_path: Path, fallback: Path
) -> tuple[list[Sample], list[Sample]]:
    """Every produced sample is in the store or the fallback file, exactly once."""
    in_store = run_samples(store_path, report.info.run_id)
    in_fallback = run_samples(fallback, report.info.run_id)
    assert in_store and in_fallback
    assert len(in_store) + len(in_fallback) == len(seen)
    assert in_store + in_fallback == seen  # the store has the start, the fallback the rest
    assert report.store_location == f"{store_path} + {fallback}"
    return in_store, in_fallback


# --- disk full ----------------------------------------------------------------------


class DiskFullAfter:
    """A SQLite store whose writes fail, as on a full disk, once `fail()` is called."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self.full = False

    def fail(self) -> None:
        self.full = True

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if self.full and name in {"append_samples", "save_window", "finish_run", "log_metrics"}:
            error = sqlite3.OperationalError("database or disk is full")

            def full(*_: Any) -> None:
                raise StoreError(f"cannot write in run store {self._store.location}: {error}")

            return full
        return attribute


def test_disk_full_mid_run_injected(tmp_path: Path, fallback_dir: Path) -> None:
    path = tmp_path / "runs.db"
    store = DiskFullAfter(SqliteStore(path))
    report, seen, job = track(store, store.fail)
    fallback = the_fallback(fallback_dir, report)
    assert any("database or disk is full" in note for note in report.notes)
    assert_split_without_loss(report, seen, path, fallback)
    assert job.steps > 0 and report.info.status is RunStatus.FINISHED
    with closing(JsonlStore(fallback)) as kept:
        run = kept.get_run(report.info.run_id)
    assert run is not None and run.status is RunStatus.FINISHED


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (root only: else skipped)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> None:
    """Write zeros into `directory` until its file system is full."""
    with open(directory / "filler", "wb") as file:
        try:
            while True:
                file.write(b"\0" * 65536)
                file.flush()
        except OSError:
            pass


def test_disk_full_mid_run_on_a_real_full_file_system(small_fs: Path, fallback_dir: Path) -> None:
    path = small_fs / "runs.db"
    report, seen, job = track(path, lambda: fill(small_fs))
    fallback = the_fallback(fallback_dir, report)
    assert any("full" in note for note in report.notes), report.notes
    (small_fs / "filler").unlink()  # room to read the store back
    assert_split_without_loss(report, seen, path, fallback)
    assert job.steps > 0


# --- locked ---------------------------------------------------------------------------


@contextmanager
def locked(path: Path, hold_s: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holding a write transaction on the store for `hold_s`."""
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path), str(hold_s)], stdout=subprocess.PIPE, text=True
    )
    with locker:
        try:
            assert locker.stdout is not None and locker.stdout.readline() == "locked\n"
            yield locker
        finally:
            locker.kill()


def test_store_locked_mid_run_longer_than_the_busy_timeout(
    tmp_path: Path, fallback_dir: Path
) -> None:
    path = tmp_path / "runs.db"
    store = SqliteStore(path, busy_timeout_s=1.0)
    with ExitStack() as stack:
        report, seen, job = track(
            store, lambda: stack.enter_context(locked(path, hold_s=30.0)), after_s=2.0
        )
    fallback = the_fallback(fallback_dir, report)
    assert any("database is locked" in note for note in report.notes), report.notes
    assert_split_without_loss(report, seen, path, fallback)
    # the sampler's thread waited 1 s for the lock; the job did not
    assert job.longest_pause_s < 0.9


def test_store_locked_at_start(tmp_path: Path, fallback_dir: Path) -> None:
    path = tmp_path / "runs.db"
    SqliteStore(path).close()
    with locked(path, hold_s=30.0):
        report, seen, job = track(SqliteStore(path, busy_timeout_s=0.3), lambda: None)
    fallback = the_fallback(fallback_dir, report)
    assert run_samples(fallback, report.info.run_id) == seen
    assert report.store_location == str(fallback)  # the store never had the run
    with closing(SqliteStore(path)) as store:
        assert store.list_runs() == []
    assert job.steps > 0


# --- corrupt --------------------------------------------------------------------------


def stored_run(path: Path, run_id: str, count: int) -> list[Sample]:
    """A finished run with `count` samples, written straight into the store."""
    from datetime import UTC, datetime

    from carbonlens.records import RunInfo

    samples = [Sample(CHANNEL, float(i), 1.0, 10.0) for i in range(1, count + 1)]
    with closing(SqliteStore(path)) as store:
        store.create_run(RunInfo(run_id, "old", "n", datetime(2026, 1, 1, tzinfo=UTC), "h", 1))
        for start in range(0, count, 10):
            store.append_samples(run_id, samples[start : start + 10])
        store.finish_run(run_id, RunStatus.FINISHED, datetime(2026, 1, 2, tzinfo=UTC), 1.0)
    return samples


def corrupt_page(path: Path, page: int) -> None:
    """Overwrite one page (numbered from 1) with garbage, after a checkpoint."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(path, "r+b") as file:
        file.seek((page - 1) * PAGE_BYTES)
        file.write(b"\xa5" * PAGE_BYTES)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_corrupt_store_at_start_then_doctor_repairs_without_losing_rows(
    tmp_path: Path, fallback_dir: Path
) -> None:
    path = tmp_path / "runs.db"
    old = stored_run(path, "old-run", 500)
    corrupt_page(path, 2)  # page 2: the schema_version table, read at every open
    before = digest(path)
    report, seen, job = track(path, lambda: None)
    fallback = the_fallback(fallback_dir, report)
    assert any("malformed" in note for note in report.notes), report.notes
    assert run_samples(fallback, report.info.run_id) == seen and job.steps > 0
    assert digest(path) == before  # reported, never modified

    findings = {f.check: f for f in check_store(path, [fallback_dir])}
    assert not findings["open"].ok and findings["open"].repairable
    repaired = {f.check: f for f in repair_store(path, [fallback_dir])}
    assert all(f.ok for f in repaired.values()), repaired
    salvage = repaired["open"].details
    # every row but the version row of the corrupt page: 1 run + 500 samples
    assert salvage["tables"]["runs"] == {"recovered": 1, "lost": 0, "lost_exact": True}
    assert salvage["tables"]["samples"] == {"recovered": 500, "lost": 0, "lost_exact": True}
    assert digest(Path(salvage["kept_as"])) == before  # the original, kept
    assert repaired["fallback"].repaired  # the run of the fallback file, imported
    with closing(SqliteStore(path)) as store:
        assert store.samples("old-run") == old
        assert store.samples(report.info.run_id) == seen
        assert {run.status for run in store.list_runs()} == {RunStatus.FINISHED}
    assert not fallback.exists() and fallback.with_name(fallback.name + ".imported").exists()
    assert healthy(check_store(path, [fallback_dir]))


def test_store_corrupted_mid_run(tmp_path: Path, fallback_dir: Path) -> None:
    path = tmp_path / "runs.db"
    stored_run(path, "old-run", 2000)  # enough pages that the last ones hold only samples
    pages = path.stat().st_size // PAGE_BYTES

    def corrupt() -> None:
        for page in range(pages - 5, pages + 1):
            corrupt_page(path, page)

    report, seen, job = track(path, corrupt)
    fallback = the_fallback(fallback_dir, report)
    assert any("malformed" in note for note in report.notes), report.notes
    in_fallback = run_samples(fallback, report.info.run_id)
    # the fallback holds every sample from the failed write on: a tail of what was seen
    assert in_fallback and seen[-len(in_fallback) :] == in_fallback
    assert not any("run not stored" in note for note in report.notes)
    assert job.steps > 0


# --- the tracker's host process crashes ----------------------------------------------


def test_killed_carbonlens_run_leaves_the_job_running_and_the_run_interrupted(
    tmp_path: Path, fallback_dir: Path
) -> None:
    ticks = tmp_path / "ticks"
    child = (
        "import sys, time\n"
        f"for i in range(60):\n    open({str(ticks)!r}, 'a').write(f'{{i}}\\n'); time.sleep(0.05)\n"
    )
    env = {**os.environ, "CARBONLENS_STORE": str(tmp_path / "runs.db")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "carbonlens", "run", "--interval", "0.05", "--country", "FR"]
        + ["--", sys.executable, "-c", child],
        env=env,
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (ticks.exists() and len(ticks.read_text().split()) >= 10):
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        done_at_kill = len(ticks.read_text().split())
        while len(ticks.read_text().split()) < 60:  # the job goes on to its end
            assert time.monotonic() < deadline + 30, "the job stopped with carbonlens"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
    assert done_at_kill < 60
    with closing(SqliteStore(tmp_path / "runs.db")) as store:
        [run] = store.list_runs()
        assert run.status is RunStatus.INTERRUPTED and store.samples(run.run_id)


def test_killed_host_of_a_tracker_in_fallback_is_imported_by_doctor(
    tmp_path: Path, fallback_dir: Path
) -> None:
    path = tmp_path / "runs.db"
    SqliteStore(path).close()
    host = (
        "import sys, time\n"
        "from carbonlens import Tracker\n"
        "from carbonlens.records import Channel, Component, Method\n"
        "from carbonlens.store import SqliteStore\n"
        "from carbonlens.testing import FakeSensor\n"
        "channel = Channel('fake', Component.CPU, 'cpu', Method.SAMPLED)\n"
        "sensor = FakeSensor(channel, power_w=[10.0])\n"
        "store = SqliteStore(sys.argv[1], busy_timeout_s=0.2)\n"
        "t = Tracker(project='host', country='FR', interval_s=0.02, store=store,\n"
        "            sensors=[sensor])\n"
        "t.start(); print(t.run_id, flush=True); time.sleep(60)\n"
    )
    env = {**os.environ, "XDG_STATE_HOME": str(fallback_dir.parent)}
    with locked(path, hold_s=60.0):
        proc = subprocess.Popen(
            [sys.executable, "-c", host, str(path)], env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            run_id = proc.stdout.readline().strip()
            deadline = time.monotonic() + 20
            while not list(fallback_dir.glob("fallback-*.jsonl")):
                assert time.monotonic() < deadline, "no fallback file"
                time.sleep(0.05)
            time.sleep(1.5)  # some samples written to the fallback
            proc.kill()
            proc.wait(timeout=10)
        finally:
            proc.kill()
            proc.communicate()
    [fallback] = fallback_dir.glob("fallback-*.jsonl")
    kept = [json.loads(line) for line in fallback.read_text().splitlines()]
    written = sum(len(r["samples"]) for r in kept if r["type"] == "samples")
    assert written > 0

    findings = {f.check: f for f in check_store(path, [fallback_dir])}
    assert not findings["fallback"].ok
    assert findings["fallback"].details["files"][0]["run_ids"] == [run_id]
    repaired = {f.check: f for f in repair_store(path, [fallback_dir])}
    assert repaired["fallback"].repaired and healthy(list(repaired.values()))
    with closing(SqliteStore(path)) as store:
        run = store.get_run(run_id)
        assert run is not None and run.status is RunStatus.INTERRUPTED
        assert len(store.samples(run_id)) == written


# --- permissions ----------------------------------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which plain files are 0644 and directories 0755."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_and_directories_carbonlens_creates_are_user_only(
    tmp_path: Path, fallback_dir: Path, umask_022: None
) -> None:
    path = tmp_path / "new" / "deeper" / "runs.db"
    with closing(SqliteStore(path)) as store:
        store.check_writable()  # a write: SQLite creates runs.db-wal and runs.db-shm
        created = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert {p.name: mode(p) for p in created} == {p.name: 0o600 for p in created}
    assert (mode(tmp_path / "new"), mode(tmp_path / "new" / "deeper")) == (0o700, 0o700)
    fallback, _ = open_fallback(fallback_dir, "test")
    with closing(fallback):
        assert mode(Path(fallback.location)) == 0o600
    assert (mode(fallback_dir), mode(fallback_dir.parent)) == (0o700, 0o700)


def test_existing_files_and_directories_keep_their_permissions(
    tmp_path: Path, umask_022: None
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()  # 0755 under this umask
    database, lines = mine / "runs.db", mine / "runs.jsonl"
    database.touch()  # 0644
    lines.touch()
    os.chmod(lines, 0o640)
    with closing(SqliteStore(database)) as store:
        store.check_writable()
    JsonlStore(lines).close()
    assert (mode(mine), mode(database), mode(lines)) == (0o755, 0o644, 0o640)
