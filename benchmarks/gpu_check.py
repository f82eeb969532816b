"""Check carbonlens's GPU energy against two independent readings on a real NVIDIA GPU.

    python benchmarks/gpu_check.py [--seconds 60] [--tolerance 0.02] [--size 8192]

Runs a matrix-multiply load on the first CUDA device (torch if installed, else cupy) for
--seconds, with 2 s of idle before and after, inside
`carbonlens.Tracker(project="gpu-check", interval_s=0.5, store=<tmp>/runs.db)`, and prints:

  (a) the tracker's GPU energy: `energy_j` of the report's GPU components;
  (b) the NVML total-energy counter, read with pynvml just after the tracker has started
      (its first reading is inside `start()`) and just before it is stopped (its last
      reading is inside `stop()`), so the two windows differ by the few milliseconds the
      sampler thread takes to answer at each end (GPUs from Volta on);
  (c) nvidia-smi `power.draw` polled every 200 ms in a subprocess, integrated with the
      trapezoid rule over the same period as (b).

All three cover the GPUs the tracker reported (by NVML index). Exit status: 0 when (a)
is within --tolerance of (b) and of (c), 1 when not, 2 when there is no NVIDIA GPU,
driver, pynvml, nvidia-smi or load library.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

IDLE_S = 2.0
POLL_MS = 200


def fail(message: str) -> NoReturn:
    """Explain why the check cannot run and exit with status 2."""
    print(f"gpu_check: {message}", file=sys.stderr)
    raise SystemExit(2)


def open_nvml() -> Any:
    """Import and initialise pynvml, or exit: this check needs an NVIDIA GPU."""
    try:
        import pynvml
    except ImportError:
        fail("nvidia-ml-py is not installed: pip install 'carbonlens[nvidia]'")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        fail(f"no NVIDIA GPU or driver here (NVML: {exc})")
    if pynvml.nvmlDeviceGetCount() == 0:
        fail("NVML sees no NVIDIA GPU")
    if shutil.which("nvidia-smi") is None:
        fail("nvidia-smi is not on PATH")
    return pynvml


def energy_counters_mj(nvml: Any) -> dict[int, int | None]:
    """NVML total-energy counter of every GPU in mJ (None where unsupported)."""
    counters: dict[int, int | None] = {}
    for index in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        try:
            counters[index] = int(nvml.nvmlDeviceGetTotalEnergyConsumption(handle))
        except nvml.NVMLError:
            counters[index] = None
    return counters


def matmul_load(size: int) -> tuple[str, Callable[[float], int]]:
    """A function running square matmuls for a given number of seconds, and its library."""
    try:
        import torch

        if torch.cuda.is_available():
            a = torch.randn(size, size, device="cuda", dtype=torch.float16)
            b = torch.randn(size, size, device="cuda", dtype=torch.float16)

            def run_torch(seconds: float) -> int:
                done, end = 0, time.monotonic() + seconds
                while time.monotonic() < end:
                    for _ in range(10):
                        torch.matmul(a, b)
                    torch.cuda.synchronize()
                    done += 10
                return done

            return f"torch {torch.__version__}", run_torch
    except ImportError:
        pass
    try:
        import cupy
    except ImportError:
        fail("neither torch (with CUDA) nor cupy is installed to load the GPU")
    x = cupy.random.rand(size, size, dtype=cupy.float32)
    y = cupy.random.rand(size, size, dtype=cupy.float32)

    def run_cupy(seconds: float) -> int:
        done, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            for _ in range(10):
                cupy.matmul(x, y)
            cupy.cuda.Device().synchronize()
            done += 10
        return done

    return f"cupy {cupy.__version__}", run_cupy


class SmiPoller:
    """nvidia-smi power.draw every POLL_MS, each line stamped with time.monotonic()."""

    def __init__(self) -> None:
        argv = ["nvidia-smi", "--query-gpu=index,power.draw", "--format=csv,noheader,nounits"]
        self._proc = subprocess.Popen(
            [*argv, "-lms", str(POLL_MS)], stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.samples: dict[int, list[tuple[float, float]]] = {}
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            t_s = time.monotonic()
            index, _, watts = line.partition(",")
            try:
                self.samples.setdefault(int(index), []).append((t_s, float(watts)))
            except ValueError:  # "[N/A]" or a partial line
                continue

    def wait_first(self, timeout_s: float = 10.0) -> None:
        """Block until nvidia-smi has printed a sample, or exit."""
        end = time.monotonic() + timeout_s
        while not self.samples:
            if time.monotonic() > end or self._proc.poll() is not None:
                fail("nvidia-smi printed no power.draw sample")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop nvidia-smi and the reader."""
        self._proc.terminate()
        self._proc.wait(timeout=10)
        self._thread.join(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()


def integrate_j(series: Sequence[tuple[float, float]], start_s: float, end_s: float) -> float:
    """Energy in J of power samples (t in s, W) over [start_s, end_s], trapezoid rule.

    Power is interpolated linearly between samples and held flat beyond the first and last.
    """
    points = sorted(series)

    def power_at(t_s: float) -> float:
        if t_s <= points[0][0]:
            return points[0][1]
        for (t0, p0), (t1, p1) in zip(points, points[1:], strict=False):
            if t_s <= t1:
                return p0 + (p1 - p0) * (t_s - t0) / (t1 - t0) if t1 > t0 else p1
        return points[-1][1]

    knots = [start_s, *(t for t, _ in points if start_s < t < end_s), end_s]
    return sum(
        (power_at(a) + power_at(b)) / 2.0 * (b - a) for a, b in zip(knots, knots[1:], strict=False)
    )


def verdict(value_j: float, reference_j: float | None, tolerance: float) -> tuple[str, bool]:
    """Relative difference of `value_j` from `reference_j`, as text, and whether it passes."""
    if reference_j is None or reference_j <= 0:
        return "n/a", True
    diff = (value_j - reference_j) / reference_j
    ok = abs(diff) <= tolerance
    return f"{diff * 100:+.2f} %  {'PASS' if ok else 'FAIL'}", ok


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration (s)")
    parser.add_argument("--tolerance", type=float, default=0.02, help="relative, e.g. 0.02")
    parser.add_argument("--size", type=int, default=8192, help="matrix side")
    args = parser.parse_args(argv)

    nvml = open_nvml()
    library, run_load = matmul_load(args.size)
    run_load(1.0)  # warm up: kernels, allocator, clocks
    time.sleep(IDLE_S)

    import carbonlens
    from carbonlens.records import Component

    poller = SmiPoller()
    poller.wait_first()
    with tempfile.TemporaryDirectory() as tmp:
        tracker = carbonlens.Tracker(
            project="gpu-check", interval_s=0.5, store=Path(tmp) / "runs.db"
        ).start()
        before_mj = energy_counters_mj(nvml)
        start_s = time.monotonic()
        try:
            time.sleep(IDLE_S)
            iterations = run_load(args.seconds)
            time.sleep(IDLE_S)
        finally:
            end_s = time.monotonic()
            after_mj = energy_counters_mj(nvml)
            tracker.stop()
    time.sleep(2 * POLL_MS / 1000.0)  # let nvidia-smi print past end_s
    poller.stop()

    report = tracker.report
    if report is None:
        print("gpu_check: the tracker produced no report", file=sys.stderr)
        return 1
    gpus = [c for c in report.components if c.channel.component == Component.GPU]
    if not gpus:
        print(f"gpu_check: no GPU energy in the report; notes: {report.notes}", file=sys.stderr)
        return 1
    tracker_j = sum(c.energy_j for c in gpus)
    indices = sorted(int(c.channel.device.removeprefix("gpu")) for c in gpus)
    deltas = [(after_mj[i], before_mj[i]) for i in indices]
    nvml_j = None
    if all(a is not None and b is not None for a, b in deltas):
        nvml_j = sum((a or 0) - (b or 0) for a, b in deltas) / 1000.0
    missing = [i for i in indices if not poller.samples.get(i)]
    smi_j = None
    if not missing:
        smi_j = sum(integrate_j(poller.samples[i], start_s, end_s) for i in indices)

    names = ", ".join(
        f"gpu{i} {nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(i))}" for i in indices
    )
    methods = ", ".join(sorted({c.channel.method.value for c in gpus}))
    print(f"GPU energy over {end_s - start_s:.2f} s on {names}")
    print(f"load: {iterations} matmuls {args.size}x{args.size} with {library}")
    print(f"  (a) carbonlens tracker ({methods}) {tracker_j:14.1f} J")
    b_text, b_ok = verdict(tracker_j, nvml_j, args.tolerance)
    b_value = "n/a (no counter)" if nvml_j is None else f"{nvml_j:.1f} J"
    print(f"  (b) NVML energy counter        {b_value:>16}   (a) vs (b): {b_text}")
    c_text, c_ok = verdict(tracker_j, smi_j, args.tolerance)
    c_value = "n/a (no samples)" if smi_j is None else f"{smi_j:.1f} J"
    print(f"  (c) nvidia-smi power.draw      {c_value:>16}   (a) vs (c): {c_text}")
    ok = b_ok and c_ok and (nvml_j is not None or smi_j is not None)
    print(f"{'PASS' if ok else 'FAIL'} at {args.tolerance * 100:g} %")
    nvml.nvmlShutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
