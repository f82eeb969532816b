"""The values the planner works on: the intensity grid, the job, and the plan.

Times are timezone-aware UTC datetimes; intensities gCO2e/kWh; energies joules;
durations seconds. A plan's figures are per kWh of the job's own energy
("gCO2e per kWh-of-job"), so they hold whatever the job's power; when the job's
energy is known they are also given in grams.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import field
from datetime import UTC, datetime, timedelta
from typing import Any

from carbonlens._frozen import frozen
from carbonlens.errors import CarbonLensError
from carbonlens.records import Sample
from carbonlens.units import J_PER_KWH

__all__ = [
    "Chunk",
    "Grid",
    "Job",
    "PlanResult",
    "ScheduleError",
    "iso_z",
    "profile_from_samples",
]

_EPS = 1e-9


class ScheduleError(CarbonLensError):
    """A plan cannot be made: window too short, series missing or not covering it.

    Attributes:
        missing: the parts of the planning window that the series lacks, as
            (start, end) UTC pairs; empty when the problem is something else.
    """

    def __init__(self, message: str, *, missing: Sequence[tuple[datetime, datetime]] = ()) -> None:
        """Build the error with its message and the missing parts, if any."""
        super().__init__(message)
        self.missing = tuple(missing)


ScheduleError.__module__ = "carbonlens"


def iso_z(moment: datetime) -> str:
    """`moment` as ISO 8601 UTC with a `Z` and whole seconds ("2023-06-01T12:00:00Z")."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@frozen
class Grid:
    """Grid intensity on equal slots: slot i covers [start + i·slot_s, start + (i+1)·slot_s).

    Attributes:
        location: where the intensity applies ("GB", "aws:us-east-1").
        start: start of slot 0 (UTC).
        slot_s: length of every slot, in seconds.
        values_g_per_kwh: the intensity of each slot, gCO2e/kWh.
        source: where the values come from (a file, a provider).
        basis: what the values mean (lifecycle, operational...), when known.
    """

    location: str
    start: datetime
    slot_s: float
    values_g_per_kwh: tuple[float, ...]
    source: str = ""
    basis: str = ""

    def __post_init__(self) -> None:
        """Refuse an empty grid, a non-positive slot or a naive start."""
        if not self.values_g_per_kwh:
            raise ScheduleError(f"the intensity grid of {self.location!r} has no slots")
        if not self.slot_s > 0:
            raise ScheduleError(f"slot length must be positive, got {self.slot_s} s")
        if self.start.tzinfo is None:
            raise ScheduleError("grid start must be timezone-aware (UTC)")

    @property
    def end(self) -> datetime:
        """End of the last slot (UTC)."""
        return self.moment(len(self.values_g_per_kwh))

    def offset(self, moment: datetime) -> float:
        """Where `moment` lies on the grid, in slots from `start` (snapped to whole slots)."""
        x = (moment - self.start).total_seconds() / self.slot_s
        return float(round(x)) if abs(x - round(x)) < _EPS else x

    def moment(self, offset: float) -> datetime:
        """The UTC time `offset` slots after `start`."""
        return self.start + timedelta(seconds=offset * self.slot_s)


