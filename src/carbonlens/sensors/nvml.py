"""NVIDIA GPU energy through NVML (package nvidia-ml-py), behind the narrow `NvmlLib` protocol.

GPUs from Volta on have a total-energy counter (mJ since the driver loaded): their
channels are MEASURED and `read` returns joules since `open`. GPUs without it (pre-Volta,
some vGPU/MIG set-ups) get SAMPLED channels: `read` returns board power in W and the
tracker integrates it. Channel devices are named by physical NVML index ("gpu0", "gpu1"),
whatever `CUDA_VISIBLE_DEVICES` renumbers them to inside CUDA.

`pynvml` is imported only when `PynvmlLib` is built, never when this module is imported.
Every NVML failure crosses the protocol as `NvmlError(code)`; the sensor turns it into
`SensorUnavailable` while opening and, while reading, a `SensorReadError(vendor_code=code)`
in place of that GPU's reading (the other GPUs are still read).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from carbonlens.errors import ConfigError, SensorReadError, SensorUnavailable
from carbonlens.records import Channel, Component, Method, Reading
from carbonlens.sensors._cuda_visible import parse_visible_devices
from carbonlens.sensors._nvml_lib import (
    INSTALL_HINT,
    NVML_ERROR_DRIVER_NOT_LOADED,
    NVML_ERROR_LIBRARY_NOT_FOUND,
    NVML_ERROR_NO_PERMISSION,
    NVML_ERROR_NOT_FOUND,
    NVML_ERROR_NOT_SUPPORTED,
    NVML_HINTS,
    NvmlError,
    NvmlLib,
    ProcessSample,
    PynvmlLib,
)
from carbonlens.sensors._open_each import describe, open_each
from carbonlens.sensors._precheck import (
    NO_NVIDIA_DRIVER,
    NO_NVIDIA_DRIVER_HINT,
    nvidia_driver_present,
)
from carbonlens.sensors.base import Host, Probe, ReadItem

__all__ = [
    "INSTALL_HINT",
    "NVML_ERROR_DRIVER_NOT_LOADED",
    "NVML_ERROR_LIBRARY_NOT_FOUND",
    "NVML_ERROR_NOT_FOUND",
    "NVML_ERROR_NOT_SUPPORTED",
    "NVML_ERROR_NO_PERMISSION",
    "NvmlError",
    "NvmlLib",
    "NvmlSensor",
    "ProcessSample",
    "PynvmlLib",
    "parse_visible_devices",
]

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Gpu:
    index: int
    channel: Channel
    model: str
    uuid: str
    last_mj: int = 0
    total_mj: int = 0
    util_since_us: int = 0
    util_ok: bool = False


def _unavailable(exc: NvmlError, doing: str) -> SensorUnavailable:
    return SensorUnavailable(
        "nvml", f"{doing} failed: {exc} (NVML code {exc.code})", NVML_HINTS.get(exc.code, "")
    )


class NvmlSensor:
    """Energy of the visible NVIDIA GPUs: MEASURED from the energy counter, else SAMPLED power.

    Open with `NvmlSensor.open(host, lib=None, devices=None)`. `read(t_s, pids)` returns one
    `Reading` per GPU: cumulative `energy_j` since open (MEASURED) or `power_w` in W
    (SAMPLED), and, when `pids` is given and NVML has per-process samples, `share_ratio`:
    the tracked processes' part of the GPU's SM utilisation since the previous read.
    """

    name: ClassVar[str] = "nvml"
    components: ClassVar[frozenset[Component]] = frozenset({Component.GPU})
    method: ClassVar[Method] = Method.MEASURED

    def __init__(self, lib: NvmlLib, gpus: list[_Gpu], notes: list[str], host: Host) -> None:
        """Use `open`; this only stores what `open` found."""
        self._lib = lib
        self._gpus = gpus
        self._notes = notes
        self._procfs = host.procfs
        self._closed = False

    @classmethod
    def probe(cls, host: Host, *, lib: NvmlLib | None = None) -> Probe:
        """Say whether NVML works here and which GPUs are visible; never raises."""
        try:
            sensor = cls.open(host, lib=lib, attribution=False)
        except SensorUnavailable as exc:
            return Probe(cls.name, False, exc.reason, exc.hint)
        except (NvmlError, OSError) as exc:  # a broken driver must not break discovery
            return Probe(cls.name, False, f"NVML failed: {exc}")
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
        lib: NvmlLib | None = None,
        devices: Sequence[int] | None = None,
        attribution: bool = True,
        **options: Any,
    ) -> Self:
        """Initialise NVML and take a baseline of every visible GPU.

        Args:
            host: Where to read `CUDA_VISIBLE_DEVICES` from (`host.env`).
            lib: The NVML implementation; `PynvmlLib()` when None.
            devices: Physical NVML indices to measure instead of `CUDA_VISIBLE_DEVICES`.
            attribution: Query per-process utilisation for `share_ratio`.
            **options: Anything else is rejected with `ConfigError`.

        A visible GPU that cannot be read at open (neither an energy counter nor a
        power reading, or an NVML error) is left out, with a warning and a note in
        `assumptions()` and `describe()`; the others are measured.

        Raises:
            SensorUnavailable: nvidia-ml-py, the driver or the library is missing, no
                GPU is visible, or none of the visible GPUs can be read (the reason
                says which).
            ConfigError: an unknown option.
        """
        if options:
            raise ConfigError(
                f"unknown nvml option(s): {', '.join(sorted(options))} "
                "(allowed: lib, devices, attribution)",
                setting="sensors.nvml",
            )
        if lib is None and sys.platform == "linux" and not nvidia_driver_present(host):
            raise SensorUnavailable(cls.name, NO_NVIDIA_DRIVER, hint=NO_NVIDIA_DRIVER_HINT)
        nvml = lib if lib is not None else PynvmlLib()
        try:
            nvml.init()
        except NvmlError as exc:
            raise _unavailable(exc, "nvmlInit") from exc
        try:
            return cls._open_devices(nvml, host, devices, attribution)
        except BaseException:
            _shutdown_quietly(nvml)
            raise

    @classmethod
    def _open_devices(
        cls, nvml: NvmlLib, host: Host, devices: Sequence[int] | None, attribution: bool
    ) -> Self:
        env_value = host.env.get("CUDA_VISIBLE_DEVICES")
        notes: list[str] = []
        try:
            count = nvml.device_count()
            if devices is not None:
                if bad := [i for i in devices if not 0 <= i < count]:
                    raise SensorUnavailable(cls.name, f"no GPU with NVML index {bad} ({count})")
                indices = list(dict.fromkeys(devices))
                notes.append(f"devices option {indices} used instead of CUDA_VISIBLE_DEVICES")
            else:
                uuids = [nvml.device_uuid(i) for i in range(count)]
                indices, notes = parse_visible_devices(env_value, uuids, nvml.index_by_uuid)
                if env_value is not None:
                    notes.insert(0, f"CUDA_VISIBLE_DEVICES={env_value!r}")
            if not indices:
                shown = "unset" if env_value is None else repr(env_value)
                raise SensorUnavailable(
                    cls.name, f"no visible NVIDIA GPU ({count} found; CUDA_VISIBLE_DEVICES={shown})"
                )
        except NvmlError as exc:
            raise _unavailable(exc, "querying the GPUs") from exc
        gpus, left_out, first = open_each(
            cls.name, indices, lambda i: cls._open_gpu(nvml, i, attribution), NvmlError, "NVML code"
        )
        if first is not None:
            raise _unavailable(first[1], f"opening {first[0]}") from first[1]
        return cls(nvml, gpus, [*notes, *left_out], host)

    @classmethod
    def _open_gpu(cls, nvml: NvmlLib, index: int, attribution: bool) -> _Gpu:
        device = f"gpu{index}"
        try:
            baseline_mj, method = nvml.total_energy_mj(index), Method.MEASURED
        except NvmlError as exc:
            if exc.code != NVML_ERROR_NOT_SUPPORTED:
                raise
            nvml.power_mw(index)  # neither counter nor power: let NOT_SUPPORTED surface
            baseline_mj, method = 0, Method.SAMPLED
        gpu = _Gpu(
            index,
            Channel(cls.name, Component.GPU, device, method),
            nvml.device_name(index),
            nvml.device_uuid(index),
            last_mj=baseline_mj,
        )
        if attribution:
            try:  # baseline, so that the first share covers only what follows open
                samples = nvml.process_utilization(index, 0)
                gpu.util_since_us = max((s.timestamp_us for s in samples), default=0)
                gpu.util_ok = True
            except NvmlError as exc:
                _log.debug("nvml: no per-process utilisation on %s: %s", device, exc)
        return gpu

    def channels(self) -> Sequence[Channel]:
        """One channel per visible GPU, named by physical NVML index ("gpu0", ...)."""
        return [g.channel for g in self._gpus]

    def read(self, t_s: float, pids: frozenset[int] = frozenset()) -> list[ReadItem]:
        """Read every GPU at sampler time `t_s` (s).

        Returns:
            One item per GPU. A `Reading`: MEASURED channels carry `energy_j` (J since
            open), SAMPLED ones `power_w` (W); `share_ratio` is set as described on the
            class. Or, for a GPU that failed, a `SensorReadError`: an NVML call failed
            (`vendor_code` is NVML's code) or its energy counter went backwards (driver
            reload or GPU reset; the next read goes on from the new counter value). The
            other GPUs are read all the same.
        """
        items: list[ReadItem] = []
        for gpu in self._gpus:
            try:
                items.append(self._read_gpu(gpu, t_s, pids))
            except SensorReadError as exc:
                items.append(exc)
        return items

    def _read_gpu(self, gpu: _Gpu, t_s: float, pids: frozenset[int]) -> Reading:
        energy_j: float | None = None
        power_w: float | None = None
        try:
            if gpu.channel.method is Method.MEASURED:
                energy_j = self._advance(gpu, self._lib.total_energy_mj(gpu.index))
            else:
                power_w = self._lib.power_mw(gpu.index) / 1000.0
        except NvmlError as exc:
            raise SensorReadError(self.name, gpu.channel.device, str(exc), exc.code) from exc
        share = self._share(gpu, pids) if pids and gpu.util_ok else None
        return Reading(gpu.channel, t_s, energy_j, power_w, share)

    def _advance(self, gpu: _Gpu, raw_mj: int) -> float:
        if raw_mj < gpu.last_mj:
            detail = f"energy counter went backwards ({gpu.last_mj} -> {raw_mj} mJ); GPU reset?"
            gpu.last_mj = raw_mj
            raise SensorReadError(self.name, gpu.channel.device, detail)
        gpu.total_mj += raw_mj - gpu.last_mj
        gpu.last_mj = raw_mj
        return gpu.total_mj / 1000.0

    def _share(self, gpu: _Gpu, pids: frozenset[int]) -> float | None:
        try:
            samples = self._lib.process_utilization(gpu.index, gpu.util_since_us)
        except NvmlError as exc:
            if exc.code in (NVML_ERROR_NOT_SUPPORTED, NVML_ERROR_NO_PERMISSION):
                gpu.util_ok = False  # will not change during the run: stop asking
            _log.debug("nvml: process utilisation on %s failed: %s", gpu.channel.device, exc)
            return None
        fresh = [s for s in samples if s.timestamp_us > gpu.util_since_us]
        if not fresh:
            return None
        gpu.util_since_us = max(s.timestamp_us for s in fresh)
        total = sum(s.sm_util_pct for s in fresh)
        if total <= 0:
            return None  # processes present but the SMs were idle: nothing to share
        tracked = sum(s.sm_util_pct for s in fresh if s.pid in pids)
        if tracked == 0 and self._foreign(fresh):
            return None
        return min(1.0, tracked / total)

    def _foreign(self, samples: list[ProcessSample]) -> bool:
        """True when a busy pid is not in our procfs: NVML numbers pids as the host does,
        so inside a container our own processes look foreign and 0.0 would be wrong."""
        busy = {s.pid for s in samples if s.sm_util_pct > 0}
        foreign = any(not (self._procfs / str(pid)).exists() for pid in busy)
        note = "NVML reported pids absent from this pid namespace: share_ratio left unset"
        if foreign and note not in self._notes:
            self._notes.append(note)
        return foreign

    def assumptions(self) -> dict[str, Any]:
        """Model, UUID and method per GPU, how visibility was decided, and MIG caveats."""
        return {
            "devices": {
                g.channel.device: {"model": g.model, "uuid": g.uuid, "method": g.channel.method}
                for g in self._gpus
            },
            "index_order": "CUDA_VISIBLE_DEVICES indices are read as NVML (PCI bus) indices, "
            "as CUDA does with CUDA_DEVICE_ORDER=PCI_BUS_ID",
            "share_basis": "share_ratio = tracked pids' SM utilisation / all processes' SM "
            "utilisation since the previous read (NVML per-process samples)",
            "notes": list(self._notes),
        }

    def close(self) -> None:
        """Shut NVML down; safe to call twice."""
        if not self._closed:
            self._closed = True
            _shutdown_quietly(self._lib)


def _shutdown_quietly(nvml: NvmlLib) -> None:
    try:
        nvml.shutdown()
    except NvmlError as exc:
        _log.debug("nvml: shutdown failed: %s", exc)
