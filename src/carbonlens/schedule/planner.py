"""Carbon-aware plans: pure functions over intensity grids (no I/O, no clock).

Every strategy prices a job by `C = Σ_slots E_slot × I_slot`: the job's energy
in each grid slot times the slot's intensity, with power constant within a job
segment and intensity constant within a grid slot. Figures are per kWh of job
(`C / E_job`, gCO2e/kWh), against running the job now (at `earliest`, in one
piece). Strategies:

* `best_window` (flexible start): one contiguous run. For a flat-power job the
  cost of starting at time x, `F(x + D) − F(x)` with `F` the cumulative
  intensity, is linear between the times where the start or the end crosses a
  slot boundary, so the minimum over all real start times is at one of those
  points or at an end of the window: the planner tries them all with a sliding
  window over prefix sums, O(n). A job with an energy profile starts on slot
  boundaries (exact when the profile's slots are the grid's) or at `earliest`,
  O(n·m) for a profile of m slots.
* `pause_resume`: the cheapest set of slots (see `_pause` for the dynamic
  programme), with at least `min_chunk_s` of work per chunk and a resume cost in
  time (`resume_s`, running without doing work) and/or energy
  (`resume_energy_j`), exact on the grid's slots, split when the durations are
  not whole slots. Never worse than `best_window`, which it includes.
* `best_location`: the same job in every location, run now or at each
  location's best window; saving against running now at home.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from itertools import accumulate, repeat
from operator import add, mul, sub

from carbonlens.schedule._pause import cheapest_chunks
from carbonlens.schedule.durations import format_duration
from carbonlens.schedule.models import Chunk, Grid, Job, PlanResult, ScheduleError, iso_z

__all__ = [
    "BEST_LOCATION",
    "BEST_LOCATION_TIME",
    "FLEXIBLE_START",
    "MAX_SLOT_SPLIT",
    "PAUSE_RESUME",
    "RUN_NOW",
    "best_location",
    "best_window",
    "pause_resume",
    "run_now",
]

FLEXIBLE_START = "flexible-start"
PAUSE_RESUME = "pause-resume"
RUN_NOW = "run-now"
BEST_LOCATION = "best-location"
BEST_LOCATION_TIME = "best-location-time"
MAX_SLOT_SPLIT = 12
"""Pause-and-resume splits a slot into at most this many parts (5 min for hourly data)."""

_EPS = 1e-9


class _Window:
    """The part of a grid between `earliest` and `deadline`, in slot units."""

    def __init__(self, grid: Grid, job: Job, earliest: datetime, deadline: datetime) -> None:
        span_s = (deadline - earliest).total_seconds()
        if span_s < job.duration_s - 1e-6:
            raise ScheduleError(
                f"the window from {iso_z(earliest)} to the deadline {iso_z(deadline)} is "
                f"{format_duration(max(span_s, 0))}, shorter than the job "
                f"({format_duration(job.duration_s)})"
            )
        x0, x1 = grid.offset(earliest), grid.offset(deadline)
        n = len(grid.values_g_per_kwh)
        if x0 < 0 or x1 > n:
            missing = [(earliest, min(grid.start, deadline))] if x0 < 0 else []
            missing += [(max(grid.end, earliest), deadline)] if x1 > n else []
            parts = "; ".join(f"{iso_z(a)} to {iso_z(b)}" for a, b in missing)
            raise ScheduleError(
                f"the intensity of {grid.location} covers {iso_z(grid.start)} to "
                f"{iso_z(grid.end)}; the window lacks {parts}",
                missing=missing,
            )
        self.grid = grid
        self.lo = math.floor(x0)
        self.values = grid.values_g_per_kwh[self.lo : math.ceil(x1)]
        self.prefix = list(accumulate(self.values, initial=0.0))
        self.x0, self.x1 = x0 - self.lo, x1 - self.lo
        self.length = job.duration_s / grid.slot_s
        self.segments = [(s / grid.slot_s, ratio) for s, ratio in job.segments()]

    def moment(self, x: float) -> datetime:
        return self.grid.moment(self.lo + x)

    def cumulative(self, x: float) -> float:
        """∫ intensity from the window's first slot to `x` (slot units)."""
        i = min(int(x), len(self.values) - 1)
        return self.prefix[i] + (x - i) * self.values[i]

    def cost(self, x: float) -> float:
        """g per kWh of job for the job started at `x`, in one piece (exact)."""
        total = 0.0
        for length, ratio in self.segments:
            total += ratio * (self.cumulative(x + length) - self.cumulative(x)) / length
            x += length
        return total


def _plan(
    window: _Window,
    job: Job,
    earliest: datetime,
    deadline: datetime,
    strategy: str,
    chunks: Sequence[Chunk],
    plan_g_per_kwh: float,
    notes: Sequence[str] = (),
) -> PlanResult:
    grid = window.grid
    return PlanResult(
        strategy=strategy,
        location=grid.location,
        chunks=tuple(chunks),
        plan_g_per_kwh=plan_g_per_kwh,
        run_now_g_per_kwh=window.cost(window.x0),
        earliest=earliest,
        deadline=deadline,
        slot_s=grid.slot_s,
        job=job,
        run_now_location=grid.location,
        source=grid.source,
        notes=tuple(notes),
    )


