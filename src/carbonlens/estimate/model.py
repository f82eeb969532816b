"""The shared model of every estimate: devices in servers, a grid, and the result.

`fleet` turns a device and a count into servers and embodied records; a `Grid`
carries grid intensity and PUE with their ranges; `build` evaluates a mode's
model (a function from input values to `Figures`) at the central values and over
the ranges (`quantities.bounds`) into one `Estimate`. The modes themselves are in
`estimate.modes` and `estimate.inference`.

Servers: devices sit in servers of `DEFAULT_DEVICES_PER_NODE` (TPU boards: the
table's chip count; CPUs: one socket each) whose own power is `Host.power_w`.
Embodied records reuse `estimate.embodied` (the tracker's figures and lifetime):
the table's per-device figure or the generic GPU card (150 kgCO2e), and the
generic server (1,000 kgCO2e) per server; SoCs (Apple) have no bundled figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import field, replace
from typing import Final

from carbonlens._frozen import frozen
from carbonlens.errors import EstimateError
from carbonlens.estimate.embodied import amortised_g, gpu_embodied, host_embodied
from carbonlens.estimate.flops import DEFAULT_MFU_RATIO, MFU_RANGE_RATIO, MFU_SOURCE, Precision
from carbonlens.estimate.hardware import DeviceSpec
from carbonlens.estimate.quantities import (
    Assumption,
    Values,
    assumed,
    bounds,
    central,
    non_negative,
    whole,
)
from carbonlens.records import Component, EmbodiedShare, IntensityValue, PueValue
from carbonlens.units import emissions_g

__all__ = [
    "AVERAGE_PUE_RATIO",
    "DEFAULT_DEVICES_PER_NODE",
    "GIVEN",
    "Estimate",
    "Figures",
    "Fleet",
    "Grid",
    "Host",
    "Part",
    "build",
    "fleet",
    "mfu_assumption",
    "on_fleet",
    "precision_assumptions",
]

AVERAGE_PUE_RATIO: Final = 1.56
"""Industry-average data-centre PUE (Uptime Institute 2024 global survey, as used by
Green Algorithms): the high end of the PUE range when the data centre is unknown."""

DEFAULT_DEVICES_PER_NODE: Final = 8
"""Accelerators per server when the table does not say (TPU boards do): 8, as in
NVIDIA DGX/HGX A100 and H100 systems and BLOOM's HPE Apollo 6500 nodes."""

GIVEN: Final = "given by the user"
"""The source of an input the user gave."""

_CARD_KINDS: Final = frozenset({"gpu", "tpu", "accelerator"})
_S_PER_H: Final = 3600.0


@frozen
class Host:
    """The servers around the accelerators.

    Attributes:
        power_w: average power of one server without its accelerators (CPUs, RAM,
            fans, network), watts; 0 leaves the host out of the energy.
        devices_per_node: accelerators per server; None: the table's board size
            (TPUs), 1 for CPUs (one socket each), else `DEFAULT_DEVICES_PER_NODE`.
        source: where `power_w` comes from.
    """

    power_w: float = 0.0
    devices_per_node: int | None = None
    source: str = "host power not included (as in BLOOM's dynamic figure, LLaMA, Llama 2)"


@frozen
class Fleet:
    """`count` devices in `nodes` servers, with their embodied records.

    Attributes:
        device: the device.
        count: number of devices.
        nodes: number of servers holding them.
        host_power_w: average power of one server without its devices, watts.
        shares: embodied records of the devices and servers (whole, share 1).
        assumptions: the inputs used (servers, host power, embodied figures).
        notes: what is left out and why.
    """

    device: DeviceSpec
    count: int
    nodes: int
    host_power_w: float
    shares: tuple[EmbodiedShare, ...]
    assumptions: Mapping[str, Assumption]
    notes: tuple[str, ...]

    def energy_j(self, power_w: float, wall_s: float) -> tuple[float, float]:
        """IT energy (joules) of the devices and of the hosts over `wall_s` seconds."""
        return self.count * power_w * wall_s, self.nodes * self.host_power_w * wall_s

    def embodied_g(self, wall_s: float) -> float:
        """Embodied emissions (gCO2e) of holding the fleet for `wall_s` seconds."""
        return sum(amortised_g(share, wall_s) for share in self.shares)


