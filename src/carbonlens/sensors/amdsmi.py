"""AMD GPU energy through the `amdsmi` Python package (ROCm), behind the narrow `AmdSmiLib`.

`amdsmi_get_energy_count` gives an accumulator and its resolution; accumulator ×
resolution is µJ since the GPU was last reset. GPUs that have it get MEASURED channels
and `read` returns joules since `open`. The accumulator is 64 bits wide, so it never
wraps in practice; a counter that goes *down* means a GPU reset or a firmware glitch
(ROCm/amdsmi#115) and becomes one failed read, after which counting resumes. GPUs
without it (virtual-machine guests, some consumer cards) get SAMPLED channels from
`amdsmi_get_power_info` socket power in W.

Visibility follows the ROCm runtime: `ROCR_VISIBLE_DEVICES` picks among all GPUs, then
`HIP_VISIBLE_DEVICES` (or, when unset, `CUDA_VISIBLE_DEVICES`, which HIP honours)
picks among those. Only index entries are understood.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Protocol, Self

from carbonlens._frozen import frozen
from carbonlens.errors import ConfigError, SensorReadError, SensorUnavailable
from carbonlens.records import Channel, Component, Method, Reading
from carbonlens.sensors._open_each import describe, open_each
from carbonlens.sensors._precheck import AMDSMI_INSTALL_HINT as INSTALL_HINT
from carbonlens.sensors.base import Host, Probe, ReadItem

_log = logging.getLogger(__name__)

AMDSMI_STATUS_NOT_SUPPORTED: Final = 2
AMDSMI_STATUS_NOT_YET_IMPLEMENTED: Final = 3
AMDSMI_STATUS_FAIL_LOAD_MODULE: Final = 4
AMDSMI_STATUS_NO_PERM: Final = 10
AMDSMI_STATUS_INIT_ERROR: Final = 18
AMDSMI_STATUS_DRIVER_NOT_LOADED: Final = 34

_HINTS: Final[Mapping[int, str]] = {
    AMDSMI_STATUS_DRIVER_NOT_LOADED: "the amdgpu kernel driver is not loaded: check `amd-smi`",
    AMDSMI_STATUS_FAIL_LOAD_MODULE: "libamd_smi.so could not be loaded: install ROCm",
    AMDSMI_STATUS_NO_PERM: "this user may not query the GPU: add it to the render and video groups",
}
_UNSUPPORTED: Final = (AMDSMI_STATUS_NOT_SUPPORTED, AMDSMI_STATUS_NOT_YET_IMPLEMENTED)
_VARIABLES: Final = ("ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")


class AmdSmiError(Exception):
    """An amdsmi call failed; `code` is the amdsmi status (2 = NOT_SUPPORTED, 10 = NO_PERM)."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message or f"amdsmi status {code}")
        self.code = code


@frozen
class EnergyCount:
    """Raw energy accumulator: `counter` × `resolution_uj` is µJ since the last GPU reset."""

    counter: int
    resolution_uj: float


class AmdSmiLib(Protocol):
    """The amdsmi calls carbonlens uses, by amdsmi processor index; all raise `AmdSmiError`."""

    def init(self) -> None: ...
    def shutdown(self) -> None: ...
    def device_count(self) -> int: ...
    def device_name(self, index: int) -> str: ...
    def energy_count(self, index: int) -> EnergyCount: ...  # AmdSmiError(2) when absent
    def power_w(self, index: int) -> float: ...  # socket power in W


class AmdSmiPyLib:
    """`AmdSmiLib` on the real `amdsmi` package (imported here, not at module import).

    Raises:
        SensorUnavailable: amdsmi is not installed or cannot load libamd_smi.so.
    """

    def __init__(self) -> None:
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints when the .so is missing
                import amdsmi
        except ImportError as exc:
            raise SensorUnavailable("amdsmi", "amdsmi not installed", INSTALL_HINT) from exc
        except Exception as exc:  # a broken vendor install can raise anything
            raise SensorUnavailable(
                "amdsmi", f"amdsmi failed to load: {exc}", INSTALL_HINT
            ) from exc
        self._smi: Any = amdsmi
        self._handles: list[Any] = []

    def _call(self, function: str, *args: Any) -> Any:
        try:
            return getattr(self._smi, function)(*args)
        except self._smi.AmdSmiException as exc:
            code = getattr(exc, "err_code", None)
            if code is None and hasattr(exc, "get_error_code"):
                code = exc.get_error_code()
            raise AmdSmiError(int(code) if code is not None else -1, f"{function}: {exc}") from exc

    def init(self) -> None:
        """Initialise amdsmi for AMD GPUs and list their handles."""
        self._call("amdsmi_init", self._smi.AmdSmiInitFlags.INIT_AMD_GPUS)
        self._handles = list(self._call("amdsmi_get_processor_handles"))

    def shutdown(self) -> None:
        """Release amdsmi."""
        self._handles = []
        self._call("amdsmi_shut_down")

    def device_count(self) -> int:
        """Number of AMD GPUs amdsmi sees."""
        return len(self._handles)

    def device_name(self, index: int) -> str:
        """Market name, e.g. "AMD Instinct MI300X"."""
        return str(self._call("amdsmi_get_gpu_asic_info", self._handles[index])["market_name"])

    def energy_count(self, index: int) -> EnergyCount:
        """Accumulator and resolution (µJ per count)."""
        raw = self._call("amdsmi_get_energy_count", self._handles[index])
        counter = raw.get("energy_accumulator", raw.get("power"))  # "power" before ROCm 6.4
        return EnergyCount(int(counter), float(raw["counter_resolution"]))

    def power_w(self, index: int) -> float:
        """Socket power in W: current (MI300 and later) or average (older), whichever is there."""
        info = self._call("amdsmi_get_power_info", self._handles[index])
        for key in ("socket_power", "current_socket_power", "average_socket_power"):
            value = info.get(key)
            if isinstance(value, int | float):  # "N/A" where the GPU lacks it
                return float(value)
        raise AmdSmiError(AMDSMI_STATUS_NOT_SUPPORTED, f"no socket power in {sorted(info)}")


