"""Frozen records shared by every layer: readings, samples, runs and reports.

Every float carries its unit in its name (`_j`, `_w`, `_s`, `_g`, `_ratio`,
`_g_per_kwh`); a contract test enforces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from enum import StrEnum
from typing import Any

from carbonlens._frozen import frozen


class Component(StrEnum):
    """What part of the machine a figure belongs to."""

    CPU = "cpu"
    GPU = "gpu"
    RAM = "ram"
    SOC = "soc"
    OTHER = "other"


class Method(StrEnum):
    """How a figure was obtained (DESIGN.md): one vocabulary for every report."""

    MEASURED = "measured"
    """A hardware energy counter (NVML total energy, RAPL energy_uj)."""
    SAMPLED = "sampled"
    """Power readings integrated over time (trapezoid on the monotonic clock)."""
    MODELLED = "modelled"
    """A power model from specs and utilisation (TDP curve, W per GB)."""
    CONSTANT = "constant"
    """A wattage the user gave."""
    ESTIMATED = "estimated"
    """No run at all: the estimator's figure."""


@frozen
class Channel:
    """One energy stream of one sensor: e.g. rapl / cpu / package-0 / measured."""

    sensor: str
    component: Component
    device: str
    method: Method

    @property
    def key(self) -> str:
        """A stable text key, `sensor/component/device`."""
        return f"{self.sensor}/{self.component.value}/{self.device}"


@frozen
class Reading:
    """What a sensor returns for one channel at sampler time `t_s` (monotonic seconds).

    `energy_j` is cumulative since the sensor was opened (counter wrap already
    handled) or None for power-only devices; `power_w` is the instantaneous or
    averaged power when the device reports it. `share_ratio` is the tracked
    process tree's share (0-1) of this channel since the previous read, when the
    sensor itself can tell (NVML per-process utilisation), else None.
    """

    channel: Channel
    t_s: float
    energy_j: float | None
    power_w: float | None
    share_ratio: float | None = None


@frozen
class Sample:
    """Energy of one channel over one sampling interval, as stored.

    `t_s` is the end of the interval in seconds since the run started (monotonic);
    `process_energy_j` is the part attributed to the tracked process tree.
    """

    channel: Channel
    t_s: float
    duration_s: float
    energy_j: float
    process_energy_j: float | None = None

    @property
    def power_w(self) -> float:
        """Mean power over the interval."""
        return self.energy_j / self.duration_s if self.duration_s > 0 else 0.0


@frozen
class Window:
    """A named part of a run, from `start_t_s` to `end_t_s` (seconds since run start)."""

    name: str
    start_t_s: float
    end_t_s: float | None = None


class RunStatus(StrEnum):
    """Life cycle of a stored run."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@frozen
class IntensityValue:
    """The grid carbon intensity used for a run, with where it came from and why."""

    intensity_g_per_kwh: float
    location: str
    source: str
    year: int | None = None
    basis: str = ""
    reason: str = ""
    license: str = ""


@frozen
class IntensityPoint:
    """Grid intensity over one period: from `start` (UTC) for `duration_s` seconds."""

    start: datetime
    duration_s: float
    intensity_g_per_kwh: float


@frozen
class IntensitySeries:
    """A time series of grid intensity for one location, from one source.

    `signal` is "average" (what the grid mix emits per kWh) or "marginal" (what
    one more kWh emits, e.g. WattTime); the two are never mixed. `points` are in
    time order; `forecast` marks predicted rather than observed values.
    """

    location: str
    source: str
    points: tuple[IntensityPoint, ...]
    signal: str = "average"
    basis: str = ""
    forecast: bool = False


@frozen
class PueValue:
    """Power usage effectiveness applied to IT energy, with its source."""

    pue_ratio: float
    source: str


@frozen
class EmbodiedShare:
    """Manufacturing emissions of one device and the share amortised over a run.

    The run's embodied emissions are
    `embodied_total_g * duration_s / lifetime_s * share_ratio`.
    """

    device: str
    component: Component
    embodied_total_g: float
    lifetime_s: float
    share_ratio: float
    source: str


@frozen
class RunInfo:
    """What is known about a run when it starts, plus its current status.

    `settings` holds everything used to price the run (location, intensity, PUE,
    embodied assumptions, sensor assumptions) as JSON-compatible values.
    """

    run_id: str
    project: str
    name: str
    started_at: datetime
    host: str
    pid: int
    tags: tuple[str, ...] = ()
    status: RunStatus = RunStatus.RUNNING
    ended_at: datetime | None = None
    duration_s: float | None = None
    kind: str = "run"
    settings: Mapping[str, Any] = field(default_factory=dict)


class QualityKind(StrEnum):
    """What went wrong with a sensor's readings (docs/tracking.md#bad-sensors)."""

    READ_TIMEOUT = "read_timeout"
    """A read gave no answer within `sensor_timeout_s`; the sensor is skipped until it does."""
    READ_ERROR = "read_error"
    """A read raised an error."""
    NON_FINITE = "non_finite"
    """A reading was NaN, infinite or empty; dropped."""
    NEGATIVE = "negative"
    """A negative power or cumulative energy; dropped."""
    COUNTER_BACKWARDS = "counter_backwards"
    """An energy counter went down (not a wrap); the interval is dropped."""
    SPIKE = "spike"
    """A one-reading jump to 10x the channel's recent level or more."""
    GAP = "gap"
    """A span with no accepted reading, closed by the counter or interpolated."""


@frozen
class QualityFlag:
    """One kind of problem on one channel (or a whole sensor) during a run.

    `channel` is a channel key (`sensor/component/device`) or, when the whole
    sensor failed, the sensor's name. `first_t_s` and `last_t_s` bound the
    occurrences in seconds since the run started (monotonic clock).
    """

    channel: str
    kind: QualityKind
    count: int
    first_t_s: float
    last_t_s: float


@frozen
class ComponentTotal:
    """Energy of one channel over a run, with its method and uncertainty range."""

    channel: Channel
    energy_j: float
    energy_low_j: float
    energy_high_j: float
    process_energy_j: float | None = None


@frozen
class WindowTotal:
    """Energy and emissions of one named window."""

    name: str
    start_t_s: float
    end_t_s: float
    it_energy_j: float
    facility_energy_j: float
    operational_g: float
    process_energy_j: float | None = None

    @property
    def duration_s(self) -> float:
        """Length of the window."""
        return self.end_t_s - self.start_t_s
