"""What the sampler keeps, drops and flags from each channel's readings: pure logic.

Rules, per channel (docs/tracking.md#bad-sensors has the reasons):

- `non_finite` (NaN, inf, no value) and `negative` (power below 0 W, cumulative
  energy below 0 J) readings are physically impossible: dropped.
- `counter_backwards`: sensors already undo hardware wrap-around, so a counter
  below its previous value is a reset or garbage: the interval is dropped. The
  next reading tells which: back at or above the old value, it was a glitch and
  the old baseline closes the gap exactly; between the two, the counter was
  reset and counting resumes from the low value (the energy in between is lost).
- `spike`: a reading at `SPIKE_RATIO` times the channel's recent level or more
  (interval mean power for counters, the reading's power for power-sampled
  channels) is held for one reading. If the next reading stays nearer the new
  level (at or above the geometric mean of the two), it was a real load step:
  kept, unflagged, and the level moves to it. Otherwise it was a one-reading
  excursion, flagged: on a power-sampled channel it is dropped (one odd
  instantaneous value would stand for a whole interval); on a counter it is kept
  while the counter stays at or above it (a counter integrates real energy, so a
  short burst of load is real) and dropped when the counter falls back below it
  (garbage). Either way the next reading is then judged like any other, so a
  garbage value right after a real step is held in turn.
- `gap`: every span with no accepted reading (failed, timed-out or dropped
  reads), from the last accepted reading to the next one. A counter closes it
  exactly; a power channel's trapezoid interpolates across it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Final, NamedTuple

from carbonlens.records import QualityFlag, QualityKind, Reading
from carbonlens.tracking.integrate import counter_interval_j, trapezoid_j

SPIKE_RATIO: Final = 10.0
"""A reading at this multiple of the channel's recent level or more is a suspected spike."""

LEVEL_WEIGHT: Final = 0.2
"""Weight of the newest accepted interval in the channel's recent level (moving average)."""


def interval_j(start: Reading, end: Reading) -> float | None:
    """Energy between two readings of one channel: counter difference, else trapezoid.

    None when the two readings have no common value, or the counter went down.
    """
    if start.energy_j is not None and end.energy_j is not None:
        return counter_interval_j(start.energy_j, end.energy_j)
    if start.power_w is not None and end.power_w is not None:
        return trapezoid_j(start.power_w, end.power_w, end.t_s - start.t_s)
    return None


class Event(NamedTuple):
    """One problem seen on a channel, from `start_t_s` to `end_t_s` (monotonic seconds)."""

    kind: QualityKind
    start_t_s: float
    end_t_s: float


