"""Grid carbon intensity: bundled annual averages (offline) and live providers.

Bundled lookups are in `carbonlens.intensity.table`; the live providers
(`ElectricityMapsIntensity`, `WattTimeIntensity`, `UkGridIntensity`,
`CarbonAwareSdkIntensity`) share one protocol, `IntensitySource`, and are
combined with `FallbackChain`. Importing this package loads no HTTP library.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "CarbonAwareSdkIntensity": "carbonlens.intensity.carbon_aware",
    "ElectricityMapsIntensity": "carbonlens.intensity.electricitymaps",
    "FallbackChain": "carbonlens.intensity.chain",
    "IntensityAuthError": "carbonlens.intensity.base",
    "IntensitySource": "carbonlens.intensity.base",
    "IntensityUnavailable": "carbonlens.intensity.base",
    "UkGridIntensity": "carbonlens.intensity.uk_grid",
    "WattTimeIntensity": "carbonlens.intensity.watttime",
    "provider_from_env": "carbonlens.intensity.providers",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'carbonlens.intensity' has no attribute {name!r}")
