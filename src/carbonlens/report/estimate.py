"""Estimates and devices as JSON documents or rich tables: units chosen at the edge.

The document (``schema: carbonlens.estimate/1``, docs/estimate.md) has energies
in kWh, emissions in kgCO2e and every input under `assumptions`; mode-specific
figures (`details`) keep the SI unit their key names (``energy_per_query_j``,
``total_per_day_g``). rich is imported inside `print_estimate` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from carbonlens.report.text import duration_text, energy_text, mass_text
from carbonlens.units import BYTES_PER_GB, G_PER_KG, S_PER_YEAR, kwh_from_j

if TYPE_CHECKING:
    from carbonlens.estimate.hardware import DeviceSpec, Resolution
    from carbonlens.estimate.model import Estimate
    from carbonlens.estimate.whatif import Scenario

__all__ = [
    "SCHEMA",
    "device_to_dict",
    "estimate_to_dict",
    "print_device",
    "print_devices",
    "print_estimate",
]

SCHEMA = "carbonlens.estimate/1"

_S_PER_H = 3600.0
_PART_HOW = {
    "host": "servers × host power × time",
    "clients": "clients × rounds × power × time",
    "network": "clients × rounds × bytes × energy per byte",
}


def _kg(mass_g: float) -> float:
    return mass_g / G_PER_KG


def _scenario(row: Scenario) -> dict[str, Any]:
    e = row.estimate
    return {
        "rank": row.rank,
        "option": row.label,
        "baseline": row.baseline,
        "total_kgco2e": _kg(e.total_g),
        "low_kgco2e": _kg(e.low_g),
        "high_kgco2e": _kg(e.high_g),
        "energy_kwh": kwh_from_j(e.facility_energy_j),
        "intensity_g_per_kwh": e.intensity_g_per_kwh,
        "pue": e.pue_ratio,
        "device": e.device,
        "wall_hours": e.wall_hours,
        "saving_kgco2e": _kg(row.saving_g),
        "saving_ratio": row.saving_ratio,
    }


def estimate_to_dict(
    estimate: Estimate, comparisons: Mapping[str, Sequence[Scenario]] | None = None
) -> dict[str, Any]:
    """One JSON-compatible document for an estimate and its what-if comparisons.

    Args:
        estimate: the estimate.
        comparisons: ranked options by what was varied ("regions", "devices"...).

    Returns:
        The document; see docs/estimate.md for every key.
    """
    e = estimate
    return {
        "schema": SCHEMA,
        "mode": e.mode,
        "device": e.device,
        "count": e.count,
        "energy_kwh": kwh_from_j(e.facility_energy_j),
        "it_energy_kwh": kwh_from_j(e.it_energy_j),
        "pue": e.pue_ratio,
        "intensity_g_per_kwh": e.intensity_g_per_kwh,
        "operational_kgco2e": _kg(e.operational_g),
        "embodied_kgco2e": _kg(e.embodied_g),
        "total_kgco2e": _kg(e.total_g),
        "low_kgco2e": _kg(e.low_g),
        "high_kgco2e": _kg(e.high_g),
        "device_hours": e.device_hours,
        "wall_hours": e.wall_hours,
        "flop": e.flop,
        "parts": [{"name": p.name, "it_energy_kwh": kwh_from_j(p.it_energy_j)} for p in e.parts],
        "embodied": [
            {
                "device": s.device,
                "component": s.component.value,
                "embodied_total_kgco2e": _kg(s.embodied_total_g),
                "lifetime_years": s.lifetime_s / S_PER_YEAR,
                "source": s.source,
            }
            for s in e.embodied
        ],
        "assumptions": {
            name: {"value": a.value, "low": a.low, "high": a.high, "source": a.source}
            for name, a in e.assumptions.items()
        },
        "details": dict(e.details),
        "notes": list(e.notes),
        "comparisons": {
            what: [_scenario(row) for row in rows] for what, rows in (comparisons or {}).items()
        },
    }


def _number(value: float | str) -> str:
    """A value for a table: scientific from 10**7, grouped thousands, else 4 digits."""
    if isinstance(value, str):
        return value
    if abs(value) >= 1e7:
        return f"{value:.4g}"
    return f"{value:,.0f}" if abs(value) >= 1e3 else f"{value:.4g}"


def _detail(name: str, value: float) -> str:
    if name.endswith("_j"):
        return energy_text(value)
    if name.endswith("_g"):
        return f"{mass_text(value)} CO2e"
    return _number(value)


def print_estimate(
    estimate: Estimate, comparisons: Mapping[str, Sequence[Scenario]] | None = None
) -> None:
    """Print the estimate as tables: breakdown and range, inputs, details, comparisons."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    e = estimate

    def table(title: str, *columns: str) -> Table:
        t = Table(title=title, title_justify="left", header_style="bold")
        for column in columns:
            t.add_column(column, overflow="fold")
        return t

    def row(t: Table, *cells: str) -> None:
        t.add_row(*(Text(cell) for cell in cells))

    main = table(
        f"carbonlens estimate · {e.mode} · {e.count} × {e.device}", "figure", "value", "how"
    )
    if e.flop is not None:
        row(main, "compute", f"{e.flop:.3e} FLOP", str(e.assumptions["flop"].source))
    row(main, "device time", f"{_number(e.device_hours)} device-hours", "devices × wall time")
    row(main, "wall time", duration_text(e.wall_hours * _S_PER_H), f"{e.wall_hours:.4g} h")
    for part in e.parts:
        how = _PART_HOW.get(part.name, "devices × power × time")
        row(main, f"IT energy: {part.name}", energy_text(part.it_energy_j), how)
    row(main, "PUE", f"{e.pue_ratio:.3g}", "facility / IT energy")
    row(main, "facility energy", energy_text(e.facility_energy_j), "IT energy × PUE")
    row(main, "grid intensity", f"{e.intensity_g_per_kwh:.4g} g/kWh", "see assumptions")
    row(main, "operational", f"{mass_text(e.operational_g)} CO2e", "facility energy × intensity")
    embodied = f"{mass_text(e.embodied_g)} CO2e" if e.embodied else "not included"
    row(main, "embodied", embodied, "manufacturing × time / lifetime")
    row(main, "total", f"{mass_text(e.total_g)} CO2e", "operational + embodied")
    ranged = ", ".join(k for k, a in e.assumptions.items() if a.low is not None) or "none"
    span = f"{mass_text(e.low_g)} – {mass_text(e.high_g)}"
    row(main, "range", span, f"every low/high corner of: {ranged}")
    inputs = table("assumptions (units in the names)", "input", "value", "range", "source")
    for name, a in e.assumptions.items():
        spread = "" if a.low is None or a.high is None else f"{_number(a.low)} – {_number(a.high)}"
        row(inputs, name, _number(a.value), spread, a.source)
    console = Console(highlight=False)
    console.print(main)
    if e.details:
        details = table(f"{e.mode} figures", "figure", "value")
        for name, value in e.details.items():
            row(details, name, _detail(name, value))
        console.print(details)
    console.print(inputs)
    for what, rows in (comparisons or {}).items():
        ranking = table(
            f"what-if: {what}", "rank", "option", "total", "range", "saving vs baseline"
        )
        for r in rows:
            verb = "saves" if r.saving_g >= 0 else "adds"
            saving = f"{verb} {mass_text(abs(r.saving_g))} ({r.saving_ratio:+.0%})"
            saving = "baseline" if r.baseline else saving
            total = f"{mass_text(r.estimate.total_g)} CO2e"
            span = f"{mass_text(r.estimate.low_g)} – {mass_text(r.estimate.high_g)}"
            row(ranking, str(r.rank), r.label, total, span, saving)
        console.print(ranking)
    for note in e.notes:
        console.print(Text.assemble(("note: ", "yellow"), note), soft_wrap=True)


