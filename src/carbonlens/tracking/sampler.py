"""The sampling loop: one thread owns time, reads every sensor, emits samples.

`Sampler.tick()` is a pure step (tests call it with a fake clock, no sleeps); the
background thread only calls it on a schedule. A failing sensor becomes a gap and
one warning per (sensor, error type); the sampler never raises into user code.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from carbonlens.records import Channel, Component, Reading, Sample
from carbonlens.sensors.base import Sensor
from carbonlens.tracking.attribution import Shares
from carbonlens.tracking.clock import Clock
from carbonlens.tracking.integrate import counter_interval_j, trapezoid_j

log = logging.getLogger(__name__)


class ShareSource(Protocol):
    """Where per-interval process shares come from (`Attribution`, or a fake)."""

    def sample(self) -> Shares: ...


SampleSink = Callable[[list[Sample]], None]


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
    ) -> None:
        """Sample `sensors` every `interval_s`; `sink` receives each tick's samples."""
        self._sensors = list(sensors)
        self._clock = clock
        self._sink = sink
        self._shares = shares
        self.interval_s = interval_s
        self._last: dict[Channel, Reading] = {}
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pids: frozenset[int] = frozenset()
        self.t0_s = clock.monotonic()
        self.last_tick_t_s = 0.0
        """Time of the latest tick, in seconds since the sampler was created."""
        self.read_errors: dict[str, int] = {}

    def _warn_once(self, sensor: str, exc: BaseException) -> None:
        self.read_errors[sensor] = self.read_errors.get(sensor, 0) + 1
        key = (sensor, type(exc).__name__)
        if key not in self._warned:
            self._warned.add(key)
            log.warning("carbonlens: sensor %s failed (%s); its readings have a gap", sensor, exc)

    def _read_all(self, t_s: float) -> list[Reading]:
        readings: list[Reading] = []
        for sensor in self._sensors:
            try:
                readings.extend(sensor.read(t_s, self._pids))
            except Exception as exc:  # noqa: BLE001 - a sensor must never break the run
                self._warn_once(sensor.name, exc)
        return readings

    def _process_ratio(self, reading: Reading, shares: Shares | None) -> float | None:
        if reading.share_ratio is not None:
            return reading.share_ratio
        if shares is None:
            return None
        if reading.channel.component in (Component.CPU, Component.SOC):
            return shares.cpu_ratio
        if reading.channel.component == Component.RAM:
            return shares.ram_ratio
        return None

    def _interval(self, last: Reading, now: Reading) -> float | None:
        dt_s = now.t_s - last.t_s
        if now.energy_j is not None and last.energy_j is not None:
            return counter_interval_j(last.energy_j, now.energy_j)
        if now.power_w is not None and last.power_w is not None:
            return trapezoid_j(last.power_w, now.power_w, dt_s)
        return None

    def tick(self) -> list[Sample]:
        """Read every sensor once and emit the samples since the previous tick."""
        with self._lock:
            t_s = self._clock.monotonic()
            self.last_tick_t_s = t_s - self.t0_s
            shares = self._safe_shares()
            if shares is not None:
                self._pids = shares.pids
            samples = []
            for reading in self._read_all(t_s):
                last = self._last.get(reading.channel)
                if last is not None and reading.t_s <= last.t_s:
                    continue  # no time has passed: keep the older reading as the baseline
                self._last[reading.channel] = reading
                if last is None:
                    continue
                energy_j = self._interval(last, reading)
                if energy_j is None or not math.isfinite(energy_j):
                    self._warn_once(reading.channel.sensor, ValueError(f"bad reading {reading}"))
                    continue
                ratio = self._process_ratio(reading, shares)
                samples.append(
                    Sample(
                        channel=reading.channel,
                        t_s=t_s - self.t0_s,
                        duration_s=reading.t_s - last.t_s,
                        energy_j=energy_j,
                        process_energy_j=None if ratio is None else energy_j * ratio,
                    )
                )
            if samples:
                try:
                    self._sink(samples)
                except Exception as exc:  # noqa: BLE001 - persistence must not break the run
                    self._warn_once("store", exc)
            return samples

    def _safe_shares(self) -> Shares | None:
        if self._shares is None:
            return None
        try:
            return self._shares.sample()
        except Exception as exc:  # noqa: BLE001 - attribution is best effort
            self._warn_once("attribution", exc)
            return None

    def elapsed_s(self) -> float:
        """Seconds since the sampler was created, on its clock."""
        return self._clock.monotonic() - self.t0_s

    def _run(self) -> None:
        next_s = self._clock.monotonic() + self.interval_s
        while not self._stop.wait(max(0.0, next_s - self._clock.monotonic())):
            self.tick()
            next_s += self.interval_s
            now_s = self._clock.monotonic()
            if next_s < now_s:
                next_s = now_s + self.interval_s

    def start(self) -> None:
        """Take the baseline reading and start the background thread."""
        self.tick()
        self._thread = threading.Thread(target=self._run, name="carbonlens-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and take the final reading."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.tick()
