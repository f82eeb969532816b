"""CPU TDP model: package share, cgroup limits, utilisation integration."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonlens.errors import ConfigError, SensorReadError, SensorUnavailable
from carbonlens.records import Component, Method
from carbonlens.sensors.base import Host
from carbonlens.sensors.cpu_host import host_share_ratio
from carbonlens.sensors.cpu_tdp import DEFAULT_IDLE_RATIO, CpuTdpSensor
from carbonlens.testing.procfs import CgroupTree, ProcTree

EPYC = "AMD EPYC 7763 64-Core Processor"
GENERIC = "Intel(R) Xeon(R) Processor"


@pytest.fixture
def proc(tmp_path: Path) -> ProcTree:
    return ProcTree(tmp_path / "proc")


@pytest.fixture
def cgroups(tmp_path: Path) -> CgroupTree:
    return CgroupTree(tmp_path / "sys")


@pytest.fixture
def host(proc: ProcTree, cgroups: CgroupTree) -> Host:
    return Host(sysfs=cgroups.sysfs, procfs=proc.procfs, env={})


def epyc_vm(proc: ProcTree, vcpus: int = 8) -> None:
    """A VM on an EPYC 7763 showing `vcpus` vCPUs as vcpus/2 cores x 2 threads."""
    proc.cpuinfo(model_name=EPYC, cores_per_socket=vcpus // 2, threads_per_core=2, hypervisor=True)
    proc.set_jiffies()


def test_sensor_identity() -> None:
    assert CpuTdpSensor.name == "cpu-tdp"
    assert CpuTdpSensor.components == frozenset({Component.CPU})
    assert CpuTdpSensor.method is Method.MODELLED


def test_epyc_vm_share_and_energy(proc: ProcTree, host: Host) -> None:
    epyc_vm(proc)
    sensor = CpuTdpSensor.open(host)
    facts = sensor.assumptions()
    # package = 64 cores x (siblings 8 / cpu cores 4 = 2 threads) = 128 logical CPUs
    # share = 8 / 128 = 0.0625; P_max = 280 W x 0.0625 = 17.5 W
    # P_idle = 17.5 x 0.74 / 3.5 = 3.7 W
    assert facts["package_logical_cpus"] == 128
    assert facts["threads_per_core"] == 2.0
    assert facts["effective_cpus"] == 8
    assert facts["share_ratio"] == pytest.approx(0.0625)
    assert facts["max_power_w"] == pytest.approx(17.5)
    assert facts["idle_power_w"] == pytest.approx(3.7)
    assert (facts["matched_name"], facts["tdp_w"], facts["tdp_source"]) == (
        "AMD EPYC 7763",
        280.0,
        "table",
    )
    assert facts["per_core_default_used"] is False
    [first] = sensor.read(0.0)
    assert (first.energy_j, first.power_w) == (0.0, None)
    assert first.channel.key == "cpu-tdp/cpu/cpu" and first.channel.method is Method.MODELLED
    # u = busy 500 / total 1000 = 0.5 (iowait counts as idle)
    proc.set_jiffies(user=400, system=100, idle=400, iowait=100)
    [r] = sensor.read(10.0)
    # P = 3.7 + (17.5 - 3.7) x 0.5 = 10.6 W; E = 10.6 W x 10 s = 106 J
    assert r.power_w == pytest.approx(10.6)
    assert r.energy_j == pytest.approx(106.0)
    # next 5 s fully busy (steal counts as busy): u = 1000 / 1000
    proc.set_jiffies(user=1300, system=100, idle=400, iowait=100, steal=100)
    [r] = sensor.read(15.0)
    # P = 17.5 W; E = 106 + 17.5 x 5 = 193.5 J (cumulative)
    assert r.power_w == pytest.approx(17.5)
    assert r.energy_j == pytest.approx(193.5)


def test_no_jiffy_elapsed_keeps_last_utilisation(proc: ProcTree, host: Host) -> None:
    epyc_vm(proc)
    sensor = CpuTdpSensor.open(host, idle_ratio=0.0)
    sensor.read(0.0)
    proc.set_jiffies(user=250, idle=750)  # u = 0.25
    sensor.read(1.0)
    [r] = sensor.read(3.0)  # same jiffies
    # P = 17.5 x 0.25 = 4.375 W for 3 s = 13.125 J
    assert r.power_w == pytest.approx(4.375)
    assert r.energy_j == pytest.approx(13.125)
    [r] = sensor.read(2.0)  # time going backwards adds nothing
    assert r.energy_j == pytest.approx(13.125)


def test_generic_cpu_uses_per_core_default(proc: ProcTree, host: Host) -> None:
    proc.cpuinfo(model_name=GENERIC, cores_per_socket=2, hypervisor=True)
    proc.set_jiffies()
    sensor = CpuTdpSensor.open(host, idle_ratio=0.25)
    facts = sensor.assumptions()
    # 10.8 W per core (table median) x 2 effective CPUs = 21.6 W; idle 0.25 x 21.6 = 5.4 W
    assert facts["per_core_default_used"] is True
    assert facts["tdp_per_core_w"] == pytest.approx(10.8)
    assert facts["matched_name"] is None and facts["share_ratio"] is None
    assert facts["max_power_w"] == pytest.approx(21.6)
    assert facts["idle_ratio_source"] == "user"
    sensor.read(0.0)
    proc.set_jiffies(user=50, idle=50)
    [r] = sensor.read(10.0)
    # P = 5.4 + (21.6 - 5.4) x 0.5 = 13.5 W; E = 135 J
    assert r.energy_j == pytest.approx(135.0)
    assert host_share_ratio(host) is None


def test_per_core_default_counts_cores_not_threads(proc: ProcTree, host: Host) -> None:
    # an unknown CPU with SMT: 4 cores x 2 threads = 8 logical CPUs, bare metal
    proc.cpuinfo(model_name="Unknown CPU 9000", cores_per_socket=4, threads_per_core=2)
    proc.set_jiffies()
    sensor = CpuTdpSensor.open(host)
    facts = sensor.assumptions()
    # 10.8 W per core x 8 CPUs / 2 threads per core = 43.2 W (it was 86.4 W: per core x threads)
    assert (facts["effective_cpus"], facts["threads_per_core"]) == (8, 2.0)
    assert facts["max_power_w"] == pytest.approx(43.2)
    assert sensor.describe().endswith("10.8 W per core x 8 CPUs / 2 threads per core = max 43.2 W")


def test_known_cpu_without_core_count_in_vm_uses_per_core_default(
    proc: ProcTree, host: Host
) -> None:
    proc.cpuinfo(model_name="Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", hypervisor=True)
    proc.set_jiffies()
    facts = CpuTdpSensor.open(host).assumptions()
    # table row found (210 W) but no n_cores: package size unknown -> 10.8 x 2 = 21.6 W
    assert facts["matched_name"] == "Intel Xeon Platinum 8259CL"
    assert facts["per_core_default_used"] is True
    assert facts["max_power_w"] == pytest.approx(21.6)


def test_cgroup_v2_quota_gives_fractional_cpus(
    proc: ProcTree, cgroups: CgroupTree, host: Host
) -> None:
    proc.cpuinfo(model_name=GENERIC, cores_per_socket=4, hypervisor=True)
    proc.set_jiffies()
    cgroups.cpu_max("150000 100000")
    facts = CpuTdpSensor.open(host).assumptions()
    # 150000 / 100000 = 1.5 CPUs < 4 vCPUs; P_max = 10.8 x 1.5 = 16.2 W
    assert facts["effective_cpus"] == pytest.approx(1.5)
    assert "cgroup" in facts["effective_cpus_source"]
    assert facts["max_power_w"] == pytest.approx(16.2)


def test_unlimited_cgroup_and_allowed_list(proc: ProcTree, cgroups: CgroupTree, host: Host) -> None:
    epyc_vm(proc)
    cgroups.cpu_max("max 100000")
    proc.self_status(cpus_allowed_list="0-1,3")
    facts = CpuTdpSensor.open(host).assumptions()
    # 3 allowed of 8; share 3 / 128; P_max = 280 x 3 / 128 = 6.5625 W
    assert facts["effective_cpus"] == 3
    assert facts["effective_cpus_source"] == "Cpus_allowed_list"
    assert facts["max_power_w"] == pytest.approx(6.5625)


def test_cgroup_v1_cfs_quota(proc: ProcTree, cgroups: CgroupTree, host: Host) -> None:
    proc.cpuinfo(model_name=GENERIC, cores_per_socket=4, hypervisor=True)
    proc.set_jiffies()
    cgroups.cfs_quota(50_000, 100_000)
    facts = CpuTdpSensor.open(host).assumptions()
    # 50000 / 100000 = 0.5 CPU; 10.8 x 0.5 = 5.4 W
    assert facts["effective_cpus"] == pytest.approx(0.5)
    assert facts["max_power_w"] == pytest.approx(5.4)


def test_cgroup_v1_unlimited_quota(proc: ProcTree, cgroups: CgroupTree, host: Host) -> None:
    proc.cpuinfo(model_name=GENERIC, cores_per_socket=4, hypervisor=True)
    proc.set_jiffies()
    cgroups.cfs_quota(-1)
    assert CpuTdpSensor.open(host).assumptions()["effective_cpus"] == 4


def test_quota_on_parent_cgroup_applies(proc: ProcTree, cgroups: CgroupTree, host: Host) -> None:
    proc.cpuinfo(model_name=GENERIC, cores_per_socket=4, hypervisor=True)
    proc.set_jiffies()
    proc.self_cgroup("0::/kubepods/pod1/ctr")
    cgroups.cpu_max("max 100000", path="/kubepods/pod1/ctr")
    cgroups.cpu_max("50000 100000", path="/kubepods/pod1")
    # the pod's 0.5 CPU limit bounds the container: 10.8 x 0.5 = 5.4 W
    assert CpuTdpSensor.open(host).assumptions()["max_power_w"] == pytest.approx(5.4)


def test_bare_metal_two_sockets_with_container_quota(
    proc: ProcTree, cgroups: CgroupTree, host: Host
) -> None:
    proc.cpuinfo(
        model_name="Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz",
        sockets=2,
        cores_per_socket=20,
        threads_per_core=2,
    )
    proc.set_jiffies()
    facts = CpuTdpSensor.open(host).assumptions()
    # all 80 CPUs: package 40 (cpuinfo siblings), 2 packages, share 80 / 80 = 1
    # P_max = 150 W x 2 x 1 = 300 W
    assert facts["package_logical_cpus_source"] == "cpuinfo siblings"
    assert (facts["packages"], facts["share_ratio"]) == (2, 1.0)
    assert facts["max_power_w"] == pytest.approx(300.0)
    cgroups.cpu_max("200000 100000")
    facts = CpuTdpSensor.open(host).assumptions()
    # 2 CPUs: share 2 / 80 = 0.025; P_max = 150 x 2 x 0.025 = 7.5 W
    assert facts["share_ratio"] == pytest.approx(0.025)
    assert facts["max_power_w"] == pytest.approx(7.5)
    assert host_share_ratio(host) == pytest.approx(0.025)


def test_vm_larger_than_one_package(proc: ProcTree, host: Host) -> None:
    epyc_vm(proc, vcpus=192)
    facts = CpuTdpSensor.open(host).assumptions()
    # 192 vCPUs fill ceil(192 / 128) = 2 packages; share 192 / 256 = 0.75
    # P_max = 280 x 2 x 0.75 = 420 W
    assert (facts["packages"], facts["share_ratio"]) == (2, pytest.approx(0.75))
    assert facts["max_power_w"] == pytest.approx(420.0)


def test_host_share_ratio_in_vm(proc: ProcTree, host: Host) -> None:
    epyc_vm(proc)
    assert host_share_ratio(host) == pytest.approx(8 / 128)


def test_tdp_override(proc: ProcTree, host: Host) -> None:
    epyc_vm(proc)
    facts = CpuTdpSensor.open(host, tdp_w=320).assumptions()
    # 320 W x 0.0625 = 20 W
    assert facts["max_power_w"] == pytest.approx(20.0)
    assert facts["tdp_source"] == "user"


def test_tdp_override_with_unknown_package(proc: ProcTree, cgroups: CgroupTree, host: Host) -> None:
    proc.cpuinfo(model_name=GENERIC, cores_per_socket=4, hypervisor=True)
    proc.set_jiffies()
    cgroups.cpu_max("200000 100000")
    facts = CpuTdpSensor.open(host, tdp_w=100.0).assumptions()
    # tdp_w covers the 4 visible CPUs; 2 effective: 100 x 2 / 4 = 50 W
    assert facts["max_power_w"] == pytest.approx(50.0)
    assert facts["per_core_default_used"] is False


def test_fixed_power_is_constant_and_needs_no_procfs(tmp_path: Path) -> None:
    sensor = CpuTdpSensor.open(Host(sysfs=tmp_path, procfs=tmp_path, env={}), power_w=42)
    [channel] = sensor.channels()
    assert channel.method is Method.CONSTANT
    sensor.read(1.0)
    [r] = sensor.read(11.0)
    # 42 W x 10 s = 420 J
    assert r.power_w == pytest.approx(42.0)
    assert r.energy_j == pytest.approx(420.0)
    assert sensor.assumptions() == {"power_w": 42.0, "power_source": "user"}


def test_default_idle_ratio_is_ccf_aws_min_over_max() -> None:
    assert pytest.approx(0.74 / 3.5) == DEFAULT_IDLE_RATIO
    assert 0.21 < DEFAULT_IDLE_RATIO < 0.22


@pytest.mark.parametrize(
    "options",
    [{"idle_ratio": 1.5}, {"tdp_w": 0}, {"power_w": -1.0}, {"tdp_w": "280"}, {"tdp": 280}],
)
def test_bad_options_raise_config_error(
    proc: ProcTree, host: Host, options: dict[str, object]
) -> None:
    epyc_vm(proc)
    with pytest.raises(ConfigError):
        CpuTdpSensor.open(host, **options)


def test_probe_and_open_without_proc_stat(tmp_path: Path) -> None:
    host = Host(sysfs=tmp_path, procfs=tmp_path, env={})
    probe = CpuTdpSensor.probe(host)
    assert not probe.available and "/proc/stat" in probe.reason
    with pytest.raises(SensorUnavailable):
        CpuTdpSensor.open(host)


def test_probe_states_the_model(proc: ProcTree, host: Host) -> None:
    proc.cpuinfo(model_name=GENERIC, cores_per_socket=2, hypervisor=True)
    proc.set_jiffies()
    probe = CpuTdpSensor.probe(host)
    assert probe.available
    assert "10.8 W per core" in probe.reason and "21.6 W" in probe.reason


def test_read_error_when_stat_disappears(proc: ProcTree, host: Host) -> None:
    epyc_vm(proc)
    sensor = CpuTdpSensor.open(host)
    sensor.read(0.0)
    (proc.procfs / "stat").unlink()
    with pytest.raises(SensorReadError):
        sensor.read(1.0)