def fleet(
    device: DeviceSpec,
    count: int,
    host: Host | None = None,
    *,
    embodied: bool = True,
    lifetime_s: float | None = None,
) -> Fleet:
    """The servers and embodied records for `count` devices.

    Devices of kind gpu, tpu or accelerator carry the table's per-device figure, or
    the generic GPU-card figure (150 kgCO2e, CCF/BLOOM); every server carries the
    generic host figure (1,000 kgCO2e, CCF); SoCs (Apple) have no bundled figure.

    Raises:
        EstimateError: a count below 1, or negative host power.
    """
    host = host or Host()
    whole("device count", count)
    default = 1 if device.kind == "cpu" else device.devices_per_host or DEFAULT_DEVICES_PER_NODE
    per_node = whole("devices per node", host.devices_per_node or default)
    nodes = math.ceil(count / per_node)
    found = {
        "devices_per_node": Assumption(
            per_node,
            GIVEN if host.devices_per_node else _per_node_source(device),
        ),
        "host_power_w": Assumption(non_negative("host power", host.power_w), host.source),
    }
    shares: list[EmbodiedShare] = []
    notes: list[str] = []
    if not embodied:
        notes.append("embodied emissions left out")
    elif device.kind in _CARD_KINDS:
        per_device = device.embodied_g
        shares.append(
            gpu_embodied(
                device.name,
                count,
                embodied_g_per_gpu=per_device,
                embodied_source=device.embodied_origin,
                lifetime_s=lifetime_s,
            )
        )
        if per_device is None and device.kind != "gpu":
            notes.append(f"no embodied figure for {device.name}: the generic GPU-card figure used")
    elif device.kind == "soc":
        notes.append(f"no embodied figure for {device.name} (a system-on-chip) in the tables")
    else:
        notes.append(f"no embodied figure for the {device.kind} itself; only servers counted")
    if embodied and device.kind != "soc":
        one = host_embodied(1.0, lifetime_s=lifetime_s)
        total = one.embodied_total_g * nodes
        shares.append(replace(one, device=f"{nodes} x host", embodied_total_g=total))
    for share in shares:
        key = "embodied_devices_g" if share.component is Component.GPU else "embodied_hosts_g"
        found[key] = Assumption(share.embodied_total_g, share.source)
    return Fleet(device, count, nodes, host.power_w, tuple(shares), found, tuple(notes))


def _per_node_source(device: DeviceSpec) -> str:
    if device.kind == "cpu":
        return "one CPU socket per server (CCF base server is single-socket)"
    if device.devices_per_host:
        return f"{device.name} board size ({device.form_factor})"
    return f"{DEFAULT_DEVICES_PER_NODE} accelerators per server (NVIDIA DGX/HGX systems)"


@frozen
class Grid:
    """Where the energy is used: grid intensity and PUE, each with an optional range.

    Attributes:
        intensity: grid intensity (gCO2e/kWh) with its source.
        pue: power usage effectiveness (ratio ≥ 1) with its source.
        intensity_low_g_per_kwh: lowest plausible intensity, None when exact.
        intensity_high_g_per_kwh: highest plausible intensity, None when exact.
        pue_low_ratio: lowest plausible PUE, None when exact.
        pue_high_ratio: highest plausible PUE, None when exact.
    """

    intensity: IntensityValue
    pue: PueValue
    intensity_low_g_per_kwh: float | None = None
    intensity_high_g_per_kwh: float | None = None
    pue_low_ratio: float | None = None
    pue_high_ratio: float | None = None

    def __post_init__(self) -> None:
        """Check the values (intensity ≥ 0, PUE ≥ 1) and their ranges."""
        non_negative("intensity", self.intensity.intensity_g_per_kwh)
        non_negative("intensity low", self.intensity_low_g_per_kwh or 0.0)
        lowest = self.pue.pue_ratio if self.pue_low_ratio is None else self.pue_low_ratio
        if not (self.pue.pue_ratio >= 1 and lowest >= 1):
            raise EstimateError(f"PUE must be ≥ 1, got {self.pue.pue_ratio!r}")
        self.assumptions()  # an Assumption checks that its range holds its value

    @classmethod
    def fixed(cls, intensity_g_per_kwh: float, pue_ratio: float = 1.0, location: str = "") -> Grid:
        """A grid whose intensity (gCO2e/kWh) and PUE (ratio) are known exactly."""
        return cls(
            IntensityValue(intensity_g_per_kwh, location, GIVEN),
            PueValue(pue_ratio, GIVEN),
        )

    def assumptions(self) -> dict[str, Assumption]:
        """The grid's two inputs, `pue_ratio` and `intensity_g_per_kwh`, with their ranges."""
        i = self.intensity
        where = f"{i.location}: " if i.location else ""
        year = f" {i.year}" if i.year else ""
        reason = f" ({i.reason})" if i.reason else ""
        return {
            "pue_ratio": Assumption(
                self.pue.pue_ratio, self.pue.source, self.pue_low_ratio, self.pue_high_ratio
            ),
            "intensity_g_per_kwh": Assumption(
                i.intensity_g_per_kwh,
                f"{where}{i.source}{year}{reason}",
                self.intensity_low_g_per_kwh,
                self.intensity_high_g_per_kwh,
            ),
        }


@frozen
class Part:
    """IT energy of one part of a job (accelerators, host, clients, network), joules."""

    name: str
    it_energy_j: float


