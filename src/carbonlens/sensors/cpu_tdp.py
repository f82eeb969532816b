"""Modelled CPU power from TDP and utilisation, for machines without RAPL.

VMs, containers and CI runners rarely expose an energy counter, so CPU power is
modelled as ``P = P_idle + (P_max - P_idle) * u`` where ``u`` is the machine's CPU
utilisation over each read interval (the aggregate ``cpu`` line of
``/proc/stat``: busy = total - idle - iowait, as psutil counts it; steal counts as
busy) and

* ``P_max = TDP * packages * share_ratio``: the TDP of one package (bundled table,
  `carbonlens.estimate.cpu_specs`, or the ``tdp_w`` option) scaled to the CPUs this
  process may use: ``share_ratio = effective_cpus / (package_logical_cpus *
  packages)``;
* ``effective_cpus = min(CPUs in Cpus_allowed_list, cgroup CPU quota)``;
* ``package_logical_cpus`` is ``siblings`` from ``/proc/cpuinfo`` on bare metal;
  in a VM (``hypervisor`` flag) the host's package is not visible, so it is the
  table's ``n_cores`` × threads per core (``siblings / cpu cores``). ``packages`` is
  the number of ``physical id``s on bare metal; in a VM, the packages the
  effective CPUs fill (usually 1);
* when the package size is unknown (no table row, a row without a core count in
  a VM), ``P_max = default_tdp_per_core_w() * effective_cpus``: the median per-core
  TDP of the table's Green Algorithms rows;
* ``P_idle = idle_ratio * P_max``.

``power_w=`` replaces the model with a fixed wattage (method CONSTANT).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from numbers import Real
from typing import Any, ClassVar, Final, Self

from carbonlens._frozen import frozen
from carbonlens.errors import ConfigError, SensorReadError, SensorUnavailable
from carbonlens.estimate.cpu_specs import CpuMatch, default_tdp_per_core_w, match_cpu
from carbonlens.records import Channel, Component, Method, Reading
from carbonlens.sensors import _portable
from carbonlens.sensors._cgroup import cgroup_dirs, cpu_quota, read_text
from carbonlens.sensors.base import Host, Probe

DEFAULT_IDLE_RATIO: Final = 0.74 / 3.5
"""Idle power as a share of maximum power, about 0.21.

