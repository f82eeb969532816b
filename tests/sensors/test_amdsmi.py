"""AmdSmiSensor against FakeAmdSmi, AmdSmiPyLib against a stand-in amdsmi module."""

from __future__ import annotations

import subprocess
import sys
import types
from typing import Any

import pytest

from carbonlens.errors import ConfigError, SensorReadError, SensorUnavailable
from carbonlens.records import Method
from carbonlens.sensors.amdsmi import (
    AmdSmiError,
    AmdSmiPyLib,
    AmdSmiSensor,
    EnergyCount,
    visible_amd_indices,
)
from carbonlens.sensors.base import Host
from carbonlens.testing.amdsmi import FakeAmdGpu, FakeAmdSmi

ONE_J = 65_536  # accumulator counts per joule at the 15.2587890625 µJ resolution


def four_gpus() -> FakeAmdSmi:
    return FakeAmdSmi([FakeAmdGpu() for _ in range(4)])


def test_energy_accumulator_gives_joules_since_open() -> None:
    gpu = FakeAmdGpu(energy_counts=[1_000, 1_000 + 3 * ONE_J, 1_000 + 3 * ONE_J + ONE_J // 4])
    sensor = AmdSmiSensor.open(Host(env={}), lib=FakeAmdSmi([gpu]))
    [r] = sensor.read(1.0)
    assert (r.channel.device, r.channel.method, r.energy_j) == ("gpu0", Method.MEASURED, 3.0)
    assert r.power_w is None
    assert sensor.read(2.0)[0].energy_j == pytest.approx(3.25)


def test_resolution_is_per_gpu() -> None:
    gpu = FakeAmdGpu(energy_counts=[0, 2_000], resolution_uj=1_000.0)  # 1 mJ per count
    assert AmdSmiSensor.open(Host(env={}), lib=FakeAmdSmi([gpu])).read(1.0)[0].energy_j == 2.0


def test_gpu_without_accumulator_samples_socket_power() -> None:
    gpu = FakeAmdGpu("AMD Radeon Pro V620", energy_counts=None, power_w=[210.0, 187.0])
    sensor = AmdSmiSensor.open(Host(env={}), lib=FakeAmdSmi([gpu]))
    [r] = sensor.read(0.0)
    assert (r.channel.method, r.energy_j, r.power_w) == (Method.SAMPLED, None, 187.0)
    assert sensor.assumptions()["devices"]["gpu0"]["model"] == "AMD Radeon Pro V620"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, [0, 1, 2, 3]),
        ({"HIP_VISIBLE_DEVICES": "3,1"}, [3, 1]),
        ({"ROCR_VISIBLE_DEVICES": "1,2", "HIP_VISIBLE_DEVICES": "1"}, [2]),  # HIP indexes ROCR's
        ({"ROCR_VISIBLE_DEVICES": "2,3"}, [2, 3]),
        ({"CUDA_VISIBLE_DEVICES": "2"}, [2]),  # HIP honours it when HIP_VISIBLE_DEVICES is unset
        ({"CUDA_VISIBLE_DEVICES": "2", "HIP_VISIBLE_DEVICES": "0"}, [0]),
        ({"HIP_VISIBLE_DEVICES": "0,9,1"}, [0]),  # invalid entry ends the list
        ({"HIP_VISIBLE_DEVICES": "-1"}, []),
        ({"ROCR_VISIBLE_DEVICES": "GPU-4a1b2c3d4e5f6071"}, []),  # UUIDs are not understood
    ],
)
def test_visible_devices(env: dict[str, str], expected: list[int]) -> None:
    assert visible_amd_indices(env, 4)[0] == expected


def test_uuid_entry_is_explained_when_nothing_is_visible() -> None:
    host = Host(env={"ROCR_VISIBLE_DEVICES": "GPU-4a1b2c3d4e5f6071"})
    probe = AmdSmiSensor.probe(host, lib=four_gpus())
    assert not probe.available and "GPU-4a1b2c3d4e5f6071" in probe.reason


def test_channels_follow_visibility_by_amdsmi_index() -> None:
    host = Host(env={"HIP_VISIBLE_DEVICES": "3,1"})
    assert [c.device for c in AmdSmiSensor.open(host, lib=four_gpus()).channels()] == [
        "gpu3",
        "gpu1",
    ]


def test_driver_not_loaded_is_unavailable_with_hint() -> None:
    with pytest.raises(SensorUnavailable) as info:
        AmdSmiSensor.open(Host(env={}), lib=FakeAmdSmi([], raise_on_init=34))
    assert "amdgpu" in info.value.hint and "status 34" in info.value.reason
    assert isinstance(info.value.__cause__, AmdSmiError) and info.value.__cause__.code == 34


def test_no_gpu_is_unavailable_and_shuts_down() -> None:
    fake = FakeAmdSmi([])
    probe = AmdSmiSensor.probe(Host(env={}), lib=fake)
    assert not probe.available and "no visible AMD GPU (0 found" in probe.reason
    assert fake.shutdown_calls == 1


def test_error_while_opening_a_gpu_is_unavailable_and_shuts_down() -> None:
    fake = FakeAmdSmi([FakeAmdGpu(energy_counts=[AmdSmiError(10, "permission denied")])])
    with pytest.raises(SensorUnavailable, match="status 10"):
        AmdSmiSensor.open(Host(env={}), lib=fake)
    assert fake.shutdown_calls == 1