@frozen
class Estimate:
    """The footprint of one job, each figure with its unit and the inputs behind it.

    Attributes:
        mode: the mode that produced it (``hardware``, ``compute``, ``inference``...).
        device: name of the device the job runs on.
        count: number of devices.
        it_energy_j: IT energy, joules.
        facility_energy_j: IT energy × PUE, joules.
        operational_g: facility energy × grid intensity, gCO2e.
        embodied_g: amortised manufacturing emissions, gCO2e.
        low_g: lowest total within the inputs' ranges, gCO2e.
        high_g: highest total within the inputs' ranges, gCO2e.
        device_hours: device-hours.
        wall_hours: wall-clock hours.
        pue_ratio: facility energy / IT energy.
        intensity_g_per_kwh: grid intensity used, gCO2e/kWh.
        flop: model FLOPs of the job (compute-based modes), else None.
        parts: IT energy by part.
        embodied: the embodied records amortised (whole devices and servers).
        assumptions: every input by name (unit in the name) with its source and range.
        notes: remarks (what is left out, how a device name was read).
        details: figures of one mode, units in their names (inference: per query,
            per day, per year, break-even day).
    """

    mode: str
    device: str
    count: int
    it_energy_j: float
    facility_energy_j: float
    operational_g: float
    embodied_g: float
    low_g: float
    high_g: float
    device_hours: float
    wall_hours: float
    pue_ratio: float
    intensity_g_per_kwh: float
    flop: float | None = None
    parts: tuple[Part, ...] = ()
    embodied: tuple[EmbodiedShare, ...] = ()
    assumptions: Mapping[str, Assumption] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    details: Mapping[str, float] = field(default_factory=dict)

    @property
    def total_g(self) -> float:
        """Operational plus embodied emissions, gCO2e."""
        return self.operational_g + self.embodied_g


@frozen
class Figures:
    """One evaluation of a mode's model at given input values."""

    parts: tuple[Part, ...]
    facility_energy_j: float
    intensity_g_per_kwh: float
    embodied_g: float
    device_s: float
    wall_s: float

    @property
    def total_g(self) -> float:
        """Operational plus embodied emissions, gCO2e."""
        return emissions_g(self.facility_energy_j, self.intensity_g_per_kwh) + self.embodied_g


def on_fleet(jobs: Fleet, watts: float, values: Values, wall_s: float) -> Figures:
    """Figures of `jobs` drawing `watts` per device for `wall_s` seconds at the grid's values."""
    device_j, host_j = jobs.energy_j(watts, wall_s)
    parts = (Part(jobs.device.kind, device_j),) + ((Part("host", host_j),) if host_j else ())
    return Figures(
        parts,
        (device_j + host_j) * values["pue_ratio"],
        values["intensity_g_per_kwh"],
        jobs.embodied_g(wall_s),
        jobs.count * wall_s,
        wall_s,
    )


def build(
    mode: str,
    jobs: Fleet,
    assumptions: Mapping[str, Assumption],
    run: Callable[[Values], Figures],
    *,
    flop: float | None = None,
    notes: tuple[str, ...] = (),
    details: Callable[[Figures], dict[str, float]] | None = None,
) -> Estimate:
    """Evaluate `run` at the central values and over the ranges, into an `Estimate`."""
    figures = run(central(assumptions))
    low_g, high_g = bounds(lambda v: run(v).total_g, assumptions)
    it_j = sum(p.it_energy_j for p in figures.parts)
    return Estimate(
        mode=mode,
        device=jobs.device.name,
        count=jobs.count,
        it_energy_j=it_j,
        facility_energy_j=figures.facility_energy_j,
        operational_g=emissions_g(figures.facility_energy_j, figures.intensity_g_per_kwh),
        embodied_g=figures.embodied_g,
        low_g=low_g,
        high_g=high_g,
        device_hours=figures.device_s / _S_PER_H,
        wall_hours=figures.wall_s / _S_PER_H,
        pue_ratio=figures.facility_energy_j / it_j if it_j else 1.0,
        intensity_g_per_kwh=figures.intensity_g_per_kwh,
        flop=flop,
        parts=figures.parts,
        embodied=jobs.shares,
        assumptions=dict(assumptions),
        notes=jobs.notes + notes,
        details=details(figures) if details else {},
    )


def mfu_assumption(value: float | Assumption | None) -> Assumption:
    """Model FLOPs utilisation (0-1) as given, else the default 0.35 with its range 0.2-0.5."""
    default = Assumption(DEFAULT_MFU_RATIO, MFU_SOURCE, *MFU_RANGE_RATIO)
    return assumed("utilisation (mfu_ratio)", value, default, maximum=1.0)


def precision_assumptions(
    device: DeviceSpec, precision: Precision | None
) -> tuple[Precision, dict[str, Assumption]]:
    """The precision used (given, else the device's default) and its peak FLOP/s, as inputs.

    Raises:
        EstimateError: the device has no peak for that precision.
    """
    chosen = precision or device.default_precision()
    source = GIVEN if precision else "default: bf16, else fp16 where the device has no bf16"
    peak = Assumption(
        device.peak(chosen), f"{device.name} dense {chosen.value} peak, {device.source}"
    )
    return chosen, {"precision": Assumption(chosen.value, source), "peak_flop_per_s": peak}
