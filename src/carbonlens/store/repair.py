"""Checking and repairing an SQLite run store: what `carbonlens doctor --store` does.

`check_store` looks, `repair_store` acts; both return `Finding`s (the CLI prints
them). The checks, in order:

* `open`: the file opens, is an SQLite database, and `PRAGMA integrity_check`
  says `ok`. Repair of a corrupt database: every readable row is copied, table by
  table, into a new database that takes the store's place; the original (with its
  -wal/-shm) is kept as `<name>.corrupt-<UTC stamp>`, never deleted. A file that is
  not an SQLite database at all, or one of another program, is left untouched.
* `schema`: the schema version is this carbonlens's (older: repair migrates it;
  newer: upgrade carbonlens).
* `wal`: a write-ahead log left behind (a process died with the store open);
  repair checkpoints it into the database. Normal while runs are writing.
* `stuck_runs`: runs still `running` whose process is gone; repair marks them
  `interrupted`, as any reader would.
* `fallback`: fallback files (`fallback-*.jsonl`) holding runs, or parts of runs,
  that the store lacks; repair copies them in with `transfer.copy_runs` and
  renames each file whose runs are all complete and ended to `<name>.imported`.

Checking only reads the database; opening a fallback file to compare it may mark
its abandoned runs `interrupted`, as `carbonlens runs --store FILE` does.

A PostgreSQL store (`check_database`) is checked as a tracker opens it: `open`
(it connects, and its tables are created or migrated to this carbonlens's
schema) and `fallback` (as above, imported into it). Integrity, the write-ahead
log and salvage are the server's business; a run left `running` by a process
that is gone is marked `interrupted` by any reader of a store, this one too.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from carbonlens._frozen import frozen
from carbonlens.errors import StoreError
from carbonlens.records import RunStatus
from carbonlens.store._fields import from_utc_text, utc_now
from carbonlens.store._liveness import is_abandoned
from carbonlens.store._salvage import salvage_database
from carbonlens.store._sqlite_schema import MIGRATIONS, connect
from carbonlens.store.base import Store
from carbonlens.store.jsonl import JsonlStore
from carbonlens.store.sqlite import SqliteStore
from carbonlens.store.transfer import CopyAction, copy_runs

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""

FALLBACK_GLOB = "fallback-*.jsonl"
"""Name pattern of fallback files (`store.open_fallback`)."""

_SHOWN_PROBLEMS = 5


@frozen
class Finding:
    """The result of one check, and of its repair if one was attempted.

    `ok`: nothing wrong (or nothing left wrong after `repaired`); `repairable`:
    `--repair` can fix it; `details`: figures of the check (row counts, file names).
    """

    check: str
    ok: bool
    message: str
    repairable: bool = False
    repaired: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible fields (docs/json.md, `doctor --store --json`)."""
        return {
            "check": self.check,
            "ok": self.ok,
            "message": self.message,
            "repairable": self.repairable,
            "repaired": self.repaired,
            "details": self.details,
        }


def healthy(findings: Sequence[Finding]) -> bool:
    """Whether no problem is left (exit status 0 of `doctor --store`)."""
    return all(finding.ok for finding in findings)


def check_store(
    path: Path,
    fallback_dirs: Sequence[Path],
    *,
    now: Callable[[], datetime] = utc_now,
) -> list[Finding]:
    """Check the store at `path` and the fallback files in `fallback_dirs` (see module)."""
    return _run(path, fallback_dirs, now, repair=False)


def repair_store(
    path: Path,
    fallback_dirs: Sequence[Path],
    *,
    now: Callable[[], datetime] = utc_now,
) -> list[Finding]:
    """Check, and repair what can be repaired without losing rows (see module).

    Stop the trackers writing to the store before repairing a corrupt one: its
    file is replaced.
    """
    return _run(path, fallback_dirs, now, repair=True)


def _run(
    path: Path, fallback_dirs: Sequence[Path], now: Callable[[], datetime], *, repair: bool
) -> list[Finding]:
    wal_bytes = _wal_bytes(path)
    findings = [_check_open(path, now, repair)]
    if findings[0].ok and path.exists():
        findings.append(_check_schema(path, repair))
        if findings[-1].ok:
            findings.append(_check_stuck(path, now, repair))
            findings.append(_check_wal(path, wal_bytes, now, repair))
    if not findings[0].ok:
        return [*findings, _NO_FALLBACK_CHECK]
    findings.append(_check_fallbacks(lambda: _target(path, repair), fallback_dirs, repair))
    return findings


