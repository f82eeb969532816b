"""The tracked process tree's share of the machine's CPU and memory.

CPU share over an interval = CPU seconds of the tree / busy CPU seconds of the
machine (capped at 1). Memory share = resident memory of the tree / total memory.
psutil is imported when an `Attribution` is created, not with the package.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Shares:
    """Shares of the machine used by the tracked tree since the previous call."""

    cpu_ratio: float | None
    ram_ratio: float | None
    pids: frozenset[int]


class Attribution:
    """Measures a process tree's share of CPU time and memory, interval by interval."""

    def __init__(self, root_pid: int | None = None, *, rescan_s: float = 5.0) -> None:
        """Track `root_pid` (default: this process) and all its descendants.

        Finding descendants reads every process on the machine, so it is done every
        `rescan_s` seconds; in between, the known tree is read. A child found late
        brings its whole CPU time with it, and one that lived between two scans is
        counted through its parent's `children_*` times.
        """
        import psutil

        self._psutil: Any = psutil
        self._root = psutil.Process(root_pid or os.getpid())
        self._rescan_s = rescan_s
        self._scanned_at = -float("inf")
        self._tree: list[Any] = []
        self._total_memory_bytes = float(psutil.virtual_memory().total)
        self._cpu_s: dict[int, float] = {}
        self._reaped_s: dict[int, float] = {}
        self._machine_busy_s = self._busy_s()
        self._tree_cpu_s()

    def _busy_s(self) -> float:
        t = self._psutil.cpu_times()
        idle = t.idle + getattr(t, "iowait", 0.0)
        return float(sum(t) - idle - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0))

    def _tree_cpu_s(self) -> tuple[float, float, frozenset[int]]:
        """CPU seconds gained by the tree since the last call, its RSS and its pids.

        A process's own CPU time is counted while it lives; when it exits and is
        reaped, its parent's `children_*` times grow by its whole total, of which
        only the part not yet seen is added.
        """
        ps = self._psutil
        own_gained_s = 0.0
        reaped_gained_s = 0.0
        rss_bytes = 0.0
        seen: dict[int, float] = {}
        reaped: dict[int, float] = {}
        now = time.monotonic()
        if now - self._scanned_at >= self._rescan_s:
            self._scanned_at = now
            try:
                self._tree = [self._root, *self._root.children(recursive=True)]
            except ps.Error:
                self._tree = [self._root]
        for proc in self._tree:
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    rss_bytes += proc.memory_info().rss
            except ps.Error:
                continue
            own_s = times.user + times.system
            own_gained_s += max(0.0, own_s - self._cpu_s.get(proc.pid, 0.0))
            seen[proc.pid] = own_s
            reaped[proc.pid] = times.children_user + times.children_system
            reaped_gained_s += max(0.0, reaped[proc.pid] - self._reaped_s.get(proc.pid, 0.0))
        vanished_s = sum(s for pid, s in self._cpu_s.items() if pid not in seen)
        self._cpu_s = seen
        self._reaped_s = reaped
        return own_gained_s + max(0.0, reaped_gained_s - vanished_s), rss_bytes, frozenset(seen)

    def sample(self) -> Shares:
        """Shares since the previous call (None where the machine did no work)."""
        tree_s, rss_bytes, pids = self._tree_cpu_s()
        busy_s = self._busy_s()
        machine_s = busy_s - self._machine_busy_s
        self._machine_busy_s = busy_s
        cpu_ratio = min(1.0, tree_s / machine_s) if machine_s > 0 else None
        ram_ratio = min(1.0, rss_bytes / self._total_memory_bytes)
        return Shares(cpu_ratio=cpu_ratio, ram_ratio=ram_ratio, pids=pids)
