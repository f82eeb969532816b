"""CPU package and DRAM energy from the Linux powercap sysfs tree (RAPL).

The kernel lists every power zone flat under ``/sys/class/powercap``. Counted:
``intel-rapl:N`` named ``package-N`` (CPU channel ``package-N``, one per socket;
multi-die parts give ``package-N-die-M``) and its subzone ``intel-rapl:N:M`` named
``dram`` (RAM channel ``dram-N``). Not counted: subzones ``core``/``uncore`` (inside
the package: counting them would count that energy twice); the platform zone
``psys`` (it contains the packages and memory; ``zones=("psys",)`` counts it
*instead*, as a SOC channel); ``intel-rapl-mmio:N`` (the same package counter read
over MMIO, used only when ``intel-rapl:N`` is missing).

AMD Zen CPUs appear under the same ``intel-rapl`` names (the ``intel_rapl_msr``
driver serves them; they have no ``dram`` zone). Other RAPL control types
(``intel-rapl-tpmi``, ``amd-rapl``...) are read alike; a zone duplicating one
already found (same kind and device) is dropped, preferring ``intel-rapl``. The
``amd_energy``/``zenergy`` drivers are hwmon, not powercap, and are not read here.

Counters are integers in microjoules that wrap at ``max_energy_range_uj``; the
sensor keeps them as ints and converts only the accumulated delta to joules.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any, ClassVar, Final, Self

from carbonlens._frozen import frozen
from carbonlens.errors import (
    ConfigError,
    SensorPermissionError,
    SensorReadError,
    SensorUnavailable,
)
from carbonlens.records import Channel, Component, Method, Reading
from carbonlens.sensors._counter import counter_delta
from carbonlens.sensors._precheck import NO_POWERCAP_HINT, no_rapl_zones, powercap_unlistable
from carbonlens.sensors.base import Host, Probe, ReadItem

logger = logging.getLogger(__name__)

UJ_PER_J: Final = 1_000_000
ZONE_KINDS: Final = ("package", "dram", "psys")
"""Zone kinds that `RaplOptions.zones` may select."""

_PREFERRED_CONTROL_TYPE: Final = "intel-rapl"
_ENTRY_RE: Final = re.compile(
    r"^(?P<ctype>(?:intel|amd)[-_]rapl(?:[-_][a-z]+)?):(?P<id>\d+(?::\d+)?)$"
)
_PACKAGE_RE: Final = re.compile(r"^package-(?P<suffix>\d+(?:-die-\d+)?)$")
_COMPONENT: Final = {"package": Component.CPU, "dram": Component.RAM, "psys": Component.SOC}


def _read_uj(path: Path) -> int:
    """Read a µJ counter file; the module's only counter read, so tests can patch it.

    Raises OSError (PermissionError...) or ValueError on junk content.
    """
    return int(path.read_text().strip())


@frozen
class RaplOptions:
    """Options of `RaplSensor`, given as keywords to ``RaplSensor.open``.

    Attributes:
        zones: Zone kinds to count: ``("package", "dram")`` (default: CPU packages
            and their DRAM) or ``("psys",)`` (the platform zone, which contains
            both, so it cannot be combined with them). A string is taken as one kind.
        worst_case_power_w: Highest power any one zone is assumed to draw, in watts
            (default 1000 W, above every shipping server CPU package's limits);
            sets `RaplSensor.max_poll_interval_s`.
    """

    zones: tuple[str, ...] = ("package", "dram")
    worst_case_power_w: float = 1000.0

    def __post_init__(self) -> None:
        """Normalise and validate; raise ConfigError on a bad value."""
        raw: object = self.zones
        kinds = (raw,) if isinstance(raw, str) else tuple(raw) if isinstance(raw, Sequence) else ()
        zones = tuple(dict.fromkeys(str(k).strip().lower() for k in kinds))
        unknown = [k for k in zones if k not in ZONE_KINDS]
        if not zones or unknown:
            raise ConfigError(
                f"rapl zones must be a non-empty list of {', '.join(ZONE_KINDS)}; got {raw!r}",
                setting="rapl.zones",
            )
        if "psys" in zones and len(zones) > 1:
            raise ConfigError(
                "rapl zones: psys contains the packages and DRAM, so counting it with them "
                f"counts twice; choose ('psys',) or ('package', 'dram'), got {raw!r}",
                setting="rapl.zones",
            )
        power = self.worst_case_power_w
        if isinstance(power, bool) or not isinstance(power, Real) or not float(power) > 0:
            raise ConfigError(
                f"rapl worst_case_power_w must be a number of watts > 0, got {power!r}",
                setting="rapl.worst_case_power_w",
            )
        object.__setattr__(self, "zones", zones)
        object.__setattr__(self, "worst_case_power_w", float(power))

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RaplOptions:
        """Build from keyword options, rejecting unknown names with ConfigError."""
        unknown = sorted(set(options) - {"zones", "worst_case_power_w"})
        if unknown:
            raise ConfigError(
                f"unknown rapl option(s) {', '.join(unknown)}; known: zones, worst_case_power_w",
                setting="rapl",
            )
        return cls(**options)


@frozen
class _Zone:
    entry: str  # "intel-rapl:0:0"
    control_type: str
    index: tuple[int, ...]
    kind: str  # one of ZONE_KINDS
    device: str
    path: Path


@dataclass(slots=True)
class _Counter:
    channel: Channel
    entry: str
    energy_file: Path
    max_uj: int
    last_uj: int
    total_uj: int = 0


@dataclass(slots=True)
class _Found:
    zones: list[_Zone] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    hint: str = ""


def _read_name(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _classify(
    index: tuple[int, ...], name: str, names: Mapping[tuple[int, ...], str]
) -> tuple[str, str] | str:
    """(kind, device) for a countable zone, else the reason it is not counted."""
    if len(index) == 1:
        if _PACKAGE_RE.match(name):
            return "package", name
        if name.startswith("psys"):
            return "psys", name
        return f"unknown top-level zone {name!r}"
    parent = names.get(index[:1], "")
    if name == "dram":
        match = _PACKAGE_RE.match(parent)
        return "dram", f"dram-{match['suffix'] if match else index[0]}"
    return f"{name}: inside {parent or 'its parent zone'}, which already counts it"


def _not_selected(name: str, kind: str, kinds: Sequence[str]) -> str:
    """Why a zone of `kind` is not counted when the options select only `kinds`."""
    if kind == "psys":
        return f"{name}: contains the packages and DRAM; count it instead with zones=('psys',)"
    if "psys" in kinds:
        return f"{name}: inside psys, which is counted instead"
    return f"{name}: not counted, zones={tuple(kinds)!r} leaves out {kind}"


def _find_zones(root: Path, kinds: Sequence[str]) -> _Found:
    """Select the zones of `kinds` under `root` (``<sysfs>/class/powercap``); never raises."""
    found = _Found()
    try:
        entries = sorted(p.name for p in root.iterdir())
    except OSError as exc:
        found.reason = powercap_unlistable(root, exc)
        found.hint = NO_POWERCAP_HINT
        return found
    by_type: dict[str, dict[tuple[int, ...], tuple[str, str]]] = {}  # ctype -> index -> entry, name
    for entry in entries:
        match = _ENTRY_RE.match(entry)
        if match is None:
            continue  # control-type directories, dtpm, other drivers
        name = _read_name(root / entry / "name")
        if name is None:
            found.skipped[entry] = "no readable name file"
            continue
        index = tuple(int(part) for part in match["id"].split(":"))
        by_type.setdefault(match["ctype"], {})[index] = (entry, name)
    if not by_type:
        found.reason = no_rapl_zones(root)
        found.hint = NO_POWERCAP_HINT
        return found
    order = sorted(by_type, key=lambda ctype: (ctype != _PREFERRED_CONTROL_TYPE, ctype))
    taken: dict[tuple[str, str], str] = {}
    for ctype in order:
        names = {index: name for index, (_, name) in by_type[ctype].items()}
        for index, (entry, name) in sorted(by_type[ctype].items()):
            kind_device = _classify(index, name, names)
            if isinstance(kind_device, str):
                found.skipped[entry] = kind_device
                continue
            kind, device = kind_device
            if not (root / entry / "energy_uj").exists():
                found.skipped[entry] = f"{name}: no energy_uj counter"
                continue
            if kind not in kinds:
                found.skipped[entry] = _not_selected(name, kind, kinds)
                continue
            earlier = taken.get((kind, device))
            if earlier is not None and earlier.startswith(f"{ctype}:"):
                device = f"{device}-{index[0]}"  # same name twice in one control type
            elif earlier is not None:
                found.skipped[entry] = f"{name}: same counter as {earlier}"
                continue
            taken[(kind, device)] = entry
            found.zones.append(_Zone(entry, ctype, index, kind, device, root / entry))
    found.zones.sort(key=lambda z: (ZONE_KINDS.index(z.kind), order.index(z.control_type), z.index))
    if not found.zones:
        seen = ", ".join(f"{e} ({n})" for c in order for _, (e, n) in sorted(by_type[c].items()))
        found.reason = f"no RAPL {'/'.join(kinds)} zone under {root}"
        found.hint = f"zones present: {seen}"
    return found


def _permission_hint(root: Path, control_type: str, filename: str = "energy_uj") -> str:
    """The fix for an unreadable counter file `filename` (``energy_uj`` or
    ``max_energy_range_uj``, which some distribution backports restrict too)."""
    why = (
        "energy_uj is root-only since the CVE-2020-8694 (PLATYPUS) fix of Linux 5.10 "
        "and its stable backports. "
        if filename == "energy_uj"
        else f"{filename} is root-only on this kernel (some backports of the "
        "CVE-2020-8694 fix restrict it as well as energy_uj). "
    )
    return why + (
        "Run as root, or let other users read it until the next reboot with "
        f"`sudo chmod o+r {root}/{control_type}:*/{filename}` (this re-opens the side "
        "channel to local users); a udev rule or systemd-tmpfiles entry makes it "
        "permanent, see docs/permissions.md"
    )


class RaplSensor:
    """Measured CPU package (and DRAM) energy from Linux powercap RAPL counters.

    One channel per counted zone: ``rapl/cpu/package-N`` per socket,
    ``rapl/ram/dram-N`` where the socket has a DRAM zone, or ``rapl/soc/psys``
    with ``zones=("psys",)``. `read` returns each channel's energy in joules
    accumulated since `open` (wrap-around handled), and no power.
    """

    name: ClassVar[str] = "rapl"
    components: ClassVar[frozenset[Component]] = frozenset({Component.CPU, Component.RAM})
    method: ClassVar[Method] = Method.MEASURED
    Options: ClassVar[type[RaplOptions]] = RaplOptions

    def __init__(
        self, counters: Sequence[_Counter], skipped: Mapping[str, str], options: RaplOptions
    ) -> None:
        """Use `open`; this takes already opened counters."""
        self._counters = list(counters)
        self._skipped = dict(skipped)
        self._options = options
        self._channels = tuple(c.channel for c in self._counters)

    @classmethod
    def probe(cls, host: Host) -> Probe:
        """Whether RAPL can be read here with default options; never raises, reads only."""
        root = host.sysfs / "class" / "powercap"
        found = _find_zones(root, RaplOptions().zones)
        if not found.zones:
            return Probe(cls.name, False, found.reason, found.hint)
        try:
            for zone in found.zones:
                cls._open_counter(zone, root)
        except SensorUnavailable as exc:
            return Probe(cls.name, False, exc.reason, exc.hint)
        listed = ", ".join(f"{z.device} ({z.entry})" for z in found.zones)
        return Probe(cls.name, True, f"{len(found.zones)} zone(s): {listed}")

    @classmethod
    def open(cls, host: Host, **options: Any) -> Self:
        """Find the zones, check they are readable and take each counter's baseline.

        Args:
            host: Where sysfs is (``host.sysfs / "class/powercap"``).
            **options: `RaplOptions` fields: ``zones``, ``worst_case_power_w``.

        Raises:
            ConfigError: An unknown or invalid option.
            SensorPermissionError: A counter exists but is not readable (not root).
            SensorUnavailable: No powercap tree, no matching zone, or a bad counter.
        """
        opts = RaplOptions.from_options(options)
        root = host.sysfs / "class" / "powercap"
        found = _find_zones(root, opts.zones)
        if not found.zones:
            raise SensorUnavailable(cls.name, found.reason, found.hint)
        counters = [cls._open_counter(zone, root) for zone in found.zones]
        for entry, why in found.skipped.items():
            logger.debug("rapl: not counting %s: %s", entry, why)
        return cls(counters, found.skipped, opts)

    @classmethod
    def _open_counter(cls, zone: _Zone, root: Path) -> _Counter:
        energy_file = zone.path / "energy_uj"
        range_file = zone.path / "max_energy_range_uj"
        values: list[int] = []
        for path in (energy_file, range_file):
            try:
                values.append(_read_uj(path))
            except PermissionError as exc:
                raise SensorPermissionError(
                    cls.name, str(path), _permission_hint(root, zone.control_type, path.name)
                ) from exc
            except (OSError, ValueError) as exc:
                raise SensorUnavailable(cls.name, f"cannot read {path}: {exc}") from exc
        energy_uj, max_uj = values
        if max_uj <= 0 or not 0 <= energy_uj <= max_uj:
            raise SensorUnavailable(
                cls.name, f"{zone.entry}: energy_uj={energy_uj} outside [0, {max_uj}] µJ"
            )
        channel = Channel(cls.name, _COMPONENT[zone.kind], zone.device, cls.method)
        return _Counter(channel, zone.entry, energy_file, max_uj, last_uj=energy_uj)

    @property
    def max_poll_interval_s(self) -> float:
        """Longest safe time between reads, in seconds.

        The smallest zone wrap range divided by twice `RaplOptions.worst_case_power_w`:
        a counter wraps after ``max_energy_range_uj / power`` and only one wrap per
        read interval is detectable, so the factor 2 leaves margin. About 33 s for a
        65.5 kJ range at the default 1000 W; the sampler must read at least this often.
        """
        range_j = min(c.max_uj for c in self._counters) / UJ_PER_J
        return range_j / (2.0 * self._options.worst_case_power_w)

    def channels(self) -> Sequence[Channel]:
        """The counted zones' channels, packages first, in socket order."""
        return self._channels

    def read(self, t_s: float, pids: frozenset[int] = frozenset()) -> list[ReadItem]:
        """Energy of every channel since `open`, in joules, stamped with `t_s`.

        `pids` is ignored: RAPL counts the whole socket, not processes.

        A counter that could not be read or lies outside its range gives a
        `SensorReadError` in place of its reading; the other counters are read all
        the same, and the failed one keeps its progress, so no energy is lost: its
        next successful read includes it.
        """
        readings: list[ReadItem] = []
        for counter in self._counters:
            try:
                now_uj = _read_uj(counter.energy_file)
                delta_uj = counter_delta(now_uj, counter.last_uj, counter.max_uj)
            except (OSError, ValueError) as exc:
                detail = f"{counter.energy_file}: {exc}"
                readings.append(SensorReadError(self.name, counter.channel.device, detail))
                continue
            counter.total_uj += delta_uj
            counter.last_uj = now_uj
            energy_j = counter.total_uj / UJ_PER_J
            readings.append(Reading(counter.channel, t_s, energy_j=energy_j, power_w=None))
        return readings

    def assumptions(self) -> dict[str, Any]:
        """Which zones are counted and why others are not (JSON-compatible)."""
        return {
            "zones": {c.channel.device: c.entry for c in self._counters},
            "skipped_zones": dict(self._skipped),
            "worst_case_power_w": self._options.worst_case_power_w,
            "max_poll_interval_s": round(self.max_poll_interval_s, 3),
        }

    def close(self) -> None:
        """Nothing to release: counters are read by path on every `read`."""
