"""`carbonlens run -- COMMAND`: run a command and measure it.

Optionally within a budget (`--budget 2kg`: SIGTERM, then SIGKILL after a grace
period, when it is spent) and at the cleanest time before a deadline
(`--deadline 12h --expected-duration 2h`: wait for the planned start, pause and
resume between slots with `--pause-resume`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from carbonlens._cli_common import (
    CliFailure,
    carbonlens_errors,
    fail,
    is_stream,
    json_text,
    print_json,
    store_option,
    write_output,
)
from carbonlens.config import PROVIDERS, Settings, load_settings

if TYPE_CHECKING:
    from carbonlens.schedule import PlanResult

EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126


def _terminal_signals_child() -> bool:
    """Whether a Ctrl-C at our terminal reached the child too (same foreground group).

    Then forwarding SIGINT would deliver it twice; a SIGINT sent to this process
    alone (e.g. `kill -INT`) while in the foreground is not forwarded either.
    """
    try:
        tty = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(tty) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(tty)


def _not_found(program: str) -> bool:
    """Whether `program` names no file: a path that does not exist, or a name on no
    PATH directory (exit 127, before any run starts). One that exists but cannot be
    executed (no x bit, a directory) fails to start instead: 126, as in a shell."""
    if os.path.dirname(program):
        return not os.path.exists(program)
    return shutil.which(program, mode=os.F_OK) is None


def _finishing(_signum: int, _frame: object) -> None:
    """SIGINT or SIGTERM once the command has exited: the run is being finalised
    (the live provider's hours are fetched for at most 10 s), so say so and go on."""
    click.echo("carbonlens: the command has exited; finishing the run's record", err=True)


def _check_writable_dir(path: Path) -> None:
    """Fail before anything runs when `path` cannot be written (its directory is
    missing or read-only), rather than after the command; a stream (`-`,
    `/dev/stdout`) is written to as it is."""
    if is_stream(path):
        return
    directory = path.expanduser().resolve().parent
    if not directory.is_dir():
        fail(f"--json-file {path}: no directory {directory}")
    if not os.access(directory, os.W_OK):
        fail(f"--json-file {path}: directory {directory} is not writable")


def _plan(
    settings: Settings,
    deadline: str,
    expected_duration: str | None,
    pause_resume: bool,
    min_chunk: str | None,
) -> PlanResult:
    """The plan to wait for: the provider's forecast up to the deadline."""
    from carbonlens.intensity.table import resolve_location
    from carbonlens.schedule import forecast_series, parse_duration, parse_when, plan_for_run
    from carbonlens.tracking.live import provider_location

    if expected_duration is None:
        fail("--deadline needs --expected-duration (how long the command runs, e.g. 2h)")
    where = settings.region or settings.country
    if settings.intensity_provider is None or where is None:
        fail(
            "planning a start needs a forecast: give --country or --region and "
            "--intensity-provider NAME (with its key; `carbonlens doctor` lists them)"
        )
    now = datetime.now(UTC)
    deadline_at = parse_when(deadline, base=now, name="--deadline")
    location = resolve_location(where)
    series = forecast_series(
        settings.intensity_provider,
        provider_location(settings.intensity_provider, location),
        now,
        deadline_at,
        os.environ,
    )
    return plan_for_run(
        deadline_at,
        parse_duration(expected_duration, name="--expected-duration"),
        location.code,
        series,
        now,
        pause_and_resume=pause_resume,
        min_chunk_s=parse_duration(min_chunk, name="--min-chunk") if min_chunk else None,
    )


def _countdown(remaining_s: float, until: datetime, what: str) -> None:
    click.echo(
        f"\rcarbonlens: {what} at {until:%H:%M:%S} UTC, in {remaining_s:7.0f} s", err=True, nl=False
    )


@click.command(
    "run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.option("--project", help="Project the run belongs to.")
@click.option("--name", default=None, help="Name of the run (default: the command).")
@click.option("--tag", "tags", multiple=True, help="A tag; repeat for several.")
@click.option("--country", help="Country of the grid: ISO code (FR, DEU) or name.")
@click.option("--region", help="Grid zone (US-CAL-CISO) or cloud region (aws:us-east-1).")
@click.option("--interval", "interval_s", type=float, help="Sampling interval in seconds.")
@click.option("--pue", type=float, help="Power usage effectiveness (>= 1.0).")
@store_option
@click.option(
    "--intensity-provider",
    type=click.Choice(PROVIDERS),
    help="Price the run's hours with this live provider (keys from the environment).",
)
@click.option(
    "--budget",
    "budgets",
    multiple=True,
    help="Stop the command when it has spent this much: 2kg, 500g (CO2e) or 3kWh.",
)
@click.option("--deadline", help="Run by then, at the cleanest time: 12h, or an ISO time.")
@click.option("--expected-duration", help="How long the command runs (with --deadline).")
@click.option("--pause-resume", is_flag=True, help="With --deadline: pause between clean slots.")
@click.option("--min-chunk", help="With --pause-resume: shortest stretch of work, e.g. 1h.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option(
    "--json-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as JSON to this file (stdout keeps only the command's output).",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
@carbonlens_errors
def run_command(
    project: str | None,
    name: str | None,
    tags: tuple[str, ...],
    country: str | None,
    region: str | None,
    interval_s: float | None,
    pue: float | None,
    store: str | None,
    intensity_provider: str | None,
    budgets: tuple[str, ...],
    deadline: str | None,
    expected_duration: str | None,
    pause_resume: bool,
    min_chunk: str | None,
    as_json: bool,
    json_file: Path | None,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND and measure it: `carbonlens run -- python train.py`.

    The command's exit status is passed through; SIGINT and SIGTERM are forwarded
    to it and the run is finalised.
    """
    from carbonlens.records import RunStatus
    from carbonlens.tracking.budget import terminate_child
    from carbonlens.tracking.budget_limits import parse_run_budgets
    from carbonlens.tracking.tracker import Tracker

    if _not_found(command[0]):
        fail(f"command not found: {command[0]}", EXIT_NOT_FOUND)
    if json_file is not None:
        _check_writable_dir(json_file)
    budget_kw: dict[str, Any] = parse_run_budgets(budgets)
    if budget_kw:
        budget_kw["budget_action"] = "terminate"
    tracker = Tracker(
        project=project,
        name=name or " ".join(command)[:200],
        tags=tags,
        interval_s=interval_s,
        country=country,
        region=region,
        pue=pue,
        store=store,
        root_pid=os.getpid(),
        settings=load_settings(overrides={"intensity_provider": intensity_provider}),
        **budget_kw,
    )
    plan = None
    if deadline is not None:
        plan = _plan(tracker.settings, deadline, expected_duration, pause_resume, min_chunk)
        from carbonlens.schedule import wait_for_start

        click.echo(
            f"carbonlens: planned {plan.plan_g_per_kwh:.0f} gCO2e/kWh against "
            f"{plan.run_now_g_per_kwh:.0f} now ({plan.saving_pct:.1f} % less)",
            err=True,
        )
        wait_for_start(plan, progress=_countdown)
        click.echo("", err=True)
    tracker.start()
    if plan is not None:
        tracker.annotate("schedule_plan", plan.to_dict())
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        tracker.stop(RunStatus.FAILED)
        hint = ""
        if isinstance(exc, PermissionError):
            hint = " (it must be an executable file: `chmod +x` it, or run it with its interpreter)"
        fail(f"cannot run {command[0]}: {exc.strerror}{hint}", EXIT_NOT_EXECUTABLE)
    tracker.on_budget_exceeded(lambda _exc: terminate_child(child, tracker.settings.budget_grace_s))
    forwarded: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        forwarded.append(signum)
        if not (signum == signal.SIGINT and _terminal_signals_child()):
            child.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    try:
        if plan is not None and plan.resumes:
            from carbonlens.schedule import PauseController, follow_plan

            follow_plan(plan, PauseController(child.pid), alive=lambda: child.poll() is None)
        returncode = child.wait()
    finally:  # the command is over: a second Ctrl-C must not cut the run's record short
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _finishing)
    if forwarded or tracker.stop_reason:
        status = RunStatus.INTERRUPTED
    else:
        status = RunStatus.FINISHED if returncode == 0 else RunStatus.FAILED
    report = tracker.stop(status)
    if json_file is not None:
        try:
            write_output(json_text(report.to_dict()) + "\n", json_file)
        except CliFailure as exc:  # the command ran: its status still passes through
            click.echo(
                f"carbonlens: error: {exc.format_message()}; the run is stored: "
                f"`carbonlens show {report.info.run_id[:12]} --json` prints it",
                err=True,
            )
    if as_json:
        print_json(report.to_dict())
    else:
        from carbonlens.report.console import print_report

        print_report(report, stderr=True)
    sys.exit(128 - returncode if returncode < 0 else returncode)
