"""RunWriter: keeps a run somewhere whatever happens to the store.

Writes go to the store; the first failure switches to a fallback JSON-lines file
(the message says where) and every later write goes there. What neither takes is
kept in memory, so the run's report is still complete. Samples are queued and
written at most every `FLUSH_S`, so sampling fast does not mean writing fast;
metric points are queued too and written with the samples, on the sampler's
thread, so logging a metric never waits for the store. Nothing here raises:
failures become notes and one warning each.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
from collections.abc import Callable, Sequence

from carbonlens.records import RunInfo, RunStatus, Sample, Window
from carbonlens.store import default_fallback_dir, open_fallback
from carbonlens.store.base import MetricPoint, Store
from carbonlens.tracking.clock import Clock

log = logging.getLogger(__name__)

FLUSH_S = 1.0
"""Shortest time between two writes of samples, in seconds: a killed run loses at
most the last `max(interval_s, FLUSH_S)` of samples."""


class RunWriter:
    """Writes one run's record to a store, falling back to a file on failure."""

    def __init__(self, store: Store | None, info: RunInfo, clock: Clock) -> None:
        """Create the run in `store` (None: keep nothing, say so in `notes`)."""
        self._store = store
        self._fallback: Store | None = None
        self._info = info
        self._clock = clock
        self._pending: list[Sample] = []
        self._unstored: list[Sample] = []
        self._unstored_windows: list[Window] = []
        self._metrics: list[MetricPoint] = []
        self._metrics_lock = threading.Lock()
        self._unstored_metrics = 0
        self._flushed_at_s = -math.inf
        self.notes: list[str] = []
        self._write(lambda s: s.create_run(info))

    def _write(self, action: Callable[[Store], None]) -> bool:
        """Apply `action` to the store (or the fallback); False when nothing took it."""
        target = self._fallback or self._store
        if target is None:
            return False
        try:
            action(target)
            return True
        except Exception as exc:  # noqa: BLE001 - the store must never break the user's job
            if self._fallback is not None:
                log.warning("carbonlens: fallback store failed too: %s", exc)
                return False
            reason = exc
        try:
            fallback, message = open_fallback(
                default_fallback_dir(os.environ), f"store {target.location} failed ({reason})"
            )
            fallback.create_run(self._info)
            action(fallback)
        except Exception as exc:  # noqa: BLE001 - nowhere left to write: say so, go on
            log.warning("carbonlens: run not stored: %s", exc)
            self.notes.append(f"run not stored after {reason}: {exc}")
            return False
        self._fallback = fallback
        log.warning("carbonlens: %s", message)
        self.notes.append(message)
        return True

    def append(self, samples: list[Sample], *, final: bool = False) -> None:
        """Queue samples and write the queue, and the queued metric points, when
        `FLUSH_S` has passed (or `final`)."""
        self._pending.extend(samples)
        now_s = self._clock.monotonic()
        if not (final or now_s - self._flushed_at_s >= FLUSH_S):
            return
        with self._metrics_lock:
            points, self._metrics = self._metrics, []
        if self._pending or points:
            self._flushed_at_s = now_s
        if self._pending:
            batch, self._pending = self._pending, []
            if not self._write(lambda s: s.append_samples(self._info.run_id, batch)):
                self._unstored.extend(batch)
        if points and not self._write(lambda s: s.log_metrics(self._info.run_id, points)):
            self._unstored_metrics += len(points)

    def add_metrics(self, points: Sequence[MetricPoint]) -> None:
        """Queue metric points (any thread); they are written with the next samples."""
        with self._metrics_lock:
            self._metrics.extend(points)

    def save_window(self, window: Window) -> None:
        """Record a closed window."""
        if not self._write(lambda s: s.save_window(self._info.run_id, window)):
            self._unstored_windows.append(window)

    def finish(self, status: RunStatus, info: RunInfo) -> None:
        """Write what is queued and the run's end, with its final settings."""
        self.append([], final=True)
        if self._unstored_metrics:
            self.notes.append(f"{self._unstored_metrics} metric point(s) could not be stored")
        if info.ended_at is not None and info.duration_s is not None:
            ended_at, duration_s = info.ended_at, info.duration_s
            self._write(
                lambda s: s.finish_run(info.run_id, status, ended_at, duration_s, info.settings)
            )

    def read_back(self) -> tuple[list[Sample], list[Window], str]:
        """Everything written, from the store and the fallback, and what could not be
        written (kept in memory for the report); then close both."""
        samples: list[Sample] = list(self._unstored)
        windows: list[Window] = list(self._unstored_windows)
        locations = []
        for store in (self._store, self._fallback):
            if store is None:
                continue
            try:
                samples.extend(store.samples(self._info.run_id))
                windows.extend(store.windows(self._info.run_id))
                locations.append(store.location)
            except Exception as exc:  # noqa: BLE001 - report what could be read
                self.notes.append(f"could not read back from {store.location}: {exc}")
            with contextlib.suppress(Exception):
                store.close()
        samples.sort(key=lambda s: s.t_s)
        return samples, windows, " + ".join(locations)
