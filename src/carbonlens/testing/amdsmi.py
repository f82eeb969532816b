"""Scriptable amdsmi for tests: `FakeAmdSmi` implements `carbonlens.sensors.amdsmi.AmdSmiLib`.

Scripted sequences give one value per call and repeat the last; an `AmdSmiError` in a
sequence is raised instead of returned::

    gpu = FakeAmdGpu("AMD Instinct MI300X", energy_counts=[0, 65_536])  # 1 J at 15.26 µJ
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from carbonlens.sensors.amdsmi import AMDSMI_STATUS_NOT_SUPPORTED, AmdSmiError, EnergyCount

__all__ = ["AmdSmiError", "FakeAmdGpu", "FakeAmdSmi"]

_T = TypeVar("_T", int, float)

#: 2**-16 J, the accumulator resolution of current Instinct GPUs, in µJ.
RESOLUTION_UJ = 15.2587890625


@dataclass
class FakeAmdGpu:
    """One scripted AMD GPU.

    Attributes:
        name: Market name.
        energy_counts: Accumulator values, one per call; None means NOT_SUPPORTED.
        resolution_uj: µJ per accumulator count.
        power_w: Socket power values in W, one per call; None means NOT_SUPPORTED.
    """

    name: str = "AMD Instinct MI300X"
    energy_counts: Sequence[int | AmdSmiError] | None = (0,)
    resolution_uj: float = RESOLUTION_UJ
    power_w: Sequence[float | AmdSmiError] | None = (750.0,)
    calls: dict[str, int] = field(default_factory=dict)

    def next(self, method: str, script: Sequence[_T | AmdSmiError] | None) -> _T:
        """Next scripted value for `method`, or raise the scripted error."""
        if not script:
            raise AmdSmiError(AMDSMI_STATUS_NOT_SUPPORTED, f"{method}: not supported")
        n = self.calls.get(method, 0)
        self.calls[method] = n + 1
        value = script[min(n, len(script) - 1)]
        if isinstance(value, AmdSmiError):
            raise value
        return value


class FakeAmdSmi:
    """An in-memory `AmdSmiLib` (amdsmi index = position in `gpus`).

    Args:
        gpus: The GPUs amdsmi sees.
        raise_on_init: amdsmi status `init()` raises (e.g. 34, DRIVER_NOT_LOADED).
    """

    def __init__(self, gpus: Sequence[FakeAmdGpu], *, raise_on_init: int | None = None) -> None:
        self.gpus = list(gpus)
        self.raise_on_init = raise_on_init
        self.shutdown_calls = 0

    def init(self) -> None:
        """Succeed, or raise `raise_on_init`."""
        if self.raise_on_init is not None:
            raise AmdSmiError(self.raise_on_init, "amdsmi_init: scripted error")

    def shutdown(self) -> None:
        """Count the call."""
        self.shutdown_calls += 1

    def device_count(self) -> int:
        """Number of fake GPUs."""
        return len(self.gpus)

    def device_name(self, index: int) -> str:
        """The GPU's `name`."""
        return self.gpus[index].name

    def energy_count(self, index: int) -> EnergyCount:
        """Next scripted accumulator value with the GPU's resolution."""
        gpu = self.gpus[index]
        return EnergyCount(gpu.next("energy_count", gpu.energy_counts), gpu.resolution_uj)

    def power_w(self, index: int) -> float:
        """Next scripted socket power in W."""
        gpu = self.gpus[index]
        return float(gpu.next("power_w", gpu.power_w))
