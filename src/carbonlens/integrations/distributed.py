"""torch.distributed, SLURM and MPI jobs: one run per rank, one total per job.

Every rank tracks its own run (`rank_tracker`), all in one store under one group
id; `group_report` adds them up, each device counted once:

* each rank measures its own GPU: the device at `LOCAL_RANK` of
  `CUDA_VISIBLE_DEVICES` (of all devices when it is unset), or the one device the
  launcher left visible;
* one process per node, local rank 0, measures the node-wide sensors (CPU, RAM,
  SoC); the group counts the server's embodied share from its run only.

The first of these that is set gives the group id: the `group_id` argument,
`TORCHELASTIC_RUN_ID` (torchrun's default `none` is ignored), `SLURM_JOB_ID`. The
rank comes from torchrun's `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`;
else SLURM's `SLURM_PROCID`, `SLURM_NTASKS`, `SLURM_LOCALID`; else Open MPI's
`OMPI_COMM_WORLD_RANK`, `_SIZE`, `_LOCAL_RANK`, `_LOCAL_SIZE`; the node's name from
`SLURMD_NODENAME`, else the host name. A run keeps them in its tags
(`group:<id>`, `rank:<n>`, `local-rank:<n>`, `node:<name>`, and `node-wide` on
the node's measuring process), so a group can be queried while it runs.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import field
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Self

from carbonlens._frozen import frozen
from carbonlens.accounting import RunReport, build_report
from carbonlens.config import Settings, load_settings
from carbonlens.errors import ConfigError
from carbonlens.estimate.embodied import amortised_g
from carbonlens.records import Channel, Component, Method, Reading, RunInfo
from carbonlens.sensors import Host, Probe, Sensor
from carbonlens.store import this_host
from carbonlens.store.base import Store
from carbonlens.tracking.setup import discover_sensors
from carbonlens.tracking.tracker import Tracker

__all__ = ["GroupReport", "RankInfo", "RankTotal", "group_report", "rank_info", "rank_tracker"]

_RANK_VARIABLES: Final[Mapping[str, tuple[str, str, str, str | None]]] = {
    "torchelastic": ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"),
    "slurm": ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", None),
    "mpi": ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
            "OMPI_COMM_WORLD_LOCAL_SIZE"),
}  # fmt: skip
"""Per launcher: its rank, world size, local rank and local world size variables."""


@frozen
class RankInfo:
    """Who this process is in its job.

    Attributes:
        group_id: The job's id, shared by every rank.
        rank: This process's rank, 0 to `world_size` - 1.
        world_size: Number of processes in the job.
        local_rank: Rank on this node (0 measures the node-wide sensors).
        node: This node's name.
        launcher: `torchelastic`, `slurm`, `mpi` or `single` (no rank variables).
    """

    group_id: str
    rank: int
    world_size: int
    local_rank: int
    node: str
    launcher: str

    @property
    def node_wide(self) -> bool:
        """Whether this process measures the node-wide sensors."""
        return self.local_rank == 0

    def tags(self) -> tuple[str, ...]:
        """The run tags that record this rank."""
        tags = (f"group:{self.group_id}", f"rank:{self.rank}", f"local-rank:{self.local_rank}")
        return (*tags, f"node:{self.node}", *(("node-wide",) if self.node_wide else ()))


def _int(env: Mapping[str, str], name: str | None) -> int | None:
    if name is None or name not in env:
        return None
    try:
        return int(env[name])
    except ValueError:
        raise ConfigError(f"{name}={env[name]!r} is not an integer", setting=name) from None


def _group_id(env: Mapping[str, str], given: str | None) -> str | None:
    for value in (given, env.get("TORCHELASTIC_RUN_ID"), env.get("SLURM_JOB_ID")):
        if value and value.strip() and value != "none":
            return value.strip()
    return None


def rank_info(env: Mapping[str, str], *, group_id: str | None = None) -> RankInfo:
    """Read the job's group id, this process's rank and node from `env`.

    Raises:
        ConfigError: Several ranks but no group id; a variable that is not an
            integer; a rank outside the world size; or torch and SLURM variables
            that disagree about the rank in a job of one process per task.
    """
    launcher = next((k for k, names in _RANK_VARIABLES.items() if names[0] in env), "single")
    rank: int | None = 0
    world: int | None = 1
    local: int | None = 0
    local_world: int | None = 1
    if launcher != "single":
        rank, world, local, local_world = (_int(env, n) for n in _RANK_VARIABLES[launcher])
    if rank is None or world is None or not 0 <= rank < world:
        raise ConfigError(
            f"{launcher} rank {rank} is not within world size {world}", setting="rank"
        )
    if local is None:
        if world > 1:
            raise ConfigError(
                f"{launcher}: no local rank variable, so which process measures the node "
                "is unknown; set LOCAL_RANK",
                setting="local_rank",
            )
        local = 0
    if local < 0 or (local_world is not None and local >= local_world):
        raise ConfigError(f"local rank {local} is not within {local_world}", setting="local_rank")
    slurm_rank, slurm_world = _int(env, "SLURM_PROCID"), _int(env, "SLURM_NTASKS")
    if launcher == "torchelastic" and slurm_world == world and slurm_rank not in (None, rank):
        raise ConfigError(
            f"RANK={rank} but SLURM_PROCID={slurm_rank} in a job of {world} tasks",
            setting="rank",
        )
    group = _group_id(env, group_id)
    if group is None:
        if world > 1:
            raise ConfigError(
                "no group id for a job of several ranks: pass group_id=, or run under "
                "torchrun --rdzv-id or SLURM (TORCHELASTIC_RUN_ID, SLURM_JOB_ID)",
                setting="group_id",
            )
        group = os.urandom(8).hex()
    node = env.get("SLURMD_NODENAME") or this_host()
    return RankInfo(group, rank, world, local, node, launcher)


def rank_visible_devices(info: RankInfo, env: Mapping[str, str]) -> str | None:
    """`CUDA_VISIBLE_DEVICES` for this rank's own GPU (None: leave as it is)."""
    if info.world_size == 1:
        return None
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return str(info.local_rank)
    devices = [d.strip() for d in visible.split(",") if d.strip()]
    if len(devices) <= 1:
        return visible
    return devices[info.local_rank] if info.local_rank < len(devices) else ""


