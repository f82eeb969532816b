"""The tracked process tree's share of the machine's CPU and memory.

CPU share over an interval = CPU seconds of the tree / busy CPU seconds of the
machine (capped at 1; seconds over the cap are carried to the next intervals).
Memory share = resident memory of the tree / total memory.

On Linux everything is read from `Host.procfs` (no dependency, testable with a
fake tree); elsewhere psutil reads the same figures.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, Protocol

from carbonlens._frozen import frozen
from carbonlens.sensors.base import Host
from carbonlens.sensors.cpu_host import read_cpu_times


@frozen
class Shares:
    """Shares of the machine used by the tracked tree since the previous call."""

    cpu_ratio: float | None
    ram_ratio: float | None
    pids: frozenset[int]


@frozen
class ProcessTimes:
    """One process's own CPU time, its reaped children's CPU time, its RSS, its
    parent and its start time (any fixed origin: it only tells a reused pid apart)."""

    own_s: float
    reaped_s: float
    rss_bytes: float
    ppid: int
    started: float


class ProcessReader(Protocol):
    """Where process and machine figures come from."""

    def descendants(self, pid: int) -> list[int]: ...

    def times(self, pid: int) -> ProcessTimes | None: ...

    def machine_busy_s(self) -> float: ...

    def total_memory_bytes(self) -> float: ...


class ProcfsReader:
    """Linux: `/proc/<pid>/stat`, `/proc/stat`, `/proc/meminfo`."""

    def __init__(self, host: Host) -> None:
        """Read under `host.procfs`."""
        self._proc = host.procfs
        self._proc_dir = str(host.procfs)  # plain strings: this runs for every process
        self._host = host
        self._tick_s = 1.0 / os.sysconf("SC_CLK_TCK")
        self._page_bytes = float(os.sysconf("SC_PAGE_SIZE"))

    def _stat_fields(self, pid: int | str) -> list[bytes] | None:
        """The fields after the command name of `/proc/<pid>/stat` (None: gone).

        Read with plain system calls (one read: the file is under 1 KiB), as this
        runs for every process of the tree on every tick.
        """
        try:
            fd = os.open(f"{self._proc_dir}/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            data = os.read(fd, 4096)
        except OSError:
            return None
        finally:
            os.close(fd)
        return data[data.rfind(b")") + 2 :].split()

    def descendants(self, pid: int) -> list[int]:
        """Every descendant of `pid`.

        Where the kernel lists each thread's children
        (``/proc/<pid>/task/<tid>/children``, CONFIG_PROC_CHILDREN, on in the
        mainstream distributions' kernels) only the tree itself is read; elsewhere
        the parent id of every process on the machine is, which on a busy node
        means thousands of files.
        """
        if self.lists_children(pid):
            return self._walk(pid, self._listed_children)
        children: dict[int, list[int]] = {}
        for entry in os.listdir(self._proc_dir):
            if entry.isdigit() and (fields := self._stat_fields(entry)) is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
        return self._walk(pid, lambda parent: children.get(parent, []))

    def lists_children(self, pid: int) -> bool:
        """Whether the kernel lists `pid`'s children (CONFIG_PROC_CHILDREN): a search
        for its descendants then reads only the tree, not every process."""
        return os.path.exists(f"{self._proc_dir}/{pid}/task/{pid}/children")

    def main_thread_descendants(self, pid: int) -> list[int]:
        """The descendants of `pid` started by main threads: one ``children`` file per
        process, read at every sample ([] where the kernel has no such lists)."""
        return self._walk(pid, self._main_thread_children)

    def _main_thread_children(self, pid: int) -> list[int]:
        try:
            fd = os.open(f"{self._proc_dir}/{pid}/task/{pid}/children", os.O_RDONLY)
        except OSError:
            return []
        try:
            return [int(kid) for kid in os.read(fd, 65536).split()]
        except (OSError, ValueError):
            return []
        finally:
            os.close(fd)

    @staticmethod
    def _walk(pid: int, children_of: Callable[[int], list[int]]) -> list[int]:
        found: list[int] = []
        todo = [pid]
        while todo:
            kids = children_of(todo.pop())
            found += kids
            todo += kids
        return found

    def _listed_children(self, pid: int) -> list[int]:
        """Children of `pid` from its threads' ``children`` lists ([] once it is gone)."""
        task_dir = f"{self._proc_dir}/{pid}/task"
        try:
            threads = os.listdir(task_dir)
        except OSError:
            return []
        kids: list[int] = []
        for tid in threads:
            try:
                with open(f"{task_dir}/{tid}/children", "rb") as listed:
                    kids += [int(kid) for kid in listed.read().split()]
            except (OSError, ValueError):
                continue  # the thread ended meanwhile
        return kids

    def times(self, pid: int) -> ProcessTimes | None:
        """CPU times and RSS of `pid`, or None when it is gone.

        One file per process and tick: ``stat`` holds the parent (field 4), the CPU
        times (fields 14-17), the start time (field 22) and the resident set in pages
        (field 24, the figure ``statm`` also shows). A zombie (exited, not yet reaped)
        still shows its final CPU times, and is read like a live process: until its
        parent reaps it, its time is in no other process's figures.
        """
        fields = self._stat_fields(pid)
        if fields is None:
            return None
        utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
        rss_pages = int(fields[21]) if len(fields) > 21 else 0
        return ProcessTimes(
            own_s=(utime + stime) * self._tick_s,
            reaped_s=(cutime + cstime) * self._tick_s,
            rss_bytes=rss_pages * self._page_bytes,
            ppid=int(fields[1]),
            started=float(fields[19]),
        )

    def machine_busy_s(self) -> float:
        """Busy CPU seconds of the machine since boot."""
        return read_cpu_times(self._host)[0] * self._tick_s

    def total_memory_bytes(self) -> float:
        """MemTotal of the machine."""
        for line in (self._proc / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return float(line.split()[1]) * 1024.0
        raise ValueError("no MemTotal in meminfo")


class PsutilReader:
    """Other systems: the same figures through psutil (imported here only)."""

    def __init__(self) -> None:
        """Import psutil."""
        import psutil

        self._ps: Any = psutil

    def descendants(self, pid: int) -> list[int]:
        """Every descendant of `pid`."""
        try:
            return [p.pid for p in self._ps.Process(pid).children(recursive=True)]
        except self._ps.Error:
            return []

    def times(self, pid: int) -> ProcessTimes | None:
        """CPU times and RSS of `pid`, or None when it is gone."""
        try:
            proc = self._ps.Process(pid)
            with proc.oneshot():
                t = proc.cpu_times()
                rss_bytes = float(proc.memory_info().rss)
                ppid, started = int(proc.ppid()), float(proc.create_time())
        except self._ps.Error:
            return None
        own_s, reaped_s = t.user + t.system, t.children_user + t.children_system
        return ProcessTimes(own_s, reaped_s, rss_bytes, ppid, started)

    def machine_busy_s(self) -> float:
        """Busy CPU seconds of the machine since boot."""
        t = self._ps.cpu_times()
        return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))

    def total_memory_bytes(self) -> float:
        """Total memory of the machine."""
        return float(self._ps.virtual_memory().total)


