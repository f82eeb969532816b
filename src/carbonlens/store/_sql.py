"""The `Store` methods both SQL back-ends share: one set of queries, two drivers.

The queries are plain standard SQL with `:name` parameters, which both stdlib
`sqlite3` and SQLAlchemy's `text()` accept, so `SqliteStore` and `PostgresStore`
differ only in how they connect, open a transaction and report errors. Rows are
read by column name. Datetimes are fixed-width ISO-8601 UTC text (see
`store._fields`), tags and settings JSON text.

Concurrency: every write is one transaction. `append_samples` first updates the
run's row (its heartbeat), which makes concurrent appends to one run wait for
each other on both back-ends (SQLite's database lock, PostgreSQL's row lock), so
the next `seq` they read is never taken twice.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from carbonlens.errors import StoreError
from carbonlens.records import RunInfo, RunStatus, Sample, Window
from carbonlens.store._fields import (
    FieldSource,
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
)
from carbonlens.store._liveness import is_abandoned
from carbonlens.store.base import Budget, BudgetKind, MetricPoint

_RUN_COLUMNS = (
    "run_id, project, name, kind, tags, host, pid, started_at, ended_at, duration_s, "
    "status, settings, heartbeat_at"
)
_SAMPLE_COLUMNS = "t_s, duration_s, sensor, component, device, method, energy_j, process_energy_j"


def _named(columns: str) -> str:
    """`a, b` -> `:a, :b` (named parameters)."""
    return ", ".join(f":{column}" for column in columns.split(", "))


class Transaction(Protocol):
    """What a back-end's write transaction offers the shared queries."""

    def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        """Run one statement; return the number of rows it changed."""
        ...

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run one statement once per parameter set (nothing for no rows)."""
        ...

    def fetch(self, sql: str, params: Mapping[str, Any]) -> list[FieldSource]:
        """Run a query; return its rows, indexed by column name."""
        ...


class SqlStore(ABC):
    """A `Store` on an SQL database with the schema of `store._schema`.

    Subclasses set `location` (safe to show: no password), `_stale_after_s` and
    `_clock`, and implement `_transaction`, `_query` and `close`.
    """

    location: str
    _stale_after_s: float
    _clock: Callable[[], datetime]

    @abstractmethod
    def _transaction(self, action: str) -> AbstractContextManager[Transaction]:
        """One write transaction, committed on exit; errors become StoreError naming `action`."""

    @abstractmethod
    def _query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[FieldSource]:
        """The rows of one read query; errors become StoreError."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection(s); later calls raise StoreError. Closing twice is fine."""

    def check_writable(self) -> None:
        """Raise StoreError unless this process can write now."""
        with self._transaction("check write access"):
            pass

    def create_run(self, info: RunInfo) -> None:
        """Record a new run; raises StoreError if its id is already used."""
        fields = run_fields(info)
        fields["tags"] = json.dumps(fields["tags"])
        fields["settings"] = json.dumps(fields["settings"], sort_keys=True)
        fields["heartbeat_at"] = to_utc_text(self._clock())
        with self._transaction("create run") as tx:
            tx.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({_named(_RUN_COLUMNS)})", fields)

    def append_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        """Append samples (an empty sequence only records a heartbeat).

        Also sets the run's heartbeat to now, and revives a run that a reader had
        marked `interrupted` (it is evidently alive).
        """
        with self._transaction("append samples") as tx:
            updated = tx.execute(
                "UPDATE runs SET heartbeat_at = :now,"
                " ended_at = CASE WHEN status = 'interrupted' THEN NULL ELSE ended_at END,"
                " duration_s = CASE WHEN status = 'interrupted' THEN NULL ELSE duration_s END,"
                " status = CASE WHEN status = 'interrupted' THEN 'running' ELSE status END"
                " WHERE run_id = :run_id",
                {"now": to_utc_text(self._clock()), "run_id": run_id},
            )
            if updated == 0:
                raise StoreError(f"no run {run_id!r} in {self.location}", path=self.location)
            (row,) = tx.fetch(
                "SELECT MAX(seq) AS last_seq FROM samples WHERE run_id = :run_id",
                {"run_id": run_id},
            )
            first_seq = 1 if row["last_seq"] is None else row["last_seq"] + 1
            columns = f"run_id, seq, {_SAMPLE_COLUMNS}"
            tx.execute_many(
                f"INSERT INTO samples ({columns}) VALUES ({_named(columns)})",
                [
                    {"run_id": run_id, "seq": first_seq + i, **sample_fields(sample)}
                    for i, sample in enumerate(samples)
                ],
            )

    def save_window(self, run_id: str, window: Window) -> None:
        """Insert a window, or set the end of the one with the same name and start."""
        key = {"run_id": run_id, "name": window.name, "start_t_s": window.start_t_s}
        with self._transaction("save window") as tx:
            updated = tx.execute(
                "UPDATE windows SET end_t_s = :end_t_s"
                " WHERE run_id = :run_id AND name = :name AND start_t_s = :start_t_s",
                {**key, "end_t_s": window.end_t_s},
            )
            if updated == 0:
                tx.execute(
                    "INSERT INTO windows (run_id, name, start_t_s, end_t_s)"
                    " VALUES (:run_id, :name, :start_t_s, :end_t_s)",
                    {**key, "end_t_s": window.end_t_s},
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
        with self._transaction("finish run") as tx:
            updated = tx.execute(
                "UPDATE runs SET status = :status, ended_at = :ended_at,"
                " duration_s = :duration_s, heartbeat_at = :now WHERE run_id = :run_id",
                {
                    "status": status.value,
                    "ended_at": to_utc_text(ended_at),
                    "duration_s": duration_s,
                    "now": to_utc_text(self._clock()),
                    "run_id": run_id,
                },
            )
            if updated == 0:
                raise StoreError(f"no run {run_id!r} in {self.location}", path=self.location)
            if settings is not None:
                tx.execute(
                    "UPDATE runs SET settings = :settings WHERE run_id = :run_id",
                    {"settings": json.dumps(dict(settings), sort_keys=True), "run_id": run_id},
                )

    def get_run(self, run_id: str) -> RunInfo | None:
        """Return the run with this id or unique id prefix, None if there is none.

        A `running` run whose process is gone is returned, and marked, as
        `interrupted`. Raises StoreError if the prefix is ambiguous.
        """
        escaped = run_id.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        candidates = self._query(
            "SELECT run_id FROM runs WHERE run_id LIKE :prefix ESCAPE '!'",
            {"prefix": escaped + "%"},
        )
        found = pick_run_id(run_id, (row["run_id"] for row in candidates), self.location)
        if found is None:
            return None
        by_id = f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = :run_id"
        (row,) = self._query(by_id, {"run_id": found})
        if self._mark_if_abandoned(row):
            (row,) = self._query(by_id, {"run_id": found})
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
        filters = {
            "project": project,
            "since": None if since is None else to_utc_text(since),
            "status": None if status is None else status.value,
        }
        params: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
        clauses = {
            "project": "project = :project",
            "since": "started_at >= :since",
            "status": "status = :status",
        }
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        if params:
            sql += " WHERE " + " AND ".join(clauses[name] for name in params)
        sql += " ORDER BY started_at DESC, run_id DESC"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
        return [_run_from_row(row) for row in self._query(sql, params)]

    def samples(self, run_id: str) -> list[Sample]:
        """A run's samples in the order they were appended ([] for an unknown run)."""
        rows = self._query(
            f"SELECT {_SAMPLE_COLUMNS} FROM samples WHERE run_id = :run_id ORDER BY seq",
            {"run_id": run_id},
        )
        return [sample_from_fields(row) for row in rows]

    def channel_sums(self, run_id: str) -> list[Sample]:
        """One summed sample per channel (see `Store`), computed by the database."""
        rows = self._query(
            "SELECT sensor, component, device, method, MAX(t_s) AS t_s,"
            " SUM(duration_s) AS duration_s, SUM(energy_j) AS energy_j,"
            " SUM(process_energy_j) AS process_energy_j"
            " FROM samples WHERE run_id = :run_id GROUP BY sensor, component, device, method",
            {"run_id": run_id},
        )
        return [sample_from_fields(row) for row in rows]

    def windows(self, run_id: str) -> list[Window]:
        """A run's windows ordered by start time ([] for an unknown run)."""
        rows = self._query(
            "SELECT name, start_t_s, end_t_s FROM windows WHERE run_id = :run_id"
            " ORDER BY start_t_s, name",
            {"run_id": run_id},
        )
        return [Window(row["name"], row["start_t_s"], row["end_t_s"]) for row in rows]

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Add metric points to a run; one per (name, step), the later one wins."""
        with self._transaction("log metrics") as tx:
            if not tx.fetch(
                "SELECT 1 AS found FROM runs WHERE run_id = :run_id", {"run_id": run_id}
            ):
                raise StoreError(f"no run {run_id!r} in {self.location}", path=self.location)
            tx.execute_many(
                "INSERT INTO metrics (run_id, name, step, value, t_s)"
                " VALUES (:run_id, :name, :step, :value, :t_s)"
                " ON CONFLICT (run_id, name, step)"
                " DO UPDATE SET value = excluded.value, t_s = excluded.t_s",
                [{"run_id": run_id, **metric_fields(point)} for point in points],
            )

    def metrics(self, run_id: str) -> list[MetricPoint]:
        """A run's metric points ordered by name, then step ([] for an unknown run)."""
        rows = self._query(
            "SELECT name, step, value, t_s FROM metrics WHERE run_id = :run_id ORDER BY name, step",
            {"run_id": run_id},
        )
        return [metric_from_fields(row) for row in rows]

    def set_budget(self, budget: Budget) -> None:
        """Set a project's budget of one kind, replacing the one it had."""
        with self._transaction("set budget") as tx:
            tx.execute(
                "INSERT INTO budgets (project, kind, amount, period)"
                " VALUES (:project, :kind, :amount, :period)"
                " ON CONFLICT (project, kind)"
                " DO UPDATE SET amount = excluded.amount, period = excluded.period",
                budget_fields(budget),
            )

    def clear_budget(self, project: str, kind: BudgetKind) -> bool:
        """Remove a project's budget of one kind; False if it had none."""
        with self._transaction("clear budget") as tx:
            removed = tx.execute(
                "DELETE FROM budgets WHERE project = :project AND kind = :kind",
                {"project": project, "kind": kind.value},
            )
        return removed > 0

    def budgets(self, project: str | None = None) -> list[Budget]:
        """The budgets of one project, or of all, ordered by project, then kind."""
        sql = "SELECT project, kind, amount, period FROM budgets"
        params: dict[str, Any] = {}
        if project is not None:
            sql, params = sql + " WHERE project = :project", {"project": project}
        return [
            budget_from_fields(row) for row in self._query(sql + " ORDER BY project, kind", params)
        ]

    def _mark_if_abandoned(self, row: FieldSource) -> bool:
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
        with self._transaction("mark run interrupted") as tx:
            tx.execute(
                "UPDATE runs SET status = 'interrupted', ended_at = heartbeat_at,"
                " duration_s = (SELECT MAX(t_s) FROM samples WHERE samples.run_id = runs.run_id)"
                " WHERE run_id = :run_id AND status = 'running' AND heartbeat_at = :heartbeat_at",
                {"run_id": row["run_id"], "heartbeat_at": row["heartbeat_at"]},
            )
        return True


def _run_from_row(row: FieldSource) -> RunInfo:
    tags: Iterable[str] = json.loads(row["tags"])
    return run_from_fields(row, tags, json.loads(row["settings"]))
