"""benchmarks/gpu_check.py end to end on a stand-in GPU, so that the script itself is
known to work before the scarce GPU machine runs it.

The stand-ins: a `pynvml` module for one GPU drawing a constant 300 W (its energy
counter grows with the real monotonic clock), a `torch` module whose matrix products
do nothing, and an `nvidia-smi` on PATH printing `0, 300.00` every 200 ms. The
tracker reads the same `pynvml` through its own NVML back-end (the driver check,
which looks for /dev/nvidiactl, is told there is a driver).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest

from carbonlens.sensors import _precheck, nvml

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
POWER_W = 300.0


class _NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(f"NVML error {value}")
        self.value = value


def _fake_pynvml() -> types.ModuleType:
    """One GPU at a constant POWER_W, with an energy counter in mJ."""
    t0_s = time.monotonic()
    module = types.ModuleType("pynvml")
    functions: dict[str, Any] = {
        "NVMLError": _NVMLError,
        "nvmlInit": lambda: None,
        "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: 1,
        "nvmlDeviceGetHandleByIndex": lambda index: f"handle{index}",
        "nvmlDeviceGetName": lambda handle: "NVIDIA Stand-in",
        "nvmlDeviceGetUUID": lambda handle: "GPU-00000000-0000-0000-0000-000000000000",
        "nvmlDeviceGetTotalEnergyConsumption": lambda handle: int(
            (time.monotonic() - t0_s) * POWER_W * 1000
        ),
        "nvmlDeviceGetPowerUsage": lambda handle: int(POWER_W * 1000),
    }
    for name, value in functions.items():
        setattr(module, name, value)

    def no_process_utilization(handle: str, since_us: int) -> list[Any]:
        raise _NVMLError(3)  # NVML_ERROR_NOT_SUPPORTED

    module.nvmlDeviceGetProcessUtilization = no_process_utilization  # type: ignore[attr-defined]
    return module


def _fake_torch() -> types.ModuleType:
    """Just what gpu_check's load needs: CUDA available, products that take no time."""
    torch = types.ModuleType("torch")
    cuda = types.SimpleNamespace(is_available=lambda: True, synchronize=lambda: time.sleep(0.01))
    functions: dict[str, Any] = {
        "__version__": "0.0-stand-in",
        "float16": "float16",
        "cuda": cuda,
        "randn": lambda *shape, **_: shape,
        "matmul": lambda a, b: a,
    }
    for name, value in functions.items():
        setattr(torch, name, value)
    return torch


@pytest.fixture
def gpu_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The script as a module, with the stand-ins in place and short idle periods."""
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        "while True:\n"
        f"    print('0, {POWER_W:.2f}', flush=True)\n"
        "    time.sleep(0.2)\n"
    )
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{smi.parent}:{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml())
    monkeypatch.setitem(sys.modules, "torch", _fake_torch())
    monkeypatch.setattr(_precheck, "nvidia_driver_present", lambda host, dev=None: True)
    monkeypatch.setattr(nvml, "nvidia_driver_present", lambda host, dev=None: True)
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "IDLE_S", 0.3)
    return module


def test_the_three_readings_agree_on_a_constant_300_w_gpu(
    gpu_check: types.ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    status = gpu_check.main(["--seconds", "2", "--tolerance", "0.05", "--size", "16"])
    out = capsys.readouterr().out
    assert status == 0, out
    header = re.search(r"GPU energy over ([0-9.]+) s on gpu0 NVIDIA Stand-in", out)
    assert header is not None, out
    duration_s = float(header[1])  # printed to 10 ms: 300 W x 5 ms = 1.5 J at most
    readings = {
        key: float(value) for key, value in re.findall(r"\((a|b|c)\) [^\n]*?([0-9]+\.[0-9]) J", out)
    }
    assert set(readings) == {"a", "b", "c"}, out
    assert "(a) carbonlens tracker (measured)" in out  # the energy counter, not power sampling
    # nvidia-smi's 300 W held over the check's window: 300 J/s x the window
    assert readings["c"] == pytest.approx(POWER_W * duration_s, abs=1.6)
    # the counter over the same window (read a few microseconds off each end)
    assert readings["b"] == pytest.approx(POWER_W * duration_s, abs=1.6 + 1.0)
    # the tracker reads from just before that window to just after it: a few ms of
    # 300 W more (on a loaded CI machine, up to 50 ms each end: 30 J of 780)
    assert 0 <= readings["a"] - readings["b"] < 30.0, out
    assert out.rstrip().endswith("PASS at 5 %")


def test_no_pynvml_is_a_clear_exit_2(
    gpu_check: types.ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` fails
    with pytest.raises(SystemExit) as stopped:
        gpu_check.main(["--seconds", "1"])
    assert stopped.value.code == 2
    assert "nvidia-ml-py is not installed" in capsys.readouterr().err
