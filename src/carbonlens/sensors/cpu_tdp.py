"""Modelled CPU power from TDP and utilisation, for machines without RAPL.

VMs, containers and CI runners rarely expose an energy counter, so CPU power is
modelled as ``P = P_idle + (P_max - P_idle) * u`` where ``u`` is the machine's CPU
utilisation over each read interval (the aggregate ``cpu`` line of
``/proc/stat``: busy = total - idle - iowait, as psutil counts it; steal counts as
busy) and

* ``P_max = TDP * packages * share_ratio``: the TDP of one package (bundled table,
  `carbonlens.estimate.cpu_specs`, or the ``tdp_w`` option) scaled to the CPUs this
  process may use (`carbonlens.sensors.cpu_host.cpu_share`: allowed CPUs and cgroup
  quota over the logical CPUs of the packages they fill);
* when the package size is unknown (no table row, a row without a core count in
  a VM), ``P_max = default_tdp_per_core_w() * effective_cpus / threads_per_core``:
  the median per-core TDP of the table's Green Algorithms rows (TDP over physical
  cores) times the cores the usable logical CPUs make (``threads_per_core`` from
  ``/proc/cpuinfo``, 1 when it is not listed: a VM whose guest sees no SMT counts
  each vCPU as a core);
* ``P_idle = idle_ratio * P_max``.

``power_w=`` replaces the model with a fixed wattage (method CONSTANT).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from numbers import Real
from typing import Any, ClassVar, Final, Self

from carbonlens._frozen import frozen
from carbonlens.errors import ConfigError, SensorReadError, SensorUnavailable
from carbonlens.estimate.cpu_specs import default_tdp_per_core_w, match_cpu
from carbonlens.records import Channel, Component, Method, Reading
from carbonlens.sensors import _portable
from carbonlens.sensors.base import Host, Probe
from carbonlens.sensors.cpu_host import cpu_share, read_cpu_times, read_topology

DEFAULT_IDLE_RATIO: Final = 0.74 / 3.5
"""Idle power as a share of maximum power, about 0.21.

Cloud Carbon Footprint's AWS averages from SPECpower_ssj2008 results: 0.74 W
minimum and 3.5 W maximum per vCPU (``MIN_WATTS_AVG``/``MAX_WATTS_AVG`` in
``packages/aws/src/domain/AwsFootprintEstimationConstants.ts``; its methodology
page gives GCP 0.71/4.26 W and Azure 0.78/3.76 W, ratios 0.17 and 0.21).
"""

_OPTIONS: Final = ("tdp_w", "power_w", "idle_ratio")


def _number(value: object, setting: str, *, low: float, high: float = math.inf) -> float:
    """``value`` as a float in [low, high], else ConfigError naming the setting."""
    if isinstance(value, bool) or not isinstance(value, Real) or not low <= float(value) <= high:
        raise ConfigError(
            f"{setting} must be a number in [{low}, {high}], got {value!r}", setting=setting
        )
    return float(value)


@frozen
class CpuTdpOptions:
    """Options of `CpuTdpSensor`, given as keywords to ``CpuTdpSensor.open``.

    Attributes:
        tdp_w: TDP of one CPU package in watts, replacing the table's; where the
            package size is unknown it is the power of all CPUs this machine sees.
        power_w: A fixed CPU power in watts: no model, method CONSTANT.
        idle_ratio: Idle power as a share (0-1) of maximum power.
    """

    tdp_w: float | None = None
    power_w: float | None = None
    idle_ratio: float = DEFAULT_IDLE_RATIO

    def __post_init__(self) -> None:
        """Validate; raise ConfigError on a bad value."""
        if self.tdp_w is not None:
            object.__setattr__(self, "tdp_w", _number(self.tdp_w, "cpu-tdp.tdp_w", low=1e-9))
        if self.power_w is not None:
            object.__setattr__(self, "power_w", _number(self.power_w, "cpu-tdp.power_w", low=0.0))
        ratio = _number(self.idle_ratio, "cpu-tdp.idle_ratio", low=0.0, high=1.0)
        object.__setattr__(self, "idle_ratio", ratio)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> CpuTdpOptions:
        """Build from keyword options, rejecting unknown names with ConfigError."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(
                f"unknown cpu-tdp option(s) {', '.join(unknown)}; known: {', '.join(_OPTIONS)}",
                setting="cpu-tdp",
            )
        return cls(**options)


