"""Sensor back-ends by name, imported lazily, plus third-party entry points."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import Final, cast

from carbonlens.errors import ConfigError
from carbonlens.records import Component
from carbonlens.sensors.base import Sensor

_BUILTIN: Final[Mapping[str, str]] = {
    "rapl": "carbonlens.sensors.rapl:RaplSensor",
    "nvml": "carbonlens.sensors.nvml:NvmlSensor",
    "amdsmi": "carbonlens.sensors.amdsmi:AmdSmiSensor",
    "powermetrics": "carbonlens.sensors.powermetrics:PowermetricsSensor",
    "cpu-tdp": "carbonlens.sensors.cpu_tdp:CpuTdpSensor",
    "ram-model": "carbonlens.sensors.ram:RamModelSensor",
}

DEFAULT_PREFERENCE: Final[Mapping[Component, tuple[str, ...]]] = {
    Component.CPU: ("rapl", "powermetrics", "cpu-tdp"),
    Component.RAM: ("rapl", "ram-model"),
    Component.GPU: ("nvml", "amdsmi", "powermetrics"),
}
"""Per component, measured back-ends first and models last (rapl counts for RAM
only when it has a dram zone; powermetrics only on Apple silicon)."""


@functools.cache
def sensor_specs() -> dict[str, str]:
    """Every known sensor name mapped to its `module:Class` path (read once)."""
    from importlib.metadata import entry_points  # lazy: plugins only

    specs = dict(_BUILTIN)
    for ep in entry_points(group="carbonlens.sensors"):
        if ep.name in specs:
            raise ConfigError(
                f"sensor {ep.name!r} from {ep.value} shadows a built-in sensor; rename it",
                setting="sensors",
            )
        specs[ep.name] = ep.value
    return specs


def load(name: str) -> type[Sensor]:
    """Import and return the sensor class registered under `name`.

    Built-ins resolve without reading entry points, so automatic discovery never
    pays for `importlib.metadata`; other names are looked up among plugins.
    """
    spec = _BUILTIN.get(name) or sensor_specs().get(name)
    if spec is None:
        raise ConfigError(
            f"unknown sensor {name!r}; known sensors: {', '.join(sorted(sensor_specs()))}",
            setting="sensors",
        )
    module, _, attr = spec.partition(":")
    return cast(type[Sensor], getattr(importlib.import_module(module), attr))
