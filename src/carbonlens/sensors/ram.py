"""Modelled memory power: a constant number of watts per gigabyte of RAM.

``P = w_per_gb * memory_bytes / 2**30``. Memory is ``MemTotal`` of
``/proc/meminfo``, lowered to the cgroup memory limit (v2 ``memory.max``, v1
``memory.limit_in_bytes``) when a container is given less. DRAM draws power to
refresh whether or not it is used, so the model charges all of it.

"GB" follows memory-module sizes, which are binary: 1 GB here is 2**30 bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any, ClassVar, Final, Self

from carbonlens._frozen import frozen
from carbonlens.errors import ConfigError, SensorUnavailable
from carbonlens.records import Channel, Component, Method, Reading
from carbonlens.sensors import _portable
from carbonlens.sensors._cgroup import cgroup_dirs
from carbonlens.sensors.base import Host, Probe
from carbonlens.units import BYTES_PER_GIB

DEFAULT_W_PER_GB: Final = 0.3725
"""Memory power in watts per GB (GiB) of installed RAM.

Green Algorithms (Lannelongue, Grealey & Inouye, Adv. Sci. 2021,
doi:10.1002/advs.202100707), ``memoryPower`` in ``data/v2.2/referenceValues.csv`` of
GreenAlgorithms/green-algorithms-tool, citing doi:10.1145/3076113.3076117 and a
Tom's Hardware DDR4 measurement. Cloud Carbon Footprint uses 0.392 W/GB.
"""

_OPTIONS: Final = ("w_per_gb", "memory_bytes")
_BYTES_PER_KIB: Final = 1024


def _positive(value: object, setting: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not float(value) > 0:
        raise ConfigError(f"{setting} must be a number > 0, got {value!r}", setting=setting)
    return float(value)


@frozen
class RamModelOptions:
    """Options of `RamModelSensor`, given as keywords to ``RamModelSensor.open``.

    Attributes:
        w_per_gb: Watts per GB (2**30 bytes) of memory.
        memory_bytes: Memory to charge, in bytes, instead of the detected amount.
    """

    w_per_gb: float = DEFAULT_W_PER_GB
    memory_bytes: int | None = None

    def __post_init__(self) -> None:
        """Validate; raise ConfigError on a bad value."""
        object.__setattr__(self, "w_per_gb", _positive(self.w_per_gb, "ram-model.w_per_gb"))
        if self.memory_bytes is not None:
            size = _positive(self.memory_bytes, "ram-model.memory_bytes")
            object.__setattr__(self, "memory_bytes", int(size))

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RamModelOptions:
        """Build from keyword options, rejecting unknown names with ConfigError."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(
                f"unknown ram-model option(s) {', '.join(unknown)}; known: {', '.join(_OPTIONS)}",
                setting="ram-model",
            )
        return cls(**options)


def mem_total_bytes(host: Host) -> int:
    """``MemTotal`` of ``host.procfs/meminfo``, in bytes.

    Raises:
        OSError: The file cannot be read.
        ValueError: It has no ``MemTotal`` line in kB.
    """
    for line in (host.procfs / "meminfo").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == "MemTotal":
            number, _, unit = value.strip().partition(" ")
            if unit.strip() == "kB":
                return int(number) * _BYTES_PER_KIB
    raise ValueError("no 'MemTotal: N kB' line in meminfo")


def cgroup_memory_limit(host: Host) -> tuple[int, str] | None:
    """The lowest cgroup memory limit over this process's cgroups, in bytes, and its file.

    Reads v2 ``memory.max`` (``max``: no limit) and v1 ``memory.limit_in_bytes``
    (a huge value means no limit, which the cap by MemTotal absorbs).
    """
    best: tuple[int, str] | None = None
    for directory in cgroup_dirs(host, "memory", ("memory",)):
        for path in (directory / "memory.max", directory / "memory.limit_in_bytes"):
            try:
                limit = int(path.read_text().strip())
            except (OSError, ValueError):
                continue  # absent, unreadable, or "max"
            if best is None or limit < best[0]:
                best = (limit, str(path))
    return best