def _model(host: Host, opts: CpuTdpOptions) -> tuple[float, dict[str, Any], str]:
    """(maximum power in W, assumptions, one-line summary) of the utilisation model."""
    topology = read_topology(host)
    match = match_cpu(topology.model_name) if topology.model_name else None
    share = cpu_share(host, topology, match)
    tdp_w = opts.tdp_w if opts.tdp_w is not None else (match.spec.tdp_w if match else None)
    per_core_w: float | None = None
    if tdp_w is not None and share.share_ratio is not None:
        max_w = tdp_w * share.packages * share.share_ratio
        summary = f"TDP {tdp_w:g} W x {share.packages} package(s) x share {share.share_ratio:.4g}"
    elif opts.tdp_w is not None:
        max_w = opts.tdp_w * share.effective_cpus / topology.logical_cpus
        summary = f"TDP {opts.tdp_w:g} W x {share.effective_cpus:g}/{topology.logical_cpus} CPUs"
    else:  # a per-core figure: logical CPUs are threads, so count the cores they make
        per_core_w = default_tdp_per_core_w()
        threads = max(1.0, topology.threads_per_core or 1.0)
        max_w = per_core_w * share.effective_cpus / threads
        summary = f"default {per_core_w:g} W per core x {share.effective_cpus:g} CPUs" + (
            f" / {threads:g} threads per core" if threads > 1 else ""
        )
    assumptions: dict[str, Any] = {
        "model": "power = idle + (max - idle) * utilisation",
        "cpu_model_name": topology.model_name,
        "matched_name": match.spec.name if match else None,
        "match_score": match.score if match else None,
        "spec_source": match.spec.source if match else None,
        "spec_license": match.spec.license if match else None,
        "tdp_w": tdp_w,
        "tdp_source": "user" if opts.tdp_w is not None else ("table" if match else None),
        "hypervisor": topology.hypervisor,
        "logical_cpus": topology.logical_cpus,
        "sockets": topology.sockets,
        "threads_per_core": topology.threads_per_core,
        **asdict(share),
        "per_core_default_used": per_core_w is not None,
        "tdp_per_core_w": per_core_w,
        "tdp_per_core_source": "median tdp_per_core_w of the Green Algorithms rows of cpu_tdp.csv"
        if per_core_w is not None
        else None,
        "max_power_w": max_w,
        "idle_ratio": opts.idle_ratio,
        "idle_ratio_source": "Cloud Carbon Footprint AWS SPECpower averages 0.74/3.5 W per vCPU"
        if opts.idle_ratio == DEFAULT_IDLE_RATIO
        else "user",
        "idle_power_w": opts.idle_ratio * max_w,
        "utilisation_source": "psutil.cpu_times() (machine-wide)"
        if _portable.uses_psutil(host)
        else "/proc/stat aggregate cpu line (machine-wide)",
    }
    return max_w, assumptions, f"{summary} = max {max_w:.3g} W"


