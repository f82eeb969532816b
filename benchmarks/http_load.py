"""The dashboard and the exporter under concurrent requests from a local load generator.

Fills a new SQLite store with `--runs` runs of known power (run i: GPU
`100 + i` W and CPU 50 W, 60 samples of 10 s each; two windows; 20 metric
points; PUE 1.2, 100 gCO2e/kWh), serves it with the dashboard (uvicorn, in a
child process) and starts `carbonlens exporter` (another child: a real run of
this machine's sensors), both on 127.0.0.1 and ports the system picks. Then it
sends `--requests` GETs on `--connections` keep-alive connections (plus a
quarter as many to the exporter's /metrics), cycling over the main pages and
API endpoints, as fast as the servers answer, for at most `--max-s` seconds.

Every reply is checked: status 200 and the content expected (the run's name on
its page, its energy in its JSON, the totals of all runs, the metric names).
Prints per endpoint: requests, errors, p50/p99 latency (ms), requests/s; then
one JSON line. Exits 1 if any request failed.

    python benchmarks/http_load.py [--runs 200] [--requests 5000] [--connections 16]
                                   [--max-s 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _load import Outcome, Reply, drive, percentile_ms, serve_uvicorn, start_server, stop_server

from carbonlens.accounting import pricing_settings
from carbonlens.records import (
    Channel,
    Component,
    IntensityValue,
    Method,
    PueValue,
    RunInfo,
    RunStatus,
    Sample,
    Window,
)
from carbonlens.store import this_host
from carbonlens.store.base import MetricPoint
from carbonlens.store.sqlite import SqliteStore
from carbonlens.units import J_PER_KWH

GPU = Channel("nvml", Component.GPU, "gpu0", Method.MEASURED)
CPU = Channel("cpu-tdp", Component.CPU, "cpu", Method.MODELLED)
STEP_S, STEPS = 10.0, 60
PUE, PROJECTS = 1.2, 5
START = datetime(2026, 11, 1, tzinfo=UTC)


def run_id(i: int) -> str:
    """The id of run i."""
    return f"{i:04d}" + "ab" * 14


def facility_kwh(i: int) -> float:
    """Run i's facility energy: (GPU 100 + i W + CPU 50 W) x 600 s x PUE 1.2, in kWh."""
    return (150.0 + i) * STEP_S * STEPS * PUE / J_PER_KWH


def fill_store(path: Path, runs: int) -> None:
    """Write `runs` finished runs of known power into a new SQLite store at `path`."""
    settings = pricing_settings(
        IntensityValue(100.0, "FR", "benchmark", 2025, "lifecycle", "http_load"),
        PueValue(PUE, "user setting"),
        [],
    )
    store = SqliteStore(path)
    try:
        for i in range(runs):
            started_at = START + timedelta(hours=i)
            store.create_run(
                RunInfo(
                    run_id=run_id(i),
                    project=f"project-{i % PROJECTS}",
                    name=f"load-{i}",
                    started_at=started_at,
                    host=this_host(),
                    pid=os.getpid(),
                    tags=("bench",),
                    settings=settings,
                )
            )
            store.append_samples(
                run_id(i),
                [
                    Sample(channel, STEP_S * (n + 1), STEP_S, power_w * STEP_S)
                    for n in range(STEPS)
                    for channel, power_w in ((GPU, 100.0 + i), (CPU, 50.0))
                ],
            )
            half_s = STEP_S * STEPS / 2
            store.save_window(run_id(i), Window("epoch-1", 0.0, half_s))
            store.save_window(run_id(i), Window("epoch-2", half_s, 2 * half_s))
            store.log_metrics(
                run_id(i),
                [MetricPoint("loss", step, 1.0 / (step + 1), 30.0 * step) for step in range(19)]
                + [MetricPoint("accuracy", 0, 0.5 + i / (4 * runs), STEP_S * STEPS)],
            )
            duration_s = STEP_S * STEPS
            store.finish_run(
                run_id(i),
                RunStatus.FINISHED,
                started_at + timedelta(seconds=duration_s),
                duration_s,
            )
    finally:
        store.close()


def _json(reply: Reply) -> Any:
    return json.loads(reply.body)


