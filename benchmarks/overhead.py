"""Overhead of carbonlens, side by side with CodeCarbon in the same run.

Measures, each in fresh interpreters and reporting medians:
  1. import time added to a bare interpreter;
  2. an empty tracker start+stop (wall and CPU);
  3. whole-process overhead on a fixed CPU-bound job (~8 s) at 1 s sampling:
     added CPU seconds and added peak RSS versus the job alone; and the tool's own
     CPU, measured directly: the process's CPU (with child processes) less the
     main thread's CPU inside the job, versus the same for the job alone;
  4. steady-state sampler cost while the main thread sleeps, at 1 s and 0.1 s,
     as a percentage of one core, beside the platform's floor for it: a process
     whose only thread besides the main one wakes at the same interval and does
     nothing. The runs are interleaved (floor, carbonlens, CodeCarbon, repeated),
     so a change in the host's load hits every tool alike.

Every child runs in an empty temporary directory (no project config files).
CodeCarbon runs when it is installed in the same environment (`pip install codecarbon`),
as `OfflineEmissionsTracker(country_iso_code="FRA", measure_power_secs=<same interval>)`.

    python benchmarks/overhead.py [--repeats 3] [--job-seconds 8]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile

PRELUDE = """
import json, resource, sys, time, os
JOB_THREAD_CPU_S = 0.0
def job(iterations):
    global JOB_THREAD_CPU_S
    c = time.thread_time()
    x = 0
    for i in range(iterations):
        x = (x * 31 + i) % 1000003
    JOB_THREAD_CPU_S = time.thread_time() - c
    return x
def usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = r.ru_utime + r.ru_stime + kids.ru_utime + kids.ru_stime
    return {"cpu_s": cpu_s, "other_cpu_s": cpu_s - JOB_THREAD_CPU_S,
            "maxrss_mib": r.ru_maxrss / 1024}
