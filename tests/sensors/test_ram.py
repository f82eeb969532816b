"""RAM model: W per GB x memory, capped by cgroup limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonlens.errors import ConfigError, SensorUnavailable
from carbonlens.records import Component, Method
from carbonlens.sensors.base import Host
from carbonlens.sensors.ram import DEFAULT_W_PER_GB, RamModelSensor
from carbonlens.testing.procfs import CgroupTree, ProcTree

GIB = 1024**3
KIB_PER_GIB = 1024**2


@pytest.fixture
def proc(tmp_path: Path) -> ProcTree:
    tree = ProcTree(tmp_path / "proc")
    tree.meminfo(mem_total_kib=16 * KIB_PER_GIB)  # 16 GiB
    return tree


@pytest.fixture
def cgroups(tmp_path: Path) -> CgroupTree:
    return CgroupTree(tmp_path / "sys")


@pytest.fixture
def host(proc: ProcTree, cgroups: CgroupTree) -> Host:
    return Host(sysfs=cgroups.sysfs, procfs=proc.procfs, env={})


def test_sixteen_gib_at_default_rate(host: Host) -> None:
    sensor = RamModelSensor.open(host)
    assert RamModelSensor.components == frozenset({Component.RAM})
    [channel] = sensor.channels()
    assert (channel.key, channel.method) == ("ram-model/ram/ram", Method.MODELLED)
    [first] = sensor.read(5.0)
    assert (first.energy_j, first.power_w) == (0.0, None)
    [r] = sensor.read(15.0)
    # 0.3725 W/GB x 16 GiB = 5.96 W; 5.96 W x 10 s = 59.6 J
    assert r.power_w == pytest.approx(5.96)
    assert r.energy_j == pytest.approx(59.6)
    facts = sensor.assumptions()
    assert facts["memory_bytes"] == 16 * GIB
    assert facts["memory_source"] == "MemTotal in /proc/meminfo"
    assert facts["w_per_gb"] == DEFAULT_W_PER_GB == 0.3725


def test_cgroup_v2_memory_max_caps_memory(cgroups: CgroupTree, host: Host) -> None:
    cgroups.memory_max(4 * GIB)
    sensor = RamModelSensor.open(host)
    facts = sensor.assumptions()
    # 0.3725 x 4 GiB = 1.49 W
    assert facts["memory_bytes"] == 4 * GIB
    assert "cgroup memory limit" in facts["memory_source"]
    assert facts["mem_total_bytes"] == 16 * GIB
    assert facts["power_w"] == pytest.approx(1.49)


def test_memory_max_unlimited_or_higher_keeps_memtotal(cgroups: CgroupTree, host: Host) -> None:
    cgroups.memory_max("max")
    assert RamModelSensor.open(host).assumptions()["memory_bytes"] == 16 * GIB
    cgroups.memory_max(32 * GIB)  # above MemTotal: not a cap
    facts = RamModelSensor.open(host).assumptions()
    assert facts["memory_bytes"] == 16 * GIB
    assert facts["cgroup_limit_bytes"] == 32 * GIB


def test_cgroup_v1_limit_in_bytes(cgroups: CgroupTree, host: Host) -> None:
    cgroups.memory_limit_in_bytes(2 * GIB)
    # 0.3725 x 2 = 0.745 W
    assert RamModelSensor.open(host).assumptions()["power_w"] == pytest.approx(0.745)


def test_limit_on_parent_cgroup(proc: ProcTree, cgroups: CgroupTree, host: Host) -> None:
    proc.self_cgroup("0::/kubepods/pod1/ctr")
    cgroups.memory_max("max", path="/kubepods/pod1/ctr")
    cgroups.memory_max(8 * GIB, path="/kubepods/pod1")
    # 0.3725 x 8 = 2.98 W
    assert RamModelSensor.open(host).assumptions()["power_w"] == pytest.approx(2.98)


def test_options_override_memory_and_rate(tmp_path: Path) -> None:
    host = Host(sysfs=tmp_path, procfs=tmp_path, env={})  # no meminfo needed
    sensor = RamModelSensor.open(host, memory_bytes=8 * GIB, w_per_gb=0.5)
    facts = sensor.assumptions()
    # 0.5 W/GB x 8 GiB = 4 W
    assert facts["power_w"] == pytest.approx(4.0)
    assert (facts["memory_source"], facts["w_per_gb_source"]) == ("user", "user")
    sensor.read(0.0)
    [r] = sensor.read(2.5)
    assert r.energy_j == pytest.approx(10.0)  # 4 W x 2.5 s


def test_unavailable_without_meminfo(tmp_path: Path) -> None:
    host = Host(sysfs=tmp_path, procfs=tmp_path, env={})
    probe = RamModelSensor.probe(host)
    assert not probe.available and "MemTotal" in probe.reason
    with pytest.raises(SensorUnavailable):
        RamModelSensor.open(host)


def test_probe_states_the_power(host: Host) -> None:
    probe = RamModelSensor.probe(host)
    assert probe.available and "5.96 W" in probe.reason


@pytest.mark.parametrize(
    "options", [{"w_per_gb": 0}, {"memory_bytes": -1}, {"w_per_gb": True}, {"size": 1}]
)
def test_bad_options_raise_config_error(host: Host, options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        RamModelSensor.open(host, **options)
