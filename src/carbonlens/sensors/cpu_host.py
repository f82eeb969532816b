"""What this machine, or container, has of the CPUs: topology, usable share, CPU times.

* ``effective_cpus = min(CPUs in Cpus_allowed_list, cgroup CPU quota)``;
* ``package_logical_cpus`` is ``siblings`` from ``/proc/cpuinfo`` on bare metal;
  in a VM (``hypervisor`` flag) the host's package is not visible, so it is the
  table's ``n_cores`` × threads per core (``siblings / cpu cores``). ``packages`` is
  the number of ``physical id``s on bare metal; in a VM, the packages the
  effective CPUs fill (usually 1);
* ``share_ratio = effective_cpus / (package_logical_cpus * packages)``, used by the
  CPU power model (`carbonlens.sensors.cpu_tdp`) and for the embodied share of
  the server (`host_share_ratio`).

Read from ``Host.procfs`` (a fake tree in tests); without procfs (macOS,
Windows) from psutil.
"""

from __future__ import annotations

import math
import os
from typing import Final

from carbonlens._frozen import frozen
from carbonlens.estimate.cpu_specs import CpuMatch, match_cpu
from carbonlens.sensors import _portable
from carbonlens.sensors._cgroup import cgroup_dirs, cpu_quota, read_text
from carbonlens.sensors.base import Host

_V1_CPU_MOUNTS: Final = ("cpu", "cpu,cpuacct")


@frozen
class CpuTopology:
    """What ``/proc/cpuinfo`` and ``/proc/stat`` say about the CPUs.

    Attributes:
        model_name: ``model name`` of the first CPU, None when absent (Arm).
        logical_cpus: Online logical CPUs (``cpuN`` lines of ``/proc/stat``).
        sockets: Distinct ``physical id`` values (at least 1).
        siblings: Logical CPUs per package, when listed.
        cores_per_package: ``cpu cores``, physical cores per package, when listed.
        hypervisor: Whether the ``hypervisor`` flag is set (running in a VM).
    """

    model_name: str | None
    logical_cpus: int
    sockets: int
    siblings: int | None
    cores_per_package: int | None
    hypervisor: bool

    @property
    def threads_per_core(self) -> float | None:
        """``siblings / cpu cores`` (2.0 with SMT), when both are listed."""
        if self.siblings and self.cores_per_package:
            return self.siblings / self.cores_per_package
        return None


def read_topology(host: Host) -> CpuTopology:
    """Parse ``host.procfs/cpuinfo`` and count CPUs in ``host.procfs/stat``; never raises.

    Without procfs (macOS, Windows), psutil's counts as one package, not a VM.
    """
    if _portable.uses_psutil(host):
        counts = _portable.cpu_counts()
        return CpuTopology(
            model_name=counts.model_name,
            logical_cpus=counts.logical_cpus,
            sockets=1,
            siblings=counts.logical_cpus,
            cores_per_package=counts.physical_cores,
            hypervisor=False,
        )
    first: dict[str, str] = {}
    sockets: set[str] = set()
    for block in (read_text(host.procfs / "cpuinfo") or "").split("\n\n"):
        fields = dict(
            (key.strip(), value.strip())
            for key, sep, value in (line.partition(":") for line in block.splitlines())
            if sep
        )
        if "physical id" in fields:
            sockets.add(fields["physical id"])
        if not first and fields:
            first = fields
    stat = read_text(host.procfs / "stat") or ""
    logical = sum(1 for line in stat.splitlines() if line[:3] == "cpu" and line[3:4].isdigit())

    def count(key: str) -> int | None:
        value = first.get(key, "")
        return int(value) if value.isdigit() and int(value) > 0 else None

    return CpuTopology(
        model_name=first.get("model name") or None,
        logical_cpus=max(logical, 1),
        sockets=max(len(sockets), 1),
        siblings=count("siblings"),
        cores_per_package=count("cpu cores"),
        hypervisor="hypervisor" in first.get("flags", "").split(),
    )


def _allowed_cpus(host: Host) -> int | None:
    """Number of CPUs in ``Cpus_allowed_list`` of ``host.procfs/self/status`` (``0-3,8``)."""
    for line in (read_text(host.procfs / "self" / "status") or "").splitlines():
        key, _, value = line.partition(":")
        if key == "Cpus_allowed_list":
            try:
                spans = [part.split("-") for part in value.strip().split(",") if part]
                return sum(int(span[-1]) - int(span[0]) + 1 for span in spans) or None
            except ValueError:
                return None
    return None