def device_to_dict(d: DeviceSpec) -> dict[str, Any]:
    """A device as JSON, units in the keys (TFLOP/s, GB, GB/s, kgCO2e)."""

    def per(value: float | None, unit: float) -> float | None:
        return None if value is None else value / unit

    return {
        "id": d.id,
        "name": d.name,
        "vendor": d.vendor,
        "kind": d.kind,
        "form_factor": d.form_factor,
        "release_year": d.release_year,
        "tdp_w": d.tdp_w,
        "tdp_note": d.tdp_note,
        "peak_tflops": {p.value: v / 1e12 for p, v in d.peak_flop_per_s.items() if d.supports(p)},
        "memory_gb": per(d.memory_bytes, BYTES_PER_GB),
        "memory_bandwidth_gb_s": per(d.memory_bandwidth_bytes_per_s, BYTES_PER_GB),
        "embodied_kgco2e": per(d.embodied_g, G_PER_KG),
        "embodied_source": d.embodied_source,
        "devices_per_host": d.devices_per_host,
        "source": d.source,
        "license": d.license,
        "notes": d.notes,
    }


def print_devices(devices: Sequence[DeviceSpec]) -> None:
    """One row per device: TDP, dense peak TFLOP/s per precision, memory and bandwidth."""
    from rich.console import Console
    from rich.table import Table

    title = "accelerators (hardware.csv): TDP W, dense peak TFLOP/s, memory GB, bandwidth GB/s"
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("name", overflow="fold")
    for column in ("TDP W", "FP32", "16-bit", "FP8", "GB", "GB/s"):
        table.add_column(column, justify="right", no_wrap=True)
    for d in devices:
        doc = device_to_dict(d)
        cells = [doc["tdp_w"], *(doc["peak_tflops"].get(p) for p in ("fp32", "fp16", "fp8"))]
        cells += [doc["memory_gb"], doc["memory_bandwidth_gb_s"]]
        table.add_row(d.name, *("" if c is None else f"{c:g}" for c in cells))
    Console(highlight=False).print(table)


def print_device(found: Resolution) -> None:
    """Every field of one device, and how its name was read."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=found.spec.name, title_justify="left", show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key, value in device_to_dict(found.spec).items():
        if value not in (None, "", {}):
            table.add_row(key, Text(str(value)))
    console = Console(highlight=False)
    console.print(table)
    if found.note:
        console.print(Text.assemble(("note: ", "yellow"), found.note), soft_wrap=True)
