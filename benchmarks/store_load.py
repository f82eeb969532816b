"""Many processes tracking into one store at once: lost samples, lock errors, write latency.

`--processes` worker processes (forked, so they share the parent's imports)
each run a real `Tracker` with one fake sensor of known power (`POWER_W`),
sampling at `--rate-hz` for `--duration-s`, all into one store (a path,
`sqlite:///` URL or `postgresql://` URL; by default a new SQLite file in a
temporary directory; `--postgres` starts a throwaway server). Each worker opens
the store as the tracker would (`store.open_store`) and wraps it to time every
write. Workers start `--stagger-s` apart in all (0: all at once, so their
once-a-second flushes collide). With PostgreSQL the parent opens the store once
before forking, which loads SQLAlchemy and its PostgreSQL dialect once for all
(a cold process spends about 0.4 CPU-s on them); each worker connects on its own.

The parent then reads the store back. For every run: it is there and finished,
it holds exactly the samples its tracker emitted, with increasing times, each
starting where the one before ended (no gap: ticks a busy machine skips make
longer samples, never missing ones), and their energy is `POWER_W` x their
durations (the fake reads a constant power, so trapezoid integration is exact).
Store errors ("database is locked" among them) and runs kept in a fallback file
instead of the store are failures.

Prints processes, rate, duration, samples expected/stored/lost, samples/s and
writes/s, write latency p50/p99/max, errors, and whether the machine kept up
(ticks per run against rate x duration; CPU used), then one JSON line. Exits 1
if anything was lost or failed.

    python benchmarks/store_load.py [--processes 64] [--rate-hz 10] [--duration-s 60]
                                    [--store PATH_OR_URL | --postgres] [--stagger-s 1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import queue
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _load import percentile_ms

from carbonlens.errors import StoreError
from carbonlens.records import Channel, Component, Method, Sample
from carbonlens.store import open_existing_store, open_store, open_writable_store
from carbonlens.store.base import Store
from carbonlens.testing import FakeSensor, FakeShares
from carbonlens.tracking.tracker import Tracker

POWER_W = 250.0
"""The fake sensor's constant power, in watts."""
PROJECT = "store-load"
CHANNEL = Channel("fake", Component.GPU, "gpu0", Method.MEASURED)
_WRITES = ("create_run", "append_samples", "save_window", "finish_run", "log_metrics")


@dataclass
class WorkerResult:
    """What one worker saw: its run, samples emitted, write latencies and failures."""

    index: int
    run_id: str = ""
    emitted: int = 0
    written: int = 0
    latencies_s: dict[str, list[float]] = field(default_factory=dict)
    """Seconds each call took, by store method (and `open_store` as "open")."""
    errors: list[str] = field(default_factory=list)
    fallback: str = ""
    stored_in: str = ""
    cpu_s: float = 0.0
    max_rss_mib: float = 0.0
    first_write_s: float = math.inf
    last_write_s: float = 0.0


