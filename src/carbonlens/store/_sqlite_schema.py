"""Opening the SQLite run store: connection settings and the versioned schema.

`schema_version` holds how many entries of `MIGRATIONS` (the portable DDL of
`store._schema`) were applied; pending ones run in one transaction at open, and a
database from a newer carbonlens is refused. The schema is checked before
anything is written, so a foreign or corrupt file is reported and never
modified. The PRAGMAs and `sqlite_master` are the SQLite-specific part.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from carbonlens.errors import StoreError
from carbonlens.store._schema import migrations

BUSY_TIMEOUT_S = 5.0
"""Default wait, in seconds, for another process's transaction before a write fails."""

MIGRATIONS: tuple[tuple[str, ...], ...] = migrations()
"""The schema migrations (`store._schema`) with SQLite's types."""


def connect(path: Path, busy_timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open the store database at `path`, migrate its schema and switch it to WAL.

    Args:
        path: The database file; missing parent directories are created.
        busy_timeout_s: How long a statement waits for another process's lock.

    Returns:
        An autocommit connection (`isolation_level=None`: transactions are explicit)
        usable from any thread (callers serialise it), rows as `sqlite3.Row`.

    Raises:
        StoreError: The file cannot be created or opened, is not an SQLite
            database or not a carbonlens one (left untouched), or is newer.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as exc:
        message = f"cannot open run store {path}: {exc}{_hint(path, exc)}"
        raise StoreError(message, path=str(path)) from exc
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, MIGRATIONS, str(path))  # first: refuses foreign files before any write
        _use_wal(conn, busy_timeout_s)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if "not a database" in str(exc):
            message = (
                f"{path} is not an SQLite database (or is corrupt); it was left untouched: "
                "move it away, or choose another store path"
            )
        else:
            message = f"cannot open run store {path}: {exc}{_hint(path, exc)}"
        raise StoreError(message, path=str(path)) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _use_wal(conn: sqlite3.Connection, busy_timeout_s: float) -> None:
    """Switch the database to WAL (a no-op once it is). The switch needs the file to
    itself, and SQLite answers "database is locked" at once, without waiting, when
    another process opening the new store at the same moment holds it: try again
    for up to `busy_timeout_s`, as any other statement waits."""
    deadline_s = time.monotonic() + busy_timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline_s:
                raise
            time.sleep(0.01)


def _hint(path: Path, exc: Exception) -> str:
    if path.is_dir():
        return f" ({path} is a directory: give the store's file, e.g. {path / 'runs.db'})"
    if "unable to open" in str(exc):
        return " (the file and its directory must be writable: SQLite keeps -wal/-shm files there)"
    return ""


def migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[str]], location: str) -> None:
    """Bring the schema up to `len(migrations)`, in one transaction.

    Reads the version without a lock first, so opening an up-to-date store takes
    no write lock; otherwise re-reads it under `BEGIN IMMEDIATE` (another process
    may have migrated meanwhile) and applies the pending migrations.

    Raises:
        StoreError: The database holds tables but no `schema_version` (not a
            carbonlens store), or a version newer than `len(migrations)`.
        sqlite3.Error: A statement failed; nothing was changed.
    """
    if _schema_version(conn, location, len(migrations)) == len(migrations):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _schema_version(conn, location, len(migrations))
        for statements in migrations[version:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute("DELETE FROM schema_version")
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (len(migrations),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _schema_version(conn: sqlite3.Connection, location: str, supported: int) -> int:
    tables = {
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master"
            " WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!'"
        )
    }
    if "schema_version" not in tables:
        if tables:
            raise StoreError(
                f"{location} is an SQLite database but not a carbonlens run store "
                f"(it has tables {', '.join(sorted(tables))}); it was left untouched",
                path=location,
            )
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    version = int(row[0] or 0)
    if version > supported:
        raise StoreError(
            f"{location} was written by a newer carbonlens (store schema version {version}; "
            f"this carbonlens reads up to {supported}): upgrade carbonlens to use it",
            path=location,
        )
    return version