class RamModelSensor:
    """Modelled RAM energy: watts per GB × memory available to this process.

    One channel ``ram-model/ram/ram``. `read` returns the energy in joules
    integrated since the first read, and the constant modelled power.
    """

    name: ClassVar[str] = "ram-model"
    components: ClassVar[frozenset[Component]] = frozenset({Component.RAM})
    method: ClassVar[Method] = Method.MODELLED
    Options: ClassVar[type[RamModelOptions]] = RamModelOptions

    def __init__(self, power_w: float, assumptions: dict[str, Any]) -> None:
        """Use `open`; this takes the modelled power in watts."""
        self._channel = Channel(self.name, Component.RAM, "ram", self.method)
        self._power_w = power_w
        self._assumptions = assumptions
        self._first_t_s: float | None = None
        self._last_t_s = 0.0

    @classmethod
    def probe(cls, host: Host) -> Probe:
        """Available wherever ``MemTotal`` is readable; the reason gives the power."""
        try:
            sensor = cls.open(host)
        except SensorUnavailable as exc:
            return Probe(cls.name, False, exc.reason, exc.hint)
        return Probe(cls.name, True, sensor.describe())

    def describe(self) -> str:
        """What the opened sensor models: its probe's reason (W/GB x GB = W, and source)."""
        facts = self._assumptions
        gb = facts["memory_bytes"] / BYTES_PER_GIB
        summary = f"{facts['w_per_gb']:g} W/GB x {gb:.3g} GB = {facts['power_w']:.3g} W"
        return f"modelled: {summary} ({facts['memory_source']})"

    @classmethod
    def open(cls, host: Host, **options: Any) -> Self:
        """Size the memory and fix the power.

        Args:
            host: Where procfs and sysfs are.
            **options: `RamModelOptions` fields: ``w_per_gb``, ``memory_bytes``.

        Raises:
            ConfigError: An unknown or invalid option.
            SensorUnavailable: MemTotal is unreadable and no ``memory_bytes`` was given.
        """
        opts = RamModelOptions.from_options(options)
        facts: dict[str, Any] = {
            "model": "power = w_per_gb * memory_bytes / 2**30",
            "w_per_gb": opts.w_per_gb,
            "w_per_gb_source": "Green Algorithms memoryPower (Lannelongue et al. 2021)"
            if opts.w_per_gb == DEFAULT_W_PER_GB
            else "user",
        }
        if opts.memory_bytes is not None:
            memory, source = opts.memory_bytes, "user"
        elif _portable.uses_psutil(host):
            memory = _portable.mem_total_bytes()
            source = "installed memory (psutil.virtual_memory)"
            facts["mem_total_bytes"] = memory
        else:
            try:
                memory, source = mem_total_bytes(host), "MemTotal in /proc/meminfo"
            except (OSError, ValueError) as exc:
                raise SensorUnavailable(
                    cls.name, f"cannot read MemTotal: {exc}", "give memory_bytes= to size RAM"
                ) from exc
            facts["mem_total_bytes"] = memory
            limit = cgroup_memory_limit(host)
            facts["cgroup_limit_bytes"] = limit[0] if limit else None
            if limit is not None and limit[0] < memory:
                memory, source = limit[0], f"cgroup memory limit ({limit[1]})"
        power_w = opts.w_per_gb * memory / BYTES_PER_GIB
        facts |= {"memory_bytes": memory, "memory_source": source, "power_w": power_w}
        return cls(power_w, facts)

    def channels(self) -> Sequence[Channel]:
        """The single RAM channel."""
        return (self._channel,)

    def read(self, t_s: float, pids: frozenset[int] = frozenset()) -> list[Reading]:
        """Energy in joules since the first read (0 J then), and the modelled power.

        `pids` is ignored: memory is charged whole, not per process.
        """
        if self._first_t_s is None:
            self._first_t_s = self._last_t_s = t_s
            return [Reading(self._channel, t_s, energy_j=0.0, power_w=None)]
        self._last_t_s = max(self._last_t_s, t_s)
        energy_j = self._power_w * (self._last_t_s - self._first_t_s)
        return [Reading(self._channel, t_s, energy_j=energy_j, power_w=self._power_w)]

    def assumptions(self) -> dict[str, Any]:
        """Every constant of the model and where it comes from (JSON-compatible)."""
        return dict(self._assumptions)

    def close(self) -> None:
        """Nothing to release: the power is fixed at `open`."""
