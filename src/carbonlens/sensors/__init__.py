"""Hardware power sensors: discovery, probing and the shared contract.

`discover()` walks each component's preference list (measured first, modelled
last), opens the first available back-end and keeps every rejection with its
reason, which `carbonlens doctor` prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from carbonlens.errors import ConfigError, SensorUnavailable
from carbonlens.records import Component
from carbonlens.sensors._precheck import PRECHECKS
from carbonlens.sensors.base import Host, Probe, Sensor
from carbonlens.sensors.registry import DEFAULT_PREFERENCE, load, sensor_specs

__all__ = ["Discovery", "Host", "Probe", "Sensor", "discover", "probe_all"]


@dataclass(slots=True)
class Discovery:
    """The sensors opened for a run and the probe of every back-end considered."""

    sensors: list[Sensor] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)

    def covers(self, component: Component) -> bool:
        """Whether an opened sensor has a channel for `component`.

        A whole-SoC channel (RAPL psys, Apple silicon) covers CPU and RAM too, so
        no model is added on top of it.
        """
        covered = {component, Component.SOC} if component != Component.GPU else {component}
        return any(ch.component in covered for s in self.sensors for ch in s.channels())


def _try_open(name: str, host: Host, options: Mapping[str, Any], found: Discovery) -> None:
    precheck = PRECHECKS.get(name)
    if precheck is not None and (ruled_out := precheck(host, options)) is not None:
        found.probes.append(ruled_out)
        return
    cls = load(name)
    opens_to_probe = hasattr(cls, "describe")  # its probe would open it: open it once
    probe = None if opens_to_probe else cls.probe(host)
    if probe is not None and not probe.available:
        found.probes.append(probe)
        return
    try:
        sensor = cls.open(host, **options)
    except SensorUnavailable as exc:
        found.probes.append(Probe(name, False, exc.reason, exc.hint))
        return
    except ConfigError:  # a bad option the user gave: say so, do not degrade
        raise
    except Exception as exc:  # noqa: BLE001 - a broken back-end must not break discovery
        found.probes.append(Probe(name, False, f"failed to open: {exc}"))
        return
    found.probes.append(probe or Probe(name, True, sensor.describe()))  # type: ignore[attr-defined]
    found.sensors.append(sensor)


def discover(
    host: Host,
    *,
    names: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    forced: Mapping[Component, str] | None = None,
) -> Discovery:
    """Open the sensors for this machine.

    Args:
        host: where to look (sysfs, procfs, environment).
        names: an explicit list of back-ends; each must open, else
            `SensorUnavailable` is raised (explicit requests fail, discovery degrades).
        options: per-sensor keyword options for `open()`.
        forced: a back-end to use for a component regardless of preference
            (e.g. the CPU model when the user gives a fixed CPU wattage).
    """
    opts = options or {}
    found = Discovery()
    if names is not None:
        for name in names:
            cls = load(name)
            found.sensors.append(cls.open(host, **opts.get(name, {})))
            found.probes.append(Probe(name, True, "requested explicitly"))
        return found
    forced = forced or {}
    tried: set[str] = set()
    for component, preference in DEFAULT_PREFERENCE.items():
        chain = (forced[component],) if component in forced else preference
        for name in chain:
            if found.covers(component):
                break
            if name not in tried:
                tried.add(name)
                _try_open(name, host, opts.get(name, {}), found)
    return found


def probe_all(host: Host) -> list[Probe]:
    """Probe every registered back-end; never raises."""
    probes = []
    for name in sensor_specs():
        try:
            probes.append(load(name).probe(host))
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break doctor
            probes.append(Probe(name, False, f"could not load: {exc}"))
    return probes
