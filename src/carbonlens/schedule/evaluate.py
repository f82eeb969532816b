"""What shifting would have saved: replay a series, planning one job a day.

Each day of the replay a job of `duration_s` is submitted at `submit_at_s`
seconds after midnight UTC, with `window_s` to finish. It is priced three ways
on the series itself (a perfect forecast, so these are upper bounds of what a
real forecast gives): run at once, flexible start, and pause-and-resume. Days
whose window the series does not cover (a gap, the end of the file) are
skipped and listed.

The saving of a strategy is `1 − mean(plan) / mean(run now)` over the days, in
%, which is the saving on the total emissions of all the days' jobs; the mean
of the daily savings is given beside it.
"""

from __future__ import annotations

import bisect
import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from carbonlens._frozen import frozen
from carbonlens.records import IntensitySeries
from carbonlens.schedule.models import Grid, Job, ScheduleError
from carbonlens.schedule.planner import FLEXIBLE_START, PAUSE_RESUME, best_window, pause_resume
from carbonlens.schedule.planner import run_now as plan_run_now
from carbonlens.schedule.series_io import contiguous_grids

__all__ = ["Evaluation", "StrategySummary", "evaluate"]


@frozen
class StrategySummary:
    """How one strategy did over the replayed days.

    Attributes:
        strategy: "flexible-start" or "pause-resume".
        plan_mean_g_per_kwh: mean over the days of the plan's gCO2e per kWh of job.
        run_now_mean_g_per_kwh: mean over the days of running at once.
        mean_daily_saving_pct: mean of the daily savings, in %.
    """

    strategy: str
    plan_mean_g_per_kwh: float
    run_now_mean_g_per_kwh: float
    mean_daily_saving_pct: float

    @property
    def saving_g_per_kwh(self) -> float:
        """Mean gCO2e saved per kWh of job."""
        return self.run_now_mean_g_per_kwh - self.plan_mean_g_per_kwh

    @property
    def saving_pct(self) -> float:
        """Saving on the days' total emissions, in % of running at once."""
        if self.run_now_mean_g_per_kwh <= 0:
            return 0.0
        return 100.0 * self.saving_g_per_kwh / self.run_now_mean_g_per_kwh


@frozen
class Evaluation:
    """The replay of a series: days planned, days skipped, and each strategy's result.

    Attributes:
        location: the series' location.
        source: the series' source.
        duration_s: the daily job's duration, seconds.
        window_s: time from submission to deadline, seconds.
        submit_at_s: submission time, seconds after midnight UTC.
        min_chunk_s: least work per chunk for pause-and-resume, seconds.
        days: number of days planned.
        skipped_days: days whose window the series does not cover.
        strategies: one summary per strategy.
    """

    location: str
    source: str
    duration_s: float
    window_s: float
    submit_at_s: float
    min_chunk_s: float
    days: int
    skipped_days: tuple[date, ...]
    strategies: tuple[StrategySummary, ...]

    def to_dict(self) -> dict[str, Any]:
        """The evaluation as JSON-compatible values (units in key names)."""
        return {
            "location": self.location,
            "source": self.source,
            "duration_s": self.duration_s,
            "window_s": self.window_s,
            "submit_at_s": self.submit_at_s,
            "min_chunk_s": self.min_chunk_s,
            "days": self.days,
            "skipped_days": [d.isoformat() for d in self.skipped_days],
            "strategies": [
                {
                    "strategy": s.strategy,
                    "plan_mean_g_per_kwh": s.plan_mean_g_per_kwh,
                    "run_now_mean_g_per_kwh": s.run_now_mean_g_per_kwh,
                    "saving_g_per_kwh": s.saving_g_per_kwh,
                    "saving_pct": s.saving_pct,
                    "mean_daily_saving_pct": s.mean_daily_saving_pct,
                }
                for s in self.strategies
            ],
        }


def evaluate(
    series: IntensitySeries,
    *,
    duration_s: float,
    window_s: float,
    submit_at_s: float = 0.0,
    min_chunk_s: float | None = None,
    resume_s: float = 0.0,
    start: date | None = None,
    end: date | None = None,
) -> Evaluation:
    """Replay `series`, planning one job a day, and summarise the savings per strategy.

    Args:
        series: the intensity series (history, e.g. a year).
        duration_s: the job's duration in seconds (flat power).
        window_s: seconds from submission to deadline.
        submit_at_s: submission time, seconds after midnight UTC.
        min_chunk_s: least work per chunk for pause-and-resume (default: one slot).
        resume_s: time each resume costs, seconds.
        start: first day to submit on (default: the series' first day).
        end: last day to submit on, included (default: the series' last day).

    Raises:
        ScheduleError: the window is shorter than the job, or the series has no data.
    """
    if window_s < duration_s:
        raise ScheduleError("the window is shorter than the job")
    if not series.points:
        raise ScheduleError(f"the series of {series.location} is empty")
    grids = contiguous_grids(series)
    starts = [g.start for g in grids]
    job = Job.flat(duration_s)
    first = start or series.points[0].start.date()
    last = end or series.points[-1].start.date()
    chunk_s = min_chunk_s if min_chunk_s is not None else grids[0].slot_s
    now_g: list[float] = []
    plans: dict[str, list[float]] = {FLEXIBLE_START: [], PAUSE_RESUME: []}
    skipped: list[date] = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        earliest = datetime.combine(day, time(), UTC) + timedelta(seconds=submit_at_s)
        deadline = earliest + timedelta(seconds=window_s)
        grid = _covering(grids, starts, earliest, deadline)
        if grid is None:
            skipped.append(day)
            continue
        now_g.append(plan_run_now(grid, job, earliest, deadline).plan_g_per_kwh)
        plans[FLEXIBLE_START].append(best_window(grid, job, earliest, deadline).plan_g_per_kwh)
        paused = pause_resume(grid, job, earliest, deadline, min_chunk_s=chunk_s, resume_s=resume_s)
        plans[PAUSE_RESUME].append(paused.plan_g_per_kwh)
    summaries = tuple(_summary(name, values, now_g) for name, values in plans.items())
    return Evaluation(
        series.location,
        series.source,
        duration_s,
        window_s,
        submit_at_s,
        chunk_s,
        len(now_g),
        tuple(skipped),
        summaries,
    )


def _covering(
    grids: list[Grid], starts: list[datetime], earliest: datetime, deadline: datetime
) -> Grid | None:
    """The gap-free stretch that holds [`earliest`, `deadline`), if any."""
    i = bisect.bisect_right(starts, earliest) - 1
    return grids[i] if i >= 0 and grids[i].end >= deadline else None


def _summary(strategy: str, plan_g: list[float], now_g: list[float]) -> StrategySummary:
    if not now_g:
        return StrategySummary(strategy, math.nan, math.nan, math.nan)
    daily = [100.0 * (n - p) / n if n > 0 else 0.0 for p, n in zip(plan_g, now_g, strict=True)]
    return StrategySummary(
        strategy,
        math.fsum(plan_g) / len(plan_g),
        math.fsum(now_g) / len(now_g),
        math.fsum(daily) / len(daily),
    )
