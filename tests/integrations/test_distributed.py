"""Distributed jobs: rank variables, per-rank sensors, and one total counted once."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from carbonlens.errors import ConfigError
from carbonlens.integrations.distributed import (
    group_report,
    rank_info,
    rank_tracker,
    rank_visible_devices,
)
from carbonlens.records import Channel, Component, Method
from carbonlens.store import SqliteStore
from carbonlens.testing import FakeClock, FakeSensor, FakeShares
from carbonlens.units import J_PER_KWH

from .conftest import CPU

CPU_W, GPU_W, STEP_S = 10.0, 30.0, 2.0
"""Fake node-wide CPU power, per-rank GPU power, and the fake seconds one step takes."""

TORCHRUN = {"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}


def _gpu(rank: int) -> Channel:
    return Channel("fake", Component.GPU, f"gpu{rank}", Method.MEASURED)


def test_torchrun_variables_name_the_group_rank_and_node() -> None:
    info = rank_info({**TORCHRUN, "TORCHELASTIC_RUN_ID": "job-7", "SLURMD_NODENAME": "n2"})
    assert (info.group_id, info.rank, info.world_size, info.local_rank) == ("job-7", 1, 4, 1)
    assert (info.node, info.launcher, info.node_wide) == ("n2", "torchelastic", False)
    assert info.tags() == ("group:job-7", "rank:1", "local-rank:1", "node:n2")


def test_slurm_variables_and_torchruns_default_run_id() -> None:
    env = {"SLURM_PROCID": "4", "SLURM_NTASKS": "8", "SLURM_LOCALID": "0", "SLURM_JOB_ID": "991"}
    info = rank_info({**env, "TORCHELASTIC_RUN_ID": "none"})
    assert (info.group_id, info.rank, info.launcher, info.node_wide) == ("991", 4, "slurm", True)
    assert "node-wide" in info.tags()
    assert rank_info(env, group_id="mine").group_id == "mine"


def test_a_single_process_is_its_own_group() -> None:
    info = rank_info({})
    assert (info.rank, info.world_size, info.node_wide, info.launcher) == (0, 1, True, "single")
    assert info.group_id and rank_info({}).group_id != info.group_id


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (TORCHRUN, "no group id"),
        ({**TORCHRUN, "RANK": "4"}, "rank 4 is not within world size 4"),
        ({**TORCHRUN, "RANK": "one"}, "RANK='one' is not an integer"),
        ({"RANK": "0", "TORCHELASTIC_RUN_ID": "j"}, "not within world size None"),
        ({**TORCHRUN, "LOCAL_RANK": "2"}, "local rank 2 is not within 2"),
        ({"RANK": "1", "WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "j"}, "set LOCAL_RANK"),
        (
            {**TORCHRUN, "TORCHELASTIC_RUN_ID": "j", "SLURM_PROCID": "3", "SLURM_NTASKS": "4"},
            "RANK=1 but SLURM_PROCID=3",
        ),
    ],
)
def test_inconsistent_rank_variables_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rank_info(env)


@pytest.mark.parametrize(
    ("visible", "expected"), [(None, "1"), ("4,5,6", "5"), ("7", "7"), ("4", "4"), ("0,", "0,")]
)
def test_each_rank_measures_its_own_gpu(visible: str | None, expected: str) -> None:
    env = {**TORCHRUN, "TORCHELASTIC_RUN_ID": "j"}
    if visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible
    assert rank_visible_devices(rank_info(env), env) == expected
    assert rank_visible_devices(rank_info({}), {}) is None


def _rank_run(env: dict[str, str], rank: int, store: Path, collective: Any = None) -> None:
    """One rank's run: a node-wide fake CPU and its own fake GPU, one step of STEP_S."""
    clock = FakeClock()
    sensors = [FakeSensor(CPU, power_w=[CPU_W]), FakeSensor(_gpu(rank), power_w=[GPU_W])]
    tracker = rank_tracker(
        env=env,
        sensors=sensors,
        project="dist",
        country="FR",
        pue=1.0,
        store=store,
        clock=clock,
        shares=FakeShares(cpu_ratio=1.0),
        interval_s=3600.0,
    )
    with tracker, tracker.window("step"):
        clock.advance(STEP_S)
        if collective is not None:
            collective()


