"""Carrying out a plan: wait for its start, pause and resume between its chunks.

* `wait_for_start(plan, clock, progress)` sleeps until the plan's start, calling
  `progress(remaining_s, until, what)` every tick; the clock is injectable.
* `PauseController(pid)` pauses a running job between chunks: SIGSTOP to the
  process and all its descendants, SIGCONT to resume; or, when given, the
  user's own checkpoint and resume commands (`{pid}` in them is replaced by the
  job's process id). A stopped process keeps its memory, GPU memory included,
  and its GPU keeps drawing idle power (docs/scheduling.md).
* `follow_plan(plan, controller, alive=...)` drives a controller through a plan.
* `slurm_begin(plan)` and `cron_line(plan, command)` hand a plan's start to
  SLURM or cron, in the machine's local time (both read local time).
* `plan_for_run(...)` is what `carbonlens run --deadline` plans with.
"""

from __future__ import annotations

import logging
import math
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

from carbonlens.records import IntensitySeries
from carbonlens.schedule.durations import local_zone
from carbonlens.schedule.models import Job, PlanResult, ScheduleError
from carbonlens.schedule.planner import best_window, pause_resume
from carbonlens.schedule.series_io import to_grid

__all__ = [
    "Clock",
    "PauseController",
    "Progress",
    "SystemClock",
    "cron_line",
    "follow_plan",
    "forecast_series",
    "forecast_start",
    "plan_for_run",
    "slurm_begin",
    "wait_for_start",
    "wait_until",
]

_log = logging.getLogger(__name__)

Progress = Callable[[float, datetime, str], None]
"""Called every tick while waiting: (seconds left, moment awaited (UTC), "start"/"resume")."""

NO_SERIES = (
    "scheduling needs an intensity series over the window: configure a live provider "
    "(setting intensity_provider, e.g. electricitymaps with CARBONLENS_ELECTRICITYMAPS_TOKEN, "
    "or uk-grid for GB, no key) or give --series FILE.csv (columns timestamp_utc,"
    "g_co2e_per_kwh); the bundled annual averages are flat, so no time is cleaner than another"
)


class Clock(Protocol):
    """Wall time and sleeping; tests pass a fake that advances on `sleep`."""

    def now(self) -> datetime:
        """The current time (UTC, aware)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for `seconds`."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time, UTC."""
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        """Sleep for `seconds`."""
        time.sleep(seconds)


def wait_until(
    moment: datetime,
    *,
    clock: Clock,
    progress: Progress | None = None,
    what: str = "start",
    tick_s: float = 1.0,
    alive: Callable[[], bool] = lambda: True,
) -> bool:
    """Sleep until `moment`, reporting progress each tick.

    Returns:
        True when `moment` was reached; False when `alive()` turned false first.
    """
    while True:
        remaining_s = (moment - clock.now()).total_seconds()
        if remaining_s <= 0:
            return True
        if not alive():
            return False
        if progress is not None:
            progress(remaining_s, moment, what)
        clock.sleep(min(tick_s, remaining_s))


def wait_for_start(
    plan: PlanResult,
    clock: Clock | None = None,
    progress: Progress | None = None,
    *,
    tick_s: float = 1.0,
) -> None:
    """Sleep until the plan's start (returns at once if it has passed)."""
    wait_until(plan.start, clock=clock or SystemClock(), progress=progress, tick_s=tick_s)


def plan_for_run(
    deadline: datetime,
    expected_duration_s: float,
    location: str,
    series: IntensitySeries,
    now: datetime,
    *,
    pause_and_resume: bool = False,
    min_chunk_s: float | None = None,
    power_w: float | None = None,
) -> PlanResult:
    """The plan `carbonlens run --deadline D --expected-duration T` waits for.

    Args:
        deadline: when the command must be done by (UTC).
        expected_duration_s: how long it is expected to run, seconds.
        location: the grid's location (a label for the plan).
        series: the intensity forecast (or history) over now to deadline.
        now: the current time (UTC), the earliest start (or the forecast's
            first period, when that begins a little later: see `forecast_start`).
        pause_and_resume: plan with pauses between cleaner chunks.
        min_chunk_s: least work per chunk, seconds (with pauses).
        power_w: the job's expected mean power, watts (for figures in grams).

    Raises:
        ScheduleError: the deadline is too early, or the series does not cover the window.
    """
    start = forecast_start([series], now)
    grid = to_grid(replace(series, location=location or series.location), start, deadline)
    job = Job.flat(expected_duration_s, power_w=power_w)
    if pause_and_resume:
        return pause_resume(grid, job, start, deadline, min_chunk_s=min_chunk_s)
    return best_window(grid, job, start, deadline)


def forecast_start(series: Sequence[IntensitySeries], now: datetime) -> datetime:
    """When a plan made at `now` can start: `now`, or later when a forecast starts later.

    Providers often publish a forecast from the next period: when a series' first
    point begins after `now` by at most its own length, the plan starts there (the
    latest such start over `series`); a later start is left for `to_grid` to report.
    """
    start = now
    for one in series:
        if one.points:
            first = one.points[0]
            if now < first.start <= now + timedelta(seconds=first.duration_s):
                start = max(start, first.start)
    return start


