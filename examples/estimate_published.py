"""Estimate BLOOM's training footprint from the figures its paper states.

Luccioni, Viguier, Ligozat, "Estimating the Carbon Footprint of BLOOM, a 176B
Parameter Language Model" (JMLR 2023): 1,082,990 A100 GPU-hours at 400 W,
PUE 1.0 for the dynamic figure, 57 gCO2e/kWh (French grid) -> 24.69 t CO2e.

    python examples/estimate_published.py
"""

from __future__ import annotations

from carbonlens.estimate.hardware import resolve_device
from carbonlens.estimate.model import Grid
from carbonlens.estimate.modes import hardware_time

PUBLISHED_T = 24.69


def main() -> None:
    """Print the estimate beside the published figure."""
    estimate = hardware_time(
        device=resolve_device("A100 SXM4 80GB").spec,
        count=384,
        device_hours=1_082_990,
        power_w=400,
        grid=Grid.fixed(57.0),
        embodied=False,
    )
    tonnes = estimate.total_g / 1e6
    print(f"BLOOM 176B dynamic training emissions: {tonnes:.2f} t CO2e")
    print(f"published: {PUBLISHED_T:.2f} t CO2e (ratio {tonnes / PUBLISHED_T:.3f})")


if __name__ == "__main__":
    main()
