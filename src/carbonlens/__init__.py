"""carbonlens: measure, estimate and report the carbon footprint of AI work.

The public API is re-exported here and imported lazily, so `import carbonlens`
stays light (no psutil, sqlite3 or vendor library until a tracker starts).

    with carbonlens.Tracker(project="llama-ft", country="FR") as tracker:
        train()
    print(tracker.report.summary())
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from carbonlens._version import __version__

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport
    from carbonlens.config import Settings, load_settings
    from carbonlens.errors import (
        CarbonLensError,
        ConfigError,
        LocationError,
        SensorUnavailable,
        StoreError,
    )
    from carbonlens.evaluate.benchmark import benchmark
    from carbonlens.intensity.base import IntensityAuthError, IntensityUnavailable
    from carbonlens.records import Component, Method, RunStatus
    from carbonlens.tracking.budget import BudgetExceeded
    from carbonlens.tracking.decorate import track
    from carbonlens.tracking.tracker import Tracker

logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "BudgetExceeded": "carbonlens.tracking.budget",
    "CarbonLensError": "carbonlens.errors",
    "Component": "carbonlens.records",
    "ConfigError": "carbonlens.errors",
    "IntensityAuthError": "carbonlens.intensity.base",
    "IntensityUnavailable": "carbonlens.intensity.base",
    "LocationError": "carbonlens.errors",
    "Method": "carbonlens.records",
    "RunReport": "carbonlens.accounting",
    "RunStatus": "carbonlens.records",
    "SensorUnavailable": "carbonlens.errors",
    "Settings": "carbonlens.config",
    "StoreError": "carbonlens.errors",
    "Tracker": "carbonlens.tracking.tracker",
    "benchmark": "carbonlens.evaluate.benchmark",
    "load_settings": "carbonlens.config",
    "track": "carbonlens.tracking.decorate",
}

__all__ = [
    "BudgetExceeded",
    "CarbonLensError",
    "Component",
    "ConfigError",
    "IntensityAuthError",
    "IntensityUnavailable",
    "LocationError",
    "Method",
    "RunReport",
    "RunStatus",
    "SensorUnavailable",
    "Settings",
    "StoreError",
    "Tracker",
    "__version__",
    "benchmark",
    "load_settings",
    "track",
]


_SUBPACKAGES = frozenset({"estimate", "intensity", "report", "schedule", "sensors", "testing"})


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"carbonlens.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'carbonlens' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