class CpuTdpSensor:
    """Modelled CPU energy: TDP × share × utilisation curve, or a fixed wattage.

    One channel ``cpu-tdp/cpu/cpu``. `read` returns the energy in joules
    integrated since the first read, and the modelled power over the last interval.
    """

    name: ClassVar[str] = "cpu-tdp"
    components: ClassVar[frozenset[Component]] = frozenset({Component.CPU})
    method: ClassVar[Method] = Method.MODELLED
    Options: ClassVar[type[CpuTdpOptions]] = CpuTdpOptions

    def __init__(
        self,
        host: Host,
        method: Method,
        max_w: float,
        idle_w: float,
        assumptions: dict[str, Any],
        summary: str,
    ) -> None:
        """Use `open`; this takes the already built model (powers in watts) and its
        one-line summary."""
        self._host = host
        self._summary = summary
        self._channel = Channel(self.name, Component.CPU, "cpu", method)
        self._max_w = max_w
        self._idle_w = idle_w
        self._assumptions = assumptions
        self._last_t_s: float | None = None
        self._last_times = (0, 0)
        self._utilisation_ratio = 0.0
        self._energy_j = 0.0

    @classmethod
    def probe(cls, host: Host) -> Probe:
        """Available wherever ``/proc/stat`` is readable; the reason states the model."""
        try:
            read_cpu_times(host)
        except (OSError, ValueError) as exc:
            return Probe(cls.name, False, f"cannot read CPU times from /proc/stat: {exc}")
        return Probe(cls.name, True, cls.open(host).describe())

    @classmethod
    def open(cls, host: Host, **options: Any) -> Self:
        """Build the model for this machine.

        Args:
            host: Where procfs and sysfs are.
            **options: `CpuTdpOptions` fields: ``tdp_w``, ``power_w``, ``idle_ratio``.

        Raises:
            ConfigError: An unknown or invalid option.
            SensorUnavailable: ``/proc/stat`` is unreadable (without ``power_w``).
        """
        opts = CpuTdpOptions.from_options(options)
        if opts.power_w is not None:
            facts = {"power_w": opts.power_w, "power_source": "user"}
            fixed = f"fixed {opts.power_w:g} W (power_w)"
            return cls(host, Method.CONSTANT, opts.power_w, opts.power_w, facts, fixed)
        try:
            read_cpu_times(host)
        except (OSError, ValueError) as exc:
            raise SensorUnavailable(
                cls.name, f"cannot read CPU times: {exc}", "give power_w= for a fixed CPU wattage"
            ) from exc
        max_w, assumptions, summary = _model(host, opts)
        return cls(host, cls.method, max_w, opts.idle_ratio * max_w, assumptions, summary)

    def describe(self) -> str:
        """What the opened sensor models: its probe's reason ("modelled: TDP ...")."""
        return f"{self._channel.method.value}: {self._summary}"

    def channels(self) -> Sequence[Channel]:
        """The single CPU channel."""
        return (self._channel,)

    def read(self, t_s: float, pids: frozenset[int] = frozenset()) -> list[Reading]:
        """Energy in joules since the first read, and the power over the last interval.

        The first read starts the integration (0 J, no power). `pids` is ignored:
        the model covers the CPUs this process may use, not single processes.

        Raises:
            SensorReadError: ``/proc/stat`` could not be read.
        """
        constant = self._channel.method is Method.CONSTANT
        times = self._last_times
        if not constant:
            try:
                times = read_cpu_times(self._host)
            except (OSError, ValueError) as exc:
                raise SensorReadError(self.name, "cpu", str(exc)) from exc
        if self._last_t_s is None:
            self._last_t_s, self._last_times = t_s, times
            return [Reading(self._channel, t_s, energy_j=0.0, power_w=None)]
        busy, total = times[0] - self._last_times[0], times[1] - self._last_times[1]
        if total > 0:  # else no jiffy elapsed: keep the last utilisation
            self._utilisation_ratio = min(max(busy / total, 0.0), 1.0)
            self._last_times = times
        power_w = self._idle_w + (self._max_w - self._idle_w) * self._utilisation_ratio
        if t_s > self._last_t_s:
            self._energy_j += power_w * (t_s - self._last_t_s)
            self._last_t_s = t_s
        return [Reading(self._channel, t_s, energy_j=self._energy_j, power_w=power_w)]

    def assumptions(self) -> dict[str, Any]:
        """Every constant of the model and where it comes from (JSON-compatible)."""
        return dict(self._assumptions)

    def close(self) -> None:
        """Nothing to release: files are read by path on every `read`."""
