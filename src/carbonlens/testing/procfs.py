"""Fake Linux ``/proc`` files and cgroup limits for tests of the modelled sensors.

`ProcTree` writes the ``/proc`` files the CPU and RAM models read (``cpuinfo``,
``stat``, ``meminfo``, ``self/status``, ``self/cgroup``) under a directory you
choose; `CgroupTree` writes cgroup v2 and v1 limit files under a fake ``/sys``.
Point a sensor at them with ``Host(procfs=proc.procfs, sysfs=cgroups.sysfs, env={})``::

    proc = ProcTree(tmp_path / "proc")
    proc.cpuinfo(model_name="AMD EPYC 7763 64-Core Processor", cores_per_socket=4,
                 threads_per_core=2, hypervisor=True)
    proc.set_jiffies(user=0, idle=0)
    cgroups = CgroupTree(tmp_path / "sys")
    cgroups.cpu_max("150000 100000")        # 1.5 CPUs
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Final

DEFAULT_FLAGS: Final = ("fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "sse", "sse2")
"""CPU flags written to every fake ``cpuinfo`` (``hypervisor`` is added on request)."""

V1_CPU_MOUNT: Final = "cpu,cpuacct"
"""Directory of the cgroup v1 cpu controller under ``/sys/fs/cgroup`` (as systemd mounts it)."""


class ProcTree:
    """Writes fake ``/proc`` files under ``procfs``.

    Attributes:
        procfs: The fake procfs root; pass it as ``Host(procfs=tree.procfs)``.
    """

    def __init__(self, procfs: Path) -> None:
        """Create ``procfs`` and ``procfs/self``.

        Args:
            procfs: Directory standing in for ``/proc`` (use pytest's ``tmp_path``).
        """
        self.procfs = procfs
        (procfs / "self").mkdir(parents=True, exist_ok=True)
        self._logical_cpus = 1
        self._parents: dict[int, int] = {}
        self._children_lists = False

    def children_lists(self) -> None:
        """From now on also write each process's ``task/<pid>/children`` list, as a
        kernel with CONFIG_PROC_CHILDREN shows it (all under the main thread)."""
        self._children_lists = True
        self._write_children_lists()

    def _write_children_lists(self) -> None:
        if not self._children_lists:
            return
        for pid in self._parents:
            kids = sorted(kid for kid, parent in self._parents.items() if parent == pid)
            self._write(f"{pid}/task/{pid}/children", "".join(f"{kid} " for kid in kids))

    def cpuinfo(
        self,
        *,
        model_name: str | None = "Intel(R) Xeon(R) Processor",
        sockets: int = 1,
        cores_per_socket: int = 2,
        threads_per_core: int = 1,
        hypervisor: bool = False,
        flags: Sequence[str] = DEFAULT_FLAGS,
    ) -> Path:
        """Write ``cpuinfo`` as an x86 Linux kernel prints it.

        One ``processor`` block per logical CPU (sockets × cores × threads), each
        with ``physical id``, ``siblings`` (logical CPUs per package), ``core id``,
        ``cpu cores`` (physical cores per package) and ``flags``. `set_jiffies`
        writes one ``cpuN`` line per logical CPU written here.

        Args:
            model_name: The ``model name`` line, or None to leave it out (as on Arm).
            sockets: Physical packages.
            cores_per_socket: Physical cores per package.
            threads_per_core: Hardware threads per core (2 with SMT).
            hypervisor: Add the ``hypervisor`` flag (the kernel runs in a VM).
            flags: The other flags.

        Returns:
            The written file.
        """
        siblings = cores_per_socket * threads_per_core
        all_flags = [*flags, *(["hypervisor"] if hypervisor else [])]
        blocks: list[str] = []
        for socket in range(sockets):
            for thread in range(siblings):
                lines = [f"processor\t: {len(blocks)}", "vendor_id\t: GenuineIntel"]
                if model_name is not None:
                    lines.append(f"model name\t: {model_name}")
                lines += [
                    f"physical id\t: {socket}",
                    f"siblings\t: {siblings}",
                    f"core id\t\t: {thread % cores_per_socket}",
                    f"cpu cores\t: {cores_per_socket}",
                    f"flags\t\t: {' '.join(all_flags)}",
                ]
                blocks.append("\n".join(lines) + "\n")
        self._logical_cpus = len(blocks)
        return self._write("cpuinfo", "\n".join(blocks) + "\n")

    def set_jiffies(
        self,
        *,
        user: int = 0,
        nice: int = 0,
        system: int = 0,
        idle: int = 0,
        iowait: int = 0,
        irq: int = 0,
        softirq: int = 0,
        steal: int = 0,
    ) -> Path:
        """Write ``stat`` with these cumulative machine-wide CPU times, in jiffies.

        The aggregate ``cpu`` line carries the given values (``guest`` and
        ``guest_nice`` are 0); one ``cpuN`` line per logical CPU of the last
        `cpuinfo` (one if none was written) follows, with the values divided evenly.

        Returns:
            The written file.
        """
        values = [user, nice, system, idle, iowait, irq, softirq, steal, 0, 0]
        n = self._logical_cpus
        lines = ["cpu  " + " ".join(map(str, values))]
        lines += [f"cpu{i} " + " ".join(str(v // n) for v in values) for i in range(n)]
        lines += ["intr 0", "ctxt 0", "btime 1700000000", "processes 1"]
        return self._write("stat", "\n".join(lines) + "\n")

    def meminfo(self, *, mem_total_kib: int, mem_available_kib: int | None = None) -> Path:
        """Write ``meminfo`` (sizes in KiB, which the kernel labels ``kB``).

        Args:
            mem_total_kib: ``MemTotal``.
            mem_available_kib: ``MemAvailable`` (default: half of the total).

        Returns:
            The written file.
        """
        available = mem_total_kib // 2 if mem_available_kib is None else mem_available_kib
        text = (
            f"MemTotal:       {mem_total_kib} kB\n"
            f"MemFree:        {available} kB\n"
            f"MemAvailable:   {available} kB\n"
        )
        return self._write("meminfo", text)

    def self_status(self, *, cpus_allowed_list: str) -> Path:
        """Write ``self/status`` with a ``Cpus_allowed_list`` line (e.g. ``"0-3,8"``).

        Returns:
            The written file.
        """
        text = f"Name:\tpython\nState:\tR (running)\nCpus_allowed_list:\t{cpus_allowed_list}\n"
        return self._write("self/status", text)

    def self_cgroup(self, *lines: str) -> Path:
        """Write ``self/cgroup``: ``"0::/path"`` for cgroup v2, ``"4:memory:/path"`` for v1.

        Returns:
            The written file.
        """
        return self._write("self/cgroup", "".join(f"{line}\n" for line in lines))

    def process(
        self,
        pid: int,
        *,
        ppid: int,
        utime: int = 0,
        stime: int = 0,
        cutime: int = 0,
        cstime: int = 0,
        rss_pages: int = 0,
        state: str = "S",
        comm: str = "python (worker)",
        starttime: int = 100,
    ) -> Path:
        """Write ``<pid>/stat`` (CPU times in jiffies, start time in jiffies since
        boot in field 22, RSS in pages in field 24).

        The command name may hold spaces and parentheses, as real ones do. Give a
        new `starttime` to stand for a new process that got a reused pid.

        Returns:
            The written ``stat`` file.
        """
        (self.procfs / str(pid) / "task" / str(pid)).mkdir(parents=True, exist_ok=True)
        self._parents[pid] = ppid
        self._write_children_lists()
        rest = [state, ppid, ppid, ppid, 0, -1, 0, 0, 0, 0, 0, utime, stime, cutime, cstime]
        rest += [20, 0, 1, 0, starttime, 0, rss_pages]
        return self._write(f"{pid}/stat", f"{pid} ({comm}) " + " ".join(map(str, rest)) + "\n")

    def remove_process(self, pid: int) -> None:
        """Make `pid` disappear, as when it exits and is reaped."""
        shutil.rmtree(self.procfs / str(pid))
        del self._parents[pid]
        self._write_children_lists()

    def _write(self, name: str, text: str) -> Path:
        path = self.procfs / name
        path.write_text(text)
        return path


class CgroupTree:
    """Writes fake cgroup limit files under ``sysfs/fs/cgroup``.

    `path` is the cgroup's path as ``/proc/self/cgroup`` shows it (``"/"``, the
    default, is the mount root, which is what a container with its own cgroup
    namespace sees).

    Attributes:
        sysfs: The fake sysfs root; pass it as ``Host(sysfs=tree.sysfs)``.
        root: ``sysfs/fs/cgroup``, the cgroup v2 mount point.
    """

    def __init__(self, sysfs: Path) -> None:
        """Create ``sysfs/fs/cgroup``.

        Args:
            sysfs: Directory standing in for ``/sys`` (use pytest's ``tmp_path``).
        """
        self.sysfs = sysfs
        self.root = sysfs / "fs" / "cgroup"
        self.root.mkdir(parents=True, exist_ok=True)

    def cpu_max(self, value: str, path: str = "/") -> Path:
        """Write cgroup v2 ``cpu.max``: ``"max 100000"`` (no limit) or ``"150000 100000"``.

        Returns:
            The written file.
        """
        return self._write(self.root, path, "cpu.max", value)

    def memory_max(self, value: str | int, path: str = "/") -> Path:
        """Write cgroup v2 ``memory.max``: ``"max"`` (no limit) or a size in bytes.

        Returns:
            The written file.
        """
        return self._write(self.root, path, "memory.max", str(value))

    def cfs_quota(self, quota_us: int, period_us: int = 100_000, path: str = "/") -> Path:
        """Write cgroup v1 ``cpu.cfs_quota_us`` (``-1``: no limit) and ``cpu.cfs_period_us``.

        Returns:
            The quota file.
        """
        mount = self.root / V1_CPU_MOUNT
        self._write(mount, path, "cpu.cfs_period_us", str(period_us))
        return self._write(mount, path, "cpu.cfs_quota_us", str(quota_us))

    def memory_limit_in_bytes(self, value: int, path: str = "/") -> Path:
        """Write cgroup v1 ``memory.limit_in_bytes`` (a huge value means no limit).

        Returns:
            The written file.
        """
        return self._write(self.root / "memory", path, "memory.limit_in_bytes", str(value))

    @staticmethod
    def _write(mount: Path, path: str, name: str, value: str) -> Path:
        directory = mount.joinpath(*(part for part in path.split("/") if part))
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / name
        target.write_text(f"{value}\n")
        return target
