"""The `carbonlens` command: run, runs, show, doctor.

Every command that prints results takes `--json` and then prints one JSON document
on stdout (units in key names, docs/json.md). Human output goes to stderr for
`run` (so the wrapped command's stdout stays clean) and stdout otherwise.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

import click

from carbonlens._cli_common import (
    LIMIT,
    carbonlens_errors,
    fail,
    parse_since,
    print_json,
    store_option,
)
from carbonlens._version import __version__
from carbonlens.errors import CarbonLensError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="carbonlens")
def main() -> None:
    """Measure, store and report the energy and carbon footprint of AI work."""
    from carbonlens.config import load_settings

    try:
        level = load_settings().log_level
    except CarbonLensError as exc:
        fail(str(exc))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("carbonlens")
    logger.addHandler(handler)
    logger.setLevel(level)


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
@click.option("--limit", type=LIMIT, default=50, show_default=True)
@store_option
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
    """List stored runs, newest first.

    A run whose stored settings cannot be priced (another tool's record, or a
    damaged one) is listed without figures, and under `unpriced` with --json.
    """
    from carbonlens.accounting import RunReport, stored_report
    from carbonlens.errors import UnpricedRun
    from carbonlens.records import RunStatus
    from carbonlens.report.json import run_info_to_dict

    since_at = parse_since(since) if since else None
    db = _open_store(store)
    listed: list[RunReport | UnpricedRun] = []
    try:
        infos = db.list_runs(
            project=project,
            since=since_at,
            status=RunStatus(status) if status else None,
            limit=limit,
        )
        for info in infos:
            try:
                listed.append(stored_report(db, info, windows=as_json))
            except UnpricedRun as exc:
                listed.append(exc)
    finally:
        db.close()
    if as_json:
        reports = [r.to_dict() for r in listed if not isinstance(r, UnpricedRun)]
        unpriced = [
            {**run_info_to_dict(i), "reason": r.detail}
            for i, r in zip(infos, listed, strict=True)
            if isinstance(r, UnpricedRun)
        ]
        print_json({"runs": reports, "unpriced": unpriced, "store": db.location})
        return
    from carbonlens.report.console import print_runs

    print_runs(list(zip(infos, listed, strict=True)), db.location)


@main.command()
@click.argument("run_id")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON on stdout.")
@carbonlens_errors
def show(run_id: str, store: str | None, as_json: bool) -> None:
    """Print one run in full (RUN_ID may be a unique prefix)."""
    from carbonlens.accounting import build_report

    db = _open_store(store)
    try:
        info = db.get_run(run_id)
        if info is None:
            fail(f"no run {run_id!r} in {db.location}; `carbonlens runs` lists the runs")
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
@click.option(
    "--store",
    "store",
    is_flag=False,
    flag_value="",
    default=None,
    help="Check the run store instead (PATH, default the configured one).",
)
@click.option("--repair", is_flag=True, help="With --store: repair what can be repaired.")
def doctor(as_json: bool, store: str | None, repair: bool) -> None:
    """List every sensor back-end, whether it works here and, if not, why and how to fix it."""
    if store is not None or repair:
        from carbonlens.cli_store import doctor_store

        doctor_store(store or "", repair, as_json)
        return
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
    from carbonlens.cli_dashboard import dashboard_command
    from carbonlens.cli_estimate import estimate_group
    from carbonlens.cli_evaluate import bench_command, budget_group, compare_command
    from carbonlens.cli_hardware import hardware_group
    from carbonlens.cli_integrations import exporter_command, group_command
    from carbonlens.cli_intensity import intensity_group
    from carbonlens.cli_report import export_command, import_group, report_command
    from carbonlens.cli_run import run_command
    from carbonlens.cli_schedule import schedule_group
    from carbonlens.cli_schema import schema_command
    from carbonlens.cli_store import sync_command

    main.add_command(bench_command)
    main.add_command(budget_group)
    main.add_command(compare_command)
    main.add_command(dashboard_command)
    main.add_command(estimate_group)
    main.add_command(hardware_group)
    main.add_command(exporter_command)
    main.add_command(group_command)
    main.add_command(intensity_group)
    main.add_command(report_command)
    main.add_command(run_command)
    main.add_command(import_group)
    main.add_command(export_command)
    main.add_command(schedule_group)
    main.add_command(schema_command)
    main.add_command(sync_command)


_register()
