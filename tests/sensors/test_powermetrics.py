"""PowermetricsSensor on recorded-style output; the subprocess runner is injected."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pytest

from carbonlens.errors import ConfigError, SensorReadError, SensorUnavailable
from carbonlens.records import Component, Method
from carbonlens.sensors.base import Host
from carbonlens.sensors.powermetrics import (
    MacPlatform,
    PowermetricsSensor,
    parse_powermetrics,
    run_command,
)

# `sudo powermetrics --samplers cpu_power,gpu_power -i 200 -n 1` on a 14" MacBook Pro
# (M2 Pro, 8P+4E) running macOS 14.4.1 during a Metal training step.
MACOS14_M2PRO_LOAD = """\
Machine model: Mac14,9
OS version: 23E224
Boot arguments: 
Boot time: Tue Apr 16 08:02:11 2024



*** Sampled system activity (Wed Apr 17 14:03:27 2024 +0200) (204.18ms elapsed) ***


**** Processor usage ****

E-Cluster HW active frequency: 1124 MHz
E-Cluster HW active residency:  61.32% (912 MHz:  45% 1284 MHz:  21% 1752 MHz:  14% 2004 MHz: 9.8% 2256 MHz: 4.1% 2424 MHz: 5.9%)
E-Cluster idle residency:  38.68%
CPU 0 frequency: 1301 MHz
CPU 0 active residency:  42.17% (912 MHz:  17% 1284 MHz: 8.9% 1752 MHz: 7.2% 2004 MHz: 4.8% 2256 MHz: 1.9% 2424 MHz: 2.4%)
CPU 0 idle residency:  57.83%
CPU 1 frequency: 1287 MHz
CPU 1 active residency:  35.60% (912 MHz:  15% 1284 MHz: 7.7% 1752 MHz: 6.1% 2004 MHz: 3.9% 2256 MHz: 1.2% 2424 MHz: 1.7%)
CPU 1 idle residency:  64.40%
CPU 2 frequency: 1255 MHz
CPU 2 active residency:  21.04% (912 MHz: 9.6% 1284 MHz: 4.4% 1752 MHz: 3.5% 2004 MHz: 2.1% 2256 MHz: .61% 2424 MHz: .83%)
CPU 2 idle residency:  78.96%
CPU 3 frequency: 1193 MHz
CPU 3 active residency:  14.88% (912 MHz: 7.9% 1284 MHz: 3.0% 1752 MHz: 2.2% 2004 MHz: 1.1% 2256 MHz: .30% 2424 MHz: .38%)
CPU 3 idle residency:  85.12%

P0-Cluster HW active frequency: 3396 MHz
P0-Cluster HW active residency:  99.12% (660 MHz:   0% 924 MHz:   0% 1188 MHz:   0% 1452 MHz:   0% 1704 MHz:   0% 1968 MHz:   0% 2208 MHz:   0% 2400 MHz:   0% 2568 MHz:   0% 2724 MHz:   0% 2868 MHz:   0% 2988 MHz:   0% 3096 MHz:   0% 3204 MHz:   0% 3324 MHz: 3.6% 3408 MHz:  95%)
P0-Cluster idle residency:   0.88%
CPU 4 frequency: 3401 MHz
CPU 4 active residency:  97.55% (3324 MHz: 2.9% 3408 MHz:  95%)
CPU 4 idle residency:   2.45%
CPU 5 frequency: 3399 MHz
CPU 5 active residency:  96.02% (3324 MHz: 3.1% 3408 MHz:  93%)
CPU 5 idle residency:   3.98%
CPU 6 frequency: 3400 MHz
CPU 6 active residency:  95.71% (3324 MHz: 3.3% 3408 MHz:  92%)
CPU 6 idle residency:   4.29%
CPU 7 frequency: 3398 MHz
CPU 7 active residency:  94.93% (3324 MHz: 3.4% 3408 MHz:  92%)
CPU 7 idle residency:   5.07%

P1-Cluster HW active frequency: 3384 MHz
P1-Cluster HW active residency:  98.47% (3324 MHz: 4.1% 3408 MHz:  94%)
P1-Cluster idle residency:   1.53%
CPU 8 frequency: 3391 MHz
CPU 8 active residency:  96.84% (3324 MHz: 3.8% 3408 MHz:  93%)
CPU 8 idle residency:   3.16%
CPU 9 frequency: 3390 MHz
CPU 9 active residency:  95.10% (3324 MHz: 3.9% 3408 MHz:  91%)
CPU 9 idle residency:   4.90%
CPU 10 frequency: 3388 MHz
CPU 10 active residency:  93.62% (3324 MHz: 4.0% 3408 MHz:  90%)
CPU 10 idle residency:   6.38%
CPU 11 frequency: 3386 MHz
CPU 11 active residency:  92.77% (3324 MHz: 4.2% 3408 MHz:  89%)
CPU 11 idle residency:   7.23%

