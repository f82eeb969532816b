"""An append-only JSON-lines run store: the fallback when the database cannot be written.

Each write appends one JSON object on its own line, then flushes and fsyncs:

* `{"type": "run", "at": <UTC>, <run fields>}` when a run is created;
* `{"type": "samples", "run_id": ..., "at": <UTC>, "samples": [<sample fields>, ...]}`;
* `{"type": "window", "run_id": ..., "name": ..., "start_t_s": ..., "end_t_s": ...}`;
* `{"type": "finish", "run_id": ..., "status": ..., "ended_at": ..., "duration_s": ...}`,
  with `"settings"` when the run's settings were replaced at the end;
* `{"type": "metrics", "run_id": ..., "metrics": [{"name": ..., "step": ..., "value": ...,
  "t_s": ...}, ...]}`: a later point with the same name and step replaces an earlier one;
* `{"type": "budget", "project": ..., "kind": ..., "amount": ..., "period": ...}`: sets a
  project's budget of that kind; `amount` and `period` null remove it.

Field names match the SQLite columns; datetimes are ISO-8601 UTC text and floats
round-trip exactly. The `at` of the latest `run`/`samples` line is the run's
heartbeat. Reading replays the file, incrementally: lines appended since the
last read (by this or another process) are applied on the next call. A torn last
line (a process killed mid-write) is skipped with a warning, as is any other
unreadable line; a file whose first line is not a record is refused.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any

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
    sum_by_channel,
    to_utc_text,
    utc_now,
)
from carbonlens.store._liveness import DEFAULT_STALE_AFTER_S, is_abandoned
from carbonlens.store._private import create_private_file
from carbonlens.store.base import Budget, BudgetKind, MetricPoint

logger = logging.getLogger(__name__)

_TYPES = frozenset({"run", "samples", "window", "finish", "metrics", "budget"})


@dataclass
class _RunState:
    """A run as replayed so far."""

    info: RunInfo
    heartbeat_at: datetime
    samples: list[Sample] = field(default_factory=list)
    windows: dict[tuple[str, float], Window] = field(default_factory=dict)
    metrics: dict[tuple[str, int], MetricPoint] = field(default_factory=dict)


class JsonlStore:
    """Runs and budgets kept as JSON lines in one file; implements `store.base.Store`.

    Args:
        path: The file; it and missing parent directories are created user-only
            (0600 / 0700), and an existing file is appended to (its permissions kept).
        stale_after_s: Heartbeat age after which a `running` run from another host
            is reported as interrupted (see `store._liveness`).
        clock: Source of the current UTC time (heartbeats, staleness); for tests.

    Raises:
        StoreError: The file cannot be created or opened for appending, or is not
            a carbonlens JSON-lines store.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.location = str(path)
        self._path = Path(path)
        self._stale_after_s = stale_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._runs: dict[str, _RunState] = {}
        self._budgets: dict[tuple[str, str], Budget] = {}
        self._offset = 0
        self._line_no = 0
        try:
            create_private_file(self._path)
            self._file: IO[bytes] = open(self._path, "ab")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise StoreError(f"cannot open run store {path}: {exc}", path=self.location) from exc
        try:
            self._check_first_line()
            self._refresh()
            if os.fstat(self._file.fileno()).st_size > self._offset:  # torn last line: end it
                self._write_bytes(b"\n")
        except BaseException:
            self._file.close()
            raise

    def __repr__(self) -> str:
        return f"JsonlStore({self.location!r})"

    def create_run(self, info: RunInfo) -> None:
        """Record a new run; raises StoreError if its id is already used."""
        with self._lock:
            self._refresh()
            if info.run_id in self._runs:
                raise StoreError(
                    f"run {info.run_id!r} already exists in {self.location}", path=self.location
                )
            self._append({"type": "run", "at": to_utc_text(self._clock()), **run_fields(info)})

    def append_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        """Append samples and set the run's heartbeat (see `SqliteStore.append_samples`)."""
        record = {
            "type": "samples",
            "run_id": run_id,
            "at": to_utc_text(self._clock()),
            "samples": [sample_fields(sample) for sample in samples],
        }
        self._append_for_run(run_id, record)

    def save_window(self, run_id: str, window: Window) -> None:
        """Record a window; a later one with the same name and start replaces it."""
        record: dict[str, Any] = {"type": "window", "run_id": run_id, "name": window.name}
        record |= {"start_t_s": window.start_t_s, "end_t_s": window.end_t_s}
        self._append_for_run(run_id, record)

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
        record: dict[str, Any] = {"type": "finish", "run_id": run_id, "status": status.value}
        record |= {"ended_at": to_utc_text(ended_at), "duration_s": duration_s}
        if settings is not None:
            record["settings"] = dict(settings)
        self._append_for_run(run_id, record)

    def get_run(self, run_id: str) -> RunInfo | None:
        """Return the run with this id or unique id prefix (see `SqliteStore.get_run`)."""
        with self._lock:
            self._refresh()
            found = pick_run_id(run_id, self._runs, self.location)
            if found is None:
                return None
            self._mark_if_abandoned(self._runs[found])
            return self._runs[found].info

    def list_runs(
        self,
        *,
        project: str | None = None,
        since: datetime | None = None,
        status: RunStatus | None = None,
        limit: int | None = None,
    ) -> list[RunInfo]:
        """Runs matching every given filter, newest first (`since`: started at or after)."""
        with self._lock:
            self._refresh()
            for state in list(self._runs.values()):
                self._mark_if_abandoned(state)
            runs = [
                state.info
                for state in self._runs.values()
                if (project is None or state.info.project == project)
                and (since is None or state.info.started_at >= since)
                and (status is None or state.info.status is status)
            ]
        runs.sort(key=lambda info: (info.started_at, info.run_id), reverse=True)
        return runs if limit is None else runs[:limit]

    def samples(self, run_id: str) -> list[Sample]:
        """A run's samples in the order they were appended ([] for an unknown run)."""
        with self._lock:
            self._refresh()
            state = self._runs.get(run_id)
            return [] if state is None else list(state.samples)

    def channel_sums(self, run_id: str) -> list[Sample]:
        """One summed sample per channel (see `Store`)."""
        return sum_by_channel(self.samples(run_id))

    def windows(self, run_id: str) -> list[Window]:
        """A run's windows ordered by start time ([] for an unknown run)."""
        with self._lock:
            self._refresh()
            state = self._runs.get(run_id)
            windows = [] if state is None else list(state.windows.values())
        return sorted(windows, key=lambda window: (window.start_t_s, window.name))

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Add metric points to a run; one per (name, step), the later one wins."""
        record = {"type": "metrics", "run_id": run_id}
        self._append_for_run(run_id, record | {"metrics": [metric_fields(p) for p in points]})

    def metrics(self, run_id: str) -> list[MetricPoint]:
        """A run's metric points ordered by name, then step ([] for an unknown run)."""
        with self._lock:
            self._refresh()
            state = self._runs.get(run_id)
            points = [] if state is None else list(state.metrics.values())
        return sorted(points, key=lambda point: (point.name, point.step))

    def set_budget(self, budget: Budget) -> None:
        """Set a project's budget of one kind, replacing the one it had."""
        with self._lock:
            self._append({"type": "budget", **budget_fields(budget)})

    def clear_budget(self, project: str, kind: BudgetKind) -> bool:
        """Remove a project's budget of one kind; False if it had none."""
        with self._lock:
            self._refresh()
            if (project, kind.value) not in self._budgets:
                return False
            record = {"type": "budget", "project": project, "kind": kind.value}
            self._append(record | {"amount": None, "period": None})
            return True

    def budgets(self, project: str | None = None) -> list[Budget]:
        """The budgets of one project, or of all, ordered by project, then kind."""
        with self._lock:
            self._refresh()
            found = [b for b in self._budgets.values() if project in (None, b.project)]
        return sorted(found, key=lambda budget: (budget.project, budget.kind.value))

    def close(self) -> None:
        """Close the file; later writes raise StoreError. Closing twice is fine."""
        with self._lock:
            self._file.close()

    def _mark_if_abandoned(self, state: _RunState) -> None:
        info = state.info
        if info.status is RunStatus.RUNNING and is_abandoned(
            info.host,
            info.pid,
            info.started_at,
            state.heartbeat_at,
            now=self._clock(),
            stale_after_s=self._stale_after_s,
        ):
            last_t_s = max((sample.t_s for sample in state.samples), default=None)
            self._append(
                {"type": "finish", "run_id": info.run_id, "status": RunStatus.INTERRUPTED.value}
                | {"ended_at": to_utc_text(state.heartbeat_at), "duration_s": last_t_s}
            )

    def _append_for_run(self, run_id: str, record: dict[str, Any]) -> None:
        with self._lock:
            self._refresh()
            if run_id not in self._runs:
                raise StoreError(f"no run {run_id!r} in {self.location}", path=self.location)
            self._append(record)

    def _append(self, record: dict[str, Any]) -> None:
        """Write one record durably, then apply it (and anything appended before it)."""
        self._write_bytes(json.dumps(record).encode() + b"\n")
        self._refresh()

    def _write_bytes(self, data: bytes) -> None:
        try:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
        except (OSError, ValueError) as exc:  # ValueError: the file is closed
            raise StoreError(
                f"cannot write run store {self.location}: {exc}", path=self.location
            ) from exc

    def _check_first_line(self) -> None:
        """Refuse (StoreError) a non-empty file whose first line is not a record."""
        with open(self._path, "rb") as file:
            first = file.readline()
        try:
            if first.strip():
                _parse(first)
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"{self.location} is not a carbonlens JSON-lines run store (line 1: {exc}); "
                "it was left untouched",
                path=self.location,
            ) from exc

    def _refresh(self) -> None:
        """Apply the complete lines appended since the last read (by any process)."""
        try:
            with open(self._path, "rb") as file:
                file.seek(self._offset)
                data = file.read()
        except OSError as exc:
            raise StoreError(
                f"cannot read run store {self.location}: {exc}", path=self.location
            ) from exc
        complete = data[: data.rfind(b"\n") + 1]
        for line in complete.splitlines():
            self._line_no += 1
            if not line.strip():
                continue
            try:
                self._apply(_parse(line))
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("skipping line %d of %s: %s", self._line_no, self.location, exc)
        self._offset += len(complete)

    def _apply(self, record: dict[str, Any]) -> None:
        kind = record["type"]
        if kind == "budget":
            key = (record["project"], record["kind"])
            if record["amount"] is None:
                self._budgets.pop(key, None)
            else:
                self._budgets[key] = budget_from_fields(record)
            return
        if kind == "run":
            info = run_from_fields(record, record["tags"], record["settings"])
            self._runs.setdefault(info.run_id, _RunState(info, from_utc_text(record["at"])))
            return
        state = self._runs.get(record["run_id"])
        if state is None:
            logger.warning("line %d of %s: unknown run, skipped", self._line_no, self.location)
        elif kind == "samples":
            samples = [sample_from_fields(fields) for fields in record["samples"]]
            state.heartbeat_at = from_utc_text(record["at"])
            state.samples.extend(samples)
            if state.info.status is RunStatus.INTERRUPTED:  # it wrote again: alive after all
                state.info = replace(
                    state.info, status=RunStatus.RUNNING, ended_at=None, duration_s=None
                )
        elif kind == "window":
            window = Window(record["name"], record["start_t_s"], record["end_t_s"])
            state.windows[(window.name, window.start_t_s)] = window
        elif kind == "metrics":
            for point in map(metric_from_fields, record["metrics"]):
                state.metrics[(point.name, point.step)] = point
        else:
            ended_at = from_utc_text(record["ended_at"])
            state.info = replace(
                state.info,
                status=RunStatus(record["status"]),
                ended_at=ended_at,
                duration_s=record["duration_s"],
                settings=record.get("settings", state.info.settings),
            )


def _parse(line: bytes) -> dict[str, Any]:
    """One line as a record; ValueError, KeyError or TypeError if it is not one."""
    record = json.loads(line)
    if record["type"] not in _TYPES:
        raise ValueError(f"unknown record type {record['type']!r}")
    return dict(record)
