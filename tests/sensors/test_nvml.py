"""NvmlSensor against FakeNvml, PynvmlLib against a stand-in pynvml module."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from carbonlens.errors import ConfigError, SensorReadError, SensorUnavailable
from carbonlens.records import Component, Method, Reading
from carbonlens.sensors.base import Host
from carbonlens.sensors.nvml import (
    INSTALL_HINT,
    NvmlError,
    NvmlSensor,
    PynvmlLib,
    parse_visible_devices,
)
from carbonlens.testing.nvml import FakeGpu, FakeNvml, ProcessSample

H100 = "NVIDIA H100 80GB HBM3"
UUID_A = "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"
UUID_B = "GPU-89a1c2d3-0000-4000-8000-000000000001"
UUID_C = "GPU-11111111-2222-3333-4444-555555555555"
MIG_A1 = "MIG-3f1a2b4c-5d6e-5f70-8192-a3b4c5d6e7f8"


def three_gpus() -> FakeNvml:
    return FakeNvml(
        [
            FakeGpu(H100, uuid=UUID_A, mig_uuids=(MIG_A1,)),
            FakeGpu(H100, uuid=UUID_B),
            FakeGpu(H100, uuid=UUID_C),
        ]
    )


def devices_for(env: dict[str, str]) -> list[str]:
    sensor = NvmlSensor.open(Host(env=env), lib=three_gpus())
    return [c.device for c in sensor.channels()]


# --- energy ---------------------------------------------------------------------------------


def test_uses_energy_counter_and_respects_cuda_visible_devices() -> None:
    fake = FakeNvml(
        [FakeGpu(H100, energy_mj=[1_000, 1_000, 4_000]), FakeGpu(H100, energy_mj=[0, 0, 0])]
    )
    sensor = NvmlSensor.open(Host(env={"CUDA_VISIBLE_DEVICES": "0"}), lib=fake)
    sensor.read(t_s=0.0)
    [r] = sensor.read(t_s=1.0)
    assert r.channel.device == "gpu0" and r.energy_j == pytest.approx(3.0)
    assert r.channel.method is Method.MEASURED and r.channel.component is Component.GPU
    assert r.power_w is None and r.t_s == 1.0


def test_energy_is_cumulative_joules_since_open_from_millijoule_deltas() -> None:
    # baseline 5_000_123 mJ at open; +250 mJ, then +1_999_750 mJ
    gpu = FakeGpu(H100, energy_mj=[5_000_123, 5_000_373, 7_000_123])
    sensor = NvmlSensor.open(Host(env={}), lib=FakeNvml([gpu]))
    assert [r.energy_j for r in sensor.read(0.5)] == [pytest.approx(0.25)]
    assert [r.energy_j for r in sensor.read(1.5)] == [pytest.approx(2000.0)]


def test_pre_volta_falls_back_to_power_sampling() -> None:
    fake = FakeNvml([FakeGpu("Tesla P100-PCIE-16GB", energy_mj=None, power_mw=[250_000, 61_500])])
    sensor = NvmlSensor.open(Host(env={}), lib=fake)
    [c] = sensor.channels()
    assert c.method is Method.SAMPLED
    [r] = sensor.read(t_s=0.0)
    assert r.energy_j is None and r.power_w == 61.5  # open consumed the 250 W probe
    assert sensor.assumptions()["devices"]["gpu0"]["model"] == "Tesla P100-PCIE-16GB"


def test_mixed_gpus_get_one_method_each() -> None:
    fake = FakeNvml(
        [
            FakeGpu("Tesla V100-SXM2-16GB", energy_mj=[10, 30]),
            FakeGpu("Tesla K80", energy_mj=None, power_mw=[149_000]),
        ]
    )
    readings = NvmlSensor.open(Host(env={}), lib=fake).read(2.0)
    assert [(r.channel.method, r.energy_j, r.power_w) for r in readings] == [
        (Method.MEASURED, pytest.approx(0.02), None),
        (Method.SAMPLED, None, 149.0),
    ]


def test_gpu_without_counter_or_power_is_unavailable() -> None:
    fake = FakeNvml([FakeGpu("GRID T4-1Q", energy_mj=None, power_mw=None)])
    with pytest.raises(SensorUnavailable, match="opening gpu0 failed: .*NVML code 3"):
        NvmlSensor.open(Host(env={}), lib=fake)
    assert fake.shutdown_calls == 1


def test_a_gpu_that_cannot_be_read_at_open_is_left_out_and_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = FakeGpu("NVIDIA H100 80GB HBM3", energy_mj=[NvmlError(15, "GPU is lost")])
    sensor = NvmlSensor.open(Host(env={}), lib=FakeNvml([FakeGpu(), broken, FakeGpu()]))
    assert [c.device for c in sensor.channels()] == ["gpu0", "gpu2"]
    note = "left out, their energy is not measured: gpu1 (GPU is lost, NVML code 15)"
    assert note in sensor.assumptions()["notes"]
    assert sensor.describe().endswith(f"; {note}")
    assert [r.getMessage() for r in caplog.records] == [f"carbonlens: nvml: {note}"]


# --- CUDA_VISIBLE_DEVICES ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2,0", ["gpu2", "gpu0"]),  # CUDA order kept, physical names
        (" 1 ", ["gpu1"]),
        ("0,0,1", ["gpu0", "gpu1"]),
        (UUID_B, ["gpu1"]),
        ("GPU-1111", ["gpu2"]),  # unique prefix
        (f"{UUID_C},0", ["gpu2", "gpu0"]),
        (MIG_A1, ["gpu0"]),  # MIG instance -> parent GPU
        (f"MIG-{UUID_B}/1/0", ["gpu1"]),  # legacy MIG-GPU-<uuid>/<gi>/<ci>
        ("1,7,0", ["gpu1"]),  # 7 does not exist: CUDA ignores it and what follows
        ("0,-1,2", ["gpu0"]),
        ("GPU-89,2", []),  # ambiguous prefix (UUID_A and UUID_B) names no GPU
    ],
)
def test_cuda_visible_devices_forms(value: str, expected: list[str]) -> None:
    if expected:
        assert devices_for({"CUDA_VISIBLE_DEVICES": value}) == expected
    else:
        with pytest.raises(SensorUnavailable, match="no visible NVIDIA GPU"):
            devices_for({"CUDA_VISIBLE_DEVICES": value})


def test_unset_means_every_gpu() -> None:
    assert devices_for({}) == ["gpu0", "gpu1", "gpu2"]


@pytest.mark.parametrize("value", ["", "-1", "NoDevFiles"])
def test_hidden_gpus_make_sensor_unavailable_and_probe_says_why(value: str) -> None:
    fake = three_gpus()
    probe = NvmlSensor.probe(Host(env={"CUDA_VISIBLE_DEVICES": value}), lib=fake)
    assert not probe.available
    assert "no visible NVIDIA GPU" in probe.reason and "3 found" in probe.reason
    assert fake.shutdown_calls == fake.init_calls == 1


def test_mig_instance_states_whole_gpu_energy_in_assumptions() -> None:
    sensor = NvmlSensor.open(Host(env={"CUDA_VISIBLE_DEVICES": MIG_A1}), lib=three_gpus())
    notes = " ".join(sensor.assumptions()["notes"])
    assert MIG_A1 in notes and "whole parent GPU" in notes


def test_bad_entry_is_noted() -> None:
    indices, notes = parse_visible_devices("1,7,0", ["GPU-a", "GPU-b"], lambda u: 0)
    assert indices == [1]
    assert len(notes) == 1 and "'7'" in notes[0]


def test_unknown_mig_uuid_names_no_gpu() -> None:
    def not_found(uuid: str) -> int:
        raise NvmlError(6, "Not Found")

    assert parse_visible_devices("MIG-deadbeef,0", ["GPU-a"], not_found)[0] == []


def test_devices_option_overrides_environment() -> None:
    sensor = NvmlSensor.open(
        Host(env={"CUDA_VISIBLE_DEVICES": "0"}), lib=three_gpus(), devices=[2, 1]
    )
    assert [c.device for c in sensor.channels()] == ["gpu2", "gpu1"]
    with pytest.raises(SensorUnavailable, match=r"\[5\]"):
        NvmlSensor.open(Host(env={}), lib=three_gpus(), devices=[5])


def test_unknown_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="gpu_ids"):
        NvmlSensor.open(Host(env={}), lib=three_gpus(), gpu_ids=[0])


# --- errors -----------------------------------------------------------------------------------


def test_driver_not_loaded_at_init_is_unavailable_with_vendor_code() -> None:
    fake = FakeNvml([FakeGpu()], raise_on_init=9)
    with pytest.raises(SensorUnavailable) as info:
        NvmlSensor.open(Host(env={}), lib=fake)
    assert "driver is not loaded" in info.value.hint
    assert "NVML code 9" in info.value.reason
    assert isinstance(info.value.__cause__, NvmlError) and info.value.__cause__.code == 9


@pytest.mark.parametrize(("code", "hint_word"), [(12, "libnvidia-ml"), (4, "/dev/nvidia")])
def test_probe_reports_init_failures_with_hint(code: int, hint_word: str) -> None:
    probe = NvmlSensor.probe(Host(env={}), lib=FakeNvml([FakeGpu()], raise_on_init=code))
    assert not probe.available and hint_word in probe.hint


def test_error_while_listing_gpus_is_unavailable_and_shuts_down() -> None:
    fake = FakeNvml([FakeGpu(errors={"device_name": 4})])
    with pytest.raises(SensorUnavailable, match="NVML code 4"):
        NvmlSensor.open(Host(env={}), lib=fake)
    assert fake.shutdown_calls == 1


def test_read_failure_is_a_read_error_with_vendor_code() -> None:
    gpu = FakeGpu(energy_mj=[100, 200, NvmlError(15, "GPU is lost")])
    sensor = NvmlSensor.open(Host(env={}), lib=FakeNvml([gpu]))
    sensor.read(0.0)
    [error] = sensor.read(1.0)
    assert isinstance(error, SensorReadError)
    assert (error.vendor_code, error.device, error.sensor) == (15, "gpu0", "nvml")


def test_a_lost_gpu_fails_alone_and_the_others_are_still_read() -> None:
    lost = NvmlError(15, "GPU is lost")  # NVML_ERROR_GPU_IS_LOST stays until a reset
    healthy = FakeGpu(energy_mj=[1_000, 2_000, 3_500, 6_000])
    sensor = NvmlSensor.open(Host(env={}), lib=FakeNvml([healthy, FakeGpu(energy_mj=[0, lost])]))
    # open reads the baselines (1000 and 0 mJ); then gpu0 reads 2000, 3500, 6000 mJ
    for t_s, gpu0_j in ((1.0, 1.0), (2.0, 2.5), (3.0, 5.0)):
        gpu0, gpu1 = sensor.read(t_s)
        assert isinstance(gpu0, Reading) and gpu0.energy_j == pytest.approx(gpu0_j)
        assert isinstance(gpu1, SensorReadError) and (gpu1.device, gpu1.vendor_code) == ("gpu1", 15)


def test_counter_going_backwards_is_a_gap_then_counting_resumes() -> None:
    gpu = FakeGpu(energy_mj=[1_000, 3_000, 500, 1_500])  # driver reload between reads 1 and 2
    sensor = NvmlSensor.open(Host(env={}), lib=FakeNvml([gpu]))
    assert sensor.read(0.0)[0].energy_j == pytest.approx(2.0)
    [error] = sensor.read(1.0)
    assert isinstance(error, SensorReadError) and "backwards" in error.detail
    assert sensor.read(2.0)[0].energy_j == pytest.approx(3.0)  # 2 J + (1500 - 500) mJ


def test_close_shuts_down_once() -> None:
    fake = three_gpus()
    sensor = NvmlSensor.open(Host(env={}), lib=fake)
    sensor.close()
    sensor.close()
    assert fake.shutdown_calls == 1


# --- per-process share ------------------------------------------------------------------------


def procfs_with(tmp_path: Path, *pids: int) -> Path:
    for pid in pids:
        (tmp_path / str(pid)).mkdir()
    return tmp_path


def test_share_ratio_is_tracked_sm_util_over_total_since_previous_read(tmp_path: Path) -> None:
    gpu = FakeGpu(process_samples=[ProcessSample(pid=7, timestamp_us=100, sm_util_pct=90)])
    fake = FakeNvml([gpu])
    host = Host(env={}, procfs=procfs_with(tmp_path, 10, 20, 30))
    sensor = NvmlSensor.open(host, lib=fake)  # sample at 100 us is before open: ignored
    gpu.process_samples += [
        ProcessSample(10, 200, 60),
        ProcessSample(20, 200, 20),
        ProcessSample(10, 300, 40),
        ProcessSample(30, 300, 0),
    ]
    [r] = sensor.read(1.0, pids=frozenset({10}))
    assert r.share_ratio == pytest.approx(100 / 120)
    [r] = sensor.read(2.0, pids=frozenset({10}))  # no new sample: GPU idle
    assert r.share_ratio is None
    gpu.process_samples.append(ProcessSample(20, 400, 30))
    [r] = sensor.read(3.0, pids=frozenset({10}))  # busy, but not with our processes
    assert r.share_ratio == 0.0


def test_no_pids_means_no_share_and_no_utilisation_query() -> None:
    gpu = FakeGpu(process_samples=[])
    fake = FakeNvml([gpu])
    sensor = NvmlSensor.open(Host(env={}), lib=fake)
    calls_after_open = fake.utilization_calls
    gpu.process_samples.append(ProcessSample(10, 200, 60))
    assert sensor.read(1.0)[0].share_ratio is None
    assert fake.utilization_calls == calls_after_open


def test_share_stays_unset_when_nvml_cannot_attribute() -> None:
    fake = FakeNvml([FakeGpu(errors={"process_utilization": 3})])
    sensor = NvmlSensor.open(Host(env={}), lib=fake)
    assert sensor.read(1.0, pids=frozenset({10}))[0].share_ratio is None
    assert sensor.read(2.0, pids=frozenset({10}))[0].share_ratio is None
    assert fake.utilization_calls == 1  # only open asked; reads know it is unsupported


def test_samples_returned_again_are_not_counted_twice(tmp_path: Path) -> None:
    class RepeatingNvml(FakeNvml):  # some drivers ignore the timestamp and return everything
        def process_utilization(self, index: int, since_us: int) -> list[ProcessSample]:
            self.utilization_calls += 1
            return list(self.gpus[index].process_samples)

    gpu = FakeGpu(process_samples=[ProcessSample(10, 100, 50)])
    sensor = NvmlSensor.open(
        Host(env={}, procfs=procfs_with(tmp_path, 10, 20)), lib=RepeatingNvml([gpu])
    )
    gpu.process_samples.append(ProcessSample(20, 200, 50))
    assert sensor.read(1.0, pids=frozenset({10}))[0].share_ratio == 0.0


def test_attribution_lost_mid_run_stops_queries() -> None:
    gpu = FakeGpu()
    fake = FakeNvml([gpu])
    sensor = NvmlSensor.open(Host(env={}), lib=fake)
    gpu.errors = {"process_utilization": 4}  # NO_PERMISSION from now on
    for t_s in (1.0, 2.0, 3.0):
        assert sensor.read(t_s, pids=frozenset({10}))[0].share_ratio is None
    assert fake.utilization_calls == 2  # open + the first read, then no more


def test_foreign_pids_leave_share_unset(tmp_path: Path) -> None:
    # in a container, NVML reports host pids that our /proc does not show
    gpu = FakeGpu()
    sensor = NvmlSensor.open(Host(env={}, procfs=tmp_path), lib=FakeNvml([gpu]))
    gpu.process_samples.append(ProcessSample(48213, 500, 80))
    assert sensor.read(1.0, pids=frozenset({12}))[0].share_ratio is None
    assert any("pid namespace" in n for n in sensor.assumptions()["notes"])


# --- PynvmlLib --------------------------------------------------------------------------------


def test_module_import_does_not_import_pynvml() -> None:
    code = "import sys, carbonlens.sensors.nvml; print('pynvml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_nvidia_ml_py_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail
    (tmp_path / "driver" / "nvidia").mkdir(parents=True)  # a driver is loaded
    probe = NvmlSensor.probe(Host(procfs=tmp_path, env={}))
    assert (probe.available, probe.reason, probe.hint) == (
        False,
        "nvidia-ml-py not installed",
        INSTALL_HINT,
    )
    assert "carbonlens[nvidia]" in INSTALL_HINT


class _NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(f"code {value}")
        self.value = value


def fake_pynvml(**functions: Any) -> types.ModuleType:
    module = types.ModuleType("pynvml")
    module.NVMLError = _NVMLError  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda i: f"h{i}"  # type: ignore[attr-defined]
    for name, fn in functions.items():
        setattr(module, name, fn)
    return module


def test_pynvml_lib_translates_vendor_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def lost(handle: str) -> int:
        raise _NVMLError(15)

    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(nvmlDeviceGetPowerUsage=lost))
    with pytest.raises(NvmlError) as info:
        PynvmlLib().power_mw(0)
    assert info.value.code == 15 and "nvmlDeviceGetPowerUsage" in str(info.value)


def test_pynvml_lib_reads_and_resolves_mig(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = types.SimpleNamespace(pid=42, timeStamp=1_700_000_000_000_000, smUtil=73)

    def no_samples(handle: str, since: int) -> list[Any]:
        raise _NVMLError(6)

    module = fake_pynvml(
        nvmlDeviceGetTotalEnergyConsumption=lambda h: 123_456 if h == "h1" else 0,
        nvmlDeviceGetName=lambda h: b"Tesla V100-SXM2-32GB",
        nvmlDeviceGetProcessUtilization=lambda h, since: [raw],
        nvmlDeviceGetHandleByUUID=lambda u: "mig" if u.startswith("MIG-") else "h2",
        nvmlDeviceIsMigDeviceHandle=lambda h: types.SimpleNamespace(value=int(h == "mig")),
        nvmlDeviceGetDeviceHandleFromMigDeviceHandle=lambda h: "h3",
        nvmlDeviceGetIndex=lambda h: int(h[1:]),
    )
    monkeypatch.setitem(sys.modules, "pynvml", module)
    lib = PynvmlLib()
    assert lib.total_energy_mj(1) == 123_456
    assert lib.device_name(0) == "Tesla V100-SXM2-32GB"
    assert lib.process_utilization(0, 0) == [ProcessSample(42, 1_700_000_000_000_000, 73)]
    assert (lib.index_by_uuid(MIG_A1), lib.index_by_uuid(UUID_A)) == (3, 2)
    module.nvmlDeviceGetProcessUtilization = no_samples  # type: ignore[attr-defined]
    assert lib.process_utilization(0, 0) == []


def test_real_library_without_driver_is_unavailable(tmp_path: Path) -> None:
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        pass
    else:
        pynvml.nvmlShutdown()
        pytest.skip("an NVIDIA driver is present")
    (tmp_path / "driver" / "nvidia").mkdir(parents=True)  # past the pre-check, into nvmlInit
    probe = NvmlSensor.probe(Host(procfs=tmp_path, env={}))
    assert not probe.available and "NVML code" in probe.reason and probe.hint


def test_missing_linux_driver_is_reported_without_loading_pynvml(tmp_path: Path) -> None:
    from carbonlens.sensors._precheck import nvidia_driver_present

    if sys.platform != "linux" or nvidia_driver_present(Host(env={})):
        pytest.skip("an NVIDIA driver is present (or not Linux)")
    probe = NvmlSensor.probe(Host(procfs=tmp_path, env={}))
    assert not probe.available
    assert "no NVIDIA driver loaded" in probe.reason
    assert "container toolkit" in probe.hint


def test_driver_presence_from_procfs_or_device_nodes(tmp_path: Path) -> None:
    from carbonlens.sensors._precheck import nvidia_driver_present as _driver_present

    dev = tmp_path / "dev"
    dev.mkdir()
    assert not _driver_present(Host(procfs=tmp_path / "proc", env={}), dev=dev)
    (tmp_path / "proc" / "driver" / "nvidia").mkdir(parents=True)
    assert _driver_present(Host(procfs=tmp_path / "proc", env={}), dev=dev)
    assert _driver_present(Host(procfs=tmp_path / "nothing", env={}), dev=dev) is False
    (dev / "nvidiactl").touch()
    assert _driver_present(Host(procfs=tmp_path / "nothing", env={}), dev=dev)


def test_discovery_initialises_nvml_once_and_keeps_its_probe() -> None:
    # NVML's probe opens the library; discovery opens it once and describes it
    # instead of probing first (nvmlInit can take tens of ms on real GPUs).
    from carbonlens.sensors import discover

    lib = FakeNvml([FakeGpu(H100, uuid=UUID_A), FakeGpu(H100, uuid=UUID_B)])
    found = discover(Host(env={}), options={"nvml": {"lib": lib}})
    assert lib.init_calls == 1
    [gpu_sensor] = [s for s in found.sensors if s.name == "nvml"]
    probe = next(p for p in found.probes if p.sensor == "nvml")
    assert probe.available and probe.reason == NvmlSensor.probe(Host(env={}), lib=lib).reason
    assert probe.reason.startswith("2 GPU(s): gpu0 ")
    gpu_sensor.close()
