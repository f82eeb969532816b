"""The `carbonlens` command: run, runs, show, doctor.

Every command that prints results takes `--json` and then prints one JSON document
on stdout (units in key names, docs/json.md). Human output goes to stderr for
`run` (so the wrapped command's stdout stays clean) and stdout otherwise.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from typing import Any, NoReturn

import click

from carbonlens._cli_common import EXIT_USAGE, carbonlens_errors, parse_since, print_json
from carbonlens._version import __version__
from carbonlens.config import PROVIDERS
from carbonlens.errors import CarbonLensError

EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"carbonlens: error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="carbonlens")
def main() -> None:
    """Measure, store and report the energy and carbon footprint of AI work."""
    from carbonlens.config import load_settings

    try:
        level = load_settings().log_level
    except CarbonLensError as exc:
        _fail(str(exc))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("carbonlens")
    logger.addHandler(handler)
    logger.setLevel(level)


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--project", help="Project the run belongs to.")
@click.option("--name", default=None, help="Name of the run (default: the command).")
@click.option("--tag", "tags", multiple=True, help="A tag; repeat for several.")
@click.option("--country", help="Country of the grid: ISO code (FR, DEU) or name.")
@click.option("--region", help="Grid zone (US-CAL-CISO) or cloud region (aws:us-east-1).")
@click.option("--interval", "interval_s", type=float, help="Sampling interval in seconds.")
@click.option("--pue", type=float, help="Power usage effectiveness (>= 1.0).")
@click.option("--store", help="Store path or sqlite:/// URL.")
@click.option(
    "--intensity-provider",
    type=click.Choice(PROVIDERS),
    help="Price the run's hours with this live provider (keys from the environment).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
@carbonlens_errors
def run(
    project: str | None,
    name: str | None,
    tags: tuple[str, ...],
    country: str | None,
    region: str | None,
    interval_s: float | None,
    pue: float | None,
    store: str | None,
    intensity_provider: str | None,
    as_json: bool,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND and measure it: `carbonlens run -- python train.py`.

    The command's exit status is passed through; SIGINT and SIGTERM are forwarded
    to it and the run is finalised.
    """
    from carbonlens.config import load_settings
    from carbonlens.records import RunStatus
    from carbonlens.tracking.tracker import Tracker

    if shutil.which(command[0]) is None:
        _fail(f"command not found: {command[0]}", EXIT_NOT_FOUND)
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
    )
    tracker.start()
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        tracker.stop(RunStatus.FAILED)
        _fail(f"cannot run {command[0]}: {exc.strerror}", EXIT_NOT_EXECUTABLE)
        return
    forwarded: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        forwarded.append(signum)
        if not (signum == signal.SIGINT and _terminal_signals_child()):
            child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        returncode = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if forwarded:
        status = RunStatus.INTERRUPTED
    else:
        status = RunStatus.FINISHED if returncode == 0 else RunStatus.FAILED
    report = tracker.stop(status)
    if as_json:
        print_json(report.to_dict())
    else:
        from carbonlens.report.console import print_report

        print_report(report, stderr=True)
    sys.exit(128 - returncode if returncode < 0 else returncode)


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


def _open_store(path: str | None) -> Any:
    from carbonlens.config import load_settings
    from carbonlens.store import default_store_path, open_existing_store

    target = path or load_settings().store or str(default_store_path(os.environ))
    return open_existing_store(target)


@main.command()
@click.option("--project", help="Only runs of this project.")
@click.option("--since", help="Only runs started since: 30m, 12h, 7d, 2w or an ISO date.")
@click.option(
    "--status",
    type=click.Choice(["running", "finished", "failed", "interrupted"]),
    help="Only runs with this status.",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--store", help="Store path or sqlite:/// URL.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON on stdout.")
@carbonlens_errors
def runs(
    project: str | None,
    since: str | None,
    status: str | None,
    limit: int,
    store: str | None,
    as_json: bool,
) -> None:
    """List stored runs, newest first."""
    from carbonlens.accounting import build_report
    from carbonlens.records import RunStatus

    since_at = parse_since(since) if since else None
    db = _open_store(store)
    try:
        infos = db.list_runs(
            project=project,
            since=since_at,
            status=RunStatus(status) if status else None,
            limit=limit,
        )
        reports = [
            build_report(i, db.samples(i.run_id), db.windows(i.run_id), store_location=db.location)
            for i in infos
        ]
    finally:
        db.close()
    if as_json:
        print_json({"runs": [r.to_dict() for r in reports], "store": db.location})
        return
    from carbonlens.report.console import print_runs

    print_runs(reports, db.location)


@main.command()
@click.argument("run_id")
@click.option("--store", help="Store path or sqlite:/// URL.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON on stdout.")
@carbonlens_errors
def show(run_id: str, store: str | None, as_json: bool) -> None:
    """Print one run in full (RUN_ID may be a unique prefix)."""
    from carbonlens.accounting import build_report

    db = _open_store(store)
    try:
        info = db.get_run(run_id)
        if info is None:
            _fail(f"no run {run_id!r} in {db.location}; `carbonlens runs` lists the runs")
            return
        report = build_report(
            info, db.samples(info.run_id), db.windows(info.run_id), store_location=db.location
        )
    finally:
        db.close()
    if as_json:
        print_json(report.to_dict())
        return
    from carbonlens.report.console import print_report

    print_report(report, stderr=False)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the probes as JSON on stdout.")
def doctor(as_json: bool) -> None:
    """List every sensor back-end, whether it works here and, if not, why and how to fix it."""
    from carbonlens.sensors import Host, probe_all

    probes = [
        {"sensor": p.sensor, "available": p.available, "reason": p.reason, "hint": p.hint}
        for p in probe_all(Host())
    ]
    providers = _provider_status(os.environ)
    if as_json:
        print_json({"sensors": probes, "intensity_providers": providers})
        return
    from carbonlens.report.console import print_probes, print_providers

    print_probes(probes)
    print_providers(providers)


def _provider_status(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """Which live intensity providers have their keys set (names only, never values)."""
    from carbonlens.intensity.providers import REQUIRED_VARIABLES

    return [
        {
            "provider": name,
            "configured": all(env.get(v) for v in required),
            "missing": [v for v in required if not env.get(v)],
        }
        for name, required in REQUIRED_VARIABLES.items()
    ]


def _register() -> None:
    """Add the command groups that live in their own modules."""
    from carbonlens.cli_estimate import estimate_group, hardware_group
    from carbonlens.cli_intensity import intensity_group
    from carbonlens.cli_report import export_command, import_group, report_command
    from carbonlens.cli_schedule import schedule_group

    main.add_command(estimate_group)
    main.add_command(hardware_group)
    main.add_command(intensity_group)
    main.add_command(report_command)
    main.add_command(import_group)
    main.add_command(export_command)
    main.add_command(schedule_group)


_register()