def visible_amd_indices(env: Mapping[str, str], count: int) -> tuple[list[int], list[str]]:
    """amdsmi indices visible to HIP programs, and notes for `assumptions()`.

    Args:
        env: Environment holding ROCR_/HIP_/CUDA_VISIBLE_DEVICES.
        count: Number of GPUs amdsmi sees.
    """
    visible = list(range(count))
    notes: list[str] = []
    hip = "HIP_VISIBLE_DEVICES" if "HIP_VISIBLE_DEVICES" in env else "CUDA_VISIBLE_DEVICES"
    for variable in ("ROCR_VISIBLE_DEVICES", hip):
        if variable not in env:
            continue
        notes.append(f"{variable}={env[variable]!r}")
        chosen: list[int] = []
        for raw in env[variable].split(","):
            entry = raw.strip()
            if not (entry.isascii() and entry.isdigit() and int(entry) < len(visible)):
                if entry not in ("", "-1"):
                    notes.append(
                        f"{variable} entry {entry!r} is not a GPU index here: it "
                        "and the entries after it are ignored"
                    )
                break
            if visible[int(entry)] not in chosen:
                chosen.append(visible[int(entry)])
        visible = chosen
    return visible, notes


@dataclass(slots=True)
class _Gpu:
    index: int
    channel: Channel
    model: str
    resolution_uj: float = 0.0
    last_count: int = 0
    total_count: int = 0


def _unavailable(exc: AmdSmiError, doing: str) -> SensorUnavailable:
    reason = f"{doing} failed: {exc} (amdsmi status {exc.code})"
    return SensorUnavailable("amdsmi", reason, _HINTS.get(exc.code, ""))


