"""Rich tables for the CLI (rich is imported here only, never by the library core)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.box import SIMPLE_HEAD
from rich.console import Console
from rich.table import Table
from rich.text import Text

from carbonlens.report.text import duration_text, energy_text, mass_text, quality_text

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport
    from carbonlens.records import RunInfo


def _add(table: Table, *cells: str) -> None:
    """Add a row of plain text: data (sources, hints) is never read as rich markup."""
    table.add_row(*(Text(cell) for cell in cells))


def _range(low: float, high: float) -> str:
    return f"{energy_text(low)} – {energy_text(high)}"


def report_table(report: RunReport) -> Table:
    """The end-of-run table: energy per component with method, then carbon."""
    info = report.info
    title = f"carbonlens run {info.run_id[:12]} · {info.project} · {info.status.value}"
    table = Table(title=title, show_header=True, header_style="bold", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("method / source")
    _add(table, "duration", duration_text(report.duration_s), "monotonic clock")
    if report.quality_flags:
        count = sum(flag.count for flag in report.quality_flags)
        _add(table, "quality", f"{count} flag(s)", quality_text(report.quality_flags))
    for t in report.components:
        ch = t.channel
        share = (
            f", process {energy_text(t.process_energy_j)}" if t.process_energy_j is not None else ""
        )
        device = "" if ch.device == ch.component.value else f" {ch.device}"
        _add(
            table,
            f"energy {ch.component.value}{device}",
            energy_text(t.energy_j),
            f"{ch.method.value} ({ch.sensor}), range {_range(t.energy_low_j, t.energy_high_j)}"
            f"{share}",
        )
    _add(
        table,
        "IT energy",
        energy_text(report.it_energy_j),
        f"range {_range(report.it_energy_low_j, report.it_energy_high_j)}",
    )
    _add(table, "PUE", f"{report.pue.pue_ratio:.2f}", report.pue.source)
    _add(table, "facility energy", energy_text(report.facility_energy_j), "IT energy × PUE")
    i = report.intensity
    year = f", {i.year}" if i.year else ""
    _add(
        table,
        "grid intensity",
        f"{i.intensity_g_per_kwh:.1f} g/kWh",
        f"{i.reason or i.location or 'world'} — {i.source}{year}; {i.basis}",
    )
    _add(
        table,
        "operational",
        f"{mass_text(report.operational_g)} CO2e",
        f"range {mass_text(report.operational_low_g)} – {mass_text(report.operational_high_g)}",
    )
    if report.time_resolved is not None:
        tr = report.time_resolved
        _add(
            table,
            "  annual-average figure",
            f"{mass_text(report.operational_annual_g)} CO2e",
            f"the operational figure above is time-resolved ({tr.source}, {tr.signal}, "
            f"{tr.covered_ratio:.0%} of the energy covered by the series)",
        )
    if report.market is not None:
        _add(
            table,
            "market-based",
            f"{mass_text(report.market.operational_g)} CO2e",
            report.market.formula,
        )
    sources = "; ".join(sorted({e.source for e in report.embodied})) or "not included"
    _add(table, "embodied", f"{mass_text(report.embodied_g)} CO2e", sources)
    _add(table, "total", f"{mass_text(report.total_g)} CO2e", "operational + embodied")
    for w in report.windows:
        _add(
            table,
            f"window {w.name}",
            energy_text(w.facility_energy_j),
            f"{duration_text(w.duration_s)}, {mass_text(w.operational_g)} CO2e operational",
        )
    return table


def print_report(report: RunReport, *, stderr: bool) -> None:
    """Print the run table and its notes."""
    console = Console(stderr=stderr, highlight=False)
    console.print(report_table(report))
    stored = report.store_location or "nowhere (see notes)"
    console.print(Text(f"run {report.info.run_id} stored in {stored}"), soft_wrap=True)
    for note in report.notes:
        console.print(Text.assemble(("note: ", "yellow"), note), soft_wrap=True)


def print_runs(listed: Sequence[tuple[RunInfo, RunReport | Exception]], location: str) -> None:
    """One row per run, newest first; a run that could not be priced has no figures.

    The run id is never cut; below 100 columns the name and duration are left out
    (`carbonlens show` has them).
    """
    console = Console()
    if not listed:
        console.print(f"no runs in {location}")
        return
    wide = console.width >= 100
    table = Table(
        title=f"runs in {location}", title_justify="left", header_style="bold", box=SIMPLE_HEAD
    )
    columns: dict[str, dict[str, Any]] = {
        "run": {"no_wrap": True},
        "project": {"overflow": "fold"},
        "name": {"overflow": "fold"},
        "started (UTC)": {"min_width": 10},
        "duration": {"no_wrap": True},
        "status": {"no_wrap": True},
        "energy": {"justify": "right", "no_wrap": True},
        "CO2e": {"justify": "right", "no_wrap": True},
    }
    shown = [name for name in columns if wide or name not in ("name", "duration")]
    for name in shown:
        table.add_column(name, **columns[name])
    for info, priced in listed:
        row = {
            "run": info.run_id[:12],
            "project": info.project,
            "name": info.name[:60],
            "started (UTC)": info.started_at.strftime("%Y-%m-%d %H:%M"),
            "status": info.status.value,
        }
        if isinstance(priced, Exception):
            duration_s, energy, co2e = info.duration_s or 0.0, "no figures", "(unpriced)"
        else:
            duration_s = priced.duration_s
            energy, co2e = energy_text(priced.facility_energy_j), mass_text(priced.total_g)
        row |= {"duration": duration_text(duration_s), "energy": energy, "CO2e": co2e}
        _add(table, *(row[name] for name in shown))
    console.print(table)


def print_probes(probes: Sequence[Mapping[str, Any]]) -> None:
    """The doctor table: every back-end, available or why not and how to fix it.

    Each probe is a mapping with `sensor`, `available`, `reason` and `hint`, as in
    `carbonlens doctor --json`.
    """
    table = Table(title="sensor back-ends", title_justify="left", header_style="bold")
    for name in ("sensor", "available", "reason", "how to enable"):
        table.add_column(name)
    for p in probes:
        _add(table, p["sensor"], "yes" if p["available"] else "no", p["reason"], p["hint"])
    Console().print(table)


def print_providers(providers: Sequence[Mapping[str, Any]]) -> None:
    """Which live intensity providers are configured, and which variables are missing."""
    table = Table(title="live intensity providers", title_justify="left", header_style="bold")
    for name in ("provider", "configured", "set these variables"):
        table.add_column(name)
    for p in providers:
        _add(table, p["provider"], "yes" if p["configured"] else "no", ", ".join(p["missing"]))
    Console().print(table)