"""

TRACKERS = {
    "none": ("", "", ""),
    "floor": (
        "import threading",
        "e = threading.Event(); th = threading.Thread("
        "target=lambda: [None for _ in iter(lambda: e.wait({interval}), True)]); th.start()",
        "e.set(); th.join()",
    ),
    "carbonlens": (
        "import carbonlens",
        "t = carbonlens.Tracker(project='bench', country='FR', interval_s={interval},"
        " store=os.path.join({tmp!r}, 'runs.db')); t.start()",
        "t.stop()",
    ),
    "codecarbon": (
        "import logging; logging.disable(logging.CRITICAL); "
        "from codecarbon import OfflineEmissionsTracker",
        "t = OfflineEmissionsTracker(country_iso_code='FRA', measure_power_secs={interval},"
        " save_to_file=False, log_level='critical'); t.start()",
        "t.stop()",
    ),
}


def _python(code: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def import_ms(module: str, repeats: int) -> float:
    """Median wall time of `python -c 'import module'` minus `python -c pass`."""

    def run(code: str) -> float:
        return _python(
            "import time; t = time.perf_counter(); "
            f"{code}; import json; print(json.dumps({{'s': time.perf_counter() - t}}))"
        )["s"]

    added = [run(f"import {module}") - run("pass") for _ in range(repeats)]
    return statistics.median(added) * 1000


def start_stop(tool: str, tmp: str, repeats: int) -> dict[str, float]:
    """Median wall and CPU of an empty start+stop, after the import."""
    imp, start, stop = TRACKERS[tool]
    code = (
        PRELUDE
        + imp
        + "\nw = time.perf_counter(); c = time.process_time()\n"
        + start.format(interval=1.0, tmp=tmp)
        + "\n"
        + stop
        + "\nprint(json.dumps({'wall_s': time.perf_counter() - w,"
        " 'cpu_s': time.process_time() - c}))"
    )
    runs = [_python(code) for _ in range(repeats)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def whole_process(tool: str, tmp: str, iterations: int, interval_s: float) -> dict[str, float]:
    """CPU seconds and peak RSS of a process running the fixed job under `tool`."""
    imp, start, stop = TRACKERS[tool]
    code = (
        PRELUDE
        + imp
        + "\n"
        + start.format(interval=interval_s, tmp=tmp)
        + f"\njob({iterations})\n"
        + stop
        + "\nprint(json.dumps(usage()))"
    )
    return _python(code)


def sampler_cost(tool: str, tmp: str, interval_s: float, seconds: float) -> float:
    """Percent of one core used by the tracker while the program sleeps."""
    imp, start, stop = TRACKERS[tool]
    code = (
        PRELUDE
        + imp
        + "\n"
        + start.format(interval=interval_s, tmp=tmp)
        + "\ntime.sleep(1.0)\nc = time.process_time()\n"
        + f"time.sleep({seconds})\n"
        + "used = time.process_time() - c\n"
        + stop
        + f"\nprint(json.dumps({{'pct': 100 * used / {seconds}}}))"
    )
    return _python(code)["pct"]


def calibrate(seconds: float) -> int:
    """Iterations of the job that take about `seconds` of CPU here."""
    probe = 2_000_000
    took = _python(
        PRELUDE + f"c = time.process_time(); job({probe});"
        " print(json.dumps({'s': time.process_time() - c}))"
    )["s"]
    return int(probe * seconds / took)


def main() -> None:
    """Run every measurement and print a table plus a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--job-seconds", type=float, default=8.0)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args()
    tools = ["carbonlens"]
    if importlib.util.find_spec("codecarbon") is not None:
        tools.append("codecarbon")
    else:
        print("codecarbon not installed: carbonlens only (pip install codecarbon)")
    results: dict[str, dict[str, float]] = {t: {} for t in tools}
    with tempfile.TemporaryDirectory() as tmp:
        # Children run in an empty directory, so neither tool reads a project's config.
        os.chdir(tmp)
        iterations = calibrate(args.job_seconds)
        for tool in tools:
            results[tool]["import_ms"] = import_ms(tool, args.repeats)
            ss = start_stop(tool, tmp, args.repeats)
            results[tool]["start_stop_wall_ms"] = ss["wall_s"] * 1000
            results[tool]["start_stop_cpu_ms"] = ss["cpu_s"] * 1000
        base = [whole_process("none", tmp, iterations, 1.0) for _ in range(args.repeats)]
        base_cpu = statistics.median(b["cpu_s"] for b in base)
        base_other = statistics.median(b["other_cpu_s"] for b in base)
        base_rss = statistics.median(b["maxrss_mib"] for b in base)
        for tool in tools:
            runs = [whole_process(tool, tmp, iterations, 1.0) for _ in range(args.repeats)]
            results[tool]["job_added_cpu_s"] = (
                statistics.median(r["cpu_s"] for r in runs) - base_cpu
            )
            results[tool]["job_tool_cpu_s"] = (
                statistics.median(r["other_cpu_s"] for r in runs) - base_other
            )
            results[tool]["job_added_rss_mib"] = (
                statistics.median(r["maxrss_mib"] for r in runs) - base_rss
            )
        floor: dict[str, float] = {}
        for interval in (1.0, 0.1):
            row = f"sampler_pct_core_at_{interval}s"
            pct: dict[str, list[float]] = {t: [] for t in ["floor", *tools]}
            for _ in range(args.repeats):
                for tool in pct:
                    pct[tool].append(sampler_cost(tool, tmp, interval, args.idle_seconds))
            floor[row] = statistics.median(pct["floor"])
            for tool in tools:
                results[tool][row] = statistics.median(pct[tool])
    print(f"job: {iterations} iterations, {base_cpu:.2f} CPU-s alone, {base_rss:.1f} MiB peak RSS")
    rows = list(results[tools[0]])
    print(
        f"{'measure':34}"
        + "".join(f"{t:>14}" for t in tools)
        + ("    ratio" if len(tools) > 1 else "")
    )
    for row in rows:
        values = [results[t][row] for t in tools]
        line = f"{row:34}" + "".join(f"{v:14.3f}" for v in values)
        if len(tools) > 1 and values[0] > 0:
            line += f"  {values[1] / values[0]:7.1f}x"
        print(line)
    print(
        "platform floor (one empty thread waking at the interval): "
        + ", ".join(f"{row} {value:.3f}" for row, value in floor.items())
    )
    print(json.dumps({"iterations": iterations, "results": results, "floor": floor}))


if __name__ == "__main__":
    main()
