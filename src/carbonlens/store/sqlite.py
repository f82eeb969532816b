"""The default run store: one SQLite file, written by many processes at once.

Uses the stdlib `sqlite3` module (SQLAlchemy costs ~150 ms of import and ~28 MiB,
beyond the tracker's budget). The database runs in WAL mode with
`synchronous=NORMAL` and a 5 s busy timeout, so several processes (each with its
own `SqliteStore`) can append at once; every public write is one `BEGIN
IMMEDIATE` ... `COMMIT` transaction and is committed when the call returns
(durable against a killed process; against power loss only after the next WAL
checkpoint). One connection per store, shared by its threads under a lock.

Opening and the versioned schema are in `store._sqlite_schema`; the queries,
shared with the PostgreSQL store, in `store._sql`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from carbonlens.errors import StoreError
from carbonlens.store._fields import FieldSource, utc_now
from carbonlens.store._liveness import DEFAULT_STALE_AFTER_S
from carbonlens.store._private import create_private_file
from carbonlens.store._sql import SqlStore
from carbonlens.store._sqlite_schema import BUSY_TIMEOUT_S, connect


class SqliteStore(SqlStore):
    """Runs (samples, windows, metrics) and budgets in one SQLite file; implements `Store`.

    Args:
        path: The database file; it and missing parent directories are created
            user-only (0600 / 0700; SQLite gives its -wal/-shm files the same
            permissions), and an existing one keeps its permissions.
        stale_after_s: Heartbeat age after which a `running` run from another host
            is reported as interrupted (see `store._liveness`).
        clock: Source of the current UTC time (heartbeats, staleness); for tests.
        busy_timeout_s: How long a write waits for another process's transaction.

    Raises:
        StoreError: The file cannot be created or opened, is not a carbonlens
            database (it is left untouched), or was written by a newer carbonlens.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        clock: Callable[[], datetime] = utc_now,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> None:
        self.location = str(path)
        self._stale_after_s = stale_after_s
        self._clock = clock
        self._lock = threading.Lock()
        with contextlib.suppress(OSError):  # connect() says what is wrong with the path
            create_private_file(Path(path))
        self._conn = connect(Path(path), busy_timeout_s)

    def __repr__(self) -> str:
        return f"SqliteStore({self.location!r})"

    def close(self) -> None:
        """Close the connection; later calls raise StoreError. Closing twice is fine."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self, action: str) -> Iterator[_SqliteTransaction]:
        """One write transaction under the lock; sqlite errors become StoreError."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield _SqliteTransaction(self._conn)
                self._conn.execute("COMMIT")
            except BaseException as exc:
                try:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                except sqlite3.ProgrammingError:  # closed: nothing to roll back
                    pass
                if isinstance(exc, sqlite3.Error):
                    raise self._error(action, exc) from exc
                raise

    def _query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[FieldSource]:
        with self._lock:
            try:
                rows: list[FieldSource] = self._conn.execute(sql, params or {}).fetchall()
            except sqlite3.Error as exc:
                raise self._error("read", exc) from exc
        return rows

    def _error(self, action: str, exc: sqlite3.Error) -> StoreError:
        return StoreError(
            f"cannot {action} in run store {self.location}: {exc}", path=self.location
        )


class _SqliteTransaction:
    """`store._sql.Transaction` on an sqlite3 connection inside `BEGIN ... COMMIT`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        return self._conn.execute(sql, params).rowcount

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self._conn.executemany(sql, rows)

    def fetch(self, sql: str, params: Mapping[str, Any]) -> list[FieldSource]:
        rows: list[FieldSource] = self._conn.execute(sql, params).fetchall()
        return rows
