"""`carbonlens doctor --store`: each check finds its problem, and repair fixes it
without losing rows."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from carbonlens.cli import main
from carbonlens.records import Channel, Component, Method, RunInfo, RunStatus, Sample
from carbonlens.store import SqliteStore, open_writable_store, this_host
from carbonlens.store._sqlite_schema import MIGRATIONS
from carbonlens.store.jsonl import JsonlStore
from carbonlens.store.repair import Finding, check_database, check_store, healthy, repair_store

CPU = Channel("fake", Component.CPU, "cpu", Method.SAMPLED)
START = datetime(2026, 1, 1, tzinfo=UTC)
PAGE_BYTES = 4096


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.check: finding for finding in findings}


def store_with_run(path: Path, run_id: str = "r1", count: int = 10, pid: int = 1) -> None:
    with closing(SqliteStore(path)) as store:
        store.create_run(RunInfo(run_id, "p", "n", START, this_host(), pid))
        for start in range(0, count, 100):
            chunk = range(start + 1, min(start + 100, count) + 1)
            store.append_samples(run_id, [Sample(CPU, float(t), 1.0, 1.0) for t in chunk])
        if pid == 1:
            store.finish_run(run_id, RunStatus.FINISHED, START, float(count))


def test_a_healthy_store_passes_every_check(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store_with_run(path)
    findings = check_store(path, [tmp_path / "state"])
    assert [f.check for f in findings] == ["open", "schema", "stuck_runs", "wal", "fallback"]
    assert healthy(findings) and not any(f.repaired for f in findings)


def test_no_store_yet_is_healthy_and_created_by_nothing(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    assert healthy(check_store(path, []))
    assert not path.exists()


def test_stuck_run_is_marked_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    pid = dead_pid()
    store_with_run(path, pid=pid)
    found = by_check(check_store(path, []))["stuck_runs"]
    assert (found.ok, found.repairable, found.details["run_ids"]) == (False, True, ["r1"])
    with closing(sqlite3.connect(path)) as conn:  # checking changed nothing
        assert conn.execute("SELECT status FROM runs").fetchone() == ("running",)
    fixed = by_check(repair_store(path, []))["stuck_runs"]
    assert fixed.ok and fixed.repaired
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT status FROM runs").fetchone() == ("interrupted",)
    assert healthy(check_store(path, []))


def test_leftover_wal_is_checkpointed(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store_with_run(path)
    # a process that writes and dies with the store open leaves its WAL behind
    code = (
        "import os, sys\n"
        "from carbonlens.store import SqliteStore\n"
        "from carbonlens.store.base import Budget, BudgetKind, BudgetPeriod\n"
        "s = SqliteStore(sys.argv[1])\n"
        "s.set_budget(Budget('p', BudgetKind.ENERGY, 1.0, BudgetPeriod.TOTAL))\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    wal = Path(f"{path}-wal")
    size_bytes = wal.stat().st_size
    assert size_bytes > 0
    found = by_check(check_store(path, []))["wal"]
    assert (found.ok, found.repairable, found.details) == (False, True, {"wal_bytes": size_bytes})
    assert wal.stat().st_size == size_bytes  # checking changed nothing
    assert by_check(repair_store(path, []))["wal"].repaired
    assert not wal.exists()  # checkpointed, and removed by the last connection to close
    with closing(SqliteStore(path)) as store:
        assert len(store.budgets()) == 1 and len(store.samples("r1")) == 10


def test_old_schema_is_migrated_and_newer_one_refused(tmp_path: Path) -> None:
    old, new = tmp_path / "old.db", tmp_path / "new.db"
    with closing(sqlite3.connect(old)) as conn:
        conn.executescript(";".join(MIGRATIONS[0]) + ";INSERT INTO schema_version VALUES (1)")
    found = by_check(check_store(old, []))["schema"]
    assert (found.ok, found.repairable, found.details) == (
        False,
        True,
        {"version": 1, "supported": len(MIGRATIONS)},
    )
    assert by_check(repair_store(old, []))["schema"].repaired
    assert healthy(check_store(old, []))

    store_with_run(new)
    with closing(sqlite3.connect(new)) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
        conn.commit()
    refused = by_check(repair_store(new, []))["schema"]
    assert not refused.ok and not refused.repairable and "upgrade" in refused.message


def test_foreign_files_are_left_untouched(tmp_path: Path) -> None:
    text, other = tmp_path / "notes.txt", tmp_path / "other.db"
    text.write_text("not a database")
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE t (x)")
    for path in (text, other):
        before = path.read_bytes()
        findings = repair_store(path, [])
        assert not healthy(findings) and not any(f.repaired for f in findings)
        assert path.read_bytes() == before and not list(tmp_path.glob("*.corrupt-*"))


def samples_leaf_pages(path: Path) -> list[tuple[int, int]]:
    """(page number, rows) of the samples table's leaf pages, from SQLite's dbstat."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return conn.execute(
            "SELECT pageno, ncell FROM dbstat WHERE name = 'samples' AND pagetype = 'leaf'"
            " ORDER BY pageno"
        ).fetchall()


