"""The live figures of a tracker that the metrics exporters serve (Prometheus, OpenTelemetry).

`LiveTotals` listens to the tracker's samples (`Tracker.add_listener`) and keeps,
per channel, the IT energy and process energy since the run started and the mean
power of the latest sampling interval; `snapshot()` copies them with the run's
pricing. Exporters read snapshots: they never call a sensor and never own the
sampling cadence.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from carbonlens._frozen import frozen
from carbonlens.records import Channel, Sample
from carbonlens.tracking.tracker import Tracker
from carbonlens.units import emissions_g


@frozen
class LiveRun:
    """The tracked run and how it is priced (the annual average chosen at start)."""

    run_id: str
    project: str
    name: str
    host: str
    location: str
    intensity_g_per_kwh: float
    pue_ratio: float

    def operational_g(self, energy_j: float) -> float:
        """Operational emissions (g CO2e) of `energy_j` of IT energy: x PUE x intensity."""
        return emissions_g(energy_j * self.pue_ratio, self.intensity_g_per_kwh)


@frozen
class LiveSnapshot:
    """The figures at one moment, per channel; `run` is None before `tracker.start()`.

    `process_energy_j` holds only the channels where the tracked processes' part
    is known.
    """

    power_w: dict[Channel, float]
    energy_j: dict[Channel, float]
    process_energy_j: dict[Channel, float]
    run: LiveRun | None


class LiveTotals:
    """Running totals of one tracker's samples, safe to read from another thread.

    Created before or after `tracker.start()`; it listens from then on.
    """

    def __init__(self, tracker: Tracker) -> None:
        """Listen to `tracker`'s samples."""
        self._tracker = tracker
        self._lock = threading.Lock()
        self._energy_j: dict[Channel, float] = {}
        self._process_j: dict[Channel, float] = {}
        self._power_w: dict[Channel, float] = {}
        tracker.add_listener(self.observe)

    def observe(self, samples: Sequence[Sample]) -> None:
        """Add one sampling interval's samples (the tracker's listener)."""
        with self._lock:
            for s in samples:
                self._energy_j[s.channel] = self._energy_j.get(s.channel, 0.0) + s.energy_j
                self._power_w[s.channel] = s.power_w
                if s.process_energy_j is not None:
                    total = self._process_j.get(s.channel, 0.0) + s.process_energy_j
                    self._process_j[s.channel] = total

    def _run(self) -> LiveRun | None:
        try:
            info = self._tracker.info
        except RuntimeError:
            return None
        intensity = info.settings["intensity"]
        return LiveRun(
            run_id=info.run_id,
            project=info.project,
            name=info.name,
            host=info.host,
            location=intensity.get("location") or "world",
            intensity_g_per_kwh=intensity["intensity_g_per_kwh"],
            pue_ratio=info.settings["pue"]["pue_ratio"],
        )

    def snapshot(self) -> LiveSnapshot:
        """A copy of the figures as they are now."""
        with self._lock:
            power, energy, process = (
                dict(self._power_w),
                dict(self._energy_j),
                dict(self._process_j),
            )
        return LiveSnapshot(power, energy, process, self._run())
