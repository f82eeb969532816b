"""cgroup and procfs file helpers shared by the CPU and RAM models."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from carbonlens.sensors.base import Host


def read_text(path: Path) -> str | None:
    """The text of `path`, or None when it cannot be read."""
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def cgroup_dirs(host: Host, controller: str, v1_mounts: Sequence[str] = ()) -> list[Path]:
    """Existing cgroup directories that may limit this process, innermost first.

    For each hierarchy in ``host.procfs/self/cgroup`` (cgroup v2 ``0::/path``, or
    a v1 line listing `controller`), the process's directory under
    ``host.sysfs/fs/cgroup`` and every ancestor up to the mount; limits are set on
    any of them (a Kubernetes pod sets them on a parent). The mount roots (v2 and
    `v1_mounts`) are always included, which is where a container with its own
    cgroup namespace sees its limits.
    """
    root = host.sysfs / "fs" / "cgroup"
    found: list[Path] = []
    for line in (read_text(host.procfs / "self" / "cgroup") or "").splitlines():
        _, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if controllers and controller not in controllers.split(","):
            continue
        mount = root / controllers if controllers else root
        parts = [part for part in path.split("/") if part not in ("", ".", "..")]
        found += [mount.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]
    found += [root, *(root / mount for mount in v1_mounts)]
    return [d for d in dict.fromkeys(found) if d.is_dir()]


def cpu_quota(directory: Path) -> float | None:
    """CPUs allowed by the quota in `directory` (v2 ``cpu.max`` or v1 CFS), None if none."""
    v2 = (read_text(directory / "cpu.max") or "").split()
    if len(v2) == 2 and v2[0] != "max":
        quota_us, period_us = v2
    else:
        quota_us = (read_text(directory / "cpu.cfs_quota_us") or "").strip()
        period_us = (read_text(directory / "cpu.cfs_period_us") or "").strip()
    try:
        quota, period = int(quota_us), int(period_us)
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None