CPU Power: 18342 mW
GPU Power: 11870 mW
ANE Power: 0 mW
Combined Power (CPU + GPU + ANE): 30212 mW

**** GPU usage ****

GPU HW active frequency: 1398 MHz
GPU HW active residency:  97.41% (444 MHz:   0% 612 MHz:   0% 808 MHz:   0% 968 MHz:   0% 1110 MHz:   0% 1236 MHz:   0% 1338 MHz: 3.2% 1398 MHz:  94%)
GPU SW requested state: (P1 :   0% P2 :   0% P3 :   0% P4 :   0% P5 :   0% P6 :   0% P7 :   0% P8 : 100%)
GPU SW state: (SW_P1 :   0% SW_P2 :   0% SW_P3 :   0% SW_P4 :   0% SW_P5 :   0% SW_P6 :   0% SW_P7 :   0% SW_P8 : 100%)
GPU idle residency:   2.59%
GPU Power: 11870 mW
"""  # noqa: E501

# Same command on an idle MacBook Air (M1) running macOS 13.5.2: the Neural Engine busy.
MACOS13_M1_IDLE = """\
Machine model: MacBookAir10,1
OS version: 22G91
Boot arguments: 
Boot time: Mon Oct  2 09:13:05 2023



*** Sampled system activity (Tue Oct  3 10:12:41 2023 +0200) (201.07ms elapsed) ***


**** Processor usage ****

E-Cluster HW active frequency: 972 MHz
E-Cluster HW active residency:  18.04% (600 MHz:   0% 972 MHz: 100% 1332 MHz:   0% 1704 MHz:   0% 2064 MHz:   0%)
E-Cluster idle residency:  81.96%
CPU 0 frequency: 1037 MHz
CPU 0 active residency:  11.52% (600 MHz:   0% 972 MHz:  11% 1332 MHz: .22% 1704 MHz:   0% 2064 MHz: .09%)
CPU 0 idle residency:  88.48%
CPU 1 frequency: 1003 MHz
CPU 1 active residency:   7.90% (600 MHz:   0% 972 MHz: 7.8% 1332 MHz: .10% 1704 MHz:   0% 2064 MHz:   0%)
CPU 1 idle residency:  92.10%
CPU 2 frequency: 972 MHz
CPU 2 active residency:   3.41% (600 MHz:   0% 972 MHz: 3.4% 1332 MHz:   0% 1704 MHz:   0% 2064 MHz:   0%)
CPU 2 idle residency:  96.59%
CPU 3 frequency: 972 MHz
CPU 3 active residency:   2.26% (600 MHz:   0% 972 MHz: 2.3% 1332 MHz:   0% 1704 MHz:   0% 2064 MHz:   0%)
CPU 3 idle residency:  97.74%

P-Cluster HW active frequency: 600 MHz
P-Cluster HW active residency:   0.52% (600 MHz: 100% 828 MHz:   0% 1056 MHz:   0% 1284 MHz:   0% 1500 MHz:   0% 1728 MHz:   0% 1956 MHz:   0% 2184 MHz:   0% 2388 MHz:   0% 2592 MHz:   0% 2772 MHz:   0% 2988 MHz:   0% 3096 MHz:   0% 3144 MHz:   0% 3204 MHz:   0%)
P-Cluster idle residency:  99.48%
CPU 4 frequency: 600 MHz
CPU 4 active residency:   0.40% (600 MHz: .40%)
CPU 4 idle residency:  99.60%
CPU 5 frequency: 600 MHz
CPU 5 active residency:   0.11% (600 MHz: .11%)
CPU 5 idle residency:  99.89%
CPU 6 frequency: 0 MHz
CPU 6 active residency:   0.00% (600 MHz:   0%)
CPU 6 idle residency: 100.00%
CPU 7 frequency: 0 MHz
CPU 7 active residency:   0.00% (600 MHz:   0%)
CPU 7 idle residency: 100.00%

CPU Power: 95 mW
GPU Power: 9 mW
ANE Power: 1387 mW
Combined Power (CPU + GPU + ANE): 1491 mW

**** GPU usage ****

