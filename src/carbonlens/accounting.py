"""The model of DESIGN.md as pure functions: samples in, priced report out.

    E_it  = sum of component energies            (per channel, with its method)
    E     = E_it x PUE                           (facility energy)
    C_op  = E x I                                (I: grid intensity, g/kWh)
    C_emb = sum embodied_total x duration / lifetime x share
    C     = C_op + C_emb

Uncertainty ranges follow from the method of each figure (`METHOD_RANGE`); the
grid intensity's own uncertainty is not included and reports say so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any, Final, Protocol

from carbonlens._frozen import frozen
from carbonlens.errors import UnpricedRun
from carbonlens.estimate.embodied import amortised_g
from carbonlens.intensity.timeresolved import (
    MarketBasedEmissions,
    TimeResolvedEmissions,
    market_based_emissions,
    time_resolved_emissions,
)
from carbonlens.records import (
    Channel,
    Component,
    ComponentTotal,
    EmbodiedShare,
    IntensityPoint,
    IntensitySeries,
    IntensityValue,
    Method,
    PueValue,
    QualityFlag,
    QualityKind,
    RunInfo,
    RunStatus,
    Sample,
    Window,
    WindowTotal,
)
from carbonlens.units import emissions_g, kwh_from_j

METHOD_RANGE: Final[Mapping[Method, tuple[float, float]]] = {
    Method.MEASURED: (0.95, 1.05),
    Method.SAMPLED: (0.90, 1.10),
    Method.CONSTANT: (0.75, 1.25),
    Method.MODELLED: (0.50, 1.50),
    Method.ESTIMATED: (0.50, 1.50),
}
"""Relative (low, high) bounds of a figure by method. Measured: hardware counters
(RAPL, NVML) agree with external meters to a few percent; sampled adds the error of
integrating power at the sampling interval; constant is a user's wattage; modelled
TDP and W-per-GB models can be off by half either way. Stated assumptions, overridable
only by measuring."""


@frozen
class RunReport:
    """Every figure of a run, each with its unit, method and source.

    Energies are joules, emissions grams CO2e; `to_dict()` gives kWh and g at the edge.
    """

    info: RunInfo
    components: tuple[ComponentTotal, ...]
    windows: tuple[WindowTotal, ...]
    intensity: IntensityValue
    pue: PueValue
    embodied: tuple[EmbodiedShare, ...]
    it_energy_j: float
    it_energy_low_j: float
    it_energy_high_j: float
    process_energy_j: float | None
    facility_energy_j: float
    operational_g: float
    operational_low_g: float
    operational_high_g: float
    operational_annual_g: float
    embodied_g: float
    time_resolved: TimeResolvedEmissions | None = None
    market: MarketBasedEmissions | None = None
    notes: tuple[str, ...] = ()
    store_location: str = ""
    quality_flags: tuple[QualityFlag, ...] = ()
    """Problems with the sensors' readings (gaps, timeouts, impossible values);
    empty for a clean run (docs/tracking.md#bad-sensors)."""

    @property
    def total_g(self) -> float:
        """Operational plus embodied emissions."""
        return self.operational_g + self.embodied_g

    @property
    def duration_s(self) -> float:
        """Length of the run."""
        return self.info.duration_s or 0.0

    def summary(self) -> str:
        """One line: facility energy, total emissions, the grid and each channel's method."""
        from carbonlens.report.text import summary_line

        return summary_line(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible document with units in every key (see docs/json.md)."""
        from carbonlens.report.json import report_to_dict

        return report_to_dict(self)


def channel_totals(samples: Iterable[Sample]) -> list[ComponentTotal]:
    """Sum samples per channel, with the range that follows from each method.

    A channel's process energy sums the intervals where attribution was known
    (an idle GPU interval has none) and is None when it never was.
    """
    energy: dict[Channel, float] = defaultdict(float)
    process: dict[Channel, float] = {}
    for s in samples:
        energy[s.channel] += s.energy_j
        if s.process_energy_j is not None:
            process[s.channel] = process.get(s.channel, 0.0) + s.process_energy_j
    totals = []
    for channel, energy_j in energy.items():
        low, high = METHOD_RANGE[channel.method]
        totals.append(
            ComponentTotal(
                channel=channel,
                energy_j=energy_j,
                energy_low_j=energy_j * low,
                energy_high_j=energy_j * high,
                process_energy_j=process.get(channel),
            )
        )
    order = list(Component)
    totals.sort(key=lambda t: (order.index(t.channel.component), t.channel.device))
    return totals


PriceFn = Callable[[Sequence[Sample], float], float]
"""Operational grams for some samples and their facility energy in joules."""


def window_totals(
    samples: Sequence[Sample],
    windows: Sequence[Window],
    end_t_s: float,
    pue_ratio: float,
    price: PriceFn,
) -> list[WindowTotal]:
    """Energy inside each window: the samples whose interval ends within it.

    The tracker takes a sample at every window edge, so intervals never straddle one.
    The process energy follows the run's rule: per channel, the intervals where
    attribution was known (a window edge a few milliseconds after a tick, when the
    machine's CPU time has not moved, has none); None when a channel has none.
    """
    totals = []
    for w in windows:
        end = w.end_t_s if w.end_t_s is not None else end_t_s
        inside = [s for s in samples if w.start_t_s < s.t_s <= end + 1e-9]
        it_j = sum(s.energy_j for s in inside)
        process = [t.process_energy_j for t in channel_totals(inside)]
        process_j = None if not inside or None in process else sum(p or 0.0 for p in process)
        totals.append(
            WindowTotal(
                name=w.name,
                start_t_s=w.start_t_s,
                end_t_s=end,
                it_energy_j=it_j,
                facility_energy_j=it_j * pue_ratio,
                operational_g=price(inside, it_j * pue_ratio),
                process_energy_j=process_j,
            )
        )
    return totals


def series_settings(series: IntensitySeries) -> dict[str, Any]:
    """An intensity series as JSON-compatible run settings (read by `build_report`)."""
    return {
        "location": series.location,
        "source": series.source,
        "signal": series.signal,
        "basis": series.basis,
        "forecast": series.forecast,
        "points": [
            [p.start.isoformat(), p.duration_s, p.intensity_g_per_kwh] for p in series.points
        ],
    }


def quality_settings(flags: Sequence[QualityFlag]) -> list[dict[str, Any]]:
    """Quality flags as JSON-compatible run settings (read by `build_report`)."""
    return [{**asdict(flag), "kind": flag.kind.value} for flag in flags]


def _quality(value: Sequence[Mapping[str, Any]]) -> tuple[QualityFlag, ...]:
    return tuple(QualityFlag(**{**f, "kind": QualityKind(f["kind"])}) for f in value)


def _market(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if value and not set(value) <= {"contractual_g_per_kwh", "cfe_ratio"}:
        raise ValueError(f"unknown market setting keys {sorted(value)}")
    return value


def _series(value: Mapping[str, Any] | None) -> IntensitySeries | None:
    if not value:
        return None
    points = tuple(
        IntensityPoint(datetime.fromisoformat(start), duration_s, g)
        for start, duration_s, g in value["points"]
    )
    fields = {k: v for k, v in value.items() if k != "points"}
    return IntensitySeries(points=points, **fields)


def build_report(
    info: RunInfo,
    samples: Sequence[Sample],
    windows: Sequence[Window] = (),
    *,
    store_location: str = "",
) -> RunReport:
    """Price a run from its stored record: the one path used by `stop()` and `show`.

    The run's settings hold the intensity, PUE and embodied shares chosen at start
    (see `pricing_settings`), and may hold the intensity series of the run's hours
    (`intensity_series`, see `series_settings`) and a market-based setting
    (`market`: `contractual_g_per_kwh` or `cfe_ratio`) and the sampler's quality
    flags (`quality_flags`, see `quality_settings`). With a series, operational
    emissions are time-resolved and the annual-average figure is kept beside them.
    A run without an end (running or interrupted) is priced up to its last sample.

    Raises:
        UnpricedRun: the run's settings are not carbonlens's (another tool's
            record, or a damaged one).
    """
    try:
        intensity = IntensityValue(**info.settings["intensity"])
        pue = PueValue(**info.settings["pue"])
        embodied = tuple(
            EmbodiedShare(**{**e, "component": Component(e["component"])})
            for e in info.settings.get("embodied", [])
        )
        series = _series(info.settings.get("intensity_series"))
        market_setting = _market(info.settings.get("market"))
        flags = _quality(info.settings.get("quality_flags", []))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise UnpricedRun(info.run_id, f"{type(exc).__name__}: {exc}") from exc
    last_t_s = max((s.t_s for s in samples), default=0.0)
    duration_s = info.duration_s if info.duration_s is not None else last_t_s
    if info.duration_s is None:
        info = replace(info, duration_s=duration_s)
    totals = channel_totals(samples)
    it_j = sum(t.energy_j for t in totals)
    low_j = sum(t.energy_low_j for t in totals)
    high_j = sum(t.energy_high_j for t in totals)
    process = [t.process_energy_j for t in totals]
    process_j = None if not totals or None in process else sum(p or 0.0 for p in process)
    factor = pue.pue_ratio
    intensity_g = intensity.intensity_g_per_kwh

    def price(subset: Sequence[Sample], facility_j: float) -> float:
        if series is None:
            return emissions_g(facility_j, intensity_g)
        return time_resolved_emissions(
            subset, info.started_at, series, intensity_g, pue_ratio=factor
        ).operational_g

    facility_j = it_j * factor
    annual_g = emissions_g(facility_j, intensity_g)
    resolved = (
        time_resolved_emissions(samples, info.started_at, series, intensity_g, pue_ratio=factor)
        if series is not None
        else None
    )
    operational_g = resolved.operational_g if resolved is not None else annual_g
    effective_g_per_kwh = operational_g / kwh_from_j(facility_j) if facility_j > 0 else intensity_g
    market = (
        market_based_emissions(energy_j=facility_j, location_g=operational_g, **market_setting)
        if market_setting
        else None
    )
    notes = list(info.settings.get("notes", []))
    if info.status in (RunStatus.INTERRUPTED, RunStatus.RUNNING):
        notes.append(
            f"run is {info.status.value}: figures cover the {duration_s:.1f} s up to the last "
            "stored sample"
        )
    return RunReport(
        info=info,
        components=tuple(totals),
        windows=tuple(window_totals(samples, windows, duration_s, factor, price)),
        intensity=intensity,
        pue=pue,
        embodied=embodied,
        it_energy_j=it_j,
        it_energy_low_j=low_j,
        it_energy_high_j=high_j,
        process_energy_j=process_j,
        facility_energy_j=facility_j,
        operational_g=operational_g,
        operational_low_g=emissions_g(low_j * factor, effective_g_per_kwh),
        operational_high_g=emissions_g(high_j * factor, effective_g_per_kwh),
        operational_annual_g=annual_g,
        embodied_g=sum(amortised_g(e, duration_s) for e in embodied),
        time_resolved=resolved,
        market=market,
        notes=tuple(notes),
        store_location=store_location,
        quality_flags=flags,
    )


class StoredRuns(Protocol):
    """What `stored_report` reads: a `Store` has these."""

    def samples(self, run_id: str) -> list[Sample]: ...

    def channel_sums(self, run_id: str) -> list[Sample]: ...

    def windows(self, run_id: str) -> list[Window]: ...


def stored_report(
    store: StoredRuns, info: RunInfo, *, windows: bool = False, store_location: str = ""
) -> RunReport:
    """Price a stored run, reading no more of it than the figures need.

    The per-channel sums (`Store.channel_sums`) give the same totals as the full
    samples, so they are used unless the run is priced period by period against an
    intensity series, or `windows` is asked for and the run has some: window totals
    need the samples. Raises KeyError, TypeError or ValueError when the run's stored
    settings cannot be priced (a foreign or damaged record), as `build_report` does.
    """
    kept = store.windows(info.run_id) if windows else []
    timed = bool(info.settings.get("intensity_series"))
    samples = store.samples(info.run_id) if timed or kept else store.channel_sums(info.run_id)
    return build_report(info, samples, kept, store_location=store_location)


def pricing_settings(
    intensity: IntensityValue,
    pue: PueValue,
    embodied: Sequence[EmbodiedShare],
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The JSON-compatible part of a run's settings that `build_report` reads back."""
    return {
        "intensity": asdict(intensity),
        "pue": asdict(pue),
        "embodied": [{**asdict(e), "component": e.component.value} for e in embodied],
        "notes": list(notes),
    }