def _one_piece(
    window: _Window, x: float, job: Job, earliest: datetime, deadline: datetime, strategy: str
) -> PlanResult:
    cost = window.cost(x)
    chunk = Chunk(window.moment(x), window.moment(x + window.length), 0.0, 1.0, cost)
    return _plan(window, job, earliest, deadline, strategy, [chunk], cost)


def run_now(grid: Grid, job: Job, earliest: datetime, deadline: datetime) -> PlanResult:
    """The job started at `earliest` in one piece: the reference every saving is against.

    Raises:
        ScheduleError: the window is shorter than the job, or the grid does not cover it.
    """
    window = _Window(grid, job, earliest, deadline)
    return _one_piece(window, window.x0, job, earliest, deadline, RUN_NOW)


def best_window(grid: Grid, job: Job, earliest: datetime, deadline: datetime) -> PlanResult:
    """The cleanest contiguous run of `job` starting at or after `earliest`, done by `deadline`.

    Args:
        grid: intensity over (at least) the window, gCO2e/kWh per slot.
        job: duration (flat power) or energy profile.
        earliest: earliest start (UTC), also the "run now" start.
        deadline: the job must end by then (UTC).

    Returns:
        The plan; ties go to the earliest start.

    Raises:
        ScheduleError: the window is shorter than the job, or the grid does not cover it.
    """
    w = _Window(grid, job, earliest, deadline)
    last = max(w.x0, w.x1 - w.length)
    candidates = [(w.cost(w.x0), w.x0), (w.cost(last), last)]
    first, final = math.ceil(w.x0 - _EPS), math.floor(last + _EPS)
    if first <= final:
        if job.profile_ratios:
            candidates.append(_profile_starts(w, job, first, final))
        else:
            candidates.extend(_flat_starts(w, first, final))
    x = min(candidates)[1]
    return _one_piece(w, x, job, earliest, deadline, FLEXIBLE_START)


def _flat_starts(w: _Window, first: int, final: int) -> list[tuple[float, float]]:
    """Best (cost, start) over starts on slot boundaries and, for D = k + frac slots, ends on them.

    With `A[i] = P[i+k] − P[i]` (k whole slots from slot i), a start on boundary s
    costs `A[s] + frac·V[s+k]` and an end on boundary `i + k` costs `A[i] + frac·V[i−1]`.
    """
    k = int(w.length + _EPS)
    frac = w.length - k if w.length - k > _EPS else 0.0
    p, v = w.prefix, w.values
    if not frac:
        costs = list(map(sub, p[first + k : final + k + 1], p[first : final + 1]))
        best = min(costs)
        return [(best / w.length, float(first + costs.index(best)))]
    lo = math.ceil(w.x0 + w.length - _EPS) - k  # ends e = i + k for i in [lo, hi]
    hi = math.floor(w.x1 + _EPS) - k
    a0, a1 = min(first, lo), max(final, hi)
    sums = list(map(sub, p[a0 + k : a1 + k + 1], p[a0 : a1 + 1]))
    w0, w1 = min(first + k, lo - 1), max(final + k, hi - 1)
    tails = list(map(mul, repeat(frac, w1 - w0 + 1), v[w0 : w1 + 1]))
    starts = list(
        map(add, sums[first - a0 : final - a0 + 1], tails[first + k - w0 : final + k - w0 + 1])
    )
    best = min(starts)
    out = [(best / w.length, float(first + starts.index(best)))]
    if lo <= hi:
        ends = list(map(add, sums[lo - a0 : hi - a0 + 1], tails[lo - 1 - w0 : hi - w0]))
        best = min(ends)
        out.append((best / w.length, lo + ends.index(best) - frac))
    return out


def _profile_starts(w: _Window, job: Job, first: int, final: int) -> tuple[float, float]:
    """Best (cost, start) over slot-boundary starts for a job with an energy profile."""
    count = final - first + 1
    costs = [0.0] * count
    for j, ratio in enumerate(job.ratios_on(w.grid.slot_s)):
        if ratio:
            part = w.values[first + j : first + j + count]
            costs = list(map(add, costs, map(ratio.__mul__, part)))
    best = min(costs)
    return best, float(first + costs.index(best))


