"""Time-resolved and market-based operational emissions: pure functions, no I/O.

Time-resolved (location-based) emissions of a run, given its energy samples and
an intensity series for its grid:

    C_op = Σ_samples Σ_periods  E_sample × overlap(sample, period) / duration_sample
                                × I_period / 3.6e6 J/kWh

Energy is assumed uniform within a sample's interval, so a sample that spans
the boundary between two periods of the series is split in proportion to its
overlap with each. The parts of samples that no period covers (before the
series starts, after it ends, or in a gap between periods) are priced at a
fallback intensity, normally the location's annual average; the result says how
many joules each part had. Nothing is interpolated across a gap.

Market-based emissions are a second, labelled figure from what the user
contracted:

* a contractual intensity `I_c` (g/kWh, e.g. from a supplier or a PPA):
  `C_market = E_kWh × I_c`;
* a carbon-free-energy share `cfe` (0-1, e.g. a provider's hourly CFE %):
  `C_market = C_location × (1 − cfe)`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from datetime import datetime

from carbonlens._frozen import frozen
from carbonlens.records import IntensitySeries, Sample
from carbonlens.units import emissions_g

__all__ = [
    "CFE_FORMULA",
    "CONTRACTUAL_FORMULA",
    "MarketBasedEmissions",
    "TimeResolvedEmissions",
    "market_based_emissions",
    "time_resolved_emissions",
]

CONTRACTUAL_FORMULA = "market-based g = energy (kWh) × contractual intensity (g/kWh)"
CFE_FORMULA = "market-based g = location-based g × (1 − carbon-free energy share)"


@frozen
class TimeResolvedEmissions:
    """Operational emissions priced period by period against an intensity series.

    Attributes:
        operational_g: emissions in gCO2e: the covered part at the series'
            intensities plus the fallback part at the fallback intensity.
        covered_energy_j: energy (J) that fell inside a period of the series.
        fallback_energy_j: energy (J) outside the series' periods, priced at the
            fallback intensity.
        source: the series' source (e.g. "Electricity Maps").
        signal: the series' signal, "average" or "marginal".
    """

    operational_g: float
    covered_energy_j: float
    fallback_energy_j: float
    source: str
    signal: str

    @property
    def energy_j(self) -> float:
        """All the energy priced, in joules."""
        return self.covered_energy_j + self.fallback_energy_j

    @property
    def covered_ratio(self) -> float:
        """Share (0-1) of the energy that the series covered; 0.0 when there was no energy."""
        return self.covered_energy_j / self.energy_j if self.energy_j > 0 else 0.0


@frozen
class MarketBasedEmissions:
    """The market-based figure, reported beside the location-based one.

    Attributes:
        operational_g: market-based emissions in gCO2e.
        method: "contractual intensity" or "carbon-free energy share".
        formula: how `operational_g` was computed (`CONTRACTUAL_FORMULA` or `CFE_FORMULA`).
        contractual_g_per_kwh: the contractual intensity used (gCO2e/kWh), or None.
        cfe_ratio: the carbon-free-energy share used (0-1), or None.
    """

    operational_g: float
    method: str
    formula: str
    contractual_g_per_kwh: float | None = None
    cfe_ratio: float | None = None


def time_resolved_emissions(
    samples: Iterable[Sample],
    started_at: datetime,
    series: IntensitySeries,
    fallback_g_per_kwh: float,
    *,
    pue_ratio: float = 1.0,
) -> TimeResolvedEmissions:
    """Σ energy per interval × intensity of that interval (see the module docstring).

    Args:
        samples: the run's samples; each covers `[t_s - duration_s, t_s]` seconds
            after `started_at` and holds `energy_j` joules (IT energy). A sample
            with no duration is priced at the instant `t_s`.
        started_at: when the run started (timezone-aware).
        series: intensity periods for the run's grid, in time order, not
            overlapping; their `start` must be timezone-aware.
        fallback_g_per_kwh: intensity (gCO2e/kWh) for energy outside the series.
        pue_ratio: PUE applied to each sample's energy (facility = IT × PUE); the
            energies in the result are facility energies.

    Returns:
        The emissions, with the covered and fallback energies.

    Raises:
        ValueError: a naive datetime, overlapping or unordered periods, or a
            negative period duration.
    """
    starts_s, ends_s, intensities = _periods(series, started_at)
    covered_j = 0.0
    covered_g = 0.0
    total_j = 0.0
    for sample in samples:
        energy_j = sample.energy_j * pue_ratio
        total_j += energy_j
        begin_s = sample.t_s - max(sample.duration_s, 0.0)
        for index, share in _shares(begin_s, sample.t_s, starts_s, ends_s):
            covered_j += energy_j * share
            covered_g += emissions_g(energy_j * share, intensities[index])
    fallback_j = max(total_j - covered_j, 0.0)
    return TimeResolvedEmissions(
        operational_g=covered_g + emissions_g(fallback_j, fallback_g_per_kwh),
        covered_energy_j=covered_j,
        fallback_energy_j=fallback_j,
        source=series.source,
        signal=series.signal,
    )


def _periods(
    series: IntensitySeries, started_at: datetime
) -> tuple[list[float], list[float], list[float]]:
    """Starts and ends (seconds after `started_at`) and intensities of the series' periods."""
    if started_at.tzinfo is None:
        raise ValueError("started_at must be timezone-aware (UTC)")
    starts_s: list[float] = []
    ends_s: list[float] = []
    intensities: list[float] = []
    for point in series.points:
        if point.start.tzinfo is None:
            raise ValueError(f"series {series.source}: period start {point.start} is naive")
        if point.duration_s < 0:
            raise ValueError(f"series {series.source}: negative duration at {point.start}")
        start_s = (point.start - started_at).total_seconds()
        if ends_s and start_s < ends_s[-1]:
            raise ValueError(
                f"series {series.source}: period at {point.start} overlaps the one before "
                "or is out of order"
            )
        starts_s.append(start_s)
        ends_s.append(start_s + point.duration_s)
        intensities.append(point.intensity_g_per_kwh)
    return starts_s, ends_s, intensities