@dataclass(slots=True)
class Verdict:
    """What one reading led to: intervals to keep (start, end readings) and problems."""

    intervals: list[tuple[Reading, Reading]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def _bad_value(reading: Reading) -> QualityKind | None:
    values = [v for v in (reading.energy_j, reading.power_w) if v is not None]
    if not values or not all(math.isfinite(v) for v in values):
        return QualityKind.NON_FINITE
    if any(v < 0 for v in values):
        return QualityKind.NEGATIVE
    return None


def _rate_w(start: Reading, end: Reading) -> float | None:
    """The level a new reading is judged by: interval mean power for a counter, else
    the reading's own power (None when the two readings share no value)."""
    if start.energy_j is not None and end.energy_j is not None:
        return (end.energy_j - start.energy_j) / (end.t_s - start.t_s)
    return end.power_w if start.power_w is not None else None


def _counts_down(start: Reading, end: Reading) -> bool:
    """Whether both readings are counter values and the second is lower."""
    return start.energy_j is not None and end.energy_j is not None and end.energy_j < start.energy_j


class ChannelCheck:
    """The state of one channel: its accepted baseline, a held reading, its recent level."""

    def __init__(self, spike_ratio: float = SPIKE_RATIO) -> None:
        """Judge readings against `spike_ratio` times the recent level."""
        self._spike_ratio = spike_ratio
        self._last: Reading | None = None
        self._held: Reading | None = None
        self._held_kind = QualityKind.SPIKE
        self._held_w = 0.0
        self._level_w: float | None = None
        self._missed = False
        """A reading was missed since the newest one (the held one while one is held)."""
        self._missed_to_held = False
        """A reading was missed between the accepted baseline and the held reading."""

    def miss(self) -> None:
        """Note that the channel's sensor gave no reading this time (error or timeout)."""
        self._missed = True

    def push(self, reading: Reading) -> Verdict:
        """Judge the channel's next reading."""
        verdict = Verdict()
        newest = self._held or self._last
        if newest is not None and reading.t_s <= newest.t_s:
            return verdict  # no time has passed: keep the older reading as the baseline
        kind = _bad_value(reading)
        if kind is not None:
            verdict.events.append(Event(kind, reading.t_s, reading.t_s))
            self._missed = True
        elif self._held is not None and self._last is not None:
            self._resolve(self._held, self._last, reading, verdict)
        else:
            self._step(reading, verdict)
        return verdict

    def finish(self, end_t_s: float) -> Verdict:
        """Close the channel at the run's end (`end_t_s`, monotonic seconds).

        A held spike cannot be confirmed any more: it is kept and flagged. A gap
        still open runs to the end.
        """
        verdict = Verdict()
        held, self._held = self._held, None
        if held is not None and self._last is not None:
            if self._held_kind == QualityKind.SPIKE:
                verdict.events.append(Event(QualityKind.SPIKE, held.t_s, held.t_s))
                self._accept_held(self._last, held, verdict)
            else:
                self._missed = True
        if self._missed and self._last is not None and end_t_s > self._last.t_s:
            verdict.events.append(Event(QualityKind.GAP, self._last.t_s, end_t_s))
        self._missed = False
        return verdict

    def _step(self, reading: Reading, verdict: Verdict) -> None:
        """Judge `reading` against the accepted baseline, with nothing held."""
        last = self._last
        if last is None:
            self._last = reading
            self._level_w = reading.power_w if reading.energy_j is None else None
            return
        if _counts_down(last, reading):
            verdict.events.append(Event(QualityKind.COUNTER_BACKWARDS, reading.t_s, reading.t_s))
            self._hold(reading, QualityKind.COUNTER_BACKWARDS, 0.0)
            return
        rate_w = _rate_w(last, reading)
        if rate_w is None:
            verdict.events.append(Event(QualityKind.NON_FINITE, reading.t_s, reading.t_s))
            self._missed = True
        elif self._level_w and rate_w >= self._spike_ratio * self._level_w:
            self._hold(reading, QualityKind.SPIKE, rate_w)
        else:
            self._accept(last, reading, verdict)

    def _hold(self, reading: Reading, kind: QualityKind, rate_w: float) -> None:
        self._held, self._held_kind, self._held_w = reading, kind, rate_w
        self._missed_to_held, self._missed = self._missed, False

    def _accept_held(self, last: Reading, held: Reading, verdict: Verdict) -> None:
        """Accept the span up to the held reading, a gap if a reading was missed before
        it; one missed after it stays for the next span."""
        after, self._missed = self._missed, self._missed_to_held
        self._accept(last, held, verdict)
        self._missed = after

    def _resolve(self, held: Reading, last: Reading, reading: Reading, verdict: Verdict) -> None:
        """Decide what `held` was, now that the next reading is here."""
        self._held = None
        if self._held_kind == QualityKind.COUNTER_BACKWARDS:
            if _counts_down(last, reading) and not _counts_down(held, reading):
                # a reset: counting resumes from the low value; the energy between is lost
                verdict.events.append(Event(QualityKind.GAP, last.t_s, held.t_s))
                self._last = held
            else:
                self._missed = True
            self._step(reading, verdict)
            return
        level_w = self._level_w or 0.0
        counter_holds = not _counts_down(held, reading)  # always true for power channels
        next_w = _rate_w(held, reading) if counter_holds else None
        if next_w is not None and next_w >= math.sqrt(level_w * self._held_w):
            self._accept_held(last, held, verdict)  # a real step up: the level moves to it
            self._level_w = self._held_w
            self._step(reading, verdict)  # judged in its own right: it may be a spike too
            return
        verdict.events.append(Event(QualityKind.SPIKE, held.t_s, held.t_s))
        if counter_holds and held.energy_j is not None:  # a burst the counter vouches for
            self._accept_held(last, held, verdict)
            self._level_w = level_w
            self._step(reading, verdict)
            return
        self._missed = True
        self._step(reading, verdict)

    def _accept(self, start: Reading, end: Reading, verdict: Verdict) -> None:
        verdict.intervals.append((start, end))
        if self._missed:
            verdict.events.append(Event(QualityKind.GAP, start.t_s, end.t_s))
            self._missed = False
        self._last = end
        rate_w = _rate_w(start, end)
        if rate_w is None:
            return
        level_w = self._level_w
        self._level_w = rate_w if level_w is None else level_w + LEVEL_WEIGHT * (rate_w - level_w)


class QualityLog:
    """Problems of a run, counted per (channel or sensor, kind)."""

    def __init__(self) -> None:
        """Start with no flags."""
        self._flags: dict[tuple[str, QualityKind], QualityFlag] = {}

    def add(self, channel: str, kind: QualityKind, start_t_s: float, end_t_s: float) -> bool:
        """Count one occurrence (times in seconds since the run started); True if it is
        the first of its (channel, kind)."""
        key = (channel, kind)
        flag = self._flags.get(key)
        if flag is None:
            self._flags[key] = QualityFlag(channel, kind, 1, start_t_s, end_t_s)
            return True
        self._flags[key] = replace(
            flag,
            count=flag.count + 1,
            first_t_s=min(flag.first_t_s, start_t_s),
            last_t_s=max(flag.last_t_s, end_t_s),
        )
        return False

    def flags(self) -> tuple[QualityFlag, ...]:
        """Every flag, ordered by channel then kind."""
        return tuple(self._flags[key] for key in sorted(self._flags))
