"""How to cut it: the same work elsewhere or at another time, with the saving quantified.

Every alternative is priced by `accounting.build_report`, the one pricing path,
with the run's samples and one thing changed:

* **region**: the grid intensity and PUE of one of the cleanest bundled cloud
  regions (annual averages), the IT energy and duration unchanged. The caller
  passes the candidate grids (`GridOption`; the CLI takes them from
  `carbonlens.intensity.table`), so this module reads no table itself.
* **start time**: the run's intensity series (or a history or forecast the caller
  passes) priced with the run shifted to each period start at which the whole run
  fits inside the series; the cleanest start wins.

A saving is the run's reported total minus the alternative's, in grams and in
percent of the run's total (operational + embodied; embodied emissions do not
change, the hardware and duration being the same). Running the same work on
other devices is not offered: it needs a speed model of the work on each device,
which a measured run does not give (see `carbonlens estimate`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from carbonlens._frozen import frozen
from carbonlens.accounting import build_report, series_settings
from carbonlens.records import Channel, IntensitySeries, IntensityValue, PueValue, Sample
from carbonlens.report.text import energy_text, mass_text

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport

__all__ = ["Alternative", "Cut", "GridOption", "best_start", "cleaner_regions", "how_to_cut"]

DEVICES_NOTE: Final = (
    "other devices: not estimated here (a measured run gives no speed model of the work on "
    "other hardware); `carbonlens estimate` compares devices for a described workload"
)
_MAX_STARTS: Final = 200
_MAX_CHUNKS: Final = 500
_COVERED_RATIO: Final = 0.999


@frozen
class GridOption:
    """A place the work could run: its annual grid intensity and, if known, its PUE.

    Attributes:
        code: canonical location code ("gcp:europe-north2").
        name: human-readable name ("Stockholm").
        intensity: annual average intensity with its source.
        pue: the place's PUE, or None to keep the run's.
    """

    code: str
    name: str
    intensity: IntensityValue
    pue: PueValue | None = None


@frozen
class Alternative:
    """One way to cut a run's emissions, priced.

    Attributes:
        kind: "region" or "start time".
        label: what to do ("run in gcp:europe-north2 (Stockholm)").
        total_g: the alternative's total emissions, grams CO2e.
        saving_g: run's total minus `total_g`, grams CO2e.
        saving_pct: `saving_g` as a percentage (0-100) of the run's total.
        assumptions: what was held equal and which figures were used.
    """

    kind: str
    label: str
    total_g: float
    saving_g: float
    saving_pct: float
    assumptions: tuple[str, ...]


@frozen
class Cut:
    """The alternatives for one run, best first, and what could not be offered.

    Attributes:
        baseline_g: the run's reported total, grams CO2e.
        alternatives: alternatives with a positive saving, largest saving first.
        notes: why some alternatives are missing.
    """

    baseline_g: float
    alternatives: tuple[Alternative, ...]
    notes: tuple[str, ...]


def _priced(
    report: RunReport,
    samples: Sequence[Sample],
    settings: Mapping[str, Any],
    *,
    drop: Sequence[str] = (),
    started_at: datetime | None = None,
) -> RunReport:
    """`build_report` of the run with some settings replaced or dropped, or another start."""
    changed = {k: v for k, v in {**report.info.settings, **settings}.items() if k not in drop}
    info = replace(report.info, settings=changed, started_at=started_at or report.info.started_at)
    return build_report(info, samples)


def _alternative(
    report: RunReport, kind: str, label: str, total_g: float, notes: list[str]
) -> Alternative:
    saving_g = report.total_g - total_g
    pct = 100.0 * saving_g / report.total_g if report.total_g > 0 else 0.0
    return Alternative(kind, label, total_g, saving_g, pct, tuple(notes))


def cleaner_regions(
    report: RunReport, samples: Sequence[Sample], options: Sequence[GridOption], count: int = 3
) -> list[Alternative]:
    """The run's energy priced in the `count` cleanest of `options` (lowest intensity × PUE).

    Args:
        report: the run as reported.
        samples: its stored samples.
        options: candidate places (the run's own location is skipped).
        count: how many places to price.

    Returns:
        The alternatives that save emissions, largest saving first.
    """
    own = report.intensity.location.casefold()

    def factor(option: GridOption) -> float:
        pue = option.pue or report.pue
        return option.intensity.intensity_g_per_kwh * pue.pue_ratio

    chosen = sorted((o for o in options if o.code.casefold() != own), key=factor)[:count]
    basis = "time-resolved" if report.time_resolved else "annual average"
    found = []
    for option in chosen:
        pue = option.pue or report.pue
        alt = _priced(
            report,
            samples,
            {"intensity": asdict(option.intensity), "pue": asdict(pue)},
            drop=("intensity_series", "market"),
        )
        i = option.intensity
        notes = [
            f"same IT energy ({energy_text(report.it_energy_j)}) and duration",
            f"grid {i.intensity_g_per_kwh:g} gCO2e/kWh, annual average: {i.source}"
            + (f", {i.year}" if i.year else "")
            + (f" ({i.basis})" if i.basis else ""),
            f"PUE {pue.pue_ratio:g} ({pue.source})",
            f"compared with the run's {basis} figure; embodied emissions unchanged",
        ]
        label = f"run in {option.code}" + (f" ({option.name})" if option.name else "")
        found.append(_alternative(report, "region", label, alt.total_g, notes))
    return sorted((a for a in found if a.saving_g > 0), key=lambda a: -a.saving_g)


def _chunked(samples: Sequence[Sample]) -> list[Sample]:
    """At most `_MAX_CHUNKS` samples per channel, energies summed over consecutive samples."""
    by_channel: dict[Channel, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_channel[sample.channel].append(sample)
    merged = []
    for channel, group in by_channel.items():
        size = math.ceil(len(group) / _MAX_CHUNKS)
        for n in range(0, len(group), size):
            part = group[n : n + size]
            begin_s = part[0].t_s - part[0].duration_s
            shares = [s.process_energy_j for s in part]
            merged.append(
                Sample(
                    channel,
                    part[-1].t_s,
                    part[-1].t_s - begin_s,
                    sum(s.energy_j for s in part),
                    None if None in shares else sum(p or 0.0 for p in shares),
                )
            )
    return merged


def best_start(
    report: RunReport, samples: Sequence[Sample], series: IntensitySeries | None = None
) -> Alternative | str:
    """The cleanest start time for the run within an intensity series.

    Args:
        report: the run as reported.
        samples: its stored samples.
        series: a history or forecast for the run's grid; by default the series
            stored with the run (its own hours).

    Returns:
        The best start if it saves emissions, else a sentence saying why there is none.
    """
    stored: Mapping[str, Any] | None = report.info.settings.get("intensity_series")
    setting = series_settings(series) if series is not None else stored
    if not setting or not setting.get("points"):
        return (
            "start time: no intensity series for this run (record one with a live provider, "
            "`--intensity-provider`, to compare start times)"
        )
    points = [(datetime.fromisoformat(p[0]), float(p[1])) for p in setting["points"]]
    end = max(start.timestamp() + duration_s for start, duration_s in points)
    starts = [s for s, _d in points if s.timestamp() + report.duration_s <= end]
    if len(starts) > _MAX_STARTS:
        step = len(starts) / _MAX_STARTS
        starts = [starts[int(n * step)] for n in range(_MAX_STARTS)]
    chunks = _chunked(samples) if len(samples) > _MAX_CHUNKS else list(samples)
    priced = []
    for start in starts:
        alt = _priced(report, chunks, {"intensity_series": setting}, started_at=start)
        tr = alt.time_resolved
        if tr is not None and tr.covered_ratio >= _COVERED_RATIO:
            priced.append((alt.total_g, start))
    if not priced:
        return (
            f"start time: the series ({setting.get('source', '')}) does not cover the whole run "
            "at any other start"
        )
    total_g, start = min(priced)
    if total_g >= report.total_g:
        return "start time: no start within the series would have emitted less"
    notes = [
        f"same samples shifted in time; intensity series from {setting.get('source', '')} "
        f"({setting.get('signal', 'average')}"
        + (", forecast" if setting.get("forecast") else "")
        + f"), {len(starts)} start times tried",
        f"run's total as reported: {mass_text(report.total_g)}",
    ]
    label = f"start at {start.isoformat()}"
    return _alternative(report, "start time", label, total_g, notes)


def how_to_cut(
    report: RunReport,
    samples: Sequence[Sample],
    options: Sequence[GridOption] = (),
    *,
    count: int = 3,
    series: IntensitySeries | None = None,
) -> Cut:
    """Every alternative for a run: cleaner regions, a better start time.

    Args:
        report: the run as reported.
        samples: its stored samples.
        options: candidate places for the region alternatives.
        count: how many of the cleanest places to price.
        series: a history or forecast for the start-time alternative (default:
            the run's stored series).

    Returns:
        Alternatives with a positive saving, largest first, and notes on the rest.
    """
    notes = []
    found = cleaner_regions(report, samples, options, count) if options else []
    if not options:
        notes.append("regions: no candidate grids given")
    elif not found:
        notes.append("regions: the run's grid is already as clean as the cleanest candidates")
    start = best_start(report, samples, series)
    if isinstance(start, Alternative):
        found.append(start)
    else:
        notes.append(start)
    notes.append(DEVICES_NOTE)
    found.sort(key=lambda a: -a.saving_g)
    return Cut(report.total_g, tuple(found), tuple(notes))