_NO_FALLBACK_CHECK: Final = Finding("fallback", False, "fallback files not checked: no store")


def check_database(url: str, fallback_dirs: Sequence[Path], *, repair: bool) -> list[Finding]:
    """Check a PostgreSQL store and the fallback files it lacks; with `repair`,
    import them (see module). Opening the store creates or migrates its tables."""
    from carbonlens.store import open_writable_store  # lazy: the package imports this module

    try:
        store = open_writable_store(url)
    except StoreError as exc:
        return [Finding("open", False, str(exc)), _NO_FALLBACK_CHECK]
    try:
        opened = Finding("open", True, f"{store.location} opens; its schema is current")
        imports = _check_fallbacks(lambda: contextlib.nullcontext(store), fallback_dirs, repair)
    finally:
        store.close()
    return [opened, imports]


# --- open / integrity ---------------------------------------------------------------


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection (no file is created or changed)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def _integrity_problems(path: Path) -> list[str]:
    """`PRAGMA integrity_check`'s complaints ([] when it says ok)."""
    try:
        with _read_only(path) as conn:
            rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def _check_open(path: Path, now: Callable[[], datetime], repair: bool) -> Finding:
    if not path.exists():
        return Finding("open", True, f"no store at {path} yet (the first run creates it)")
    with open(path, "rb") as file:
        header = file.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER and path.stat().st_size > 0:
        return Finding(
            "open",
            False,
            f"{path} is not an SQLite database; it is left untouched: move it away, "
            "or choose another store path",
        )
    problems = _integrity_problems(path)
    if not problems:
        return Finding("open", True, f"{path} opens and passes PRAGMA integrity_check")
    shown = "; ".join(problems[:_SHOWN_PROBLEMS])
    message = f"{path} is corrupt ({shown})"
    if not repair:
        return Finding("open", False, message, repairable=True, details={"problems": problems})
    salvage = salvage_database(path, now())
    return Finding(
        "open",
        True,
        f"{message}: {salvage.rows_recovered} row(s) copied into a new {path}, "
        f"{salvage.rows_lost}{'' if not salvage.tail_lost else ' or more'} row(s) "
        f"unreadable; the original is kept as {salvage.kept}",
        repairable=True,
        repaired=True,
        details={"problems": problems, **salvage.to_dict()},
    )


# --- schema, WAL, stuck runs --------------------------------------------------------


def _check_schema(path: Path, repair: bool) -> Finding:
    latest = len(MIGRATIONS)
    with _read_only(path) as conn:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if tables and "schema_version" not in tables:
            return Finding(
                "schema",
                False,
                f"{path} is an SQLite database of another program (tables "
                f"{', '.join(sorted(tables))}); it is left untouched",
            )
        version = 0
        if tables:
            version = int(
                conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
            )
    details = {"version": version, "supported": latest}
    if version > latest:
        message = f"schema version {version} is newer than this carbonlens's ({latest}): upgrade"
        return Finding("schema", False, message, details=details)
    if version == latest:
        return Finding("schema", True, f"schema version {version} (current)", details=details)
    message = f"schema version {version}, older than {latest}"
    if not repair:
        return Finding("schema", False, message, repairable=True, details=details)
    SqliteStore(path).close()  # opening migrates
    return Finding("schema", True, f"{message}: migrated", True, True, details)


def _running_rows(path: Path) -> list[sqlite3.Row]:
    with _read_only(path) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(
            "SELECT run_id, host, pid, started_at, heartbeat_at FROM runs WHERE status = 'running'"
        ).fetchall()


def _abandoned(rows: Sequence[sqlite3.Row], now: datetime) -> list[str]:
    return [
        row["run_id"]
        for row in rows
        if is_abandoned(
            row["host"],
            row["pid"],
            from_utc_text(row["started_at"]),
            from_utc_text(row["heartbeat_at"]),
            now=now,
        )
    ]