GPU HW active frequency: 389 MHz
GPU HW active residency:   1.94% (389 MHz: 1.9% 486 MHz:   0% 648 MHz:   0% 778 MHz:   0% 972 MHz:   0% 1296 MHz:   0%)
GPU SW requested state: (P1 : 100% P2 :   0% P3 :   0% P4 :   0% P5 :   0% P6 :   0%)
GPU idle residency:  98.06%
GPU Power: 9 mW
"""  # noqa: E501

# Older macOS (12) printed DRAM and "Package Power" lines instead of "Combined Power";
# reconstructed from Apple developer forum thread 709276, not a verbatim capture.
MACOS12_M1PRO_TAIL = """\
*** Sampled system activity (Thu Jul  7 16:20:02 2022 -0700) (200.84ms elapsed) ***

CPU Power: 1538 mW
GPU Power: 47 mW
ANE Power: 0 mW
DRAM Power: 412 mW
Package Power: 1585 mW
"""

# An Intel MacBook Pro prints only a package estimate.
INTEL_MAC = """\
Machine model: MacBookPro16,1
OS version: 22G91

*** Sampled system activity (Tue Oct  3 10:12:41 2023 +0200) (200.31ms elapsed) ***

**** Processor usage ****

Intel energy model derived package power (CPUs+GT+SA): 4.95W