class _NoDevices:
    """The sensor of a rank with nothing of its own to measure (no GPU, not node-wide)."""

    name: ClassVar[str] = "none"
    components: ClassVar[frozenset[Component]] = frozenset({Component.GPU})
    method: ClassVar[Method] = Method.MEASURED

    @classmethod
    def probe(cls, host: Host) -> Probe:
        return Probe(cls.name, True, "a rank without devices of its own")

    @classmethod
    def open(cls, host: Host, **options: Any) -> Self:
        return cls()

    def channels(self) -> Sequence[Channel]:
        return []

    def read(self, t_s: float, pids: frozenset[int] = frozenset()) -> list[Reading]:
        return []

    def assumptions(self) -> dict[str, Any]:
        return {"measures": "nothing: another process measures this node"}

    def close(self) -> None:
        """Nothing to close."""


def rank_tracker(
    group_id: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    sensors: Sequence[Sensor] | None = None,
    settings: Settings | None = None,
    **tracker_options: Any,
) -> Tracker:
    """A tracker for this rank of a distributed job (not started).

    Args:
        group_id: The job's id; None reads it from the environment (see the module).
        env: Environment variables (default `os.environ`).
        sensors: The sensors to choose from (default: discovered, this rank's GPU
            only); the node-wide process keeps them all, the others their GPU ones.
        settings: As for `Tracker` (default `load_settings()`).
        **tracker_options: Other `Tracker` keyword arguments (`project`, `store`, ...);
            `tags` are added to the rank's tags.

    Raises:
        ConfigError: See `rank_info`.
    """
    env = dict(os.environ if env is None else env)
    info = rank_info(env, group_id=group_id)
    visible = rank_visible_devices(info, env)
    host = Host(env={**env, "CUDA_VISIBLE_DEVICES": visible} if visible is not None else env)
    settings = settings or load_settings()
    found = discover_sensors(settings, host, ()).sensors if sensors is None else list(sensors)
    kept = [
        s
        for s in found
        if info.node_wide or all(c.component is Component.GPU for c in s.channels())
    ]
    for sensor in found:
        if sensors is None and sensor not in kept:
            sensor.close()
    tags = (*tracker_options.pop("tags", ()), *info.tags())
    # the node's launcher (torchrun's agent, slurmstepd) is the parent of every local rank
    by_launcher = info.node_wide and info.launcher in ("torchelastic", "slurm")
    root_pid = os.getppid() if by_launcher else None
    return Tracker(
        sensors=kept or [_NoDevices()],
        host=host,
        settings=settings,
        tags=tags,
        root_pid=tracker_options.pop("root_pid", root_pid),
        **tracker_options,
    )