def _check_stuck(path: Path, now: Callable[[], datetime], repair: bool) -> Finding:
    stuck = _abandoned(_running_rows(path), now())
    details: dict[str, Any] = {"run_ids": stuck}
    if not stuck:
        return Finding("stuck_runs", True, "no run left running by a process that is gone")
    message = f"{len(stuck)} run(s) still marked running whose process is gone"
    if not repair:
        return Finding("stuck_runs", False, message, repairable=True, details=details)
    store = SqliteStore(path)
    try:
        store.list_runs()  # a reader marks abandoned runs interrupted
    finally:
        store.close()
    return Finding("stuck_runs", True, f"{message}: marked interrupted", True, True, details)


def _wal_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def _check_wal(path: Path, size_bytes: int, now: Callable[[], datetime], repair: bool) -> Finding:
    """`size_bytes`: the WAL's size before the checks began (a repair before this one
    may have opened the database, and the last connection to close checkpoints it)."""
    details: dict[str, Any] = {"wal_bytes": size_bytes}
    if size_bytes == 0:
        return Finding("wal", True, "no write-ahead log left over", details=details)
    rows = _running_rows(path)
    live = len(rows) - len(_abandoned(rows, now()))
    if live:
        message = f"write-ahead log of {size_bytes} bytes, in use by {live} running run(s)"
        return Finding("wal", True, message, details=details)
    message = f"write-ahead log of {size_bytes} bytes left over (a process died with it open)"
    if not repair:
        return Finding("wal", False, message, repairable=True, details=details)
    conn = connect(path)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    if busy:
        return Finding("wal", False, f"{message}: another process holds it, try again", True)
    return Finding("wal", True, f"{message}: checkpointed into the database", True, True, details)


# --- fallback files -----------------------------------------------------------------


def fallback_files(fallback_dirs: Sequence[Path]) -> list[Path]:
    """The fallback files in `fallback_dirs` (not yet renamed `.imported`), sorted."""
    found: set[Path] = set()
    for directory in fallback_dirs:
        if directory.is_dir():
            found.update(directory.glob(FALLBACK_GLOB))
    return sorted(found)


def _check_fallbacks(
    open_target: Callable[[], contextlib.AbstractContextManager[Store]],
    fallback_dirs: Sequence[Path],
    repair: bool,
) -> Finding:
    files = fallback_files(fallback_dirs)
    if not files:
        return Finding("fallback", True, "no fallback file found")
    entries: list[dict[str, Any]] = []
    unreadable: list[str] = []
    with open_target() as target:
        for file in files:
            try:
                entry = _compare_or_import(file, target, repair)
            except StoreError as exc:
                unreadable.append(str(exc))
                continue
            if entry["run_ids"] or "imported_as" in entry:
                entries.append(entry)
    details: dict[str, Any] = {"files": entries}
    runs = sum(len(entry["run_ids"]) for entry in entries)
    if unreadable:
        message = "unreadable fallback file(s): " + "; ".join(unreadable)
        return Finding("fallback", False, message, details=details)
    if not entries:
        return Finding("fallback", True, "no fallback file holds runs the store lacks")
    message = f"{len(entries)} fallback file(s) hold {runs} run(s) the store lacks (or parts)"
    if not repair:
        return Finding("fallback", False, message, repairable=True, details=details)
    return Finding("fallback", True, f"{message}: imported", True, True, details)


@contextlib.contextmanager
def _target(path: Path, repair: bool) -> Iterator[Store]:
    """The store to compare with or import into; to check a store not created yet,
    an empty one in a temporary directory stands in for it."""
    import tempfile  # lazy: only for that case

    with contextlib.ExitStack() as stack:
        if not (repair or path.exists()):
            path = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "empty.db"
        store = SqliteStore(path)
        stack.callback(store.close)
        yield store


def _compare_or_import(file: Path, target: Store, repair: bool) -> dict[str, Any]:
    """What `file` holds that `target` lacks (copied when `repair`); a file whose
    runs have all ended is renamed `.imported` once copied."""
    source = JsonlStore(file)
    try:
        result = copy_runs(source, target, dry_run=not repair)
    finally:
        source.close()
    changed = [run.run_id for run in result.runs if run.action is not CopyAction.SKIPPED]
    entry: dict[str, Any] = {"file": str(file), "run_ids": changed, "samples": result.samples}
    if repair and all(run.status is not RunStatus.RUNNING for run in result.runs):
        imported = file.with_name(file.name + ".imported")
        try:
            file.rename(imported)
        except OSError as exc:
            raise StoreError(f"cannot rename {file}: {exc}", path=str(file)) from exc
        entry["imported_as"] = str(imported)
    return entry