System Average frequency as fraction of nominal: 63.12% (1451.76 Mhz)
"""

APPLE_ROOT = MacPlatform("Darwin", "arm64", "/usr/bin/powermetrics", is_root=True)
APPLE_USER = MacPlatform("Darwin", "arm64", "/usr/bin/powermetrics", is_root=False)


class Recorded:
    """A runner replaying outputs in order (the last repeats) and recording calls."""

    def __init__(self, *outputs: str | Exception) -> None:
        self.outputs = outputs
        self.calls: list[tuple[list[str], float]] = []

    def __call__(self, argv: Sequence[str], timeout_s: float) -> str:
        self.calls.append((list(argv), timeout_s))
        out = self.outputs[min(len(self.calls), len(self.outputs)) - 1]
        if isinstance(out, Exception):
            raise out
        return out


def open_with(
    runner: Recorded, mac: MacPlatform = APPLE_ROOT, **options: Any
) -> PowermetricsSensor:
    return PowermetricsSensor.open(Host(env={}), runner=runner, platform=mac, **options)


# --- parsing ----------------------------------------------------------------------------------


def test_parses_macos14_sample_in_watts() -> None:
    sample = parse_powermetrics(MACOS14_M2PRO_LOAD)
    assert sample.rails_w == {"cpu": 18.342, "gpu": 11.87, "ane": 0.0}
    assert sample.combined_w == 30.212
    assert sample.elapsed_s == pytest.approx(0.20418)
    assert sample.header == {"Machine model": "Mac14,9", "OS version": "23E224"}


def test_parses_macos13_sample() -> None:
    sample = parse_powermetrics(MACOS13_M1_IDLE)
    assert sample.rails_w == {"cpu": 0.095, "gpu": 0.009, "ane": 1.387}
    assert sample.combined_w == pytest.approx(sum(sample.rails_w.values()))


def test_parses_older_dram_and_package_lines() -> None:
    sample = parse_powermetrics(MACOS12_M1PRO_TAIL)
    assert sample.rails_w == {"cpu": 1.538, "gpu": 0.047, "ane": 0.0, "dram": 0.412}
    assert sample.combined_w == 1.585 and sample.header == {}


def test_takes_the_last_of_several_samples() -> None:
    two = MACOS14_M2PRO_LOAD + "\n\n" + MACOS13_M1_IDLE.split("\n\n\n\n", 1)[1]
    assert parse_powermetrics(two).rails_w["ane"] == 1.387


def test_watt_units_are_accepted() -> None:
    assert parse_powermetrics("CPU Power: 2.5 W\nGPU Power: 0.25W\n").rails_w == {
        "cpu": 2.5,
        "gpu": 0.25,
    }


@pytest.mark.parametrize("text", [INTEL_MAC, "powermetrics must be invoked as the superuser\n", ""])
def test_text_without_apple_silicon_rails_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="no CPU/GPU/ANE power line"):
        parse_powermetrics(text)


# --- probe ------------------------------------------------------------------------------------


def test_probe_on_this_linux_machine_says_macos_only() -> None:
    if sys.platform == "darwin":
        pytest.skip("running on macOS")
    probe = PowermetricsSensor.probe(Host(env={}))
    assert not probe.available and "macOS-only" in probe.reason


@pytest.mark.parametrize(
    ("mac", "sudo", "reason", "hint"),
    [
        (
            MacPlatform("Darwin", "x86_64", "/usr/bin/powermetrics", True),
            False,
            "Intel Mac",
            "cpu-tdp",
        ),
        (MacPlatform("Darwin", "arm64", None, True), False, "not found", "/usr/bin/powermetrics"),
        (APPLE_USER, False, "root", "sudoers"),
    ],
)
def test_probe_explains_why_not(mac: MacPlatform, sudo: bool, reason: str, hint: str) -> None:
    probe = PowermetricsSensor.probe(Host(env={}), platform=mac, sudo=sudo)
    assert not probe.available and reason in probe.reason and hint in probe.hint


def test_probe_accepts_root_or_sudo() -> None:
    assert PowermetricsSensor.probe(Host(env={}), platform=APPLE_ROOT).available
    assert PowermetricsSensor.probe(Host(env={}), platform=APPLE_USER, sudo=True).available


# --- sensor -----------------------------------------------------------------------------------


def test_open_learns_rails_and_read_returns_sampled_power() -> None:
    runner = Recorded(MACOS13_M1_IDLE, MACOS14_M2PRO_LOAD)
    sensor = open_with(runner)
    assert [(c.device, c.component, c.method) for c in sensor.channels()] == [
        ("cpu", Component.CPU, Method.SAMPLED),
        ("gpu", Component.GPU, Method.SAMPLED),
        ("ane", Component.OTHER, Method.SAMPLED),
    ]
    readings = sensor.read(t_s=3.0)
    assert [(r.channel.device, r.power_w, r.energy_j, r.t_s) for r in readings] == [
        ("cpu", 18.342, None, 3.0),
        ("gpu", 11.87, None, 3.0),
        ("ane", 0.0, None, 3.0),
    ]
    argv, timeout_s = runner.calls[-1]
    assert argv == [
        "/usr/bin/powermetrics",
        "--samplers",
        "cpu_power,gpu_power",
        "-i",
        "200",
        "-n",
        "1",
    ]
    assert timeout_s == pytest.approx(10.2)
    assert sensor.assumptions()["machine_model"] == "MacBookAir10,1"


def test_dram_rail_becomes_a_ram_channel() -> None:
    sensor = open_with(Recorded(MACOS12_M1PRO_TAIL))
    assert ("dram", Component.RAM) in [(c.device, c.component) for c in sensor.channels()]
    assert sensor.read(1.0)[-1].power_w == 0.412


def test_sudo_and_window_options_shape_the_command() -> None:
    runner = Recorded(MACOS14_M2PRO_LOAD)
    open_with(runner, APPLE_USER, sudo=True, sample_ms=500)
    argv, timeout_s = runner.calls[0]
    assert (
        argv[:3] == ["sudo", "-n", "/usr/bin/powermetrics"] and argv[argv.index("-i") + 1] == "500"
    )
    assert timeout_s == pytest.approx(10.5)


def test_open_without_root_is_unavailable_and_runs_nothing() -> None:
    runner = Recorded(MACOS14_M2PRO_LOAD)
    with pytest.raises(SensorUnavailable, match="root"):
        open_with(runner, APPLE_USER)
    assert runner.calls == []


def test_open_failure_is_unavailable() -> None:
    err = subprocess.CalledProcessError(1, ["sudo"], "", "sudo: a password is required\n")
    with pytest.raises(SensorUnavailable, match="a password is required"):
        open_with(Recorded(err), APPLE_USER, sudo=True)


def test_read_failure_and_missing_rail_are_read_errors() -> None:
    timeout = subprocess.TimeoutExpired(["powermetrics"], 10.2)
    sensor = open_with(Recorded(MACOS14_M2PRO_LOAD, timeout, "CPU Power: 100 mW\n"))
    with pytest.raises(SensorReadError) as info:
        sensor.read(1.0)
    assert (info.value.sensor, info.value.device) == ("powermetrics", "all")
    missing = [item for item in sensor.read(2.0) if isinstance(item, SensorReadError)]
    assert [(e.device, e.detail) for e in missing] == [
        ("gpu", "rail missing from output"),
        ("ane", "rail missing from output"),
    ]


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="interval"):
        open_with(Recorded(MACOS14_M2PRO_LOAD), interval=1)
    with pytest.raises(ConfigError, match="sample_ms=0"):
        open_with(Recorded(MACOS14_M2PRO_LOAD), sample_ms=0)


def test_default_runner_returns_stdout_and_raises_on_failure() -> None:
    code = "print('CPU Power: 5 mW')"
    assert parse_powermetrics(run_command([sys.executable, "-c", code], 30.0)).rails_w == {
        "cpu": 0.005
    }
    with pytest.raises(subprocess.CalledProcessError):
        run_command([sys.executable, "-c", "raise SystemExit(3)"], 30.0)