class AmdSmiSensor:
    """Energy of the visible AMD GPUs: MEASURED from the energy accumulator, else SAMPLED power.

    Channels are named by amdsmi index ("gpu0", ...); `read` returns cumulative `energy_j`
    (J since open) or `power_w` (W) per GPU.
    """

    name: ClassVar[str] = "amdsmi"
    components: ClassVar[frozenset[Component]] = frozenset({Component.GPU})
    method: ClassVar[Method] = Method.MEASURED

    def __init__(self, lib: AmdSmiLib, gpus: list[_Gpu], notes: list[str]) -> None:
        """Use `open`; this only stores what `open` found."""
        self._lib = lib
        self._gpus = gpus
        self._notes = notes
        self._closed = False

    @classmethod
    def probe(cls, host: Host, *, lib: AmdSmiLib | None = None) -> Probe:
        """Say whether amdsmi works here and which GPUs are visible; never raises."""
        try:
            sensor = cls.open(host, lib=lib)
        except SensorUnavailable as exc:
            return Probe(cls.name, False, exc.reason, exc.hint)
        except (AmdSmiError, OSError) as exc:
            return Probe(cls.name, False, f"amdsmi failed: {exc}")
        found = sensor.describe()
        sensor.close()
        return Probe(cls.name, True, found)

    def describe(self) -> str:
        """What the opened sensor measures: its probe's reason ("2 GPU(s): gpu0 ..."),
        and the visible GPUs left out because they could not be read at open."""
        return describe([f"{g.channel.device} {g.model}" for g in self._gpus], self._notes)

    @classmethod
    def open(
        cls,
        host: Host,
        *,
        lib: AmdSmiLib | None = None,
        devices: Sequence[int] | None = None,
        **options: Any,
    ) -> Self:
        """Initialise amdsmi and take a baseline of every visible GPU.

        Args:
            host: Where to read the *_VISIBLE_DEVICES variables (`host.env`).
            lib: The amdsmi implementation; `AmdSmiPyLib()` when None.
            devices: amdsmi indices to measure instead of the environment's choice.
            **options: Anything else is rejected with `ConfigError`.

        A visible GPU that cannot be read at open is left out, with a warning and a
        note in `assumptions()` and `describe()`; the others are measured.

        Raises:
            SensorUnavailable: amdsmi, ROCm or the driver is missing, no GPU is
                visible, or none of the visible GPUs can be read.
            ConfigError: an unknown option.
        """
        if options:
            raise ConfigError(
                f"unknown amdsmi option(s): {', '.join(sorted(options))} (allowed: lib, devices)",
                setting="sensors.amdsmi",
            )
        smi = lib if lib is not None else AmdSmiPyLib()
        try:
            smi.init()
        except AmdSmiError as exc:
            raise _unavailable(exc, "amdsmi_init") from exc
        try:
            count = smi.device_count()
            if devices is not None:
                if bad := [i for i in devices if not 0 <= i < count]:
                    raise SensorUnavailable(cls.name, f"no GPU with amdsmi index {bad} ({count})")
                indices = list(dict.fromkeys(devices))
                notes = [f"devices option {indices} used instead of the environment"]
            else:
                indices, notes = visible_amd_indices(host.env, count)
            if not indices:
                raise SensorUnavailable(
                    cls.name,
                    f"no visible AMD GPU ({count} found; "
                    f"{'; '.join(notes) or 'no GPU in the system'})",
                )
            gpus, left_out, first = open_each(
                cls.name, indices, lambda i: cls._open_gpu(smi, i), AmdSmiError, "amdsmi status"
            )
            if first is not None:
                raise _unavailable(first[1], f"opening {first[0]}") from first[1]
            return cls(smi, gpus, [*notes, *left_out])
        except AmdSmiError as exc:
            _shutdown_quietly(smi)
            raise _unavailable(exc, "querying the GPUs") from exc
        except BaseException:
            _shutdown_quietly(smi)
            raise

    @classmethod
    def _open_gpu(cls, smi: AmdSmiLib, index: int) -> _Gpu:
        model = smi.device_name(index)
        try:
            count = smi.energy_count(index)
        except AmdSmiError as exc:
            if exc.code not in _UNSUPPORTED:
                raise
            smi.power_w(index)  # neither accumulator nor power: let the error surface
            return _Gpu(
                index, Channel(cls.name, Component.GPU, f"gpu{index}", Method.SAMPLED), model
            )
        channel = Channel(cls.name, Component.GPU, f"gpu{index}", Method.MEASURED)
        return _Gpu(index, channel, model, count.resolution_uj, last_count=count.counter)

    def channels(self) -> Sequence[Channel]:
        """One channel per visible GPU ("gpu0", ...)."""
        return [g.channel for g in self._gpus]

    def read(self, t_s: float, pids: frozenset[int] = frozenset()) -> list[ReadItem]:
        """Read every GPU at sampler time `t_s` (s); `pids` is not used (no attribution).

        Returns:
            One item per GPU: its `Reading`, or for a GPU that failed a
            `SensorReadError` (an amdsmi call failed, `vendor_code` being its status,
            or an accumulator went backwards: the next read resumes from the new
            value). The other GPUs are read all the same.
        """
        items: list[ReadItem] = []
        for gpu in self._gpus:
            try:
                items.append(self._read_gpu(gpu, t_s))
            except SensorReadError as exc:
                items.append(exc)
        return items

    def _read_gpu(self, gpu: _Gpu, t_s: float) -> Reading:
        try:
            if gpu.channel.method is Method.MEASURED:
                energy_j = self._advance(gpu, self._lib.energy_count(gpu.index))
                return Reading(gpu.channel, t_s, energy_j, None)
            return Reading(gpu.channel, t_s, None, self._lib.power_w(gpu.index))
        except AmdSmiError as exc:
            raise SensorReadError(self.name, gpu.channel.device, str(exc), exc.code) from exc

    def _advance(self, gpu: _Gpu, count: EnergyCount) -> float:
        if count.counter < gpu.last_count:
            detail = f"energy accumulator went backwards ({gpu.last_count} -> {count.counter})"
            gpu.last_count = count.counter
            raise SensorReadError(self.name, gpu.channel.device, detail)
        gpu.total_count += count.counter - gpu.last_count
        gpu.last_count = count.counter
        return gpu.total_count * gpu.resolution_uj / 1e6

    def assumptions(self) -> dict[str, Any]:
        """Model, method and counter resolution per GPU, and how visibility was decided."""
        return {
            "devices": {
                g.channel.device: {
                    "model": g.model,
                    "method": g.channel.method,
                    "resolution_uj": g.resolution_uj or None,
                }
                for g in self._gpus
            },
            "index_order": "visible-device indices are read as amdsmi processor indices",
            "notes": list(self._notes),
        }

    def close(self) -> None:
        """Shut amdsmi down; safe to call twice."""
        if not self._closed:
            self._closed = True
            _shutdown_quietly(self._lib)


def _shutdown_quietly(smi: AmdSmiLib) -> None:
    try:
        smi.shutdown()
    except AmdSmiError as exc:
        _log.debug("amdsmi: shutdown failed: %s", exc)