def _close(found: float, expected: float) -> bool:
    return math.isclose(found, expected, rel_tol=1e-9)


def dashboard_targets(runs: int) -> dict[str, tuple[list[str], Callable[[str, Reply], bool]]]:
    """Per endpoint: the paths to ask for, and what a right reply holds."""
    ids = [run_id(i) for i in range(runs)]
    newest = runs - 1

    def index(path: str) -> int:
        return int(path.split("/")[-1].split("=")[-1].split("?")[0][:4])

    total_kwh = sum(facility_kwh(i) for i in range(runs))
    return {
        "/": (["/"], lambda p, r: f"load-{newest}".encode() in r.body and b"</html>" in r.body),
        "/runs/{id}": (
            [f"/runs/{i}" for i in ids],
            lambda p, r: f"load-{index(p)}</".encode() in r.body and b"</html>" in r.body,
        ),
        "/runs/{id}/section": (
            [f"/runs/{i}/section" for i in ids],
            lambda p, r: b"epoch-2" in r.body,
        ),
        "/compare": (
            [f"/compare?run={ids[0]}&run={ids[-1]}"],
            lambda p, r: b"load-0" in r.body and f"load-{newest}".encode() in r.body,
        ),
        "/projects/{p}": (
            [f"/projects/project-{n}" for n in range(min(PROJECTS, runs))],
            lambda p, r: p.split("/")[-1].encode() in r.body and b"</html>" in r.body,
        ),
        "/api/runs": (
            ["/api/runs"],
            lambda p, r: (
                _json(r)["totals"]["runs"] == runs
                and _close(_json(r)["totals"]["facility_energy_kwh"], total_kwh)
            ),
        ),
        "/api/runs/{id}": (
            [f"/api/runs/{i}" for i in ids],
            lambda p, r: _close(_json(r)["facility_energy_kwh"], facility_kwh(index(p))),
        ),
        "/api/live": (
            [f"/api/live?run={i}" for i in ids],
            lambda p, r: _json(r)["runs"][0]["run_id"] == run_id(index(p)),
        ),
    }


def interleave(targets: dict[str, tuple[list[str], Any]]) -> list[str]:
    """One path of each endpoint in turn, then the next of each, ... (longest list's length)."""
    longest = max(len(paths) for paths, _ in targets.values())
    return [paths[n % len(paths)] for n in range(longest) for paths, _ in targets.values()]


def checker(
    targets: dict[str, tuple[list[str], Callable[[str, Reply], bool]]],
) -> tuple[dict[str, str], Callable[[str, Reply], str | None]]:
    """The endpoint of each path, and the check of a reply against its endpoint's rule."""
    endpoint = {path: name for name, (paths, _) in targets.items() for path in paths}

    def check(path: str, reply: Reply) -> str | None:
        if reply.status != 200:
            return f"status {reply.status}"
        try:
            right = targets[endpoint[path]][1](path, reply)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            return f"unexpected content ({type(exc).__name__}: {exc})"
        return None if right else "unexpected content"

    return endpoint, check


def metrics_check(path: str, reply: Reply) -> str | None:
    """The exporter's reply: 200 with the energy and run-info metrics."""
    if reply.status != 200:
        return f"status {reply.status}"
    has = b"carbonlens_energy_joules" in reply.body and b"carbonlens_run_info" in reply.body
    return None if has else "unexpected content"


def summarise(
    outcomes: list[Outcome], endpoint: dict[str, str], elapsed_s: float
) -> dict[str, dict[str, Any]]:
    """Per endpoint: requests, errors, p50/p99/max latency (ms), requests/s, first error."""
    grouped: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        grouped.setdefault(endpoint.get(outcome.path, outcome.path), []).append(outcome)
    return {
        name: {
            "requests": len(group),
            "errors": sum(o.error is not None for o in group),
            "p50_ms": percentile_ms([o.latency_s for o in group], 50),
            "p99_ms": percentile_ms([o.latency_s for o in group], 99),
            "max_ms": percentile_ms([o.latency_s for o in group], 100),
            "per_s": len(group) / elapsed_s,
            "first_error": next((o.error for o in group if o.error), None),
        }
        for name, group in sorted(grouped.items())
    }