def default_reader(host: Host) -> ProcessReader:
    """procfs where the machine has one, psutil elsewhere."""
    return ProcfsReader(host) if (host.procfs / "stat").is_file() else PsutilReader()


class Attribution:
    """Measures a process tree's share of CPU time and memory, interval by interval."""

    def __init__(
        self,
        root_pid: int | None = None,
        *,
        reader: ProcessReader | None = None,
        rescan_s: float = 5.0,
    ) -> None:
        """Track `root_pid` (default: this process) and all its descendants.

        Descendants are searched for in full every `rescan_s` seconds. At every
        other sample, where the reader can (`main_thread_descendants`: the kernel's
        children list of each process's main thread, one small file per process of
        the tree), the children the tree's main threads started are added, so that
        short-lived children such as DataLoader workers or the command of
        `carbonlens run` are seen while they run. A child started by another thread
        is found by the next full search; a child found late brings its whole CPU
        time with it, and one that lived between two searches is counted through its
        parent's reaped-children time, both arriving at once (placed late, or lost
        at the end of the run).
        """
        self._reader = reader or default_reader(Host())
        self._root = root_pid or os.getpid()
        self._rescan_s = rescan_s
        self._scanned_at = -float("inf")
        self._tree: list[int] = []
        self._seen: dict[int, ProcessTimes] = {}
        self._carry_s = 0.0
        self._total_memory_bytes = self._reader.total_memory_bytes()
        self._machine_busy_s = self._reader.machine_busy_s()
        self._tree_cpu_s()

    def _tree_cpu_s(self) -> tuple[float, float, frozenset[int]]:
        """CPU seconds gained by the tree since the last call, its RSS and its pids.

        A process's own CPU time is counted while it lives (a zombie included). When
        a process of the tree reaps a child, its reaped-children time grows by the
        child's whole total (own and reaped time: the child's reaped children come
        with it), of which the part already counted is taken off. A process that
        left the tree alive (reparented when its parent exited), or that was reaped
        from outside it, has nothing taken off: its time is not in the tree's.
        A pid that now belongs to another process (reuse) is a new process if a
        search for descendants just found it, else not ours.
        """
        listed = self._search()
        seen = self._seen
        found: dict[int, ProcessTimes] = {}
        for pid in self._tree:
            times = self._reader.times(pid)
            if times is None:
                continue
            old = seen.get(pid)
            if old is not None and old.started != times.started and pid not in listed:
                continue  # the pid was reused by a process not known to be ours
            found[pid] = times
        own_gained_s = reaped_gained_s = rss_bytes = 0.0
        for pid, times in found.items():
            old = seen.get(pid)
            if old is None or old.started != times.started:
                own_gained_s += times.own_s  # new: all of its time is in the tracked span
                reaped_gained_s += times.reaped_s
            else:
                own_gained_s += max(0.0, times.own_s - old.own_s)
                reaped_gained_s += max(0.0, times.reaped_s - old.reaped_s)
            rss_bytes += times.rss_bytes
        counted_s = sum(
            old.own_s + old.reaped_s
            for pid, old in seen.items()
            if old.ppid in seen and self._gone(pid, old, found)
        )
        self._seen = found
        gained_s = own_gained_s + max(0.0, reaped_gained_s - counted_s)
        return gained_s, rss_bytes, frozenset(found)

    def _search(self) -> set[int]:
        """Bring the tree up to date; the pids the search listed as descendants (a
        listed pid whose process changed is a new child, an unlisted one is not ours).

        A full search replaces the tree; the quick one between (main threads'
        children lists) only adds to it, as it does not see every thread's children.
        """
        now = time.monotonic()
        if now - self._scanned_at >= self._rescan_s:
            self._scanned_at = now
            self._tree = [self._root, *self._reader.descendants(self._root)]
            return set(self._tree)
        quick = getattr(self._reader, "main_thread_descendants", None)
        if quick is None:
            return set()
        listed = set(quick(self._root))
        self._tree += sorted(listed.difference(self._tree))
        return listed

    def _gone(self, pid: int, old: ProcessTimes, found: dict[int, ProcessTimes]) -> bool:
        """Whether the process seen as `old` last time has exited (and was reaped)."""
        if (times := found.get(pid)) is not None:
            return times.started != old.started
        if pid in self._tree:
            return True  # listed, but its /proc entry is gone or now another's
        times = self._reader.times(pid)  # dropped by the last search: left the tree?
        return times is None or times.started != old.started

    def sample(self) -> Shares:
        """Shares since the previous call (None where the machine did no work).

        The tree can show more CPU seconds than the machine's busy seconds in an
        interval: time of a process found late (descendants are searched every
        `rescan_s`) or of a child reaped before it was found arrives at once, and
        the two clocks tick apart. The ratio is capped at 1 and the excess carried
        to the next intervals, where it is attributed unless the run ends first.
        """
        tree_s, rss_bytes, pids = self._tree_cpu_s()
        busy_s = self._reader.machine_busy_s()
        machine_s = busy_s - self._machine_busy_s
        self._machine_busy_s = busy_s
        tree_s += self._carry_s
        cpu_ratio = min(1.0, tree_s / machine_s) if machine_s > 0 else None
        self._carry_s = max(0.0, tree_s - max(0.0, machine_s))
        ram_ratio = min(1.0, rss_bytes / self._total_memory_bytes)
        return Shares(cpu_ratio=cpu_ratio, ram_ratio=ram_ratio, pids=pids)
