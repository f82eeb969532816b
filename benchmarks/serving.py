"""Overhead of CarbonMiddleware: the same trivial Starlette app with and without it.

Two measurements, each with and without the middleware:
  1. in process: the ASGI app called directly (no network, no server), median
     nanoseconds per request over `--calls` calls: the middleware's own cost;
  2. under uvicorn on 127.0.0.1, in a separate server process, load from a local
     keep-alive HTTP/1.1 client on `--connections` connections:
     - paced: `--requests` requests per variant at `--rate` requests/s (open
       loop), median latency and achieved rate;
     - saturated: `--saturate` requests per variant as fast as the connections
       allow, the server's maximum throughput;
     both split into `--rounds` rounds that alternate without/with, so drift and
     other load on the machine fall on both alike; figures are medians of rounds.
With the middleware, the server runs a real Tracker (sensors found on this
machine, 1 s sampling, a temporary store) with a Ledger attached and a
PrometheusExporter following it, as in production.

Everything is bounded in count and time (`--max-seconds` per phase).

    python benchmarks/serving.py [--requests 20000] [--rate 1000] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _load import drive, serve_uvicorn, start_server, stop_server


def build_app(with_middleware: bool, store_dir: str | None = None) -> tuple[Any, Any]:
    """The trivial app (`GET /` -> "ok"), wrapped or not; returns (app, tracker or None)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def root(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app: Any = Starlette(routes=[Route("/", root)])
    if not with_middleware:
        return app, None
    import carbonlens
    from carbonlens.serving import CarbonMiddleware, Ledger, PrometheusExporter

    store = str(Path(store_dir or tempfile.mkdtemp()) / "runs.db")
    origin_s = time.monotonic()
    tracker = carbonlens.Tracker(project="bench", country="FR", interval_s=1.0, store=store)
    tracker.start()
    ledger = Ledger(lambda: time.monotonic() - origin_s, intensity_g_per_kwh=50.0)
    ledger.attach(tracker)
    PrometheusExporter(ledger)  # its metrics are updated as in production (not served here)
    return CarbonMiddleware(app, ledger=ledger), tracker


def in_process_ns(with_middleware: bool, calls: int) -> float:
    """Median nanoseconds of one request through the ASGI app, called directly."""
    app, tracker = build_app(with_middleware)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [],
        "http_version": "1.1",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    async def run() -> list[int]:
        took = []
        for _ in range(calls):
            start = time.perf_counter_ns()
            await app(dict(scope), receive, send)
            took.append(time.perf_counter_ns() - start)
        return took

    try:
        return statistics.median(asyncio.run(run()))
    finally:
        if tracker is not None:
            tracker.stop()


def settle_us(rate: float, requests: int = 5000) -> float:
    """Microseconds per request the sampler thread spends sharing one interval's
    energy (three devices) among `requests` requests of 1 ms, spread over it."""
    from carbonlens.records import Channel, Component, Method, Sample
    from carbonlens.serving import Ledger

    now = [0.0]
    ledger = Ledger(lambda: now[0], intensity_g_per_kwh=50.0)
    interval_s = requests / rate
    for i in range(requests):
        now[0] = i / rate
        served = ledger.begin("/")
        now[0] += 0.001
        ledger.end(served)
    devices = [Channel("bench", Component.CPU, f"cpu{i}", Method.MEASURED) for i in range(3)]
    samples = [Sample(c, interval_s, interval_s, 100.0) for c in devices]
    start = time.perf_counter()
    ledger.on_samples(samples)
    return (time.perf_counter() - start) / requests * 1e6


def serve(with_middleware: bool) -> None:
    """Server process: print the port, serve until killed."""
    with tempfile.TemporaryDirectory() as store_dir:
        app, tracker = build_app(with_middleware, store_dir)
        try:
            serve_uvicorn(app)
        finally:
            if tracker is not None:
                tracker.stop()


def load(
    port: int, requests: int, rate: float | None, connections: int, max_s: float
) -> dict[str, float]:
    """Send `requests` (paced at `rate`/s, or as fast as possible); latency and rate."""
    outcomes, elapsed_s = asyncio.run(
        drive(port, ["/"], requests=requests, connections=connections, max_s=max_s, rate_per_s=rate)
    )
    latencies_s = [o.latency_s for o in outcomes]
    return {
        "requests": len(latencies_s),
        "median_us": statistics.median(latencies_s) * 1e6,
        "p95_us": statistics.quantiles(latencies_s, n=20)[-1] * 1e6,
        "rate_per_s": len(latencies_s) / elapsed_s,
    }


def measure_server(with_middleware: bool, args: argparse.Namespace) -> dict[str, Any]:
    """Start a server process, warm it up, run the paced and saturated loads."""
    mode = "on" if with_middleware else "off"
    process, port = start_server([sys.executable, __file__, "--serve", mode])
    try:
        time.sleep(0.5)
        load(port, 1000, None, args.connections, args.max_seconds)  # warm-up
        per_round = args.requests // args.rounds
        paced = load(port, per_round, args.rate, args.connections, args.max_seconds)
        per_round = args.saturate // args.rounds
        saturated = load(port, per_round, None, args.connections, args.max_seconds)
    finally:
        stop_server(process)
    return {"paced": paced, "saturated": saturated}


def main() -> None:
    """Run both measurements and print a summary and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="paced requests per variant")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced requests per second")
    parser.add_argument("--saturate", type=int, default=40_000, help="saturation requests")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4, help="rounds of (without, with)")
    parser.add_argument("--calls", type=int, default=50_000, help="in-process calls")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="limit per phase")
    parser.add_argument("--serve", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve == "on")
        return

    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    print(f"uvicorn with {http} on {loop}; Python {sys.version.split()[0]}")
    bare_ns, wrapped_ns = in_process_ns(False, args.calls), in_process_ns(True, args.calls)
    result: dict[str, Any] = {
        "in_process_without_us": bare_ns / 1000,
        "in_process_with_us": wrapped_ns / 1000,
        "in_process_added_us": (wrapped_ns - bare_ns) / 1000,
        "settle_us_per_request": settle_us(args.rate),
    }
    print(
        f"in process: {bare_ns / 1000:.1f} us without, {wrapped_ns / 1000:.1f} us with "
        f"-> {result['in_process_added_us']:.1f} us added per request; sharing on the "
        f"sampler thread: {result['settle_us_per_request']:.1f} us per request"
    )

    pairs = []
    for _ in range(args.rounds):
        pairs.append((measure_server(False, args), measure_server(True, args)))
    for index, label in ((0, "without"), (1, "with")):
        paced = [pair[index]["paced"] for pair in pairs]
        result[f"{label}_median_us"] = statistics.median(p["median_us"] for p in paced)
        result[f"{label}_p95_us"] = statistics.median(p["p95_us"] for p in paced)
        result[f"{label}_paced_rate_per_s"] = statistics.median(p["rate_per_s"] for p in paced)
        result[f"{label}_max_rate_per_s"] = statistics.median(
            pair[index]["saturated"]["rate_per_s"] for pair in pairs
        )
    added = [b["paced"]["median_us"] - a["paced"]["median_us"] for a, b in pairs]
    max_loss = [
        100 * (1 - b["saturated"]["rate_per_s"] / a["saturated"]["rate_per_s"]) for a, b in pairs
    ]
    result["added_median_us"] = statistics.median(added)
    result["added_median_us_by_round"] = [round(x, 1) for x in added]
    result["paced_rate_loss_pct"] = 100 * (
        1 - result["with_paced_rate_per_s"] / result["without_paced_rate_per_s"]
    )
    result["max_rate_loss_pct"] = statistics.median(max_loss)
    result["max_rate_loss_pct_by_round"] = [round(x, 1) for x in max_loss]
    for label in ("without", "with"):
        print(
            f"{label:>7} middleware: median {result[f'{label}_median_us']:.0f} us, "
            f"p95 {result[f'{label}_p95_us']:.0f} us, "
            f"{result[f'{label}_paced_rate_per_s']:.0f} req/s at {args.rate:g} req/s offered; "
            f"max {result[f'{label}_max_rate_per_s']:.0f} req/s"
        )
    print(
        f"added median latency: {result['added_median_us']:.1f} us per request "
        f"(rounds: {result['added_median_us_by_round']}); throughput loss at "
        f"{args.rate:g} req/s: {result['paced_rate_loss_pct']:.2f} %; at saturation: "
        f"{result['max_rate_loss_pct']:.1f} % (rounds: {result['max_rate_loss_pct_by_round']})"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
