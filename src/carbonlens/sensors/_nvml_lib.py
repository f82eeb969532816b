"""The NVML calls carbonlens uses, behind a narrow protocol, and their pynvml binding.

`pynvml` is imported only when `PynvmlLib` is built. Every failure crosses the
protocol as `NvmlError(code)` with NVML's return code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Protocol

from carbonlens._frozen import frozen
from carbonlens.errors import SensorUnavailable

NVML_ERROR_NOT_SUPPORTED: Final = 3
NVML_ERROR_NO_PERMISSION: Final = 4
NVML_ERROR_NOT_FOUND: Final = 6
NVML_ERROR_DRIVER_NOT_LOADED: Final = 9
NVML_ERROR_LIBRARY_NOT_FOUND: Final = 12

INSTALL_HINT: Final = "pip install 'carbonlens[nvidia]'"
NVML_HINTS: Final[Mapping[int, str]] = {
    NVML_ERROR_DRIVER_NOT_LOADED: "the NVIDIA kernel driver is not loaded: check `nvidia-smi`; "
    "in a container, start it with the NVIDIA container toolkit (e.g. `--gpus all`)",
    NVML_ERROR_LIBRARY_NOT_FOUND: "libnvidia-ml.so.1 was not found: install the NVIDIA driver; "
    "in a container, use the NVIDIA container toolkit",
    NVML_ERROR_NO_PERMISSION: "this user may not query the GPU: check access to /dev/nvidia*",
    NVML_ERROR_NOT_SUPPORTED: "this GPU or driver does not support the query",
}


class NvmlError(Exception):
    """An NVML call failed; `code` is NVML's return code (3 = NOT_SUPPORTED, 9 = ...)."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message or f"NVML error {code}")
        self.code = code


@frozen
class ProcessSample:
    """One NVML per-process sample: host pid, CPU timestamp in µs, SM utilisation in %."""

    pid: int
    timestamp_us: int
    sm_util_pct: int


class NvmlLib(Protocol):
    """The NVML calls carbonlens uses; `PynvmlLib` wraps pynvml, tests use `testing.nvml.FakeNvml`.

    Devices are addressed by physical NVML index. Every method raises `NvmlError`.
    """

    def init(self) -> None: ...
    def shutdown(self) -> None: ...
    def device_count(self) -> int: ...
    def device_name(self, index: int) -> str: ...
    def device_uuid(self, index: int) -> str: ...
    def index_by_uuid(self, uuid: str) -> int: ...  # a MIG UUID gives its parent's index
    def total_energy_mj(self, index: int) -> int: ...  # NvmlError(NOT_SUPPORTED) pre-Volta
    def power_mw(self, index: int) -> int: ...
    def process_utilization(self, index: int, since_us: int) -> list[ProcessSample]: ...


class PynvmlLib:
    """`NvmlLib` on the real NVML through the `pynvml` module of nvidia-ml-py (imported here).

    Raises:
        SensorUnavailable: nvidia-ml-py is not installed.
    """

    def __init__(self) -> None:
        try:
            import pynvml
        except ImportError as exc:
            raise SensorUnavailable("nvml", "nvidia-ml-py not installed", INSTALL_HINT) from exc
        self._nvml: Any = pynvml
        self._handles: dict[int, Any] = {}

    def _call(self, function: str, *args: Any) -> Any:
        try:
            return getattr(self._nvml, function)(*args)
        except self._nvml.NVMLError as exc:
            raise NvmlError(int(exc.value), f"{function}: {exc}") from exc

    def _handle(self, index: int) -> Any:
        if index not in self._handles:  # handles stay valid until shutdown
            self._handles[index] = self._call("nvmlDeviceGetHandleByIndex", index)
        return self._handles[index]

    def init(self) -> None:
        """Load libnvidia-ml and initialise NVML."""
        self._call("nvmlInit")

    def shutdown(self) -> None:
        """Release NVML (reference-counted by NVML itself)."""
        self._handles.clear()
        self._call("nvmlShutdown")

    def device_count(self) -> int:
        """Number of GPUs NVML sees (all of them, whatever CUDA_VISIBLE_DEVICES says)."""
        return int(self._call("nvmlDeviceGetCount"))

    def device_name(self, index: int) -> str:
        """Model name, e.g. "NVIDIA H100 80GB HBM3"."""
        return _text(self._call("nvmlDeviceGetName", self._handle(index)))

    def device_uuid(self, index: int) -> str:
        """GPU UUID, "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"."""
        return _text(self._call("nvmlDeviceGetUUID", self._handle(index)))

    def index_by_uuid(self, uuid: str) -> int:
        """NVML index of a GPU UUID, or of the parent GPU of a MIG UUID."""
        handle = self._call("nvmlDeviceGetHandleByUUID", uuid)
        try:
            is_mig = bool(getattr(self._call("nvmlDeviceIsMigDeviceHandle", handle), "value", 0))
        except NvmlError:
            is_mig = False
        if is_mig:
            handle = self._call("nvmlDeviceGetDeviceHandleFromMigDeviceHandle", handle)
        return int(self._call("nvmlDeviceGetIndex", handle))

    def total_energy_mj(self, index: int) -> int:
        """Energy in mJ since the driver loaded (Volta and newer)."""
        return int(self._call("nvmlDeviceGetTotalEnergyConsumption", self._handle(index)))

    def power_mw(self, index: int) -> int:
        """Board power draw in mW."""
        return int(self._call("nvmlDeviceGetPowerUsage", self._handle(index)))

    def process_utilization(self, index: int, since_us: int) -> list[ProcessSample]:
        """Per-process SM utilisation samples newer than `since_us` (µs); [] when none."""
        try:
            raw = self._call("nvmlDeviceGetProcessUtilization", self._handle(index), since_us)
        except NvmlError as exc:
            # NOT_FOUND: no sample newer than since_us; 0: pynvml raises SUCCESS when the
            # size query already reports zero samples.
            if exc.code in (NVML_ERROR_NOT_FOUND, 0):
                return []
            raise
        return [ProcessSample(int(s.pid), int(s.timeStamp), int(s.smUtil)) for s in raw]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