def test_a_gpu_that_cannot_be_read_at_open_is_left_out_and_said() -> None:
    broken = FakeAmdGpu(energy_counts=[AmdSmiError(10, "permission denied")])
    sensor = AmdSmiSensor.open(Host(env={}), lib=FakeAmdSmi([broken, FakeAmdGpu()]))
    assert [c.device for c in sensor.channels()] == ["gpu1"]
    note = "left out, their energy is not measured: gpu0 (permission denied, amdsmi status 10)"
    assert note in sensor.assumptions()["notes"]
    assert sensor.describe() == f"1 GPU(s): gpu1 AMD Instinct MI300X; {note}"


def test_read_failure_carries_vendor_code() -> None:
    gpu = FakeAmdGpu(energy_counts=[0, AmdSmiError(9, "amdsmi_get_energy_count: retry")])
    sensor = AmdSmiSensor.open(Host(env={}), lib=FakeAmdSmi([gpu]))
    [error] = sensor.read(1.0)
    assert isinstance(error, SensorReadError)
    assert (error.vendor_code, error.device) == (9, "gpu0")


def test_accumulator_going_backwards_is_a_gap_then_counting_resumes() -> None:
    gpu = FakeAmdGpu(energy_counts=[10 * ONE_J, 12 * ONE_J, ONE_J, 3 * ONE_J])
    sensor = AmdSmiSensor.open(Host(env={}), lib=FakeAmdSmi([gpu]))
    assert sensor.read(1.0)[0].energy_j == 2.0
    [error] = sensor.read(2.0)
    assert isinstance(error, SensorReadError) and "backwards" in error.detail
    assert sensor.read(3.0)[0].energy_j == 4.0


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="index"):
        AmdSmiSensor.open(Host(env={}), lib=four_gpus(), index=[0])
    with pytest.raises(SensorUnavailable, match=r"\[7\]"):
        AmdSmiSensor.open(Host(env={}), lib=four_gpus(), devices=[7])
    sensor = AmdSmiSensor.open(Host(env={"HIP_VISIBLE_DEVICES": "0"}), lib=four_gpus(), devices=[2])
    assert [c.device for c in sensor.channels()] == ["gpu2"]


def test_close_shuts_down_once() -> None:
    fake = four_gpus()
    sensor = AmdSmiSensor.open(Host(env={}), lib=fake)
    sensor.close()
    sensor.close()
    assert fake.shutdown_calls == 1


# --- AmdSmiPyLib ------------------------------------------------------------------------------


def test_module_import_does_not_import_amdsmi() -> None:
    code = "import sys, carbonlens.sensors.amdsmi; print('amdsmi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_amdsmi_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    probe = AmdSmiSensor.probe(Host(env={}))
    assert (probe.available, probe.reason) == (False, "amdsmi not installed")
    assert "pip install" in probe.hint and "ROCm" in probe.hint


class _VendorError(Exception):
    def __init__(self, err_code: int) -> None:
        super().__init__(f"error {err_code}")
        self.err_code = err_code


def fake_amdsmi(**functions: Any) -> types.ModuleType:
    module = types.ModuleType("amdsmi")
    attrs: dict[str, Any] = {
        "AmdSmiException": _VendorError,
        "AmdSmiInitFlags": types.SimpleNamespace(INIT_AMD_GPUS=2),
        "amdsmi_init": lambda flags: None,
        "amdsmi_get_processor_handles": lambda: ["h0", "h1"],
        **functions,
    }
    for name, value in attrs.items():
        setattr(module, name, value)
    return module


def test_pyamdsmi_lib_reads_old_and_new_dict_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    energy = {
        "h0": {"energy_accumulator": 123, "counter_resolution": 15.3, "timestamp": 1},
        "h1": {"power": 456, "counter_resolution": 15.3, "timestamp": 1},  # before ROCm 6.4
    }
    power = {
        "h0": {"socket_power": "N/A", "current_socket_power": 612, "average_socket_power": "N/A"},
        "h1": {"average_socket_power": 88, "gfx_voltage": 800},
    }
    module = fake_amdsmi(
        amdsmi_get_energy_count=energy.__getitem__,
        amdsmi_get_power_info=power.__getitem__,
        amdsmi_get_gpu_asic_info=lambda h: {"market_name": "AMD Instinct MI300X"},
    )
    monkeypatch.setitem(sys.modules, "amdsmi", module)
    lib = AmdSmiPyLib()
    lib.init()
    assert lib.device_count() == 2 and lib.device_name(1) == "AMD Instinct MI300X"
    assert [lib.energy_count(0), lib.energy_count(1)] == [
        EnergyCount(123, 15.3),
        EnergyCount(456, 15.3),
    ]
    assert (lib.power_w(0), lib.power_w(1)) == (612.0, 88.0)


def test_pyamdsmi_lib_translates_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_perm(flags: int) -> None:
        raise _VendorError(10)

    monkeypatch.setitem(sys.modules, "amdsmi", fake_amdsmi(amdsmi_init=no_perm))
    with pytest.raises(SensorUnavailable) as info:
        AmdSmiSensor.open(Host(env={}))
    assert "render" in info.value.hint and "status 10" in info.value.reason


def test_pyamdsmi_lib_without_any_power_reading_is_not_supported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = fake_amdsmi(amdsmi_get_power_info=lambda h: {"socket_power": "N/A"})
    monkeypatch.setitem(sys.modules, "amdsmi", module)
    lib = AmdSmiPyLib()
    lib.init()
    with pytest.raises(AmdSmiError) as info:
        lib.power_w(0)
    assert info.value.code == 2