def forecast_series(
    provider: str | None,
    location: str,
    now: datetime,
    deadline: datetime,
    env: Mapping[str, str],
) -> IntensitySeries:
    """The live forecast for `location` from `provider`, over now to `deadline`.

    Args:
        provider: a name from `carbonlens.intensity.providers.PROVIDERS`, or None.
        location: the location as the provider names it ("GB", "DE").
        now: the current time (UTC).
        deadline: end of the window (UTC).
        env: environment (keys are read from it, never logged).

    Raises:
        ScheduleError: no provider is configured (the message says what to set).
        IntensityUnavailable: the provider failed; the bundled annual average is
            not used, as a flat series cannot be scheduled on.
    """
    if not provider:
        raise ScheduleError(NO_SERIES)
    from carbonlens.intensity.chain import FallbackChain
    from carbonlens.intensity.providers import provider_from_env

    # forecasts come in whole periods from the current one: ask for one more hour so
    # the last, partly covered period reaches the deadline
    hours = math.ceil((deadline - now).total_seconds() / 3600) + 1
    with FallbackChain([provider_from_env(provider, env)], fallback=None, now=lambda: now) as chain:
        return chain.forecast(location, hours).value


class PauseController:
    """Pauses and resumes a running job: SIGSTOP/SIGCONT to its process tree, or commands.

    Attributes:
        pid: the job's process id.
        paused: whether the job is paused now.
    """

    def __init__(
        self,
        pid: int,
        *,
        pause_command: Sequence[str] | None = None,
        resume_command: Sequence[str] | None = None,
        command_timeout_s: float = 600.0,
    ) -> None:
        """Control process `pid`.

        Args:
            pid: the job's process id (its descendants are paused with it).
            pause_command: run to pause instead of SIGSTOP (e.g. a checkpoint
                command); `{pid}` in an argument becomes the job's pid.
            resume_command: run to resume instead of SIGCONT.
            command_timeout_s: longest a pause or resume command may take, seconds.
        """
        self.pid = pid
        self.paused = False
        self._pause_command = pause_command
        self._resume_command = resume_command
        self._timeout_s = command_timeout_s

    def pause(self) -> bool:
        """Pause the job; False (and a warning) when it could not be paused."""
        done = (
            self._run(self._pause_command)
            if self._pause_command
            else self._signal_tree(signal.SIGSTOP)
        )
        self.paused = self.paused or done
        return done

    def resume(self) -> bool:
        """Resume the job; False (and a warning) when the resume command failed."""
        done = (
            self._run(self._resume_command)
            if self._resume_command
            else self._signal_tree(signal.SIGCONT)
        )
        self.paused = self.paused and not done
        return done

    def _signal_tree(self, signum: int) -> bool:
        """Send `signum` to the job and its descendants (twice round, to catch new children)."""
        import psutil

        try:
            root = psutil.Process(self.pid)
            root.send_signal(signum)
        except psutil.Error as exc:
            _log.warning("cannot signal process %d: %s", self.pid, exc)
            return False
        for _ in range(2):
            try:
                children = root.children(recursive=True)
            except psutil.Error:
                break
            for child in children:
                try:
                    child.send_signal(signum)
                except psutil.Error:
                    continue
        return True

    def _run(self, command: Sequence[str]) -> bool:
        argv = [part.replace("{pid}", str(self.pid)) for part in command]
        try:
            result = subprocess.run(argv, timeout=self._timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            _log.warning("command %s failed: %s", shlex.join(argv), exc)
            return False
        if result.returncode != 0:
            _log.warning("command %s exited with %d", shlex.join(argv), result.returncode)
        return result.returncode == 0


def follow_plan(
    plan: PlanResult,
    controller: PauseController,
    *,
    alive: Callable[[], bool],
    clock: Clock | None = None,
    progress: Progress | None = None,
    tick_s: float = 1.0,
) -> int:
    """Pause the job at the end of each chunk and resume it at the start of the next.

    Call it once the job has started; it returns when the last chunk has begun
    or the job has ended (`alive()` false), never leaving the job paused.

    Returns:
        How many times the job was paused.
    """
    clock = clock or SystemClock()
    pauses = 0
    try:
        for before, chunk in zip(plan.chunks, plan.chunks[1:], strict=False):
            if not wait_until(before.end, clock=clock, tick_s=tick_s, alive=alive, what="pause"):
                break
            if controller.pause():
                pauses += 1
            resumed = wait_until(
                chunk.start,
                clock=clock,
                progress=progress,
                what="resume",
                tick_s=tick_s,
                alive=alive,
            )
            controller.resume()
            if not resumed:
                break
    finally:
        if controller.paused:
            controller.resume()
    return pauses


def slurm_begin(plan: PlanResult, tz: tzinfo | None = None) -> str:
    """`--begin=YYYY-MM-DDTHH:MM:SS` for `sbatch`, in `tz` (default: this machine's zone).

    SLURM reads the time in the controller's local zone: pass that zone when it differs.
    """
    return f"--begin={plan.start.astimezone(tz or local_zone()):%Y-%m-%dT%H:%M:%S}"


def cron_line(plan: PlanResult, command: str | Sequence[str], tz: tzinfo | None = None) -> str:
    """A crontab line that starts `command` at the plan's start, in `tz` (default: local).

    cron matches minute, hour, day and month, so the line would fire again a year
    later: remove it once it has run. Only the start is scheduled; a paused plan's
    later chunks need `carbonlens run`.
    """
    start = plan.start.astimezone(tz or local_zone())
    text = command if isinstance(command, str) else shlex.join(command)
    return f"{start.minute} {start.hour} {start.day} {start.month} * {text}"