async def load_both(
    dashboard_port: int, exporter_port: int, args: argparse.Namespace
) -> tuple[list[Outcome], float]:
    """Load the dashboard and the exporter at once; all outcomes and the elapsed seconds."""
    targets = dashboard_targets(args.runs)
    _, check = checker(targets)
    start = time.perf_counter()
    (dashboard, _), (exporter, _) = await asyncio.gather(
        drive(
            dashboard_port,
            interleave(targets),
            requests=args.requests,
            connections=args.connections,
            max_s=args.max_s,
            check=check,
        ),
        drive(
            exporter_port,
            ["/metrics"],
            requests=max(1, args.requests // 4),
            connections=max(1, args.connections // 4),
            max_s=args.max_s,
            check=metrics_check,
        ),
    )
    return dashboard + exporter, time.perf_counter() - start


def run_load(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Fill the store, start both servers, load them, stop them; the figures."""
    store = tmp / "runs.db"
    fill_store(store, args.runs)
    dashboard, dashboard_port = start_server(
        [sys.executable, __file__, "--serve-dashboard", str(store)]
    )
    try:
        exporter, exporter_port = start_server(
            [sys.executable, "-m", "carbonlens", "exporter", "--port", "0", "--country", "FR"]
            + ["--store", str(tmp / "exporter.db"), "--duration", str(args.max_s + 120)],
            port_pattern=r"serving metrics on http://127\.0\.0\.1:(\d+)/",
        )
        try:
            outcomes, elapsed_s = asyncio.run(load_both(dashboard_port, exporter_port, args))
        finally:
            stop_server(exporter)
    finally:
        stop_server(dashboard)
    endpoint, _ = checker(dashboard_targets(args.runs))
    endpoint["/metrics"] = "/metrics (exporter)"
    per_endpoint = summarise(outcomes, endpoint, elapsed_s)
    errors = sum(e["errors"] for e in per_endpoint.values())
    return {
        "runs": args.runs,
        "connections": args.connections,
        "exporter_connections": max(1, args.connections // 4),
        "requests": len(outcomes),
        "errors": errors,
        "elapsed_s": elapsed_s,
        "per_s": len(outcomes) / elapsed_s,
        "p50_ms": percentile_ms([o.latency_s for o in outcomes], 50),
        "p99_ms": percentile_ms([o.latency_s for o in outcomes], 99),
        "endpoints": per_endpoint,
        "ok": errors == 0 and bool(outcomes),
    }


def print_summary(figures: dict[str, Any]) -> None:
    """A table per endpoint, and the totals."""
    f = figures
    print(
        f"dashboard of {f['runs']} runs on {f['connections']} connections, exporter on "
        f"{f['exporter_connections']}: {f['requests']} requests in {f['elapsed_s']:.1f} s, "
        f"{f['errors']} errors"
    )
    print(f"{'endpoint':<22} {'requests':>8} {'errors':>6}", end="")
    print(f" {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}")
    for name, e in f["endpoints"].items():
        print(
            f"{name:<22} {e['requests']:>8} {e['errors']:>6} {e['p50_ms']:>8.1f} "
            f"{e['p99_ms']:>8.1f} {e['per_s']:>7.1f}"
        )
        if e["first_error"]:
            print(f"  first error: {e['first_error']}")
    print(
        f"{'all':<22} {f['requests']:>8} {f['errors']:>6} {f['p50_ms']:>8.1f} "
        f"{f['p99_ms']:>8.1f} {f['per_s']:>7.1f}"
    )
    print("OK" if f["ok"] else "FAILED")


def main() -> None:
    """Parse the options, run the load, print the figures; exit 1 on any error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs in the store")
    parser.add_argument("--requests", type=int, default=5000, help="requests to the dashboard")
    parser.add_argument("--connections", type=int, default=16, help="dashboard connections")
    parser.add_argument("--max-s", type=float, default=20.0, help="no request starts after this")
    parser.add_argument("--serve-dashboard", metavar="STORE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_dashboard:
        from carbonlens.dashboard.app import create_app

        serve_uvicorn(create_app(args.serve_dashboard))
        return
    with tempfile.TemporaryDirectory() as tmp:
        figures = run_load(args, Path(tmp))
    print_summary(figures)
    print(json.dumps(figures))
    sys.exit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()
