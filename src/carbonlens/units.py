"""Unit constants and tiny pure conversions. SI inside; kWh, kg only at the edges."""

from typing import Final

J_PER_KWH: Final = 3_600_000.0
J_PER_WH: Final = 3_600.0
G_PER_KG: Final = 1_000.0
BYTES_PER_GB: Final = 1_000_000_000.0
BYTES_PER_GIB: Final = 1_073_741_824.0
S_PER_YEAR: Final = 365.25 * 24 * 3600.0


def kwh_from_j(energy_j: float) -> float:
    """Convert joules to kilowatt-hours."""
    return energy_j / J_PER_KWH


def j_from_kwh(energy_kwh: float) -> float:
    """Convert kilowatt-hours to joules."""
    return energy_kwh * J_PER_KWH


def kg_from_g(mass_g: float) -> float:
    """Convert grams to kilograms."""
    return mass_g / G_PER_KG


def emissions_g(energy_j: float, intensity_g_per_kwh: float) -> float:
    """Operational emissions in gCO2e of `energy_j` at grid intensity `intensity_g_per_kwh`."""
    return energy_j / J_PER_KWH * intensity_g_per_kwh
