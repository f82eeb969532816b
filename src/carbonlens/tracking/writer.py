"""RunWriter: keeps a run somewhere whatever happens to the store.

Writes go to the store; the first failure switches to a fallback JSON-lines file
(the message says where) and every later write goes there. What neither takes is
kept in memory, so the run's report is still complete: one warning and note say
so, a last note counts such writes (a run makes at most one fallback file; until
one could be made, each failing write tries the store, then a fallback, again).
Samples are queued and written before the oldest queued one would wait longer
than `FLUSH_S`, so sampling fast does not mean writing fast (about two writes a
second at most) and a killed process loses at most the last `FLUSH_S` of
samples; metric points are queued too and written with the samples, so logging a
metric never waits for the store. With `background=True` (the tracker's) the
writes happen on a writer thread of their own, so a slow store (a busy
PostgreSQL server) never delays the sampler's next tick: what queues up
meanwhile goes out in the next, larger batch. Nothing here raises: failures
become notes and one warning each.
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
"""Longest time a sample waits to be written, in seconds: a killed run loses the
samples of at most its last `FLUSH_S`, plus the interval it was killed in (never
sampled). With an interval over `FLUSH_S / 2` every sample is written at once."""


class RunWriter:
    """Writes one run's record to a store, falling back to a file on failure."""

    def __init__(
        self, store: Store | None, info: RunInfo, clock: Clock, *, background: bool = False
    ) -> None:
        """Create the run in `store` (None: keep nothing, say so in `notes`); with
        `background`, write samples on a thread of its own."""
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
        self._fallback_tried = False
        self._lost_writes = 0
        self._flushed_at_s = -math.inf
        self._appended_at_s = -math.inf
        self.notes: list[str] = []
        self._queue_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._write(lambda s: s.create_run(info), creating=True)
        if background:
            self._thread = threading.Thread(target=self._run, name="carbonlens-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._closing:
            self._wake.wait()
            self._wake.clear()
            self._flush()

    def _write(self, action: Callable[[Store], None], *, creating: bool = False) -> bool:
        """Apply `action` to the store (or the fallback); False when nothing took it.

        `creating`: the action creates the run, so the fallback does it once, and
        the store, which never had the run, is left out of the read-back.
        """
        with self._write_lock:
            return self._write_locked(action, creating)

    def _write_locked(self, action: Callable[[Store], None], creating: bool) -> bool:
        target = self._fallback or self._store
        if target is None:
            return False
        try:
            action(target)
            return True
        except Exception as exc:  # noqa: BLE001 - the store must never break the user's job
            if self._fallback is not None or self._fallback_tried:
                return self._lost(f"{target.location} failed ({exc})")
            reason = exc
        try:
            fallback, message = open_fallback(
                default_fallback_dir(os.environ), f"store {target.location} failed ({reason})"
            )
            self._fallback_tried = True  # a file exists now: one per run, whatever happens
            try:
                fallback.create_run(self._info)
            except Exception:
                with contextlib.suppress(Exception):
                    fallback.close()
                raise
        except Exception as exc:  # noqa: BLE001 - nowhere left to write: say so, go on
            return self._lost(f"run not stored after {reason}: {exc}")
        self._fallback = fallback
        if creating:
            with contextlib.suppress(Exception):
                target.close()
            self._store = None
        log.warning("carbonlens: %s", message)
        self.notes.append(message)
        if creating:
            return True
        try:
            action(fallback)
            return True
        except Exception as exc:  # noqa: BLE001 - as above
            return self._lost(f"fallback store {fallback.location} failed too ({exc})")

    def _lost(self, note: str) -> bool:
        """A write that nothing took: a warning and a note the first time (every flush
        may fail the same way), a count after that; False."""
        self._lost_writes += 1
        if self._lost_writes == 1:
            log.warning("carbonlens: %s; what is not stored is kept for the report", note)
            self.notes.append(note)
        return False

    def append(self, samples: list[Sample], *, final: bool = False) -> None:
        """Queue samples and write the queue, and the queued metric points, unless
        the queue can wait for the next call without exceeding `FLUSH_S` (the next
        call is expected as far ahead as this one came after the previous); `final`
        writes at once, on the caller's thread."""
        now_s = self._clock.monotonic()
        with self._queue_lock:
            self._pending.extend(samples)
            gap_s, self._appended_at_s = now_s - self._appended_at_s, now_s
            if not (final or now_s - self._flushed_at_s + gap_s > FLUSH_S):
                return
            self._flushed_at_s = now_s
        if self._thread is None or final:
            self._flush()
        else:
            self._wake.set()

    def _flush(self) -> None:
        """Write the queued samples and metric points (one batch each)."""
        with self._write_lock:
            with self._queue_lock:
                batch, self._pending = self._pending, []
            with self._metrics_lock:
                points, self._metrics = self._metrics, []
            run_id = self._info.run_id
            if batch and not self._write_locked(lambda s: s.append_samples(run_id, batch), False):
                self._unstored.extend(batch)
            if points and not self._write_locked(lambda s: s.log_metrics(run_id, points), False):
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
        """Stop the writer thread, write what is queued and the run's end, with its
        final settings."""
        if self._thread is not None:
            self._closing = True
            self._wake.set()
            self._thread.join()
            self._thread = None
        self.append([], final=True)
        if self._unstored_metrics:
            self.notes.append(f"{self._unstored_metrics} metric point(s) could not be stored")
        if info.ended_at is not None and info.duration_s is not None:
            ended_at, duration_s = info.ended_at, info.duration_s
            self._write(
                lambda s: s.finish_run(info.run_id, status, ended_at, duration_s, info.settings)
            )
        if self._lost_writes > 1:
            self.notes.append(
                f"{self._lost_writes} writes in all could not be stored; "
                "their samples and windows are in this report only"
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
