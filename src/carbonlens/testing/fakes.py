"""Public fakes for tests: a clock you move by hand, scripted sensors and shares."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self

from carbonlens._frozen import frozen
from carbonlens.errors import SensorReadError
from carbonlens.records import Channel, Component, Method, Reading
from carbonlens.sensors.base import Host, Probe
from carbonlens.tracking.attribution import Shares


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self, start_s: float = 1000.0, wall: datetime | None = None) -> None:
        """Start at `start_s` monotonic seconds and wall time `wall` (UTC)."""
        self.t_s = start_s
        self._start_s = start_s
        self._wall = wall or datetime(2026, 1, 1, tzinfo=UTC)

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by `seconds`."""
        self.t_s += seconds

    def step_wall(self, seconds: float) -> None:
        """Step the wall clock alone by `seconds` (negative: back), as NTP or a user
        setting the time would; the monotonic clock does not move."""
        self._wall += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        """Current monotonic time in seconds."""
        return self.t_s

    def now(self) -> datetime:
        """Wall time that follows the monotonic clock."""
        return self._wall + timedelta(seconds=self.t_s - self._start_s)


@frozen
class Hang:
    """A `FakeSensor` script entry: the read blocks until `release` is set, then
    gives `value`. Tests set `release` before they end, so no thread stays parked."""

    release: threading.Event
    value: float


class FakeSensor:
    """A sensor that replays scripted values, one per `read()`.

    Give `energy_j` (cumulative joules per read) or `power_w` (watts per read);
    an entry that is an exception instance is raised instead, and a `Hang` blocks
    the read until it is released. After the script ends the last value repeats.
    """

    name: ClassVar[str] = "fake"
    components: ClassVar[frozenset[Component]] = frozenset(Component)
    method: ClassVar[Method] = Method.MEASURED

    def __init__(
        self,
        channel: Channel,
        *,
        energy_j: Sequence[float | Exception | Hang] | None = None,
        power_w: Sequence[float | Exception | Hang] | None = None,
        share_ratio: float | None = None,
    ) -> None:
        """Script one channel's readings."""
        self._channel = channel
        self._energy = list(energy_j) if energy_j is not None else None
        self._power = list(power_w) if power_w is not None else None
        self._share = share_ratio
        self.reads = 0
        self.pids_seen: list[frozenset[int]] = []
        self.closed = False

    @classmethod
    def probe(cls, host: Host) -> Probe:
        """Always available."""
        return Probe(cls.name, True, "fake")

    @classmethod
    def open(cls, host: Host, **options: Any) -> Self:
        """Open with `channel=` and the scripts as keyword options."""
        return cls(**options)

    def channels(self) -> Sequence[Channel]:
        """The one scripted channel."""
        return [self._channel]

    def _next(self, script: list[float | Exception | Hang] | None) -> float | None:
        if script is None:
            return None
        value = script[min(self.reads, len(script) - 1)]
        if isinstance(value, Exception):
            raise SensorReadError(self.name, self._channel.device, str(value))
        if isinstance(value, Hang):
            value.release.wait()
            return value.value
        return value

    def read(self, t_s: float, pids: frozenset[int] = frozenset()) -> list[Reading]:
        """The next scripted value at time `t_s`."""
        self.pids_seen.append(pids)
        try:
            energy_j = self._next(self._energy)
            power_w = self._next(self._power)
        finally:
            self.reads += 1
        return [Reading(self._channel, t_s, energy_j, power_w, self._share)]

    def assumptions(self) -> dict[str, Any]:
        """Fakes assume nothing."""
        return {}

    def close(self) -> None:
        """Mark as closed."""
        self.closed = True


class FakeShares:
    """Fixed process shares, in place of `Attribution`."""

    def __init__(
        self,
        cpu_ratio: float | None = 0.5,
        ram_ratio: float | None = 0.25,
        pids: Sequence[int] = (),
    ) -> None:
        """Return the same shares at every call."""
        self.shares = Shares(cpu_ratio, ram_ratio, frozenset(pids))

    def sample(self) -> Shares:
        """The fixed shares."""
        return self.shares