def _gloo_rank(rank: int, store: str, port: int) -> None:
    """A torch.distributed rank (gloo) of a 2-process job on this node."""
    import torch
    import torch.distributed as dist

    env = {"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": "2"}
    env["TORCHELASTIC_RUN_ID"] = "gloo-job"
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        total = torch.ones(1)
        _rank_run(env, rank, Path(store), lambda: dist.all_reduce(total))
        assert total.item() == 2.0
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_make_one_total_with_the_node_counted_once(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store_path = tmp_path / "runs.db"
    torch.multiprocessing.spawn(_gloo_rank, args=(str(store_path), port), nprocs=2, join=True)
    store = SqliteStore(store_path)
    try:
        group = group_report(store, "gloo-job")
    finally:
        store.close()
    assert [(r.rank, r.node_wide) for r in group.ranks] == [(0, True), (1, False)]
    # the CPU once (local rank 0), each rank's own GPU
    assert group.it_energy_j == pytest.approx(STEP_S * (CPU_W + 2 * GPU_W))
    assert [r.report.it_energy_j for r in group.ranks] == [
        pytest.approx(STEP_S * (CPU_W + GPU_W)),
        pytest.approx(STEP_S * GPU_W),
    ]
    assert list(group.by_node().values()) == [pytest.approx(group.it_energy_j)]
    leader, other = group.ranks
    assert leader.embodied_g == pytest.approx(leader.report.embodied_g)
    assert 0 < other.embodied_g < other.report.embodied_g  # its GPU, not the server again
    assert group.total_g == pytest.approx(group.operational_g + group.embodied_g)
    assert not group.notes


def test_two_slurm_nodes_each_count_their_own_cpu(tmp_path: Path) -> None:
    base = {"SLURM_NTASKS": "2", "SLURM_LOCALID": "0", "SLURM_JOB_ID": "77"}
    for rank in (0, 1):
        env = {**base, "SLURM_PROCID": str(rank), "SLURMD_NODENAME": f"node{rank}"}
        _rank_run(env, rank, tmp_path / "runs.db")
    _rank_run({}, 0, tmp_path / "runs.db")  # another job in the same store
    store = SqliteStore(tmp_path / "runs.db")
    try:
        group = group_report(store, "77")
        with pytest.raises(ConfigError, match="no run of group 'nope'"):
            group_report(store, "nope")
    finally:
        store.close()
    node_j = STEP_S * (CPU_W + GPU_W)
    assert group.by_node() == {"node0": pytest.approx(node_j), "node1": pytest.approx(node_j)}
    assert not group.notes


def test_two_node_wide_runs_at_once_on_one_node_are_reported(tmp_path: Path) -> None:
    env = {"SLURM_NTASKS": "2", "SLURM_LOCALID": "0", "SLURM_JOB_ID": "5", "SLURMD_NODENAME": "n"}
    trackers = []
    for rank in (0, 1):  # both claim local rank 0 of the same node, and overlap
        clock = FakeClock()
        tracker = rank_tracker(
            env={**env, "SLURM_PROCID": str(rank)},
            sensors=[FakeSensor(CPU, power_w=[CPU_W])],
            store=tmp_path / "runs.db",
            clock=clock,
            interval_s=3600.0,
        )
        trackers.append((tracker.start(), clock))
    for tracker, clock in trackers:
        clock.advance(STEP_S)
        tracker.stop()
    store = SqliteStore(tmp_path / "runs.db")
    try:
        group = group_report(store, "5")
    finally:
        store.close()
    [note] = group.notes
    assert "node n: several processes measured the node-wide sensors" in note


def test_a_rank_without_devices_is_recorded_with_no_energy(tmp_path: Path) -> None:
    env = {**TORCHRUN, "TORCHELASTIC_RUN_ID": "cpu-only"}
    clock = FakeClock()
    tracker = rank_tracker(
        env=env, sensors=[FakeSensor(CPU, power_w=[CPU_W])], store=tmp_path / "r.db", clock=clock
    )
    with tracker:
        clock.advance(1.0)
    assert tracker.report is not None and tracker.report.it_energy_j == 0
    assert "group:cpu-only" in tracker.report.info.tags


def test_discovered_sensors_split_between_node_and_rank(tmp_path: Path) -> None:
    env = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "d"}
    reports = []
    for local in ("0", "1"):
        tracker = rank_tracker(env={**env, "LOCAL_RANK": local}, store=tmp_path / "r.db")
        with tracker:
            pass
        assert tracker.report is not None
        reports.append({t.channel.component for t in tracker.report.components})
    node, rank = reports
    assert Component.CPU in node and not rank - {Component.GPU}


def test_group_command_prints_the_total_per_node_and_per_rank(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from carbonlens.cli_integrations import group_command

    base = {"SLURM_NTASKS": "2", "SLURM_LOCALID": "0", "SLURM_JOB_ID": "88"}
    for rank in (0, 1):
        env = {**base, "SLURM_PROCID": str(rank), "SLURMD_NODENAME": f"node{rank}"}
        _rank_run(env, rank, tmp_path / "runs.db")
    store = str(tmp_path / "runs.db")
    text = CliRunner().invoke(group_command, ["88", "--store", store])
    assert text.exit_code == 0, text.output
    assert text.output.startswith("group 88: 2 run(s) on 2 node(s): ")
    assert "  rank 1 (node1, node-wide + own devices): " in text.output
    result = CliRunner().invoke(group_command, ["88", "--store", store, "--json"])
    document = json.loads(result.output)
    assert document["energy_kwh"] == pytest.approx(2 * STEP_S * (CPU_W + GPU_W) / J_PER_KWH)
    assert [r["node"] for r in document["ranks"]] == ["node0", "node1"]
    missing = CliRunner().invoke(group_command, ["nope", "--store", store])
    assert missing.exit_code == 2 and "no run of group 'nope'" in missing.output
