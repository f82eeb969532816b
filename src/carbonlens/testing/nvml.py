"""Scriptable NVML for tests: `FakeNvml` implements `carbonlens.sensors.nvml.NvmlLib`.

Scripted sequences are consumed one value per call and the last value repeats; an
`NvmlError` in a sequence is raised instead of returned, so a failure can be placed at
an exact call::

    gpu = FakeGpu("NVIDIA H100 80GB HBM3", energy_mj=[1_000, 1_000, 4_000])
    sensor = NvmlSensor.open(Host(env={}), lib=FakeNvml([gpu]))  # takes 1_000 as baseline
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from carbonlens.sensors.nvml import (
    NVML_ERROR_NOT_FOUND,
    NVML_ERROR_NOT_SUPPORTED,
    NvmlError,
    ProcessSample,
)

__all__ = ["FakeGpu", "FakeNvml", "NvmlError", "ProcessSample"]


@dataclass
class FakeGpu:
    """One scripted GPU.

    Attributes:
        name: Model name NVML reports.
        energy_mj: Total-energy counter values in mJ, one per call; None means the GPU has
            no counter (pre-Volta: NOT_SUPPORTED).
        power_mw: Power draw values in mW, one per call; None means NOT_SUPPORTED.
        uuid: GPU UUID; "" gives "GPU-0000000<i>-..." from the GPU's position.
        mig_uuids: UUIDs of MIG instances ("MIG-..."), resolved to this GPU.
        process_samples: Per-process utilisation samples; append between reads.
        errors: Method name -> NVML code raised on every call of that method.
    """

    name: str = "NVIDIA H100 80GB HBM3"
    energy_mj: Sequence[int | NvmlError] | None = (0,)
    power_mw: Sequence[int | NvmlError] | None = (300_000,)
    uuid: str = ""
    mig_uuids: Sequence[str] = ()
    process_samples: list[ProcessSample] = field(default_factory=list)
    errors: Mapping[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def _next(self, method: str, script: Sequence[int | NvmlError] | None) -> int:
        self._check(method)
        if script is None or not script:
            raise NvmlError(NVML_ERROR_NOT_SUPPORTED, f"{method}: Not Supported")
        n = self.calls.get(method, 0)
        self.calls[method] = n + 1
        value = script[min(n, len(script) - 1)]
        if isinstance(value, NvmlError):
            raise value
        return value

    def _check(self, method: str) -> None:
        if method in self.errors:
            raise NvmlError(self.errors[method], f"{method}: scripted NVML error")


class FakeNvml:
    """An in-memory `NvmlLib` over `FakeGpu`s (NVML index = position in `gpus`).

    Args:
        gpus: The GPUs NVML sees.
        raise_on_init: NVML code `init()` raises (e.g. 9, DRIVER_NOT_LOADED).

    Attributes:
        init_calls: How many times `init` succeeded.
        shutdown_calls: How many times `shutdown` was called.
        utilization_calls: How many times `process_utilization` was called.
    """

    def __init__(self, gpus: Sequence[FakeGpu], *, raise_on_init: int | None = None) -> None:
        self.gpus = list(gpus)
        self.raise_on_init = raise_on_init
        self.init_calls = 0
        self.shutdown_calls = 0
        self.utilization_calls = 0

    def _gpu(self, index: int) -> FakeGpu:
        if not 0 <= index < len(self.gpus):
            raise NvmlError(2, f"no GPU with index {index}: Invalid Argument")
        return self.gpus[index]

    def init(self) -> None:
        """Succeed, or raise `raise_on_init`."""
        if self.raise_on_init is not None:
            raise NvmlError(self.raise_on_init, "nvmlInit: scripted NVML error")
        self.init_calls += 1

    def shutdown(self) -> None:
        """Count the call."""
        self.shutdown_calls += 1

    def device_count(self) -> int:
        """Number of fake GPUs."""
        return len(self.gpus)

    def device_name(self, index: int) -> str:
        """The GPU's `name`."""
        gpu = self._gpu(index)
        gpu._check("device_name")
        return gpu.name

    def device_uuid(self, index: int) -> str:
        """The GPU's `uuid`, or one made from its index."""
        gpu = self._gpu(index)
        gpu._check("device_uuid")
        return gpu.uuid or f"GPU-{index:08x}-0000-4000-8000-{index:012x}"

    def index_by_uuid(self, uuid: str) -> int:
        """Index of the GPU with this UUID or MIG UUID; NOT_FOUND otherwise."""
        for index, gpu in enumerate(self.gpus):
            if uuid == self.device_uuid(index) or uuid in gpu.mig_uuids:
                return index
        raise NvmlError(NVML_ERROR_NOT_FOUND, f"{uuid}: Not Found")

    def total_energy_mj(self, index: int) -> int:
        """Next scripted counter value in mJ."""
        gpu = self._gpu(index)
        return gpu._next("total_energy_mj", gpu.energy_mj)

    def power_mw(self, index: int) -> int:
        """Next scripted power value in mW."""
        gpu = self._gpu(index)
        return gpu._next("power_mw", gpu.power_mw)

    def process_utilization(self, index: int, since_us: int) -> list[ProcessSample]:
        """Samples newer than `since_us` (µs), as NVML filters them."""
        self.utilization_calls += 1
        gpu = self._gpu(index)
        gpu._check("process_utilization")
        return [s for s in gpu.process_samples if s.timestamp_us > since_us]
