"""ReadingJudge: turns each sensor's read into per-interval samples and quality flags.

The sampler reads; this decides what the reads mean. A reading goes through its
channel's checks (`tracking.quality`): impossible values are dropped or flagged,
a possible spike is held until the next reading decides it, and each accepted
interval becomes a `Sample` (with the process's share from attribution where
one applies). Failed, overdue and skipped reads leave a gap on every channel of
their sensor; a device that failed while the others were read leaves a gap on its
own channel. Every problem is counted in the quality log, with one warning per
sensor and kind; the samples go to the sink in one batch per tick. Not
thread-safe: the sampler calls it under its lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Final

from carbonlens.errors import SensorReadError
from carbonlens.records import Channel, Component, QualityFlag, QualityKind, Reading, Sample
from carbonlens.sensors.base import ReadItem
from carbonlens.tracking.attribution import Shares
from carbonlens.tracking.quality import ChannelCheck, Event, QualityLog, Verdict, interval_j

log = logging.getLogger(__name__)

_FAILED_READS: Final = frozenset(
    {
        QualityKind.READ_TIMEOUT,
        QualityKind.READ_ERROR,
        QualityKind.NON_FINITE,
        QualityKind.NEGATIVE,
        QualityKind.COUNTER_BACKWARDS,
    }
)
"""Problems counted in `read_errors` (a reading lost, left as a gap)."""

Outcome = Sequence[ReadItem] | Exception | QualityKind | None
"""A read's items (a reading, or the error of one device, per channel), its error,
READ_TIMEOUT (it overran), GAP (sensor skipped while hung), or None (the loop thread
was retired during the read)."""

SampleSink = Callable[[list[Sample]], None]

_SHARES_KEPT: Final = 3
"""Ticks whose process shares are kept: a reading is held one tick at most."""


class ReadingJudge:
    """Judges the reads of `sensors` (their names, in the sampler's order)."""

    def __init__(
        self, sensors: Sequence[str], t0_s: float, sink: SampleSink, timeout_s: float
    ) -> None:
        """Samples are timed from `t0_s` (monotonic) and handed to `sink`; a read is
        overdue after `timeout_s` seconds."""
        self._sensors = list(sensors)
        self._t0_s = t0_s
        self._sink = sink
        self._timeout_s = timeout_s
        self._seen: list[set[Channel]] = [set() for _ in self._sensors]
        self._checks: dict[Channel, ChannelCheck] = {}
        self._quality = QualityLog()
        self._pending: list[Sample] = []
        self._warned: set[tuple[str, str]] = set()
        self._shares_at: dict[float, Shares | None] = {}
        """The process shares of the latest ticks, by tick time."""
        self.read_errors: dict[str, int] = {}
        """Readings lost per sensor (failed, timed out or impossible), and failures of
        `store` and `attribution`."""

    def flags(self) -> tuple[QualityFlag, ...]:
        """Every problem so far, counted per (channel or sensor, kind)."""
        return self._quality.flags()

    def warn_once(self, sensor: str, exc: BaseException) -> None:
        """Count a failure of `sensor` (or `store`, `attribution`); warn once per type."""
        self.read_errors[sensor] = self.read_errors.get(sensor, 0) + 1
        key = (sensor, type(exc).__name__)
        if key not in self._warned:
            self._warned.add(key)
            log.warning("carbonlens: sensor %s failed (%s); its readings have a gap", sensor, exc)

    def _flag(self, sensor: str, where: str, event: Event, detail: str, key: str = "") -> None:
        """Count `event` (monotonic times) under `where`; warn once per (sensor, `key`),
        the key being the kind unless given: `carbonlens: sensor NAME <detail>`."""
        start_s, end_s = event.start_t_s - self._t0_s, event.end_t_s - self._t0_s
        self._quality.add(where, event.kind, start_s, end_s)
        if event.kind in _FAILED_READS:
            self.read_errors[sensor] = self.read_errors.get(sensor, 0) + 1
        warned = (sensor, key or event.kind.value)
        if event.kind == QualityKind.GAP or warned in self._warned:
            return
        self._warned.add(warned)
        log.warning("carbonlens: sensor %s %s", sensor, detail)

    def timed_out(self, index: int, t_s: float) -> None:
        """Sensor `index` gave no reading in time for the tick at `t_s`."""
        name = self._sensors[index]
        detail = (
            f"gave no reading within {self._timeout_s:g} s; it is skipped until "
            "its read returns, and its readings have a gap"
        )
        self._flag(name, name, Event(QualityKind.READ_TIMEOUT, t_s, t_s), detail)
        self._missing(index)

    def _missing(self, index: int) -> None:
        """Sensor `index` gave nothing this tick: each of its channels has a gap."""
        for channel in self._seen[index]:
            self._checks[channel].miss()

    @staticmethod
    def _process_ratio(reading: Reading, shares: Shares | None) -> float | None:
        if reading.share_ratio is not None:
            return reading.share_ratio
        if shares is None:
            return None
        if reading.channel.component in (Component.CPU, Component.SOC):
            return shares.cpu_ratio
        if reading.channel.component == Component.RAM:
            return shares.ram_ratio
        return None

    def _sample(self, start: Reading, end: Reading, shares: Shares | None) -> Sample | None:
        """The interval from `start` to `end`, with the process share of the tick that
        read `end` (`shares` if that tick's are no longer kept): a reading held one
        tick as a possible spike keeps the share of its own interval."""
        energy_j = interval_j(start, end)
        if energy_j is None:
            return None
        ratio = self._process_ratio(end, self._shares_at.get(end.t_s, shares))
        return Sample(
            channel=end.channel,
            t_s=end.t_s - self._t0_s,
            duration_s=end.t_s - start.t_s,
            energy_j=energy_j,
            process_energy_j=None if ratio is None else energy_j * ratio,
        )

    def _judge(self, channel: Channel, verdict: Verdict, shares: Shares | None) -> None:
        """Flag a verdict's problems and queue its intervals as samples."""
        for event in verdict.events:
            detail = (
                f"gave {event.kind.value.replace('_', ' ')} reading(s) on {channel.key}; "
                "see the run's quality flags"
            )
            self._flag(channel.sensor, channel.key, event, detail)
        for start, end in verdict.intervals:
            sample = self._sample(start, end, shares)
            if sample is not None:
                self._pending.append(sample)

    def take(self, index: int, t_s: float, outcome: Outcome, shares: Shares | None) -> None:
        """Judge sensor `index`'s read for the tick at `t_s`, whose process shares
        since the previous tick are `shares`."""
        if t_s not in self._shares_at:
            self._shares_at[t_s] = shares
            if len(self._shares_at) > _SHARES_KEPT:
                del self._shares_at[next(iter(self._shares_at))]
        if outcome is QualityKind.GAP:
            self._missing(index)
        elif outcome is QualityKind.READ_TIMEOUT:
            self.timed_out(index, t_s)
        elif isinstance(outcome, Exception):
            name = self._sensors[index]
            detail = f"failed ({outcome}); its readings have a gap"
            self._flag(
                name, name, Event(QualityKind.READ_ERROR, t_s, t_s), detail, type(outcome).__name__
            )
            self._missing(index)
        elif outcome is not None and not isinstance(outcome, QualityKind):
            for item in outcome:
                if isinstance(item, SensorReadError):
                    self._device_failed(index, t_s, item)
                    continue
                channel = item.channel
                check = self._checks.get(channel)
                if check is None:
                    check = self._checks[channel] = ChannelCheck()
                    self._seen[index].add(channel)
                self._judge(channel, check.push(item), shares)

    def _device_failed(self, index: int, t_s: float, error: SensorReadError) -> None:
        """One device of sensor `index` failed while the others were read: a gap on its
        channel, counted under the channel and warned once per device and error type."""
        name = self._sensors[index]
        where = f"{name}/{error.device}"
        for channel in self._seen[index]:
            if channel.device == error.device:
                self._checks[channel].miss()
                where = channel.key
        detail = f"failed on {error.device} ({error.detail}); that channel has a gap"
        key = f"{type(error).__name__}:{error.device}"
        self._flag(name, where, Event(QualityKind.READ_ERROR, t_s, t_s), detail, key)

    def emit(self) -> list[Sample]:
        """Hand the samples judged since the last call to the sink; return them."""
        samples, self._pending = self._pending, []
        if samples:
            try:
                self._sink(samples)
            except Exception as exc:  # noqa: BLE001 - persistence must not break the run
                self.warn_once("store", exc)
        return samples

    def finish(self, end_t_s: float, shares: Shares | None) -> list[Sample]:
        """Close every channel's checks at `end_t_s` (held readings are decided) and
        emit what that gives."""
        for channel, check in self._checks.items():
            self._judge(channel, check.finish(end_t_s), shares)
        return self.emit()
