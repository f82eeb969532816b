"""`carbonlens schedule`: when (and where) to run a flexible job, and what it saves.

    carbonlens schedule --duration 6h --deadline 24h --location GB --series gb.csv
    carbonlens schedule --duration 4h --deadline 24h --location DE --locations FR,GB
    carbonlens schedule --duration 6h --deadline 24h --location GB --pause-resume --min-chunk 1h
    carbonlens schedule evaluate --series gb.csv --duration 4h --window 24h

Intensities come from `--series FILE` (CSV `timestamp_utc,g_co2e_per_kwh`; `LOC=FILE`
for another location) or from the live provider of the `intensity_provider`
setting. Times are UTC inside and shown in local time (`--tz`) with the zone.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING

import click

from carbonlens._cli_common import carbonlens_errors, print_json
from carbonlens.schedule.durations import (
    format_duration,
    format_local,
    parse_duration,
    parse_when,
    zone_from_name,
)
from carbonlens.schedule.models import Grid, Job, PlanResult, ScheduleError
from carbonlens.schedule.runner import forecast_series, forecast_start
from carbonlens.schedule.series_io import to_grid

if TYPE_CHECKING:
    from carbonlens.records import IntensitySeries
    from carbonlens.schedule.evaluate import Evaluation

__all__ = ["schedule_group"]

_ENERGY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(j|kj|mj|wh|kwh)\s*$", re.IGNORECASE)
_J_PER = {"j": 1.0, "kj": 1e3, "mj": 1e6, "wh": 3600.0, "kwh": 3.6e6}
_BARS = "▁▂▃▄▅▆▇█"
_CHART_WIDTH = 72
_CHART_ROWS = 4


def _resume_cost(text: str | None) -> tuple[float, float]:
    """(resume_s, resume_energy_j) from `10m` or `50Wh`/`0.2kWh`/`3MJ`."""
    if not text:
        return 0.0, 0.0
    match = _ENERGY.match(text)
    if match:
        return 0.0, float(match.group(1)) * _J_PER[match.group(2).lower()]
    return parse_duration(text, allow_zero=True, name="--resume-cost"), 0.0


def _series_files(values: Sequence[str], home: str) -> dict[str, str]:
    """`--series FILE` (for the home location) and `--series LOC=FILE`, by location."""
    files: dict[str, str] = {}
    for value in values:
        location, sep, path = value.partition("=")
        files[location.strip() if sep else home] = path if sep else value
    return files


def _provider_location(text: str) -> str:
    """The zone a provider knows a location by (a cloud region's zone, else as given)."""
    from carbonlens.errors import LocationError
    from carbonlens.intensity.table import resolve_location

    try:
        place = resolve_location(text)
    except LocationError:
        return text
    return place.zone or text


def _load_series(
    locations: Sequence[str], files: dict[str, str], earliest: datetime, deadline: datetime
) -> list[IntensitySeries]:
    """One series per location, from its file or the configured live provider."""
    from dataclasses import replace

    from carbonlens.config import load_settings
    from carbonlens.schedule.series_io import read_series_csv

    unknown = sorted(set(files) - set(locations))
    if unknown:
        raise ScheduleError(f"--series for {', '.join(unknown)}, which is not a location planned")
    found = []
    provider = load_settings().intensity_provider
    for location in locations:
        if location in files:
            found.append(read_series_csv(files[location], location=location))
            continue
        if not provider and files:
            raise ScheduleError(f"no --series {location}=FILE and no live provider set")
        where = _provider_location(location)
        live = forecast_series(provider, where, earliest, deadline, os.environ)
        found.append(replace(live, location=location))
    return found


def _job(
    duration: str | None,
    profile_run: str | None,
    store: str | None,
    power_w: float | None,
    slot_s: float,
) -> Job:
    """The job: flat power for `duration`, or shaped like stored run `profile_run`."""
    if profile_run:
        if duration or power_w is not None:
            raise click.UsageError(
                "--profile-run gives the duration and energy; drop --duration/--power"
            )
        from carbonlens.config import load_settings
        from carbonlens.schedule.models import profile_from_samples
        from carbonlens.store import default_store_path, open_existing_store

        target = store or load_settings().store or str(default_store_path(os.environ))
        db = open_existing_store(target)
        try:
            info = db.get_run(profile_run)
            if info is None:
                raise ScheduleError(f"no run {profile_run!r} in {db.location}")
            return profile_from_samples(db.samples(info.run_id), slot_s)
        finally:
            db.close()
    if not duration:
        raise click.UsageError("give --duration (or --profile-run RUN_ID)")
    return Job.flat(parse_duration(duration, name="--duration"), power_w=power_w)


@click.group(
    "schedule",
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--duration", help="How long the job runs: 6h, 90m, 5400s, PT6H.")
@click.option("--deadline", help="Done by: 24h (from --earliest, else now) or an ISO 8601 time.")
@click.option("--location", help="Where the job runs: GB, DE, US-CAL-CISO, aws:us-east-1.")
@click.option("--locations", help="Other candidate locations, comma-separated: FR,DE.")
@click.option("--series", "series", multiple=True, help="CSV for --location, or LOC=FILE.")
@click.option("--earliest", help="Earliest start: an ISO 8601 time or a delay (default now).")
@click.option("--pause-resume", is_flag=True, help="Pause between the cleanest chunks.")
@click.option("--min-chunk", help="Least work per chunk with --pause-resume (default a slot).")
@click.option("--resume-cost", help="Cost of each resume: a time (10m) or energy (50Wh).")
@click.option("--start-now", is_flag=True, help="Start at --earliest: choose a place, not a time.")
@click.option("--power", "power_w", type=float, help="Mean power of the job in W (for grams).")
@click.option("--profile-run", help="Shape the job like a stored run (RUN_ID).")
@click.option(
    "--store", help="Store of --profile-run: a path, a sqlite:/// URL or a postgresql:// URL."
)
@click.option("--tz", "tz_name", help="Show times in this zone (IANA; default this machine's).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON on stdout.")
@click.pass_context
@carbonlens_errors
def schedule_group(
    ctx: click.Context,
    duration: str | None,
    deadline: str | None,
    location: str | None,
    locations: str | None,
    series: tuple[str, ...],
    earliest: str | None,
    pause_resume: bool,
    min_chunk: str | None,
    resume_cost: str | None,
    start_now: bool,
    power_w: float | None,
    profile_run: str | None,
    store: str | None,
    tz_name: str | None,
    as_json: bool,
) -> None:
    """Plan a flexible job at the cleanest time (and place) before its deadline."""
    if ctx.invoked_subcommand is not None:
        if any(value not in (None, False, ()) for value in ctx.params.values()):
            raise click.UsageError(
                f"options before {ctx.invoked_subcommand!r} plan a job; drop them"
            )
        return
    from carbonlens.schedule.planner import best_location, best_window, run_now
    from carbonlens.schedule.planner import pause_resume as plan_paused

    if not (deadline and location):
        raise click.UsageError("give --deadline and --location (see --help)")
    if (min_chunk or resume_cost) and not pause_resume:
        raise click.UsageError("--min-chunk and --resume-cost go with --pause-resume")
    tz = zone_from_name(tz_name)
    now = datetime.now(UTC)
    start = parse_when(earliest, base=now, tz=tz, name="--earliest") if earliest else now
    end = parse_when(deadline, base=start, tz=tz, name="--deadline")
    others = [x.strip() for x in (locations or "").split(",") if x.strip()]
    places = list(dict.fromkeys([location, *others]))
    if pause_resume and len(places) > 1:
        raise click.UsageError("--pause-resume plans one location; drop --locations")
    found = _load_series(places, _series_files(series, location), start, end)
    start = start if earliest else forecast_start(found, now)
    grids = [to_grid(one, start, end) for one in found]
    job = _job(duration, profile_run, store, power_w, grids[0].slot_s)
    if pause_resume:
        resume_s, resume_j = _resume_cost(resume_cost)
        chunk_s = parse_duration(min_chunk, name="--min-chunk") if min_chunk else None
        plan = plan_paused(
            grids[0],
            job,
            start,
            end,
            min_chunk_s=chunk_s,
            resume_s=resume_s,
            resume_energy_j=resume_j,
        )
    elif len(grids) > 1:
        plan = best_location(grids, job, start, end, shift=not start_now, home=location)
    else:
        plan = (run_now if start_now else best_window)(grids[0], job, start, end)
    if as_json:
        print_json(plan.to_dict())
        return
    chosen = next(g for g in grids if g.location == plan.location)
    click.echo("\n".join([*_describe(plan, tz), "", *_chart(chosen, plan, tz)]))


def _describe(plan: PlanResult, tz: tzinfo) -> list[str]:
    """The plan in words: window, when it runs, figures and saving."""
    job = plan.job
    lines = [
        f"{format_duration(job.duration_s)} job in {plan.location} ({plan.strategy}; "
        f"intensity from {plan.source or 'the series'})",
        f"window    {format_local(plan.earliest, tz)} to {format_local(plan.deadline, tz)}",
    ]
    for chunk in plan.chunks:
        resume = f" (first {format_duration(chunk.resume_s)} resuming)" if chunk.resume_s else ""
        lines.append(
            f"run       {format_local(chunk.start, tz)} to {format_local(chunk.end, tz)}"
            f"  {chunk.intensity_g_per_kwh:.1f} g/kWh{resume}"
        )
    now_at = f"at {format_local(plan.earliest, tz, utc_too=False)}"
    if plan.run_now_location != plan.location:
        now_at += f" in {plan.run_now_location}"
    lines += [
        f"expected  {plan.plan_g_per_kwh:.1f} gCO2e per kWh of job",
        f"run now   {plan.run_now_g_per_kwh:.1f} gCO2e per kWh of job ({now_at})",
        f"saving    {plan.saving_g_per_kwh:.1f} g per kWh ({plan.saving_pct:.1f} %)",
    ]
    if plan.saving_g is not None and plan.plan_g is not None and job.energy_kwh is not None:
        lines.append(
            f"          {plan.saving_g:.0f} g of {plan.run_now_g:.0f} g for "
            f"{job.energy_kwh:.2f} kWh (plan {plan.plan_g:.0f} g)"
        )
    for alternative in plan.alternatives:
        lines.append(
            f"  {alternative.location:<16} {alternative.plan_g_per_kwh:8.1f} g/kWh from "
            f"{format_local(alternative.start, tz, utc_too=False)}"
        )
    lines += [f"note: {note}" for note in plan.notes]
    return lines


def _chart(grid: Grid, plan: PlanResult, tz: tzinfo) -> list[str]:
    """A text chart of the intensity over the window, the planned slots marked ▲."""
    lo, hi = math.floor(grid.offset(plan.earliest)), math.ceil(grid.offset(plan.deadline))
    values = grid.values_g_per_kwh[lo:hi]
    per = max(1, math.ceil(len(values) / _CHART_WIDTH))
    starts = range(0, len(values), per)
    columns = [math.fsum(values[i : i + per]) / len(values[i : i + per]) for i in starts]
    spans = [(grid.moment(lo + i), grid.moment(lo + min(i + per, len(values)))) for i in starts]
    marked = [any(c.start < b and a < c.end for c in plan.chunks) for a, b in spans]
    width = max(1, min(3, _CHART_WIDTH // len(columns)))
    low, high = min(columns), max(columns)
    steps = _CHART_ROWS * len(_BARS)
    levels = [
        1 + round((v - low) / (high - low) * (steps - 1)) if high > low else steps // 2
        for v in columns
    ]
    rows = []
    for row in range(_CHART_ROWS):
        label = f"{high:6.0f}" if row == 0 else f"{low:6.0f}" if row == _CHART_ROWS - 1 else ""
        base = (_CHART_ROWS - 1 - row) * len(_BARS)
        cells = "".join(_cell(level - base) * width for level in levels)
        rows.append(f"{label:>6} │{cells}")
    rows.append("       └" + "─" * (len(columns) * width))
    rows.append("        " + "".join(("▲" if m else " ") * width for m in marked))
    zone = plan.earliest.astimezone(tz).tzname()
    rows.append("        " + _axis([a for a, _ in spans], width, tz) + f"   ({zone})")
    rows.append(f"        gCO2e/kWh per {format_duration(grid.slot_s * per)}; ▲ = planned to run")
    return rows


def _cell(fill: int) -> str:
    """One chart cell filled `fill` eighths (full above 8, blank at 0 or less)."""
    return _BARS[-1] if fill >= len(_BARS) else _BARS[fill - 1] if fill > 0 else " "


def _axis(starts: Sequence[datetime], width: int, tz: tzinfo) -> str:
    """Local times (HH:MM) under the chart, about every 12 characters."""
    axis = [" "] * (len(starts) * width + 6)
    every = max(1, 12 // width)
    for i in range(0, len(starts), every):
        text, pos = f"{starts[i].astimezone(tz):%H:%M}", i * width
        if all(c == " " for c in axis[max(0, pos - 1) : pos + len(text) + 1]):
            axis[pos : pos + len(text)] = list(text)
    return "".join(axis).rstrip()


@schedule_group.command("evaluate")
@click.option("--series", "series_file", required=True, help="CSV timestamp_utc,g_co2e_per_kwh.")
@click.option("--duration", required=True, help="The daily job's duration: 4h.")
@click.option("--window", default="24h", show_default=True, help="Submission to deadline.")
@click.option(
    "--submit-at", default="00:00", show_default=True, help="Daily submission, UTC HH:MM."
)
@click.option("--min-chunk", help="Least work per chunk for pause-and-resume (default a slot).")
@click.option("--resume-cost", help="Time each resume costs (10m).")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), help="First day (UTC).")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last day (UTC), included.")
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON on stdout.")
@carbonlens_errors
def evaluate_command(
    series_file: str,
    duration: str,
    window: str,
    submit_at: str,
    min_chunk: str | None,
    resume_cost: str | None,
    first: datetime | None,
    last: datetime | None,
    as_json: bool,
) -> None:
    """Replay a series, planning one job a day: what would shifting have saved?"""
    from carbonlens.schedule.evaluate import evaluate
    from carbonlens.schedule.series_io import read_series_csv

    match = re.fullmatch(r"(\d{1,2}):(\d{2})", submit_at.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise click.BadParameter(f"{submit_at!r} is not HH:MM", param_hint="--submit-at")
    resume_s = (
        parse_duration(resume_cost, allow_zero=True, name="--resume-cost") if resume_cost else 0.0
    )
    result = evaluate(
        read_series_csv(series_file),
        duration_s=parse_duration(duration, name="--duration"),
        window_s=parse_duration(window, name="--window"),
        submit_at_s=int(match.group(1)) * 3600 + int(match.group(2)) * 60,
        min_chunk_s=parse_duration(min_chunk, name="--min-chunk") if min_chunk else None,
        resume_s=resume_s,
        start=first.date() if first else None,
        end=last.date() if last else None,
    )
    if not result.days:
        raise ScheduleError(
            f"no day of {series_file} covers a whole window" + _skipped(result.skipped_days)
        )
    if as_json:
        print_json(result.to_dict())
        return
    click.echo("\n".join(_evaluation_lines(result, submit_at)))


def _evaluation_lines(result: Evaluation, submit_at: str) -> list[str]:
    """The evaluation as a small table."""
    now = result.strategies[0].run_now_mean_g_per_kwh
    lines = [
        f"{result.location} ({result.source}): {result.days} days; a "
        f"{format_duration(result.duration_s)} job submitted daily at {submit_at} UTC, "
        f"{format_duration(result.window_s)} to finish{_skipped(result.skipped_days)}",
        f"{'strategy':<16}{'g/kWh':>9}{'saving g/kWh':>14}{'saving %':>10}{'mean daily %':>14}",
        f"{'run now':<16}{now:9.1f}{0:14.1f}{0:10.1f}{0:14.1f}",
    ]
    lines += [
        f"{s.strategy:<16}{s.plan_mean_g_per_kwh:9.1f}{s.saving_g_per_kwh:14.1f}"
        f"{s.saving_pct:10.1f}{s.mean_daily_saving_pct:14.1f}"
        for s in result.strategies
    ]
    lines.append(
        f"pause-resume chunks: at least {format_duration(result.min_chunk_s)}; the series "
        "is taken as a perfect forecast, so these are upper bounds"
    )
    return lines


def _skipped(days: Sequence[date]) -> str:
    """A note on the days the series does not cover (empty when none)."""
    if not days:
        return ""
    shown = ", ".join(d.isoformat() for d in days[:5])
    more = f" and {len(days) - 5} more" if len(days) > 5 else ""
    return f"; skipped {len(days)} day(s) the series does not cover: {shown}{more}"
