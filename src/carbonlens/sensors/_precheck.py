"""Cheap checks that rule a built-in back-end out before its module is imported.

Discovery runs at every tracker start, and importing a back-end that cannot
apply here (no powercap tree, not macOS, no vendor package or driver) costs
more than the rest of a start. Each check returns the `Probe` that the
back-end's own probe gives in that case (the back-ends use the same reasons
from here), or None when only the back-end itself can tell. A check never
raises. A test that injects a fake vendor library (`lib` option) skips it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from carbonlens.sensors.base import Host, Probe

NO_POWERCAP_HINT: Final = (
    "RAPL needs bare-metal Linux with the intel_rapl_msr module loaded "
    "(`sudo modprobe intel_rapl_msr`); VMs rarely expose it, and a container needs the "
    "host's /sys/class/powercap mounted. Without it CPU energy is modelled (cpu-tdp)."
)
NO_NVIDIA_DRIVER: Final = (
    "no NVIDIA driver loaded (no /proc/driver/nvidia, /dev/nvidiactl or /dev/dxg)"
)
NO_NVIDIA_DRIVER_HINT: Final = (
    "install the NVIDIA driver; in a container, use the NVIDIA container toolkit"
)
AMDSMI_INSTALL_HINT: Final = (
    "pip install 'carbonlens[amd]' (the amdsmi package must match the installed ROCm; "
    "ROCm also ships it in /opt/rocm/share/amd_smi)"
)


def powercap_unlistable(root: Path, exc: OSError) -> str:
    """Why RAPL is unavailable when `root` (``<sysfs>/class/powercap``) cannot be listed."""
    return f"no powercap/RAPL: cannot list {root} ({exc.strerror or exc})"


def no_rapl_zones(root: Path) -> str:
    """Why RAPL is unavailable when `root` lists no RAPL zone."""
    return f"no powercap/RAPL zones under {root}"


def not_macos(system: str) -> str:
    """Why powermetrics is unavailable on the operating system `system`."""
    return f"not macOS ({system}): powermetrics is macOS-only"


def nvidia_driver_present(host: Host, dev: Path = Path("/dev")) -> bool:
    """Whether a Linux NVIDIA driver is loaded (checked before importing pynvml)."""
    return (
        (host.procfs / "driver" / "nvidia").exists()
        or (dev / "nvidiactl").exists()
        or (dev / "dxg").exists()  # WSL 2
    )


def _rapl(host: Host, options: Mapping[str, Any]) -> Probe | None:
    root = host.sysfs / "class" / "powercap"
    try:
        entries = os.listdir(root)
    except OSError as exc:
        return Probe("rapl", False, powercap_unlistable(root, exc), NO_POWERCAP_HINT)
    if not any("rapl" in entry for entry in entries):
        return Probe("rapl", False, no_rapl_zones(root), NO_POWERCAP_HINT)
    return None


def _nvml(host: Host, options: Mapping[str, Any]) -> Probe | None:
    if "lib" in options or sys.platform != "linux" or nvidia_driver_present(host):
        return None
    return Probe("nvml", False, NO_NVIDIA_DRIVER, NO_NVIDIA_DRIVER_HINT)


def _amdsmi(host: Host, options: Mapping[str, Any]) -> Probe | None:
    import importlib.util  # lazy: only discovery asks

    if "lib" in options or importlib.util.find_spec("amdsmi") is not None:
        return None
    return Probe("amdsmi", False, "amdsmi not installed", AMDSMI_INSTALL_HINT)


def _powermetrics(host: Host, options: Mapping[str, Any]) -> Probe | None:
    system = os.uname().sysname if hasattr(os, "uname") else sys.platform
    return None if system == "Darwin" else Probe("powermetrics", False, not_macos(system))


PRECHECKS: Final[Mapping[str, Callable[[Host, Mapping[str, Any]], Probe | None]]] = {
    "rapl": _rapl,
    "nvml": _nvml,
    "amdsmi": _amdsmi,
    "powermetrics": _powermetrics,
}
"""Per built-in back-end name, the check run before its module is imported."""