def test_corrupt_database_salvages_every_readable_row(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store_with_run(path, count=2000)
    leaves = samples_leaf_pages(path)
    page, rows_on_page = leaves[len(leaves) // 2]  # a page in the middle
    with open(path, "r+b") as file:
        file.seek((page - 1) * PAGE_BYTES)
        file.write(b"\xa5" * PAGE_BYTES)
    corrupt = path.read_bytes()

    found = by_check(check_store(path, []))["open"]
    assert not found.ok and found.repairable and found.details["problems"]
    fixed = by_check(repair_store(path, [], now=lambda: datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)))
    salvage = fixed["open"].details
    kept = tmp_path / "runs.db.corrupt-20260203T040506Z"
    assert salvage["kept_as"] == str(kept) and kept.read_bytes() == corrupt  # never deleted
    # every row but those of the overwritten page (dbstat's count of its cells)
    assert salvage["tables"]["samples"] == {
        "recovered": 2000 - rows_on_page,
        "lost": rows_on_page,
        "lost_exact": True,
    }
    assert salvage["tables"]["runs"]["recovered"] == 1
    assert (salvage["rows_recovered"], salvage["rows_lost"]) == (2001 - rows_on_page, rows_on_page)
    assert healthy(check_store(path, []))
    with closing(SqliteStore(path)) as store:
        times = [s.t_s for s in store.samples("r1")]
    assert len(times) == 2000 - rows_on_page and times == sorted(times)
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o600)


def test_fallback_files_are_imported_then_renamed(tmp_path: Path) -> None:
    path, state = tmp_path / "runs.db", tmp_path / "state"
    store_with_run(path)
    ended, live = state / "fallback-1-1.jsonl", state / "fallback-2-2.jsonl"
    with closing(JsonlStore(ended)) as fb:
        fb.create_run(RunInfo("f1", "p", "n", START, this_host(), dead_pid()))
        fb.append_samples("f1", [Sample(CPU, 1.0, 1.0, 1.0), Sample(CPU, 2.0, 1.0, 1.0)])
    with closing(JsonlStore(live)) as fb:  # this very process: still being written
        now = datetime.now(UTC)  # after this process started: not a reused pid
        fb.create_run(RunInfo("f2", "p", "n", now, this_host(), os.getpid()))
        fb.append_samples("f2", [Sample(CPU, 1.0, 1.0, 1.0)])

    found = by_check(check_store(path, [state]))["fallback"]
    assert not found.ok and found.repairable
    assert [(f["file"], f["run_ids"], f["samples"]) for f in found.details["files"]] == [
        (str(ended), ["f1"], 2),
        (str(live), ["f2"], 1),
    ]
    fixed = by_check(repair_store(path, [state]))["fallback"]
    assert fixed.ok and fixed.repaired
    assert not ended.exists() and (state / "fallback-1-1.jsonl.imported").exists()
    assert live.exists()  # its run is still running: imported so far, file left
    with closing(SqliteStore(path)) as store:
        f1 = store.get_run("f1")
        assert f1 is not None and f1.status is RunStatus.INTERRUPTED
        assert len(store.samples("f1")) == 2 and len(store.samples("f2")) == 1
    assert healthy(check_store(path, [state]))  # nothing left that the store lacks


def test_doctor_store_command_exit_status_and_json(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store_with_run(path, pid=dead_pid())
    runner = CliRunner()
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "TMPDIR": str(tmp_path / "tmp")}
    checked = runner.invoke(main, ["doctor", "--store", str(path), "--json"], env=env)
    assert checked.exit_code == 1
    doc = json.loads(checked.output)
    assert (doc["store"], doc["healthy"], doc["repair"]) == (str(path), False, False)
    assert set(doc["findings"][0]) == {
        "check",
        "ok",
        "message",
        "repairable",
        "repaired",
        "details",
    }
    text = runner.invoke(main, ["doctor", "--store", str(path)], env=env)
    assert text.exit_code == 1 and "PROBLEM  stuck_runs" in text.output
    assert "--repair" in text.output
    repaired = runner.invoke(main, ["doctor", "--store", str(path), "--repair"], env=env)
    assert repaired.exit_code == 0 and "repaired stuck_runs" in repaired.output
    env["CARBONLENS_STORE"] = str(path)  # --store without PATH: the configured store
    again = runner.invoke(main, ["doctor", "--store"], env=env)
    assert again.exit_code == 0, again.output


def test_a_postgresql_store_opens_and_takes_in_fallback_files(
    tmp_path: Path, postgres_url: str
) -> None:
    # The same fallback check as for SQLite, importing into the central store.
    state = tmp_path / "state"
    with closing(JsonlStore(state / "fallback-1-1.jsonl")) as fb:
        fb.create_run(RunInfo("f1", "p", "n", START, this_host(), dead_pid()))
        fb.append_samples("f1", [Sample(CPU, 1.0, 1.0, 1.0), Sample(CPU, 2.0, 1.0, 1.0)])
    found = by_check(check_database(postgres_url, [state], repair=False))
    assert found["open"].ok
    assert not found["fallback"].ok and found["fallback"].repairable
    assert found["fallback"].details["files"][0]["samples"] == 2
    fixed = by_check(check_database(postgres_url, [state], repair=True))
    assert fixed["fallback"].ok and fixed["fallback"].repaired
    assert (state / "fallback-1-1.jsonl.imported").exists()
    with closing(open_writable_store(postgres_url)) as store:
        assert len(store.samples("f1")) == 2
    assert healthy(check_database(postgres_url, [state], repair=False))


def test_an_unreachable_postgresql_store_is_a_problem_without_its_password(
    tmp_path: Path,
) -> None:
    url = "postgresql://ada:PLANTED-SECRET@127.0.0.1:9/runs?connect_timeout=2"
    findings = check_database(url, [tmp_path], repair=False)
    assert [(f.check, f.ok) for f in findings] == [("open", False), ("fallback", False)]
    assert "PLANTED-SECRET" not in findings[0].message and "127.0.0.1" in findings[0].message
    result = CliRunner().invoke(main, ["doctor", "--store", url, "--json"])
    assert result.exit_code == 1 and "PLANTED-SECRET" not in result.output
    assert (
        json.loads(result.output)["store"]
        == "postgresql://ada:***@127.0.0.1:9/runs?connect_timeout=2"
    )