def pause_resume(
    grid: Grid,
    job: Job,
    earliest: datetime,
    deadline: datetime,
    *,
    min_chunk_s: float | None = None,
    resume_s: float = 0.0,
    resume_energy_j: float = 0.0,
) -> PlanResult:
    """The cleanest set of slots for `job` before `deadline`, paused and resumed between them.

    Args:
        grid: intensity over (at least) the window, gCO2e/kWh per slot.
        job: duration (flat power) or energy profile.
        earliest: earliest start (UTC), also the "run now" start.
        deadline: the job must end by then (UTC).
        min_chunk_s: least work per chunk, in seconds (default: one slot).
        resume_s: time each resume costs, in seconds, running at the job's mean
            power without doing work.
        resume_energy_j: energy each resume costs, in joules (needs `job.energy_j`).

    Returns:
        The plan (one chunk when not pausing is best).

    Raises:
        ScheduleError: bad resume cost, the window is shorter than the job, or the
            grid does not cover it.
    """
    if resume_s < 0 or resume_energy_j < 0:
        raise ScheduleError("resume costs must not be negative")
    if resume_energy_j and not job.energy_j:
        raise ScheduleError("a resume cost in energy needs the job's energy (give its power)")
    w = _Window(grid, job, earliest, deadline)
    chunk_s = grid.slot_s if min_chunk_s is None else min_chunk_s
    parts, notes = _split(grid.slot_s, (job.duration_s, chunk_s, resume_s))
    sub_s = grid.slot_s / parts
    first = math.ceil(w.x0 * parts - _EPS)
    values = [v for v in w.values for _ in range(parts)][first : math.floor(w.x1 * parts + _EPS)]
    weights = job.ratios_on(sub_s)
    resume_slots = math.ceil(resume_s / sub_s - _EPS)
    energy_ratio = resume_energy_j / job.energy_j if job.energy_j else 0.0
    found = cheapest_chunks(
        values,
        weights,
        min_chunk=math.ceil(chunk_s / sub_s - _EPS),
        resume_slots=resume_slots,
        resume_weight=sub_s / job.duration_s,
        resume_energy_ratio=energy_ratio,
    )
    single = best_window(grid, job, earliest, deadline)
    if found is None or found[0] >= single.plan_g_per_kwh - _EPS:
        cost = single.plan_g_per_kwh
        return _plan(w, job, earliest, deadline, PAUSE_RESUME, single.chunks, cost, notes)
    chunks, done = [], 0
    for a, b, end in found[1]:
        work = range(end - b)
        overhead_ratio = (b - a) * sub_s / job.duration_s + (energy_ratio if done else 0.0)
        g = math.fsum(weights[done + i] * values[b + i] for i in work)
        if done:
            g += energy_ratio * values[a] + sub_s / job.duration_s * math.fsum(values[a:b])
        energy = math.fsum(weights[done : done + len(work)]) + overhead_ratio
        start_x, end_x = (first + a) / parts, (first + end) / parts
        mean = g / energy if energy > 0 else math.fsum(values[a:end]) / (end - a)
        chunks.append(Chunk(w.moment(start_x), w.moment(end_x), (b - a) * sub_s, energy, mean))
        done += len(work)
    return _plan(w, job, earliest, deadline, PAUSE_RESUME, chunks, found[0], notes)


def _split(slot_s: float, durations_s: Sequence[float]) -> tuple[int, list[str]]:
    """Into how many parts to split each slot so that `durations_s` are whole parts.

    Returns:
        The number of parts (at most `MAX_SLOT_SPLIT`) and a note when a duration
        had to be rounded up to whole parts.
    """
    slot = round(slot_s)
    step = slot
    for d in durations_s:
        if d > 0:
            step = math.gcd(step, round(d))
    parts = slot // step if step else 1
    if parts <= MAX_SLOT_SPLIT:
        return parts, []
    sub = format_duration(slot_s / MAX_SLOT_SPLIT)
    return MAX_SLOT_SPLIT, [
        f"pause-and-resume plans in slots of {sub}: the duration, minimum chunk and resume "
        f"time are rounded up to whole {sub}"
    ]


def best_location(
    grids: Sequence[Grid],
    job: Job,
    earliest: datetime,
    deadline: datetime,
    *,
    shift: bool = True,
    home: str | None = None,
) -> PlanResult:
    """The cleanest location for `job`, run now or at each location's best window.

    Args:
        grids: one intensity grid per candidate location.
        job: duration (flat power) or energy profile.
        earliest: earliest start (UTC).
        deadline: the job must end by then (UTC).
        shift: also shift in time (best location × time); else every location runs now.
        home: the location whose run-now figure savings are counted against
            (default: the first grid's).

    Returns:
        The best plan, with every location's plan in `alternatives`, cleanest first.

    Raises:
        ScheduleError: no grids, `home` not among them, or a grid does not cover the window.
    """
    if not grids:
        raise ScheduleError("best_location needs at least one location")
    home = home or grids[0].location
    by_location = {g.location: g for g in grids}
    if home not in by_location:
        raise ScheduleError(f"home location {home!r} is not among the grids")
    planner = best_window if shift else run_now
    plans = sorted(
        (planner(g, job, earliest, deadline) for g in grids),
        key=lambda p: p.plan_g_per_kwh,
    )
    reference = run_now(by_location[home], job, earliest, deadline)
    best = plans[0]
    return replace(
        best,
        strategy=BEST_LOCATION_TIME if shift else BEST_LOCATION,
        run_now_g_per_kwh=reference.plan_g_per_kwh,
        run_now_location=home,
        alternatives=tuple(plans),
    )