def _tag(info: RunInfo, key: str) -> str | None:
    prefix = f"{key}:"
    return next((t.removeprefix(prefix) for t in info.tags if t.startswith(prefix)), None)


@frozen
class RankTotal:
    """One rank's part of a group (one run; a restarted rank has several).

    `embodied_g` counts the server's embodied share only on the node-wide run.
    """

    report: RunReport
    rank: int
    node: str
    node_wide: bool
    embodied_g: float


@frozen
class GroupReport:
    """A distributed job's total, from its ranks' runs, each device counted once.

    Energies are joules, emissions grams CO2e (operational + embodied).
    """

    group_id: str
    ranks: tuple[RankTotal, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def it_energy_j(self) -> float:
        """IT energy of every rank."""
        return sum(r.report.it_energy_j for r in self.ranks)

    @property
    def facility_energy_j(self) -> float:
        """IT energy x each run's PUE."""
        return sum(r.report.facility_energy_j for r in self.ranks)

    @property
    def operational_g(self) -> float:
        """Operational emissions of every rank."""
        return sum(r.report.operational_g for r in self.ranks)

    @property
    def embodied_g(self) -> float:
        """Embodied emissions: each rank's GPUs, each node's server share once."""
        return sum(r.embodied_g for r in self.ranks)

    @property
    def total_g(self) -> float:
        """Operational plus embodied emissions."""
        return self.operational_g + self.embodied_g

    def by_node(self) -> dict[str, float]:
        """IT energy (J) per node, in the order nodes first appear."""
        totals: dict[str, float] = defaultdict(float)
        for r in self.ranks:
            totals[r.node] += r.report.it_energy_j
        return dict(totals)


def _overlapping_node_wide(parts: Sequence[RankTotal]) -> list[str]:
    """Notes for nodes where two node-wide runs overlap in time (counted twice)."""
    now = datetime.now(UTC)
    spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for part in parts:
        if part.node_wide:
            info = part.report.info
            spans[part.node].append((info.started_at, info.ended_at or now))
    notes = []
    for node, node_spans in spans.items():
        node_spans.sort()
        if any(b[0] < a[1] for a, b in zip(node_spans, node_spans[1:], strict=False)):
            notes.append(
                f"node {node}: several processes measured the node-wide sensors at the same "
                "time (local rank 0 twice?); its CPU and RAM energy is counted more than once"
            )
    return notes


def group_report(store: Store, group_id: str, *, project: str | None = None) -> GroupReport:
    """Merge the runs of a group into one total; a running rank counts up to its last sample.

    Args:
        store: The store every rank wrote to.
        group_id: The group's id.
        project: Only runs of this project (None: any).

    Raises:
        ConfigError: No run of the store has this group id.
    """
    runs = [r for r in store.list_runs(project=project) if _tag(r, "group") == group_id]
    if not runs:
        raise ConfigError(f"no run of group {group_id!r} in {store.location}", setting="group_id")
    parts = []
    for info in sorted(runs, key=lambda r: (int(_tag(r, "rank") or 0), r.started_at)):
        report = build_report(info, store.samples(info.run_id), store.windows(info.run_id))
        node_wide = "node-wide" in info.tags
        embodied_g = sum(
            amortised_g(e, report.duration_s)
            for e in report.embodied
            if node_wide or e.component is Component.GPU
        )
        node = _tag(info, "node") or info.host
        parts.append(RankTotal(report, int(_tag(info, "rank") or 0), node, node_wide, embodied_g))
    return GroupReport(group_id, tuple(parts), tuple(_overlapping_node_wide(parts)))
