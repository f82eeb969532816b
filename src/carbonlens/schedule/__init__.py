"""Carbon-aware scheduling: when and where to run a flexible job, and what it saves.

    from carbonlens.schedule import Job, best_window, read_series_csv, to_grid

    series = read_series_csv("gb.csv", location="GB")
    grid = to_grid(series, earliest, deadline)
    plan = best_window(grid, Job.flat(6 * 3600, power_w=700), earliest, deadline)
    print(plan.start, plan.plan_g_per_kwh, plan.saving_pct)

Strategies (docs/scheduling.md): `best_window` (flexible start),
`pause_resume` (cleanest slots, minimum chunk, resume cost), `best_location`
(spatial, optionally × time), against `run_now`. `evaluate` replays history.
Nothing here is imported by `import carbonlens`.
"""

from __future__ import annotations

from carbonlens.schedule.durations import (
    format_local,
    parse_duration,
    parse_time,
    parse_when,
)
from carbonlens.schedule.evaluate import Evaluation, StrategySummary, evaluate
from carbonlens.schedule.models import (
    Chunk,
    Grid,
    Job,
    PlanResult,
    ScheduleError,
    profile_from_samples,
)
from carbonlens.schedule.planner import best_location, best_window, pause_resume, run_now
from carbonlens.schedule.runner import (
    Clock,
    PauseController,
    SystemClock,
    cron_line,
    follow_plan,
    forecast_series,
    plan_for_run,
    slurm_begin,
    wait_for_start,
)
from carbonlens.schedule.series_io import read_series_csv, to_grid

__all__ = [
    "Chunk",
    "Clock",
    "Evaluation",
    "Grid",
    "Job",
    "PauseController",
    "PlanResult",
    "ScheduleError",
    "StrategySummary",
    "SystemClock",
    "best_location",
    "best_window",
    "cron_line",
    "evaluate",
    "follow_plan",
    "forecast_series",
    "format_local",
    "parse_duration",
    "parse_time",
    "parse_when",
    "pause_resume",
    "plan_for_run",
    "profile_from_samples",
    "read_series_csv",
    "run_now",
    "slurm_begin",
    "to_grid",
    "wait_for_start",
]
