"""Software Carbon Intensity (Green Software Foundation SCI v1.1, ISO/IEC 21031:2024).

    SCI = (E × I + M) / R

* E: energy of the work, kWh: carbonlens's facility energy (IT energy × PUE);
* I: location-based grid intensity, gCO2e/kWh: the runs' operational emissions
  divided by E, so a time-resolved (hour-by-hour) figure is kept as such;
  market-based figures (contracts, certificates) are excluded, as SCI requires;
* M: embodied emissions amortised over the work, gCO2e;
* R: the number of functional units the user names (tokens, inferences,
  epochs, samples, or one training run).

Figures come from the runs' reports as they are; E × I is their operational
emissions exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from carbonlens._frozen import frozen
from carbonlens.units import kwh_from_j

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport

__all__ = ["FORMULA", "STANDARD", "Sci", "sci", "sci_text", "sci_to_dict"]

FORMULA: Final = "SCI = (E × I + M) / R"
STANDARD: Final = "Green Software Foundation SCI v1.1 (ISO/IEC 21031:2024)"


@frozen
class Sci:
    """The SCI score of some runs and the terms it is made of.

    Attributes:
        unit: the functional unit ("token", "inference", "epoch", "sample", "run").
        units: R, how many functional units the runs produced.
        energy_j: E, facility energy in joules.
        intensity_g_per_kwh: I, effective location-based intensity (gCO2e/kWh).
        operational_g: E × I, grams CO2e.
        embodied_g: M, grams CO2e.
        run_ids: the runs included.
    """

    unit: str
    units: float
    energy_j: float
    intensity_g_per_kwh: float
    operational_g: float
    embodied_g: float
    run_ids: tuple[str, ...]

    @property
    def total_g(self) -> float:
        """E × I + M, grams CO2e."""
        return self.operational_g + self.embodied_g

    @property
    def sci_g(self) -> float:
        """The score: grams CO2e per functional unit."""
        return self.total_g / self.units


def sci(reports: Sequence[RunReport], unit: str, units: float) -> Sci:
    """The SCI of the work done by `reports`.

    Args:
        reports: one or more runs; their terms are summed.
        unit: the name of the functional unit.
        units: R, the number of functional units (> 0).

    Returns:
        The score with E, I, M and R.

    Raises:
        ValueError: `units` is not a positive finite number, or no runs are given.
    """
    if not (math.isfinite(units) and units > 0):
        raise ValueError(f"the number of functional units must be > 0, not {units!r}")
    if not reports:
        raise ValueError("SCI needs at least one run")
    energy_j = sum(r.facility_energy_j for r in reports)
    operational_g = sum(r.operational_g for r in reports)
    kwh = kwh_from_j(energy_j)
    intensity = operational_g / kwh if kwh > 0 else reports[0].intensity.intensity_g_per_kwh
    return Sci(
        unit=unit,
        units=units,
        energy_j=energy_j,
        intensity_g_per_kwh=intensity,
        operational_g=operational_g,
        embodied_g=sum(r.embodied_g for r in reports),
        run_ids=tuple(r.info.run_id for r in reports),
    )


def sci_to_dict(score: Sci) -> dict[str, Any]:
    """A JSON document of the score: units in key names, kWh at the edge."""
    return {
        "schema": "carbonlens.sci/1",
        "standard": STANDARD,
        "formula": FORMULA,
        "functional_unit": score.unit,
        "R_units": score.units,
        "E_energy_kwh": kwh_from_j(score.energy_j),
        "I_intensity_g_per_kwh": score.intensity_g_per_kwh,
        "E_times_I_gco2e": score.operational_g,
        "M_embodied_gco2e": score.embodied_g,
        "total_gco2e": score.total_g,
        "sci_gco2e_per_unit": score.sci_g,
        "run_ids": list(score.run_ids),
    }


def sci_text(score: Sci) -> str:
    """The score with its terms, one per line, for a terminal or a Markdown code block."""
    runs = len(score.run_ids)
    return "\n".join(
        [
            f"{FORMULA}   [{STANDARD}]",
            f"E = {kwh_from_j(score.energy_j):.6g} kWh   facility energy (IT energy × PUE)",
            f"I = {score.intensity_g_per_kwh:.6g} gCO2e/kWh   location-based grid intensity",
            f"M = {score.embodied_g:.6g} gCO2e   embodied emissions, amortised",
            f"R = {score.units:.6g} {score.unit}",
            f"SCI = ({score.operational_g:.6g} + {score.embodied_g:.6g}) / {score.units:.6g}"
            f" = {score.sci_g:.4g} gCO2e per {score.unit}   ({runs} run{'s' if runs > 1 else ''})",
            "",
        ]
    )
