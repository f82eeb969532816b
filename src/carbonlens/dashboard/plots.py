"""The dashboard's charts of several runs: a comparison and a project over time.

A run's own charts are those of the HTML report (`report.html`); these add the
charts that only the dashboard shows, drawn by the same SVG functions
(`report.charts`), so pages need no JavaScript chart library and load nothing
from the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from carbonlens.report.charts import bar_chart, line_chart
from carbonlens.report.timeseries import Series, cumulative_emissions_series, time_scale
from carbonlens.units import G_PER_KG, kwh_from_j

if TYPE_CHECKING:
    from carbonlens.dashboard.queries import Comparison, ProjectPage

__all__ = ["comparison_charts", "project_charts"]

_S_PER_DAY: Final = 86_400.0
_KG_FROM_G: Final = 10 * G_PER_KG
"""Emissions at or above this many grams are drawn in kg."""


def _mass_unit(largest_g: float) -> tuple[str, float]:
    """The unit and grams per unit for emissions up to `largest_g` (the reports' rule)."""
    return ("kgCO2e", G_PER_KG) if largest_g >= _KG_FROM_G else ("gCO2e", 1.0)


def comparison_charts(comparison: Comparison) -> list[str]:
    """Total emissions and facility energy by run, and cumulative emissions over time.

    Returns:
        SVG elements as text; [] when no run was found.
    """
    runs = comparison.runs
    if not runs:
        return []
    names = [r.report.info.name or r.report.info.run_id[:12] for r in runs]
    unit, per_g = _mass_unit(max(r.report.total_g for r in runs))
    totals = [
        (n, r.report.total_g / per_g, r.report.info.project)
        for n, r in zip(names, runs, strict=True)
    ]
    energy = [
        (n, kwh_from_j(r.report.facility_energy_j), r.report.info.status.value)
        for n, r in zip(names, runs, strict=True)
    ]
    scale_s, x_unit = time_scale(max(r.report.duration_s for r in runs))
    lines = []
    for name, run in zip(names, runs, strict=True):
        total = cumulative_emissions_series(run.report, run.samples, scale_s)[-1]
        to_g = G_PER_KG if total.unit == "kgCO2e" else 1.0
        lines.append(Series(name, unit, [(x, y * to_g / per_g) for x, y in total.points]))
    return [
        bar_chart("Total emissions (operational + embodied)", totals, unit=unit),
        bar_chart("Facility energy", energy, unit="kWh"),
        line_chart(
            "Cumulative emissions (operational + embodied)",
            lines,
            x_label=f"time since start ({x_unit})",
            y_label=unit,
        ),
    ]


def project_charts(page: ProjectPage) -> list[str]:
    """Emissions per period and cumulative emissions since the project's first run.

    Returns:
        SVG elements as text; [] when no run could be priced.
    """
    priced = [(row.info, row.report) for row in page.table.rows if row.report is not None]
    if not priced:
        return []
    unit, per_g = _mass_unit(page.table.totals.total_g)
    bars = [
        (p.label, p.totals.total_g / per_g, f"{p.totals.runs} run(s)")
        for p in page.periods
        if p.totals.runs > p.totals.unpriced
    ]
    first = min(info.started_at for info, _report in priced)
    ends = sorted(
        ((info.started_at - first).total_seconds() + report.duration_s, report.total_g)
        for info, report in priced
    )
    points, running_g = [(0.0, 0.0)], 0.0
    for end_s, total_g in ends:
        running_g += total_g
        points.append((end_s / _S_PER_DAY, running_g / per_g))
    cumulative = Series(
        f"{page.project}: {len(priced)} priced run(s), at each run's end", unit, points, step=True
    )
    return [
        bar_chart("Emissions by period", bars, unit=unit),
        line_chart(
            "Cumulative emissions",
            [cumulative],
            x_label="days since the first run",
            y_label=unit,
        ),
    ]