@frozen
class CpuShare:
    """How much of the CPU packages this process may use.

    Attributes:
        effective_cpus: CPUs usable: min(allowed CPUs, cgroup quota), may be fractional.
        effective_cpus_source: Which limit set `effective_cpus`.
        package_logical_cpus: Logical CPUs of one physical package, when known.
        package_logical_cpus_source: Where that number comes from.
        packages: Packages counted (bare metal: sockets; VM: packages filled).
        share_ratio: ``effective_cpus / (package_logical_cpus * packages)``, 0-1,
            None when the package size is unknown.
    """

    effective_cpus: float
    effective_cpus_source: str
    package_logical_cpus: int | None
    package_logical_cpus_source: str | None
    packages: int
    share_ratio: float | None


def cpu_share(host: Host, topology: CpuTopology, match: CpuMatch | None) -> CpuShare:
    """Work out `CpuShare` for `host` (see the module docstring); never raises."""
    effective: float = topology.logical_cpus
    portable = _portable.uses_psutil(host)
    source = "logical CPUs (psutil)" if portable else "logical CPUs in /proc/stat"
    allowed = _allowed_cpus(host)
    if allowed is not None and allowed < effective:
        effective, source = allowed, "Cpus_allowed_list"
    for directory in cgroup_dirs(host, "cpu", _V1_CPU_MOUNTS):
        quota = cpu_quota(directory)
        if quota is not None and quota < effective:
            effective, source = quota, f"cgroup CPU quota ({directory})"
    package: int | None = None
    package_source: str | None = None
    if not topology.hypervisor and topology.siblings:
        package, package_source = topology.siblings, "cpuinfo siblings"
    elif match is not None and match.spec.n_cores:
        package = round(match.spec.n_cores * (topology.threads_per_core or 1.0))
        package_source = "table n_cores x threads per core (cpuinfo siblings / cpu cores)"
    if package is None:
        return CpuShare(effective, source, None, None, 1, None)
    packages = (
        topology.sockets if not topology.hypervisor else max(1, math.ceil(effective / package))
    )
    share = min(effective / (package * packages), 1.0)
    return CpuShare(effective, source, package, package_source, packages, share)


def host_share_ratio(host: Host) -> float | None:
    """Share (0-1) of the machine's CPU packages this process may use, for embodied carbon.

    ``effective_cpus / (package_logical_cpus * packages)``; None when the package
    size is unknown. In a VM it is the share of the packages the VM's CPUs fill,
    not of the whole physical server, whose socket count is not visible.
    """
    topology = read_topology(host)
    match = match_cpu(topology.model_name) if topology.model_name else None
    return cpu_share(host, topology, match).share_ratio


def read_cpu_times(host: Host) -> tuple[int, int]:
    """(busy, total) cumulative machine-wide CPU time in jiffies, from ``/proc/stat``.

    total = user + nice + system + idle + iowait + irq + softirq + steal (guest
    time is already inside user and nice); busy = total - idle - iowait. Without
    procfs (macOS, Windows) the same from psutil, in microseconds: only the ratio
    of two differences is used.

    Raises:
        OSError: The file cannot be read.
        ValueError: Its first line is not the aggregate ``cpu`` line.
    """
    if _portable.uses_psutil(host):
        return _portable.cpu_times_us()
    fields = _first_line(f"{host.procfs}/stat").split()
    if len(fields) < 5 or fields[0] != b"cpu":
        shown = b" ".join(fields).decode("ascii", "replace")
        raise ValueError(f"unexpected first line of /proc/stat: {shown!r}")
    times = [int(value) for value in fields[1:9]]
    total = sum(times)
    return total - times[3] - times[4], total


def _first_line(path: str) -> bytes:
    """The first line of a file, read with plain system calls: the sampler reads
    ``/proc/stat`` every tick, and a buffered text file costs several times more."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        head = os.read(fd, 512)
        while b"\n" not in head and (more := os.read(fd, 512)):
            head += more
    finally:
        os.close(fd)
    return head.partition(b"\n")[0]
