"""A run's figures over time, shaped for plots: power, cumulative energy and emissions, intensity.

Pure functions from a `RunReport` and its stored samples to labelled point
series; the HTML report draws them as SVG and any other front end (the
dashboard) can draw the same series. x values are seconds since the run's start
divided by the scale that `time_scale` picks; y units are in each series' label.
Long runs are reduced to at most `MAX_POINTS` points per series by merging
consecutive samples (mean power over the merged span, drawn as a step, so the
area under the curve is the energy).
Cumulative emissions are priced by `accounting.build_report` over consecutive
windows of the run (the one pricing path); embodied emissions accrue linearly.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

from carbonlens._frozen import frozen
from carbonlens.accounting import build_report
from carbonlens.records import Channel, Sample, Window
from carbonlens.units import G_PER_KG, kwh_from_j

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport

__all__ = [
    "MAX_POINTS",
    "Series",
    "channel_label",
    "cumulative_emissions_series",
    "cumulative_energy_series",
    "intensity_series",
    "power_series",
    "time_scale",
]

MAX_POINTS: Final = 300
_CUMULATIVE_STEPS: Final = 50


@frozen
class Series:
    """One labelled series of (x, y) points, in x order.

    Attributes:
        label: legend text.
        unit: unit of y ("W", "kWh", "gCO2e/kWh").
        points: (x, y) pairs.
        step: each y holds until the next x (intensity periods).
        dashed: a reference value rather than data.
    """

    label: str
    unit: str
    points: Sequence[tuple[float, float]]
    step: bool = False
    dashed: bool = False


def time_scale(duration_s: float) -> tuple[float, str]:
    """Seconds per x unit and its name: s below 10 min, min below 10 h, else h."""
    if duration_s < 600:
        return 1.0, "s"
    return (60.0, "min") if duration_s < 36_000 else (3600.0, "h")


def channel_label(channel: Channel) -> str:
    """'gpu gpu0 (measured)': component, device and method of a channel."""
    return f"{channel.component.value} {channel.device} ({channel.method.value})"


def power_series(samples: Sequence[Sample], scale_s: float) -> list[Series]:
    """Mean power (W) per channel as steps over at most `MAX_POINTS` consecutive spans."""
    groups: dict[Channel, list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[sample.channel].append(sample)
    series = []
    for channel, group in groups.items():
        size = -(-len(group) // MAX_POINTS)
        points = []
        for n in range(0, len(group), size):
            part = group[n : n + size]
            begin_s = part[0].t_s - part[0].duration_s
            if part[-1].t_s > begin_s:
                power_w = sum(s.energy_j for s in part) / (part[-1].t_s - begin_s)
                points.append((begin_s / scale_s, power_w))
        if points:
            points.append((group[-1].t_s / scale_s, points[-1][1]))
        series.append(Series(channel_label(channel), "W", points, step=True))
    return series


def cumulative_energy_series(
    report: RunReport, samples: Sequence[Sample], scale_s: float
) -> Series:
    """Cumulative facility energy, in Wh below 1 kWh and in kWh above."""
    ordered = sorted(samples, key=lambda s: s.t_s)
    step = -(-len(ordered) // MAX_POINTS) or 1
    points, total_j = [(0.0, 0.0)], 0.0
    for n, sample in enumerate(ordered):
        total_j += sample.energy_j * report.pue.pue_ratio
        if n % step == step - 1 or n == len(ordered) - 1:
            points.append((sample.t_s / scale_s, kwh_from_j(total_j)))
    if kwh_from_j(report.facility_energy_j) >= 1:
        return Series("facility energy", "kWh", points)
    return Series("facility energy", "Wh", [(x, kwh * 1000) for x, kwh in points])


def _per_window(samples: Sequence[Sample], edges: Sequence[float]) -> list[Sample]:
    """One merged sample per channel and span between consecutive `edges` (energy summed).

    A sample belongs to the span its end falls in, as in `accounting.window_totals`.
    """
    merged: dict[tuple[Channel, int], list[Sample]] = defaultdict(list)
    for sample in samples:
        span = min(max(bisect.bisect_left(edges, sample.t_s) - 1, 0), len(edges) - 2)
        merged[(sample.channel, span)].append(sample)
    out = []
    for (channel, _span), group in merged.items():
        begin_s = min(s.t_s - s.duration_s for s in group)
        end_s = max(s.t_s for s in group)
        shares = [s.process_energy_j for s in group]
        process_j = None if None in shares else sum(p or 0.0 for p in shares)
        out.append(
            Sample(channel, end_s, end_s - begin_s, sum(s.energy_j for s in group), process_j)
        )
    return out


def cumulative_emissions_series(
    report: RunReport, samples: Sequence[Sample], scale_s: float
) -> list[Series]:
    """Cumulative operational and total emissions, in g below 10 kg and in kg above.

    Samples are merged per channel within each of `_CUMULATIVE_STEPS` equal spans
    before pricing, so a long run prices quickly; with a time-resolved intensity,
    energy is then taken as uniform within a span of the run's 1/50.
    """
    duration_s = report.duration_s
    edges = [duration_s * k / _CUMULATIVE_STEPS for k in range(_CUMULATIVE_STEPS + 1)]
    windows = [Window(str(k), edges[k] if k else -1.0, edges[k + 1]) for k in range(len(edges) - 1)]
    merged = _per_window(samples, edges) if duration_s > 0 else []
    priced = build_report(report.info, merged, windows).windows if duration_s > 0 else ()
    unit, per = ("kgCO2e", G_PER_KG) if report.total_g >= 10 * G_PER_KG else ("gCO2e", 1.0)
    operational, total, running_g = [(0.0, 0.0)], [(0.0, 0.0)], 0.0
    for w in priced:
        running_g += w.operational_g
        embodied_g = report.embodied_g * w.end_t_s / duration_s
        operational.append((w.end_t_s / scale_s, running_g / per))
        total.append((w.end_t_s / scale_s, (running_g + embodied_g) / per))
    return [
        Series("operational", unit, operational),
        Series("operational + embodied", unit, total),
    ]


def intensity_series(report: RunReport, scale_s: float) -> list[Series]:
    """The run's period-by-period intensity (gCO2e/kWh, steps) and its annual average.

    Returns:
        [] when the run was not priced against an intensity series.
    """
    setting = report.info.settings.get("intensity_series") or {}
    start, end_s = report.info.started_at, report.duration_s
    points = []
    for iso, duration_s, g in setting.get("points", []):
        begin_s = (datetime.fromisoformat(iso) - start).total_seconds()
        if begin_s < end_s and begin_s + duration_s > 0:
            points.append((max(begin_s, 0.0) / scale_s, float(g)))
    if not points:
        return []
    points.append((end_s / scale_s, points[-1][1]))
    annual = report.intensity.intensity_g_per_kwh
    label = f"{setting.get('source', '')} ({setting.get('signal', 'average')})"
    flat = [(0.0, annual), (end_s / scale_s, annual)]
    return [
        Series(label, "gCO2e/kWh", points, step=True),
        Series("annual average", "gCO2e/kWh", flat, dashed=True),
    ]
