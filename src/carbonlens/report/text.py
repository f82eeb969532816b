"""Plain-text formatting of figures: human units chosen at the edge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from carbonlens.records import QualityFlag
from carbonlens.units import kwh_from_j

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport


def energy_text(energy_j: float) -> str:
    """Energy with a readable unit: Wh below 1 kWh, kWh above."""
    kwh = kwh_from_j(energy_j)
    return f"{kwh:.3f} kWh" if kwh >= 1 else f"{kwh * 1000:.3f} Wh"


def mass_text(mass_g: float) -> str:
    """CO2e mass with a readable unit: g, kg or t."""
    if mass_g >= 1e6:
        return f"{mass_g / 1e6:.3f} t"
    if mass_g >= 1e3:
        return f"{mass_g / 1e3:.3f} kg"
    return f"{mass_g:.3f} g" if mass_g >= 0.01 else f"{mass_g * 1000:.3f} mg"


def duration_text(duration_s: float) -> str:
    """A duration as h:mm:ss, or seconds when short."""
    if duration_s < 60:
        return f"{duration_s:.1f} s"
    minutes, seconds = divmod(int(round(duration_s)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def quality_text(flags: Sequence[QualityFlag]) -> str:
    """Quality flags on one line, e.g. 'nvml read_timeout ×1 (at 12.0 s); nvml/gpu/gpu0
    gap ×1 (11.0–20.0 s)': where, what, how often and when (seconds since the start)."""
    parts = []
    for flag in flags:
        first, last = flag.first_t_s, flag.last_t_s
        when = f"at {first:.1f} s" if first == last else f"{first:.1f}–{last:.1f} s"
        parts.append(f"{flag.channel} {flag.kind.value} ×{flag.count} ({when})")
    return "; ".join(parts)


def summary_line(report: RunReport) -> str:
    """One line: '0.012 Wh · 0.005 g CO2e (FR grid 2025) · cpu modelled, ram modelled'.

    Facility energy, total emissions, the grid used and each channel's method; then,
    for a run with quality flags, their kinds (' · quality flags: gap, read_timeout').
    """
    methods = ", ".join(
        f"{t.channel.component.value} {t.channel.method.value}" for t in report.components
    )
    where = report.intensity.location or "world"
    year = f" {report.intensity.year}" if report.intensity.year else ""
    kinds = sorted({flag.kind.value for flag in report.quality_flags})
    quality = f" · quality flags: {', '.join(kinds)}" if kinds else ""
    return (
        f"{energy_text(report.facility_energy_j)} · {mass_text(report.total_g)} CO2e "
        f"({where} grid{year}) · {methods or 'no sensors'}{quality}"
    )
