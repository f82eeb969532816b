"""The sampling loop: one thread owns time, reads every sensor, emits samples.

The loop thread reads the sensors itself, so a steady-state tick costs one
wake-up whatever the number of sensors. Ticks asked for from other threads
(`start()`, window edges, `stop()`) are handed to the loop and waited for at most
`read_timeout_s`, so a sensor that hangs never blocks the program. A read that
overruns that deadline is a gap for its sensor and one warning: when it is still
stuck, the loop thread is left inside it and a new one carries on without that
sensor until its read returns (a watchdog waking once per deadline finds such
reads when nobody is waiting). What the reads mean (samples, dropped or flagged
readings, gaps; every problem counted in `quality_flags`) is decided by
`tracking.judge`, under the sampler's lock.

Without `start()`, `tick()` reads on the calling thread: tests call it with a fake
clock, no sleeps. The sampler never raises into user code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Final, NamedTuple, Protocol

from carbonlens.records import QualityFlag, QualityKind, Sample
from carbonlens.sensors.base import Sensor
from carbonlens.tracking.attribution import Shares
from carbonlens.tracking.clock import Clock
from carbonlens.tracking.judge import Outcome, ReadingJudge, SampleSink

READ_TIMEOUT_S: Final = 2.0
"""Default deadline of a sensor read, in seconds (setting `sensor_timeout_s`)."""


class ShareSource(Protocol):
    """Where per-interval process shares come from (`Attribution`, or a fake)."""

    def sample(self) -> Shares: ...


class _Read(NamedTuple):
    """The read in progress: loop generation, sensor index, tick time, real start."""

    gen: int
    sensor: int
    t_s: float
    started_s: float


class Sampler:
    """Turns cumulative readings into per-interval samples."""

    def __init__(
        self,
        sensors: Sequence[Sensor],
        clock: Clock,
        sink: SampleSink,
        *,
        shares: ShareSource | None = None,
        interval_s: float = 1.0,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        """Sample `sensors` every `interval_s`; `sink` receives each tick's samples.

        A read longer than `read_timeout_s` seconds (real time) is a gap, and a
        tick asked for from another thread waits about that long at most (twice
        that when a read hangs just as the tick is asked for).
        """
        self._sensors = list(sensors)
        self._clock = clock
        self._shares = shares
        self.interval_s = interval_s
        self.read_timeout_s = read_timeout_s
        self.t0_s = clock.monotonic()
        self._judge = ReadingJudge([s.name for s in self._sensors], self.t0_s, sink, read_timeout_s)
        self._lock = threading.Lock()
        """Guards the judge (channel checks, flags, pending samples) and the tick state."""
        self._closed = False
        """Set under `_lock` once `stop()` has closed the judge: a tick still running
        (a read that overran the final wait) then judges and emits nothing."""
        self._stop_lock = threading.Lock()
        """Serialises `stop()`: the first call stops, later ones find it done."""
        self._stopped = False
        self._loop = threading.Condition()
        """Guards the loop's state below: generation, requests, the read in progress."""
        self._gen = 0
        self._asked = 0
        self._served = 0
        self._served_samples: list[Sample] = []
        self._stopping = False
        self._reading: _Read | None = None
        self._hung: set[int] = set()
        self._thread: threading.Thread | None = None
        self._watch_stop = threading.Event()
        self._pids: frozenset[int] = frozenset()
        self._last_shares: Shares | None = None
        self.last_tick_t_s = 0.0
        """Time of the latest tick, in seconds since the sampler was created."""
        self.read_errors = self._judge.read_errors
        """Readings lost per sensor (failed, timed out or impossible), and failures of
        `store` and `attribution`."""

    @property
    def quality_flags(self) -> tuple[QualityFlag, ...]:
        """Every problem so far, counted per (channel or sensor, kind)."""
        with self._lock:
            return self._judge.flags()

    @property
    def hung_sensors(self) -> frozenset[str]:
        """Names of the sensors inside a read that overran the deadline, skipped until
        it returns."""
        with self._loop:
            return frozenset(self._sensors[index].name for index in self._hung)

    def _read(self, gen: int, index: int, t_s: float) -> Outcome:
        """Read sensor `index` on this thread, timing the read."""
        with self._loop:
            if gen != self._gen:
                return None
            if index in self._hung:
                return QualityKind.GAP
            started_s = time.monotonic()
            self._reading = _Read(gen, index, t_s, started_s)
        outcome: Outcome
        try:
            outcome = self._sensors[index].read(t_s, self._pids)
        except Exception as exc:  # noqa: BLE001 - a sensor must never break the run
            outcome = exc
        with self._loop:
            if gen != self._gen:  # declared hung meanwhile: its sensor is free again
                self._hung.discard(index)
                return None
            self._reading = None
        if time.monotonic() - started_s > self.read_timeout_s:
            return QualityKind.READ_TIMEOUT
        return outcome

    def _step(self, gen: int) -> list[Sample] | None:
        """One tick: read every sensor, judge the readings, emit the samples; None
        when this loop thread was retired during a read."""
        t_s = self._clock.monotonic()
        shares = self._safe_shares()
        with self._lock:
            self.last_tick_t_s = t_s - self.t0_s
            if shares is not None:
                self._pids = shares.pids
            self._last_shares = shares
        for index in range(len(self._sensors)):
            outcome = self._read(gen, index, t_s)
            if outcome is None:
                return None
            with self._lock:
                if self._closed:
                    return None
                self._judge.take(index, t_s, outcome, shares)
        with self._lock:
            return None if self._closed else self._judge.emit()

    def tick(self) -> list[Sample]:
        """Read every sensor once and emit the samples since the previous tick.

        Before `start()` (tests) this reads on the calling thread; after, the loop
        thread does and this waits about `read_timeout_s` at most (see `__init__`),
        returning [] if the tick was not done by then. A reading judged a possible
        spike is held until the next tick decides it (`tracking.quality`), so its
        interval is emitted one tick late. After `stop()` this reads nothing: [].
        """
        if self._stopped:
            return []
        if self._thread is None:
            return self._step(self._gen) or []
        return self._ask(last=False)[1]

    def _ask(self, *, last: bool) -> tuple[bool, list[Sample]]:
        """Have the loop thread tick now; (done, its samples). `last`: then end the loop."""
        with self._loop:
            self._asked += 1
            ticket = self._asked
            self._stopping |= last
            self._loop.notify_all()
            if self._loop.wait_for(lambda: self._served >= ticket, self.read_timeout_s):
                return True, self._served_samples
            read = self._reading
            if read is not None and read.gen == self._gen:  # give a read begun since its due
                overdue_s = read.started_s + self.read_timeout_s - time.monotonic()
                if self._loop.wait_for(lambda: self._served >= ticket, max(0.0, overdue_s)):
                    return True, self._served_samples
        if self._declare_hung(restart=not last) and last:
            return False, []
        with self._loop:  # a new loop thread (ours or the watchdog's) serves the tick
            if self._loop.wait_for(lambda: self._served >= ticket, self.read_timeout_s):
                return True, self._served_samples
        return False, []

    def _declare_hung(self, *, restart: bool) -> bool:
        """If the loop thread is inside a read older than the deadline, leave it there:
        flag the read, skip its sensor until it returns, and (`restart`) start a new
        loop thread. True if it was."""
        with self._loop:
            read = self._reading
            if read is None or read.gen != self._gen:
                return False
            if time.monotonic() - read.started_s < self.read_timeout_s:
                return False
            self._gen += 1
            self._hung.add(read.sensor)
            self._reading = None
            gen = self._gen
        with self._lock:
            if not self._closed:
                self._judge.timed_out(read.sensor, read.t_s)
                self._judge.emit()  # what the abandoned tick had judged before the stuck read
        if restart:
            self._start_loop(gen)
        return True

    def _safe_shares(self) -> Shares | None:
        if self._shares is None:
            return None
        try:
            return self._shares.sample()
        except Exception as exc:  # noqa: BLE001 - attribution is best effort
            with self._lock:
                self._judge.warn_once("attribution", exc)
            return None

    def elapsed_s(self) -> float:
        """Seconds since the sampler was created, on its clock."""
        return self._clock.monotonic() - self.t0_s

    def _run(self, gen: int) -> None:
        next_s = self._clock.monotonic() + self.interval_s
        while True:
            with self._loop:
                while True:
                    asked = self._asked
                    if gen != self._gen or (self._stopping and asked == self._served):
                        return
                    wait_s = next_s - self._clock.monotonic()
                    if asked > self._served or wait_s <= 0:
                        break
                    self._loop.wait(wait_s)
            samples = self._step(gen)
            if samples is None:
                return
            if asked > self._served:
                with self._loop:
                    self._served = max(self._served, asked)
                    self._served_samples = samples
                    self._loop.notify_all()
                continue
            next_s += self.interval_s
            now_s = self._clock.monotonic()
            if next_s < now_s:
                next_s = now_s + self.interval_s

    def _start_loop(self, gen: int) -> None:
        thread = threading.Thread(
            target=self._run, args=(gen,), name="carbonlens-sampler", daemon=True
        )
        self._thread = thread
        thread.start()

    def _watch(self) -> None:
        """Find a stuck read when no tick is waiting for it (one wake-up per deadline)."""
        while not self._watch_stop.wait(self.read_timeout_s):
            self._declare_hung(restart=True)

    def start(self) -> None:
        """Start the loop and watchdog threads and take the baseline reading."""
        self._start_loop(self._gen)
        threading.Thread(target=self._watch, name="carbonlens-watchdog", daemon=True).start()
        self._ask(last=False)

    def stop(self) -> None:
        """Take the final reading, end the threads and close every channel's checks.

        Waits about `read_timeout_s` at most for the final tick (see `__init__`); a
        sensor stuck in a read is not waited for.
        """
        with self._stop_lock:  # a second call waits for the first, then returns
            if self._stopped:
                return
            self._stopped = True  # ticks asked for from now on read nothing
            if self._thread is None:
                self._step(self._gen)
            else:
                done, _ = self._ask(last=True)
                self._watch_stop.set()
                if done:  # the thread that served it: a new one if a read was left stuck
                    self._thread.join(self.read_timeout_s)
                with self._loop:
                    self._gen += 1  # a loop thread still inside a read discards it
                    self._stopping = True
                    self._loop.notify_all()
                self._thread = None
            with self._lock:
                self._closed = True
                self._judge.finish(self.last_tick_t_s + self.t0_s, self._last_shares)