def _shares(
    begin_s: float, end_s: float, starts_s: list[float], ends_s: list[float]
) -> Iterator[tuple[int, float]]:
    """(period index, share 0-1 of the interval inside it) for each period the interval meets.

    An empty interval (an instant) lies wholly in the period that contains `end_s`.
    """
    if end_s <= begin_s:
        index = bisect.bisect_right(starts_s, end_s) - 1
        if index >= 0 and end_s < ends_s[index]:
            yield index, 1.0
        return
    # Periods are ordered and disjoint, so their ends are sorted too.
    index = bisect.bisect_right(ends_s, begin_s)
    while index < len(starts_s) and starts_s[index] < end_s:
        overlap_s = min(end_s, ends_s[index]) - max(begin_s, starts_s[index])
        if overlap_s > 0:
            yield index, overlap_s / (end_s - begin_s)
        index += 1


def market_based_emissions(
    *,
    energy_j: float,
    location_g: float,
    contractual_g_per_kwh: float | None = None,
    cfe_ratio: float | None = None,
) -> MarketBasedEmissions:
    """The market-based figure from a contractual intensity or a carbon-free-energy share.

    Give exactly one of `contractual_g_per_kwh` and `cfe_ratio`.

    Args:
        energy_j: the facility energy of the run, in joules.
        location_g: the location-based emissions of the run, in gCO2e (the
            time-resolved figure when there is one).
        contractual_g_per_kwh: contractual intensity in gCO2e/kWh:
            `market = energy_kWh × contractual_g_per_kwh`.
        cfe_ratio: share (0-1) of the energy matched by carbon-free supply:
            `market = location_g × (1 − cfe_ratio)`.

    Returns:
        The market-based emissions with their method and formula.

    Raises:
        ValueError: neither or both given, a negative intensity, or a share outside 0-1.
    """
    if cfe_ratio is not None and contractual_g_per_kwh is None:
        if not 0.0 <= cfe_ratio <= 1.0:
            raise ValueError(f"carbon-free energy share must be between 0 and 1: {cfe_ratio}")
        return MarketBasedEmissions(
            location_g * (1.0 - cfe_ratio),
            "carbon-free energy share",
            CFE_FORMULA,
            cfe_ratio=cfe_ratio,
        )
    if contractual_g_per_kwh is not None and cfe_ratio is None:
        if contractual_g_per_kwh < 0:
            raise ValueError(f"contractual intensity must be >= 0 g/kWh: {contractual_g_per_kwh}")
        return MarketBasedEmissions(
            emissions_g(energy_j, contractual_g_per_kwh),
            "contractual intensity",
            CONTRACTUAL_FORMULA,
            contractual_g_per_kwh=contractual_g_per_kwh,
        )
    raise ValueError("give exactly one of contractual_g_per_kwh and cfe_ratio")
