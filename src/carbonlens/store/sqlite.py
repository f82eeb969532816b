"""The default run store: one SQLite file, written by many processes at once.

Uses the stdlib `sqlite3` module (SQLAlchemy costs ~150 ms of import and ~28 MiB,
beyond the tracker's budget). The database runs in WAL mode with
`synchronous=NORMAL` and a 5 s busy timeout, so several processes (each with its
own `SqliteStore`) can append at once; every public write is one `BEGIN
IMMEDIATE` ... `COMMIT` transaction and is committed when the call returns
(durable against a killed process; against power loss only after the next WAL
checkpoint). One connection per store, shared by its threads under a lock.

Opening and the versioned schema are in `store._sqlite_schema`. The queries here
are plain standard SQL (no SQLite functions) so a PostgreSQL back-end can reuse
them with its own placeholder style. Datetimes are fixed-width ISO-8601 UTC text.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from carbonlens.errors import StoreError
from carbonlens.records import RunInfo, RunStatus, Sample, Window
from carbonlens.store._fields import (
    budget_fields,
    budget_from_fields,
    from_utc_text,
    metric_fields,
    metric_from_fields,
    pick_run_id,
    run_fields,
    run_from_fields,
    sample_fields,
    sample_from_fields,
    to_utc_text,
    utc_now,
)
from carbonlens.store._liveness import DEFAULT_STALE_AFTER_S, is_abandoned
from carbonlens.store._sqlite_schema import BUSY_TIMEOUT_S, connect
from carbonlens.store.base import Budget, BudgetKind, MetricPoint

_RUN_COLUMNS = (
    "run_id, project, name, kind, tags, host, pid, started_at, ended_at, duration_s, "
    "status, settings, heartbeat_at"
)
_SAMPLE_COLUMNS = "t_s, duration_s, sensor, component, device, method, energy_j, process_energy_j"


def _named(columns: str) -> str:
    """`a, b` -> `:a, :b` (named parameters)."""
    return ", ".join(f":{column}" for column in columns.split(", "))


class SqliteStore:
    """Runs (samples, windows, metrics) and budgets in one SQLite file; implements `Store`.

    Args:
        path: The database file; missing parent directories are created.
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
        self._conn = connect(Path(path), busy_timeout_s)

    def __repr__(self) -> str:
        return f"SqliteStore({self.location!r})"

    def check_writable(self) -> None:
        """Raise StoreError unless this process can write now (read-only, or locked too long)."""
        with self._transaction("check write access"):
            pass

    def create_run(self, info: RunInfo) -> None:
        """Record a new run; raises StoreError if its id is already used."""
        fields = run_fields(info)
        fields["tags"] = json.dumps(fields["tags"])
        fields["settings"] = json.dumps(fields["settings"], sort_keys=True)
        fields["heartbeat_at"] = to_utc_text(self._clock())
        with self._transaction("create run") as conn:
            conn.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({_named(_RUN_COLUMNS)})", fields
            )

    def append_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        """Append samples (an empty sequence only records a heartbeat).

        Also sets the run's heartbeat to now, and revives a run that a reader had
        marked `interrupted` (it is evidently alive).
        """
        with self._transaction("append samples") as conn:
            updated = conn.execute(
                "UPDATE runs SET heartbeat_at = ?,"
                " ended_at = CASE WHEN status = 'interrupted' THEN NULL ELSE ended_at END,"
                " duration_s = CASE WHEN status = 'interrupted' THEN NULL ELSE duration_s END,"
                " status = CASE WHEN status = 'interrupted' THEN 'running' ELSE status END"
                " WHERE run_id = ?",
                (to_utc_text(self._clock()), run_id),
            ).rowcount
            if updated == 0:
                raise StoreError(f"no run {run_id!r} in {self.location}", path=self.location)
            (last_seq,) = conn.execute(
                "SELECT MAX(seq) FROM samples WHERE run_id = ?", (run_id,)
            ).fetchone()
            first_seq = 1 if last_seq is None else last_seq + 1
            columns = f"run_id, seq, {_SAMPLE_COLUMNS}"
            conn.executemany(
                f"INSERT INTO samples ({columns}) VALUES ({_named(columns)})",
                [
                    {"run_id": run_id, "seq": first_seq + i, **sample_fields(sample)}
                    for i, sample in enumerate(samples)
                ],
            )

    def save_window(self, run_id: str, window: Window) -> None:
        """Insert a window, or set the end of the one with the same name and start."""
        key = (run_id, window.name, window.start_t_s)
        with self._transaction("save window") as conn:
            updated = conn.execute(
                "UPDATE windows SET end_t_s = ? WHERE run_id = ? AND name = ? AND start_t_s = ?",
                (window.end_t_s, *key),
            ).rowcount
            if updated == 0:
                conn.execute(
                    "INSERT INTO windows (run_id, name, start_t_s, end_t_s) VALUES (?, ?, ?, ?)",
                    (*key, window.end_t_s),
                )

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        ended_at: datetime,
        duration_s: float,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        """Set a run's final status, end time (UTC), duration in seconds and, if
        given, its settings."""
        with self._transaction("finish run") as conn:
            updated = conn.execute(
                "UPDATE runs SET status = ?, ended_at = ?, duration_s = ?, heartbeat_at = ?"
                " WHERE run_id = ?",
                (
                    status.value,
                    to_utc_text(ended_at),
                    duration_s,
                    to_utc_text(self._clock()),
                    run_id,
                ),
            ).rowcount
            if updated == 0:
                raise StoreError(f"no run {run_id!r} in {self.location}", path=self.location)
            if settings is not None:
                conn.execute(
                    "UPDATE runs SET settings = ? WHERE run_id = ?",
                    (json.dumps(dict(settings), sort_keys=True), run_id),
                )

    def get_run(self, run_id: str) -> RunInfo | None:
        """Return the run with this id or unique id prefix, None if there is none.

        A `running` run whose process is gone is returned, and marked, as
        `interrupted`. Raises StoreError if the prefix is ambiguous.
        """
        escaped = run_id.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        candidates = self._query(
            "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '!'", (escaped + "%",)
        )
        found = pick_run_id(run_id, (row[0] for row in candidates), self.location)
        if found is None:
            return None
        (row,) = self._query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (found,))
        if self._mark_if_abandoned(row):
            (row,) = self._query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (found,))
        return _run_from_row(row)

    def list_runs(
        self,
        *,
        project: str | None = None,
        since: datetime | None = None,
        status: RunStatus | None = None,
        limit: int | None = None,
    ) -> list[RunInfo]:
        """Runs matching every given filter, newest first (`since`: started at or after)."""
        for row in self._query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE status = 'running'"):
            self._mark_if_abandoned(row)
        clauses: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("project = ?", project),
            ("started_at >= ?", None if since is None else to_utc_text(since)),
            ("status = ?", None if status is None else status.value),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY started_at DESC, run_id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_run_from_row(row) for row in self._query(sql, tuple(params))]

    def samples(self, run_id: str) -> list[Sample]:
        """A run's samples in the order they were appended ([] for an unknown run)."""
        rows = self._query(
            f"SELECT {_SAMPLE_COLUMNS} FROM samples WHERE run_id = ? ORDER BY seq", (run_id,)
        )
        return [sample_from_fields(row) for row in rows]

    def channel_sums(self, run_id: str) -> list[Sample]:
        """One summed sample per channel (see `Store`), computed by the database."""
        rows = self._query(
            "SELECT sensor, component, device, method, MAX(t_s) AS t_s,"
            " SUM(duration_s) AS duration_s, SUM(energy_j) AS energy_j,"
            " SUM(process_energy_j) AS process_energy_j"
            " FROM samples WHERE run_id = ? GROUP BY sensor, component, device, method",
            (run_id,),
        )
        return [sample_from_fields(row) for row in rows]

    def windows(self, run_id: str) -> list[Window]:
        """A run's windows ordered by start time ([] for an unknown run)."""
        rows = self._query(
            "SELECT name, start_t_s, end_t_s FROM windows WHERE run_id = ?"
            " ORDER BY start_t_s, name",
            (run_id,),
        )
        return [Window(name, start_t_s, end_t_s) for name, start_t_s, end_t_s in rows]

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Add metric points to a run; one per (name, step), the later one wins."""
        with self._transaction("log metrics") as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
                raise StoreError(f"no run {run_id!r} in {self.location}", path=self.location)
            conn.executemany(
                "INSERT INTO metrics (run_id, name, step, value, t_s)"
                " VALUES (:run_id, :name, :step, :value, :t_s)"
                " ON CONFLICT (run_id, name, step)"
                " DO UPDATE SET value = excluded.value, t_s = excluded.t_s",
                [{"run_id": run_id, **metric_fields(point)} for point in points],
            )

    def metrics(self, run_id: str) -> list[MetricPoint]:
        """A run's metric points ordered by name, then step ([] for an unknown run)."""
        rows = self._query(
            "SELECT name, step, value, t_s FROM metrics WHERE run_id = ? ORDER BY name, step",
            (run_id,),
        )
        return [metric_from_fields(row) for row in rows]

    def set_budget(self, budget: Budget) -> None:
        """Set a project's budget of one kind, replacing the one it had."""
        with self._transaction("set budget") as conn:
            conn.execute(
                "INSERT INTO budgets (project, kind, amount, period)"
                " VALUES (:project, :kind, :amount, :period)"
                " ON CONFLICT (project, kind)"
                " DO UPDATE SET amount = excluded.amount, period = excluded.period",
                budget_fields(budget),
            )

    def clear_budget(self, project: str, kind: BudgetKind) -> bool:
        """Remove a project's budget of one kind; False if it had none."""
        with self._transaction("clear budget") as conn:
            removed: int = conn.execute(
                "DELETE FROM budgets WHERE project = ? AND kind = ?", (project, kind.value)
            ).rowcount
        return removed > 0

    def budgets(self, project: str | None = None) -> list[Budget]:
        """The budgets of one project, or of all, ordered by project, then kind."""
        sql = "SELECT project, kind, amount, period FROM budgets"
        params: tuple[Any, ...] = ()
        if project is not None:
            sql, params = sql + " WHERE project = ?", (project,)
        return [
            budget_from_fields(row) for row in self._query(sql + " ORDER BY project, kind", params)
        ]

    def close(self) -> None:
        """Close the connection; later calls raise StoreError. Closing twice is fine."""
        with self._lock:
            self._conn.close()

    def _mark_if_abandoned(self, row: sqlite3.Row) -> bool:
        """Mark the run of `row` interrupted if it is `running` but gone; True if marked."""
        if row["status"] != RunStatus.RUNNING.value or not is_abandoned(
            row["host"],
            row["pid"],
            from_utc_text(row["started_at"]),
            from_utc_text(row["heartbeat_at"]),
            now=self._clock(),
            stale_after_s=self._stale_after_s,
        ):
            return False
        with self._transaction("mark run interrupted") as conn:
            conn.execute(
                "UPDATE runs SET status = 'interrupted', ended_at = heartbeat_at,"
                " duration_s = (SELECT MAX(t_s) FROM samples WHERE samples.run_id = runs.run_id)"
                " WHERE run_id = ? AND status = 'running' AND heartbeat_at = ?",
                (row["run_id"], row["heartbeat_at"]),
            )
        return True

    @contextmanager
    def _transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; sqlite errors become StoreError."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
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

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error("read", exc) from exc

    def _error(self, action: str, exc: sqlite3.Error) -> StoreError:
        return StoreError(
            f"cannot {action} in run store {self.location}: {exc}", path=self.location
        )


def _run_from_row(row: sqlite3.Row) -> RunInfo:
    return run_from_fields(row, json.loads(row["tags"]), json.loads(row["settings"]))