class TimedStore:
    """A store whose writes are timed and whose failures are recorded, then passed on."""

    def __init__(self, store: Store, result: WorkerResult) -> None:
        """Wrap `store`; latencies and errors go to `result`."""
        self._store = store
        self._result = result
        self.location = store.location

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)
        return self._timed(method) if name in _WRITES else method

    def _timed(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start_s = time.perf_counter()
            try:
                value = method(*args, **kwargs)
            except Exception as exc:
                self._result.errors.append(f"{method.__name__}: {exc}")
                raise
            end_s = time.perf_counter()
            self._result.latencies_s.setdefault(method.__name__, []).append(end_s - start_s)
            self._result.first_write_s = min(self._result.first_write_s, start_s)
            self._result.last_write_s = end_s
            if method.__name__ == "append_samples":
                self._result.written += len(args[1])
            return value

        return timed


def worker(index: int, args: argparse.Namespace, start_at: Any, results: Any) -> None:
    """One process: wait for the common start, track for `duration_s`, report."""
    result = WorkerResult(index)
    try:
        time.sleep(max(0.0, start_at.value + index * args.stagger_s / args.processes - time.time()))
        start_s = time.perf_counter()
        store, fallback = open_store(args.store, fallback_dir=Path(args.fallback_dir))
        result.latencies_s["open"] = [time.perf_counter() - start_s]
        result.fallback = fallback or ""

        def count(samples: list[Sample]) -> None:
            result.emitted += len(samples)

        tracker = Tracker(
            project=PROJECT,
            name=f"worker-{index}",
            interval_s=1 / args.rate_hz,
            country="FR",
            store=TimedStore(store, result),
            sensors=[FakeSensor(CHANNEL, power_w=[POWER_W])],
            shares=FakeShares(None, None),
        )
        tracker.add_listener(count)
        tracker.start()
        result.run_id = tracker.run_id
        time.sleep(args.duration_s)
        report = tracker.stop()
        result.stored_in = report.store_location
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a failure
        result.errors.append(f"worker: {type(exc).__name__}: {exc}")
    result.cpu_s = time.process_time()
    result.max_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.put(asdict(result))


def check_store(location: str, results: list[WorkerResult]) -> dict[str, Any]:
    """Read every worker's run back: runs found, samples stored, and what is wrong."""
    try:
        store = open_existing_store(location)
    except StoreError as exc:
        return {"runs_found": 0, "samples_stored": 0, "problems": [str(exc)]}
    problems: list[str] = []
    stored = 0
    try:
        found = {run.run_id for run in store.list_runs(project=PROJECT)}
        for result in results:
            name = f"worker {result.index}"
            if result.run_id not in found:
                problems.append(f"{name}: run {result.run_id!r} not in the store")
                continue
            run = store.get_run(result.run_id)
            samples = store.samples(result.run_id)
            stored += len(samples)
            times_s = [s.t_s for s in samples]
            energy_j = sum(s.energy_j for s in samples)
            expected_j = POWER_W * sum(s.duration_s for s in samples)
            if run is None or run.status.value != "finished":
                problems.append(f"{name}: run not finished ({run})")
            if len(samples) != result.emitted:
                problems.append(f"{name}: {len(samples)} samples stored, {result.emitted} emitted")
            if times_s != sorted(set(times_s)):
                problems.append(f"{name}: sample times repeat or go back")
            starts_s = [s.t_s - s.duration_s for s in samples[1:]]
            if not all(
                math.isclose(a, b, abs_tol=1e-6) for a, b in zip(starts_s, times_s, strict=False)
            ):
                problems.append(f"{name}: a gap between samples (one was lost)")
            if not math.isclose(energy_j, expected_j, rel_tol=1e-9):
                problems.append(f"{name}: {energy_j} J stored, {expected_j} J expected")
    finally:
        store.close()
    return {"runs_found": len(found), "samples_stored": stored, "problems": problems}


def run_load(args: argparse.Namespace) -> dict[str, Any]:
    """Start the workers, collect their results, check the store; the figures."""
    context = multiprocessing.get_context("fork")
    start_at = context.Value("d", 0.0)
    results: Any = context.Queue()
    processes = [
        context.Process(target=worker, args=(i, args, start_at, results), daemon=True)
        for i in range(args.processes)
    ]
    start_at.value = time.time() + 1.0 + 0.02 * args.processes  # time to fork them all
    load_before = os.getloadavg()[0]
    for process in processes:
        process.start()
    collected: list[WorkerResult] = []
    deadline = start_at.value + args.stagger_s + args.duration_s + 120.0
    while len(collected) < len(processes) and time.time() < deadline:
        with contextlib.suppress(queue.Empty):
            collected.append(WorkerResult(**results.get(timeout=1.0)))
    for process in processes:
        process.join(timeout=10)
    wall_s = time.time() - start_at.value
    missing = len(processes) - len(collected)
    checked = check_store(args.store, collected)
    by_call: dict[str, list[float]] = {}
    for r in collected:
        for call, values in r.latencies_s.items():
            by_call.setdefault(call, []).extend(values)
    latencies_s = [x for call in _WRITES for x in by_call.get(call, [])]
    errors = [e for r in collected for e in r.errors]
    emitted = sum(r.emitted for r in collected)
    written_span_s = max((r.last_write_s for r in collected), default=0.0) - min(
        (r.first_write_s for r in collected), default=0.0
    )
    nominal_ticks = args.rate_hz * args.duration_s
    samples_per_run = sorted(r.emitted for r in collected)
    fell_back = [r for r in collected if r.fallback or ".jsonl" in r.stored_in]
    problems = [
        *([f"{missing} worker(s) never reported"] if missing else []),
        *checked["problems"],
        *(f"worker {r.index} fell back: {r.fallback or r.stored_in}" for r in fell_back),
    ]
    return {
        "processes": args.processes,
        "rate_hz": args.rate_hz,
        "duration_s": args.duration_s,
        "stagger_s": args.stagger_s,
        "store": args.store_kind,
        "runs_found": checked["runs_found"],
        "samples_nominal": round(nominal_ticks * args.processes),
        "samples_expected": emitted,
        "samples_stored": checked["samples_stored"],
        "samples_lost": emitted - checked["samples_stored"],
        "samples_per_s_written": sum(r.written for r in collected) / written_span_s
        if written_span_s > 0
        else 0.0,
        "writes_per_s": len(latencies_s) / written_span_s if written_span_s > 0 else 0.0,
        "write_p50_ms": percentile_ms(latencies_s, 50),
        "write_p99_ms": percentile_ms(latencies_s, 99),
        "write_max_ms": percentile_ms(latencies_s, 100),
        "latency_ms_by_call": {
            call: {
                "calls": len(values),
                "p50": percentile_ms(values, 50),
                "p99": percentile_ms(values, 99),
                "max": percentile_ms(values, 100),
            }
            for call, values in sorted(by_call.items())
        },
        "errors": len(errors),
        "locked_errors": sum("database is locked" in e for e in errors),
        "fallbacks": len(fell_back),
        "ticks_per_run_min_ratio": samples_per_run[0] / nominal_ticks if collected else 0.0,
        "ticks_per_run_median_ratio": samples_per_run[len(samples_per_run) // 2] / nominal_ticks
        if collected
        else 0.0,
        "cpu_pct_of_machine": 100
        * sum(r.cpu_s for r in collected)
        / (wall_s * (os.cpu_count() or 1)),
        "load_avg_1min": os.getloadavg()[0],
        "load_avg_1min_before": load_before,
        "worker_max_rss_mib": max((r.max_rss_mib for r in collected), default=0.0),
        "wall_s": wall_s,
        "first_errors": errors[:5],
        "problems": problems[:20],
        "ok": not problems and not errors and emitted == checked["samples_stored"],
    }


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    """A new database on a throwaway PostgreSQL server on 127.0.0.1 (durable: fsync on)."""
    try:
        from carbonlens.testing.postgres import create_database, throwaway_server
    except ImportError as exc:
        raise SystemExit(f"--postgres needs carbonlens.testing.postgres: {exc}") from exc
    with throwaway_server(durable=True) as server_url:
        yield create_database(server_url)


def print_summary(figures: dict[str, Any]) -> None:
    """The figures as a few readable lines."""
    f = figures
    print(
        f"{f['processes']} processes x {f['rate_hz']:g} Hz x {f['duration_s']:g} s into "
        f"{f['store']} (starts spread over {f['stagger_s']:g} s): {f['runs_found']} runs found"
    )
    print(
        f"samples: {f['samples_expected']} expected (emitted; nominal {f['samples_nominal']}), "
        f"{f['samples_stored']} stored, {f['samples_lost']} lost; "
        f"{f['samples_per_s_written']:.0f} samples/s in {f['writes_per_s']:.1f} writes/s"
    )
    print(
        f"write latency: p50 {f['write_p50_ms']:.2f} ms, p99 {f['write_p99_ms']:.2f} ms, "
        f"max {f['write_max_ms']:.2f} ms; errors {f['errors']} "
        f"(database is locked: {f['locked_errors']}), fallbacks {f['fallbacks']}"
    )
    print(
        f"kept up: ticks per run {100 * f['ticks_per_run_min_ratio']:.1f} % (min), "
        f"{100 * f['ticks_per_run_median_ratio']:.1f} % (median) of rate x duration; "
        f"workers used {f['cpu_pct_of_machine']:.1f} % of the machine's CPU; "
        f"load {f['load_avg_1min']:.1f}; peak RSS per worker {f['worker_max_rss_mib']:.0f} MiB"
    )
    for call, ms in f["latency_ms_by_call"].items():
        print(
            f"  {call:>14}: {ms['calls']:>5} calls, p50 {ms['p50']:.2f} ms, "
            f"p99 {ms['p99']:.2f} ms, max {ms['max']:.2f} ms"
        )
    for problem in f["problems"]:
        print(f"PROBLEM: {problem}")
    print("OK" if f["ok"] else "FAILED")


def main() -> None:
    """Parse the options, run the load, print the figures; exit 1 on any loss or failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=64)
    parser.add_argument("--rate-hz", type=float, default=10.0, help="sampling rate per process")
    parser.add_argument("--duration-s", type=float, default=60.0, help="tracking time per process")
    parser.add_argument("--stagger-s", type=float, default=1.0, help="spread of the start times")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--store", help="store path or URL (default: a new temporary SQLite file)")
    where.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        args.fallback_dir = str(Path(tmp) / "fallback")
        if args.postgres:
            args.store = stack.enter_context(postgres_url())
        args.store = args.store or str(Path(tmp) / "runs.db")
        args.store_kind = "PostgreSQL" if args.store.startswith("postgres") else "SQLite"
        if args.store_kind == "PostgreSQL":  # load SQLAlchemy's dialect once, before the fork
            open_writable_store(args.store).close()
        figures = run_load(args)
    print_summary(figures)
    print(json.dumps(figures))
    sys.exit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()
