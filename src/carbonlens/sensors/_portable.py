"""What the CPU and RAM models read where there is no procfs (macOS, Windows).

On Linux the models read ``/proc`` (so tests can point them at a fake tree); on
other systems the same figures come from psutil, a core dependency, imported
here only: machine-wide CPU times, the CPU counts and model name, and the
installed memory.
"""

from __future__ import annotations

import sys
from typing import Final

from carbonlens._frozen import frozen
from carbonlens.sensors.base import Host

_MACOS_BRAND: Final = ("sysctl", "-n", "machdep.cpu.brand_string")


def uses_psutil(host: Host) -> bool:
    """Whether the models read psutil: not Linux, and `host` has no procfs."""
    return sys.platform != "linux" and not (host.procfs / "stat").exists()


def cpu_times_us() -> tuple[int, int]:
    """(busy, total) machine-wide CPU time in microseconds since boot.

    total is the sum of psutil's fields (user, nice, system, idle and, where
    the system has them, iowait, irq, softirq, steal, interrupt, dpc); busy is
    total - idle - iowait, as on Linux.
    """
    import psutil

    times = psutil.cpu_times()._asdict()
    total_s = sum(value for key, value in times.items() if key not in ("guest", "guest_nice"))
    busy_s = total_s - times.get("idle", 0.0) - times.get("iowait", 0.0)
    return round(busy_s * 1e6), round(total_s * 1e6)


@frozen
class CpuCounts:
    """The CPUs as psutil and the operating system describe them."""

    model_name: str | None
    logical_cpus: int
    physical_cores: int | None


def cpu_counts() -> CpuCounts:
    """Logical CPUs and physical cores (psutil) and the model name (the OS)."""
    import psutil

    return CpuCounts(_model_name(), psutil.cpu_count() or 1, psutil.cpu_count(logical=False))


def _model_name() -> str | None:
    """``machdep.cpu.brand_string`` on macOS ("Apple M2 Pro"), else `platform.processor()`."""
    import platform
    import subprocess

    if sys.platform == "darwin":
        try:
            done = subprocess.run(_MACOS_BRAND, capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() or None
    return platform.processor() or None


def mem_total_bytes() -> int:
    """Installed memory in bytes (psutil)."""
    import psutil

    return int(psutil.virtual_memory().total)