@frozen
class Job:
    """A job to place in time: its duration and how its energy spreads over it.

    Attributes:
        duration_s: how long the job runs, in seconds.
        energy_j: its total energy in joules, when known (else figures are per
            kWh of job only).
        profile_ratios: share of the job's energy in each `profile_slot_s` slot
            from its start (sums to 1); empty for a flat-power job.
        profile_slot_s: length of a profile slot, in seconds.
    """

    duration_s: float
    energy_j: float | None = None
    profile_ratios: tuple[float, ...] = ()
    profile_slot_s: float = 0.0

    def __post_init__(self) -> None:
        """Check the duration, energy and profile."""
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ScheduleError(f"job duration must be positive, got {self.duration_s} s")
        if self.energy_j is not None and not self.energy_j >= 0:
            raise ScheduleError(f"job energy must not be negative, got {self.energy_j} J")
        if self.profile_ratios:
            slots = len(self.profile_ratios)
            if not self.profile_slot_s > 0 or slots * self.profile_slot_s < self.duration_s - 1:
                raise ScheduleError("the energy profile does not cover the job's duration")
            if min(self.profile_ratios) < 0 or abs(sum(self.profile_ratios) - 1) > 1e-6:
                raise ScheduleError("profile ratios must be non-negative and sum to 1")

    @classmethod
    def flat(cls, duration_s: float, *, power_w: float | None = None) -> Job:
        """A job drawing constant power (`power_w` watts, if known) for `duration_s` seconds."""
        return cls(duration_s, None if power_w is None else power_w * duration_s)

    @classmethod
    def from_energies(
        cls, energies_j: Sequence[float], slot_s: float, *, duration_s: float | None = None
    ) -> Job:
        """A job that uses `energies_j[i]` joules in its i-th slot of `slot_s` seconds.

        Raises:
            ScheduleError: no energy at all, or a negative one.
        """
        total_j = math.fsum(energies_j)
        if not energies_j or total_j <= 0 or min(energies_j) < 0:
            raise ScheduleError("an energy profile needs non-negative energies with a positive sum")
        ratios = tuple(e / total_j for e in energies_j)
        return cls(duration_s or len(energies_j) * slot_s, total_j, ratios, slot_s)

    @property
    def energy_kwh(self) -> float | None:
        """Total energy in kWh, when known."""
        return None if self.energy_j is None else self.energy_j / J_PER_KWH

    def segments(self) -> list[tuple[float, float]]:
        """(length_s, energy ratio) pieces of constant power, in order."""
        if not self.profile_ratios:
            return [(self.duration_s, 1.0)]
        out, pos = [], 0.0
        for ratio in self.profile_ratios:
            length = min(self.profile_slot_s, self.duration_s - pos)
            if length <= _EPS:
                break
            out.append((length, ratio))
            pos += length
        return out

    def ratios_on(self, slot_s: float) -> list[float]:
        """Share of the job's energy in each `slot_s` slot from its start (last may be partial)."""
        count = max(1, math.ceil(self.duration_s / slot_s - _EPS))
        out = [0.0] * count
        pos = 0.0
        for length, ratio in self.segments():
            a, b = pos, pos + length
            i = int(a // slot_s + _EPS)
            while a < b - _EPS and i < count:
                edge = min(b, (i + 1) * slot_s)
                out[i] += ratio * (edge - a) / length
                a, i = edge, i + 1
            pos = b
        return out


def profile_from_samples(samples: Sequence[Sample], slot_s: float) -> Job:
    """A job shaped like a stored run: its energy per `slot_s` slot, all channels summed.

    Each sample's energy is spread evenly over its interval
    (`t_s - duration_s`, `t_s`], seconds since the run started.

    Raises:
        ScheduleError: the run has no energy.
    """
    if not samples:
        raise ScheduleError("the run has no samples to take an energy profile from")
    end_s = max(s.t_s for s in samples)
    bins = [0.0] * max(1, math.ceil(end_s / slot_s - _EPS))
    for s in samples:
        a, b = max(0.0, s.t_s - s.duration_s), s.t_s
        span_s = b - a
        if span_s <= _EPS:
            bins[min(int(b // slot_s), len(bins) - 1)] += s.energy_j
            continue
        i = int(a // slot_s + _EPS)
        while a < b - _EPS and i < len(bins):
            edge = min(b, (i + 1) * slot_s)
            bins[i] += s.energy_j * (edge - a) / span_s
            a, i = edge, i + 1
    return Job.from_energies(bins, slot_s, duration_s=end_s)


@frozen
class Chunk:
    """One stretch of running in a plan.

    Attributes:
        start: when the chunk starts (UTC), resume overhead included.
        end: when it ends (UTC).
        resume_s: seconds of resume overhead at its start (0 for the first chunk).
        energy_ratio: its energy as a share of the job's energy (overheads included).
        intensity_g_per_kwh: energy-weighted mean grid intensity over the chunk.
    """

    start: datetime
    end: datetime
    resume_s: float
    energy_ratio: float
    intensity_g_per_kwh: float


@frozen
class PlanResult:
    """A plan, what it is expected to emit, and what running now would emit.

    Attributes:
        strategy: "flexible-start", "pause-resume", "run-now", "best-location"
            or "best-location-time".
        location: where the plan runs.
        chunks: when it runs (one chunk unless paused and resumed), UTC.
        plan_g_per_kwh: expected gCO2e per kWh of job (resume overheads included).
        run_now_g_per_kwh: the same for the job started at `earliest` in
            `run_now_location`, in one piece.
        earliest: the earliest start allowed (UTC).
        deadline: when the job must be done by (UTC).
        slot_s: slot length of the intensity grid used, in seconds.
        job: the job planned.
        run_now_location: where "running now" is priced (the home location).
        source: where the intensities come from.
        notes: what was assumed or rounded.
        alternatives: for spatial plans, the best plan of every location.
    """

    strategy: str
    location: str
    chunks: tuple[Chunk, ...]
    plan_g_per_kwh: float
    run_now_g_per_kwh: float
    earliest: datetime
    deadline: datetime
    slot_s: float
    job: Job
    run_now_location: str = ""
    source: str = ""
    notes: tuple[str, ...] = ()
    alternatives: tuple[PlanResult, ...] = field(default=())

    @property
    def start(self) -> datetime:
        """When the job starts (UTC)."""
        return self.chunks[0].start

    @property
    def end(self) -> datetime:
        """When the job ends (UTC)."""
        return self.chunks[-1].end

    @property
    def resumes(self) -> int:
        """How many times the job is resumed after a pause."""
        return len(self.chunks) - 1

    @property
    def saving_g_per_kwh(self) -> float:
        """gCO2e saved per kWh of job, against running now."""
        return self.run_now_g_per_kwh - self.plan_g_per_kwh

    @property
    def saving_pct(self) -> float:
        """Saving against running now, in percent of the run-now emissions."""
        if self.run_now_g_per_kwh <= 0:
            return 0.0
        return 100.0 * self.saving_g_per_kwh / self.run_now_g_per_kwh

    def _grams(self, g_per_kwh: float) -> float | None:
        kwh = self.job.energy_kwh
        return None if kwh is None else g_per_kwh * kwh

    @property
    def plan_g(self) -> float | None:
        """Expected emissions of the plan in gCO2e, when the job's energy is known."""
        return self._grams(self.plan_g_per_kwh)

    @property
    def run_now_g(self) -> float | None:
        """Emissions of running now in gCO2e, when the job's energy is known."""
        return self._grams(self.run_now_g_per_kwh)

    @property
    def saving_g(self) -> float | None:
        """gCO2e saved against running now, when the job's energy is known."""
        return self._grams(self.saving_g_per_kwh)

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-compatible values (times ISO 8601 UTC, units in key names)."""
        return {
            "strategy": self.strategy,
            "location": self.location,
            "start": iso_z(self.start),
            "end": iso_z(self.end),
            "slots": [
                {
                    "start": iso_z(c.start),
                    "end": iso_z(c.end),
                    "resume_s": c.resume_s,
                    "energy_ratio": c.energy_ratio,
                    "intensity_g_per_kwh": c.intensity_g_per_kwh,
                }
                for c in self.chunks
            ],
            "resumes": self.resumes,
            "plan_g_per_kwh": self.plan_g_per_kwh,
            "run_now": {
                "location": self.run_now_location or self.location,
                "start": iso_z(self.earliest),
                "g_per_kwh": self.run_now_g_per_kwh,
            },
            "saving_g_per_kwh": self.saving_g_per_kwh,
            "saving_pct": self.saving_pct,
            "energy_j": self.job.energy_j,
            "plan_g": self.plan_g,
            "run_now_g": self.run_now_g,
            "saving_g": self.saving_g,
            "window": {"earliest": iso_z(self.earliest), "deadline": iso_z(self.deadline)},
            "duration_s": self.job.duration_s,
            "slot_s": self.slot_s,
            "source": self.source,
            "notes": list(self.notes),
            "alternatives": [a.to_dict() for a in self.alternatives],
        }
