"""`carbonlens exporter` and `carbonlens group`: integrations on the command line.

`exporter` measures the machine as one run (kind `exporter`, stored like any
other) and serves its metrics (docs/integrations.md#prometheus) until SIGINT or
SIGTERM, or for `--duration` seconds; then it stops the run and prints its summary
on stderr. It binds 127.0.0.1 unless `--addr` says otherwise.

`group` adds up the runs of a distributed job (docs/integrations.md#distributed-runs):
the job's total, then per node and per rank.
"""

from __future__ import annotations

import os
import signal
import threading

import click

from carbonlens._cli_common import CliFailure, carbonlens_errors, print_json, store_option

__all__ = ["exporter_command", "group_command"]


@click.command("exporter")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=9875,
    show_default=True,
    help="TCP port; 0 picks a free one.",
)
@click.option("--addr", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--project", help="Project the run belongs to.")
@click.option("--name", default="exporter", show_default=True, help="Name of the run.")
@click.option("--country", help="Country of the grid: ISO code (FR, DEU) or name.")
@click.option("--region", help="Grid zone (US-CAL-CISO) or cloud region (aws:us-east-1).")
@click.option("--interval", "interval_s", type=float, help="Sampling interval in seconds.")
@click.option("--pue", type=float, help="Power usage effectiveness (>= 1.0).")
@store_option
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds (default: run until SIGINT or SIGTERM).",
)
@carbonlens_errors
def exporter_command(
    port: int,
    addr: str,
    project: str | None,
    name: str,
    country: str | None,
    region: str | None,
    interval_s: float | None,
    pue: float | None,
    store: str | None,
    duration_s: float | None,
) -> None:
    """Serve this machine's power, energy and emissions at http://ADDR:PORT/metrics."""
    from carbonlens.integrations.prometheus import serve
    from carbonlens.tracking.tracker import Tracker

    tracker = Tracker(
        project=project,
        name=name,
        interval_s=interval_s,
        country=country,
        region=region,
        pue=pue,
        store=store,
        kind="exporter",
    )
    try:
        server = serve(tracker, port=port, addr=addr)
    except (ModuleNotFoundError, OSError) as exc:
        raise CliFailure(str(exc)) from exc
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        tracker.start()
        click.echo(f"carbonlens: serving metrics on {server.url}")
        stop.wait(duration_s)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        server.close()
    report = tracker.stop()
    click.echo(f"carbonlens: {report.summary()}", err=True)


@click.command("group")
@click.argument("group_id")
@click.option("--project", help="Only runs of this project.")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the group as JSON on stdout.")
@carbonlens_errors
def group_command(group_id: str, project: str | None, store: str | None, as_json: bool) -> None:
    """The total of distributed job GROUP_ID, per node and per rank, each device once."""
    from carbonlens.config import load_settings
    from carbonlens.integrations.distributed import group_report
    from carbonlens.report.text import energy_text, mass_text
    from carbonlens.store import default_store_path, open_existing_store
    from carbonlens.units import kwh_from_j

    db = open_existing_store(store or load_settings().store or str(default_store_path(os.environ)))
    try:
        group = group_report(db, group_id, project=project)
    finally:
        db.close()
    if as_json:
        ranks = [
            {
                "rank": r.rank,
                "node": r.node,
                "node_wide": r.node_wide,
                "run_id": r.report.info.run_id,
                "status": r.report.info.status.value,
                "energy_kwh": kwh_from_j(r.report.it_energy_j),
                "operational_gco2e": r.report.operational_g,
                "embodied_gco2e": r.embodied_g,
            }
            for r in group.ranks
        ]
        print_json(
            {
                "group_id": group_id,
                "energy_kwh": kwh_from_j(group.it_energy_j),
                "facility_energy_kwh": kwh_from_j(group.facility_energy_j),
                "operational_gco2e": group.operational_g,
                "embodied_gco2e": group.embodied_g,
                "total_gco2e": group.total_g,
                "ranks": ranks,
                "notes": list(group.notes),
            }
        )
        return
    nodes = group.by_node()
    click.echo(
        f"group {group_id}: {len(group.ranks)} run(s) on {len(nodes)} node(s): "
        f"{energy_text(group.facility_energy_j)} · {mass_text(group.total_g)} CO2e "
        f"({mass_text(group.operational_g)} operational + {mass_text(group.embodied_g)} embodied)"
    )
    for node, energy_j in nodes.items():
        click.echo(f"  node {node}: {energy_text(energy_j)} IT")
    for r in group.ranks:
        info = r.report.info
        if info.kind == "trial":  # a Ray Tune trial: a share of its node, not a rank
            who, role = f"trial {info.name}", "share of the node"
        else:
            who = f"rank {r.rank}"
            role = "node-wide + own devices" if r.node_wide else "own devices"
        click.echo(
            f"  {who} ({r.node}, {role}): {energy_text(r.report.it_energy_j)} IT · "
            f"run {info.run_id[:12]} {info.status.value}"
        )
    for note in group.notes:
        click.echo(f"carbonlens: note: {note}", err=True)
