"""The CPU and RAM models without procfs (macOS, Windows): the same model, fed by psutil.

psutil is replaced by a fake with known figures, and the platform by "darwin",
so the expectations below are computed by hand from the model's formula.
"""

from __future__ import annotations

import sys
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from carbonlens.estimate.cpu_specs import default_tdp_per_core_w
from carbonlens.records import Method
from carbonlens.sensors import _portable
from carbonlens.sensors.base import Host
from carbonlens.sensors.cpu_tdp import DEFAULT_IDLE_RATIO, CpuTdpSensor
from carbonlens.sensors.ram import DEFAULT_W_PER_GB, RamModelSensor

MacTimes = namedtuple("MacTimes", "user nice system idle")  # psutil's fields on macOS


class FakePsutil:
    """CPU times the test advances; 10 logical CPUs, 8 cores, 16 GiB."""

    def __init__(self) -> None:
        self.busy_s = 100.0
        self.idle_s = 900.0

    def cpu_times(self) -> MacTimes:
        return MacTimes(
            user=self.busy_s * 0.75, nice=0.0, system=self.busy_s * 0.25, idle=self.idle_s
        )

    def cpu_count(self, logical: bool = True) -> int:
        return 10 if logical else 8

    def virtual_memory(self) -> SimpleNamespace:
        return SimpleNamespace(total=16 * 2**30)


@pytest.fixture
def mac(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Host, FakePsutil]:
    fake = FakePsutil()
    monkeypatch.setattr(sys, "platform", "darwin")
    for name in ("cpu_times", "cpu_count", "virtual_memory"):
        monkeypatch.setattr(psutil, name, getattr(fake, name))
    monkeypatch.setattr(_portable, "_model_name", lambda: "Apple M2 Pro")
    return Host(sysfs=tmp_path / "sys", procfs=tmp_path / "no-proc", env={}), fake


def test_linux_with_procfs_reads_procfs() -> None:
    assert not _portable.uses_psutil(Host(env={})) or sys.platform != "linux"


def test_cpu_model_from_psutil(mac: tuple[Host, FakePsutil]) -> None:
    host, fake = mac
    sensor = CpuTdpSensor.open(host)
    facts = sensor.assumptions()
    # No table row for Apple M2 Pro: the stated per-core default x the 8 cores that
    # the 10 logical CPUs make (psutil: 10 logical, 8 physical; 1.25 threads a core).
    max_w = default_tdp_per_core_w() * 8
    assert facts["cpu_model_name"] == "Apple M2 Pro"
    assert facts["per_core_default_used"] is True
    assert facts["max_power_w"] == pytest.approx(max_w)
    assert facts["utilisation_source"] == "psutil.cpu_times() (machine-wide)"
    assert facts["effective_cpus_source"] == "logical CPUs (psutil)"
    assert sensor.read(0.0)[0].energy_j == 0.0
    fake.busy_s += 3.0  # 3 s busy out of 10 s of CPU time: utilisation 0.3
    fake.idle_s += 7.0
    [reading] = sensor.read(2.0)
    idle_w = DEFAULT_IDLE_RATIO * max_w
    power_w = idle_w + (max_w - idle_w) * 0.3
    assert reading.channel.method is Method.MODELLED
    assert reading.power_w == pytest.approx(power_w)
    assert reading.energy_j == pytest.approx(2.0 * power_w)


def test_ram_model_from_psutil(mac: tuple[Host, FakePsutil]) -> None:
    host, _ = mac
    facts = RamModelSensor.open(host).assumptions()
    assert facts["memory_bytes"] == 16 * 2**30
    assert facts["memory_source"] == "installed memory (psutil.virtual_memory)"
    assert facts["power_w"] == pytest.approx(DEFAULT_W_PER_GB * 16)  # 0.3725 W/GB x 16 GB


def test_cpu_times_leave_out_idle_and_iowait(monkeypatch: pytest.MonkeyPatch) -> None:
    LinuxTimes = namedtuple("LinuxTimes", "user nice system idle iowait irq softirq steal guest")
    times = LinuxTimes(10.0, 1.0, 4.0, 80.0, 3.0, 0.5, 0.5, 1.0, 2.0)
    monkeypatch.setattr(psutil, "cpu_times", lambda: times)
    # total = 100 s (guest is inside user); busy = 100 - 80 - 3 = 17 s
    assert _portable.cpu_times_us() == (17_000_000, 100_000_000)
