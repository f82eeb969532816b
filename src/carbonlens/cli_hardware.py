"""`carbonlens hardware list|show`: the accelerators and CPUs the estimator knows,
from the bundled tables, with their sources (docs/estimate.md)."""

from __future__ import annotations

import click

from carbonlens._cli_common import carbonlens_errors, print_json

__all__ = ["hardware_group"]


@click.group("hardware", context_settings={"help_option_names": ["-h", "--help"]})
def hardware_group() -> None:
    """Accelerators and CPUs the estimator knows (bundled tables, with sources)."""


@hardware_group.command("list")
@click.option(
    "--kind", type=click.Choice(["gpu", "tpu", "accelerator", "soc"]), help="Only one kind."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def list_command(kind: str | None, as_json: bool) -> None:
    """Every accelerator of the bundled table (CPUs: `hardware show "Xeon Gold 6148"`)."""
    from carbonlens.estimate.hardware import list_devices
    from carbonlens.report.estimate import device_to_dict, print_devices

    devices = [d for d in list_devices() if kind is None or d.kind == kind]
    if as_json:
        print_json({"devices": [device_to_dict(d) for d in devices]})
    else:
        print_devices(devices)


@hardware_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@carbonlens_errors
def show_command(name: str, as_json: bool) -> None:
    """One device as NAME resolves ("V100", "A100-80GB", "tpu v3", "EPYC 7763"), with sources."""
    from carbonlens.estimate.hardware import resolve_device
    from carbonlens.report.estimate import device_to_dict, print_device

    found = resolve_device(name)
    if as_json:
        print_json(
            device_to_dict(found.spec) | {"query": name, "alternatives": list(found.alternatives)}
        )
    else:
        print_device(found)
