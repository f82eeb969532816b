"""The cheap checks run before a back-end's module is imported agree with the
back-ends' own probes, and discovery on a machine without them imports none."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from carbonlens.sensors import discover
from carbonlens.sensors._precheck import PRECHECKS, nvidia_driver_present
from carbonlens.sensors.amdsmi import AmdSmiSensor
from carbonlens.sensors.base import Host
from carbonlens.sensors.nvml import NvmlSensor
from carbonlens.sensors.powermetrics import PowermetricsSensor
from carbonlens.sensors.rapl import RaplSensor
from carbonlens.testing.powercap import PowercapTree


def test_rapl_precheck_gives_the_probe_of_the_sensor(tmp_path: Path) -> None:
    host = Host(sysfs=tmp_path / "sys", procfs=tmp_path / "proc", env={})
    ruled_out = PRECHECKS["rapl"](host, {})
    assert ruled_out == RaplSensor.probe(host)
    assert ruled_out is not None and "cannot list" in ruled_out.reason
    (tmp_path / "sys" / "class" / "powercap" / "dtpm").mkdir(parents=True)
    no_zones = PRECHECKS["rapl"](host, {})
    assert no_zones == RaplSensor.probe(host)
    assert no_zones is not None and "no powercap/RAPL zones" in no_zones.reason


def test_rapl_precheck_lets_a_powercap_tree_through(tmp_path: Path) -> None:
    tree = PowercapTree(tmp_path / "sys")
    tree.zone("0", "package-0", energy_uj=1_000_000)
    assert PRECHECKS["rapl"](Host(sysfs=tmp_path / "sys", env={}), {}) is None


@pytest.mark.skipif(sys.platform == "darwin", reason="the check rules out other systems")
def test_powermetrics_precheck_gives_the_probe_of_the_sensor() -> None:
    host = Host(env={})
    ruled_out = PRECHECKS["powermetrics"](host, {})
    assert ruled_out == PowermetricsSensor.probe(host)
    assert ruled_out is not None and "not macOS" in ruled_out.reason


@pytest.mark.skipif(
    sys.platform != "linux" or nvidia_driver_present(Host(env={})),
    reason="needs Linux without an NVIDIA driver",
)
def test_nvml_precheck_gives_the_probe_of_the_sensor(tmp_path: Path) -> None:
    host = Host(procfs=tmp_path, env={})
    ruled_out = PRECHECKS["nvml"](host, {})
    assert ruled_out == NvmlSensor.probe(host)
    assert PRECHECKS["nvml"](host, {"lib": object()}) is None  # a fake library: no check


@pytest.mark.skipif(importlib.util.find_spec("amdsmi") is not None, reason="amdsmi installed")
def test_amdsmi_precheck_gives_the_probe_of_the_sensor() -> None:
    host = Host(env={})
    ruled_out = PRECHECKS["amdsmi"](host, {})
    assert ruled_out == AmdSmiSensor.probe(host)
    assert PRECHECKS["amdsmi"](host, {"lib": object()}) is None


def test_ruled_out_back_ends_are_kept_as_probes(tmp_path: Path) -> None:
    found = discover(Host(sysfs=tmp_path, env={}))
    by_name = {p.sensor: p for p in found.probes}
    assert by_name["rapl"] == RaplSensor.probe(Host(sysfs=tmp_path, env={}))
    assert {s.name for s in found.sensors} >= {"cpu-tdp", "ram-model"}


@pytest.mark.skipif(
    sys.platform != "linux"
    or nvidia_driver_present(Host(env={}))
    or importlib.util.find_spec("amdsmi") is not None,
    reason="needs Linux without an NVIDIA driver or amdsmi",
)
def test_discovery_imports_no_back_end_that_cannot_apply(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from carbonlens.sensors import discover\n"
        "from carbonlens.sensors.base import Host\n"
        f"discover(Host(sysfs=Path({str(tmp_path)!r})))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('carbonlens.sensors.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    imported = set(json.loads(out.stdout))
    assert imported.isdisjoint(
        {
            "carbonlens.sensors.rapl",
            "carbonlens.sensors.nvml",
            "carbonlens.sensors.amdsmi",
            "carbonlens.sensors.powermetrics",
        }
    )
    assert "carbonlens.sensors.cpu_tdp" in imported