Cloud Carbon Footprint's AWS averages from SPECpower_ssj2008 results: 0.74 W
minimum and 3.5 W maximum per vCPU (``MIN_WATTS_AVG``/``MAX_WATTS_AVG`` in
``packages/aws/src/domain/AwsFootprintEstimationConstants.ts``; its methodology
page gives GCP 0.71/4.26 W and Azure 0.78/3.76 W, ratios 0.17 and 0.21).
"""

_OPTIONS: Final = ("tdp_w", "power_w", "idle_ratio")
_V1_CPU_MOUNTS: Final = ("cpu", "cpu,cpuacct")


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


@frozen
class CpuTopology:
    """What ``/proc/cpuinfo`` and ``/proc/stat`` say about the CPUs.

    Attributes:
        model_name: ``model name`` of the first CPU, None when absent (Arm).
        logical_cpus: Online logical CPUs (``cpuN`` lines of ``/proc/stat``).
        sockets: Distinct ``physical id`` values (at least 1).
        siblings: Logical CPUs per package, when listed.
        cores_per_package: ``cpu cores``, physical cores per package, when listed.
        hypervisor: Whether the ``hypervisor`` flag is set (running in a VM).
    """

    model_name: str | None
    logical_cpus: int
    sockets: int
    siblings: int | None
    cores_per_package: int | None
    hypervisor: bool

    @property
    def threads_per_core(self) -> float | None:
        """``siblings / cpu cores`` (2.0 with SMT), when both are listed."""
        if self.siblings and self.cores_per_package:
            return self.siblings / self.cores_per_package
        return None


def read_topology(host: Host) -> CpuTopology:
    """Parse ``host.procfs/cpuinfo`` and count CPUs in ``host.procfs/stat``; never raises.

    Without procfs (macOS, Windows), psutil's counts as one package, not a VM.
    """
    if _portable.uses_psutil(host):
        counts = _portable.cpu_counts()
        return CpuTopology(
            model_name=counts.model_name,
            logical_cpus=counts.logical_cpus,
            sockets=1,
            siblings=counts.logical_cpus,
            cores_per_package=counts.physical_cores,
            hypervisor=False,
        )
    first: dict[str, str] = {}
    sockets: set[str] = set()
    for block in (read_text(host.procfs / "cpuinfo") or "").split("\n\n"):
        fields = dict(
            (key.strip(), value.strip())
            for key, sep, value in (line.partition(":") for line in block.splitlines())
            if sep
        )
        if "physical id" in fields:
            sockets.add(fields["physical id"])
        if not first and fields:
            first = fields
    stat = read_text(host.procfs / "stat") or ""
    logical = sum(1 for line in stat.splitlines() if line[:3] == "cpu" and line[3:4].isdigit())

    def count(key: str) -> int | None:
        value = first.get(key, "")
        return int(value) if value.isdigit() and int(value) > 0 else None

    return CpuTopology(
        model_name=first.get("model name") or None,
        logical_cpus=max(logical, 1),
        sockets=max(len(sockets), 1),
        siblings=count("siblings"),
        cores_per_package=count("cpu cores"),
        hypervisor="hypervisor" in first.get("flags", "").split(),
    )


def _allowed_cpus(host: Host) -> int | None:
    """Number of CPUs in ``Cpus_allowed_list`` of ``host.procfs/self/status`` (``0-3,8``)."""
    for line in (read_text(host.procfs / "self" / "status") or "").splitlines():
        key, _, value = line.partition(":")
        if key == "Cpus_allowed_list":
            try:
                spans = [part.split("-") for part in value.strip().split(",") if part]
                return sum(int(span[-1]) - int(span[0]) + 1 for span in spans) or None
            except ValueError:
                return None
    return None


@frozen
class CpuShare:
    """How much of the CPU packages this process may use.

    Attributes:
        effective_cpus: CPUs usable: min(allowed CPUs, cgroup quota), may be fractional.
        effective_cpus_source: Which limit set `effective_cpus`.
        package_logical_cpus: Logical CPUs of one physical package, when known.
        package_logical_cpus_source: Where that number comes from.
        packages: Packages counted (bare metal: sockets; VM: packages filled).
        share_ratio: ``effective_cpus / (package_logical_cpus * packages)``, 0-1,
            None when the package size is unknown.
    """

    effective_cpus: float
    effective_cpus_source: str
    package_logical_cpus: int | None
    package_logical_cpus_source: str | None
    packages: int
    share_ratio: float | None


def cpu_share(host: Host, topology: CpuTopology, match: CpuMatch | None) -> CpuShare:
    """Work out `CpuShare` for `host` (see the module docstring); never raises."""
    effective: float = topology.logical_cpus
    portable = _portable.uses_psutil(host)
    source = "logical CPUs (psutil)" if portable else "logical CPUs in /proc/stat"
    allowed = _allowed_cpus(host)
    if allowed is not None and allowed < effective:
        effective, source = allowed, "Cpus_allowed_list"
    for directory in cgroup_dirs(host, "cpu", _V1_CPU_MOUNTS):
        quota = cpu_quota(directory)
        if quota is not None and quota < effective:
            effective, source = quota, f"cgroup CPU quota ({directory})"
    package: int | None = None
    package_source: str | None = None
    if not topology.hypervisor and topology.siblings:
        package, package_source = topology.siblings, "cpuinfo siblings"
    elif match is not None and match.spec.n_cores:
        package = round(match.spec.n_cores * (topology.threads_per_core or 1.0))
        package_source = "table n_cores x threads per core (cpuinfo siblings / cpu cores)"
    if package is None:
        return CpuShare(effective, source, None, None, 1, None)
    packages = (
        topology.sockets if not topology.hypervisor else max(1, math.ceil(effective / package))
    )
    share = min(effective / (package * packages), 1.0)
    return CpuShare(effective, source, package, package_source, packages, share)


def host_share_ratio(host: Host) -> float | None:
    """Share (0-1) of the machine's CPU packages this process may use, for embodied carbon.

    ``effective_cpus / (package_logical_cpus * packages)``; None when the package
    size is unknown. In a VM it is the share of the packages the VM's CPUs fill,
    not of the whole physical server, whose socket count is not visible.
    """
    topology = read_topology(host)
    match = match_cpu(topology.model_name) if topology.model_name else None
    return cpu_share(host, topology, match).share_ratio


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
    else:
        per_core_w = default_tdp_per_core_w()
        max_w = per_core_w * share.effective_cpus
        summary = f"default {per_core_w:g} W per core x {share.effective_cpus:g} CPUs"
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


def read_cpu_times(host: Host) -> tuple[int, int]:
    """(busy, total) cumulative machine-wide CPU time in jiffies, from ``/proc/stat``.

    total = user + nice + system + idle + iowait + irq + softirq + steal (guest
    time is already inside user and nice); busy = total - idle - iowait. Without
    procfs (macOS, Windows) the same from psutil, in microseconds: only the ratio
    of two differences is used.

    Raises:
        OSError: The file cannot be read.
        ValueError: Its first line is not the aggregate ``cpu`` line.
    """
    if _portable.uses_psutil(host):
        return _portable.cpu_times_us()
    fields = _first_line(f"{host.procfs}/stat").split()
    if len(fields) < 5 or fields[0] != b"cpu":
        shown = b" ".join(fields).decode("ascii", "replace")
        raise ValueError(f"unexpected first line of /proc/stat: {shown!r}")
    times = [int(value) for value in fields[1:9]]
    total = sum(times)
    return total - times[3] - times[4], total


def _first_line(path: str) -> bytes:
    """The first line of a file, read with plain system calls: the sampler reads
    ``/proc/stat`` every tick, and a buffered text file costs several times more."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        head = os.read(fd, 512)
        while b"\n" not in head and (more := os.read(fd, 512)):
            head += more
    finally:
        os.close(fd)
    return head.partition(b"\n")[0]


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
