"""The dashboard and the exporter under concurrent requests: every reply right.

A short run of benchmarks/http_load.py (30 runs in the store; 270 requests on 6
connections to the dashboard and 67 on 1 to the exporter, all on 127.0.0.1),
its reply checks tried on right and wrong replies, and the shared client
(benchmarks/_load.py) on sized, chunked and closing replies of a canned server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
RUNS, REQUESTS, CONNECTIONS = 30, 270, 6
ENDPOINTS = [
    "/",
    "/runs/{id}",
    "/runs/{id}/section",
    "/compare",
    "/projects/{p}",
    "/api/runs",
    "/api/runs/{id}",
    "/api/live",
]

pytest.importorskip("uvicorn", reason="the dashboard extra is not installed")
pytest.importorskip("prometheus_client", reason="the prometheus extra is not installed")


@pytest.fixture
def http_load(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """benchmarks/http_load.py as a module (with its helper `_load` importable)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import http_load

    return http_load


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """benchmarks/_load.py, the shared load generator, as a module."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import _load

    return _load


def test_every_reply_is_right_under_concurrent_requests() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "http_load.py"), "--runs", str(RUNS)]
        + ["--requests", str(REQUESTS), "--connections", str(CONNECTIONS), "--max-s", "60"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    endpoints = figures["endpoints"]
    assert figures["errors"] == 0 and figures["ok"]
    assert {name: e["errors"] for name, e in endpoints.items()} == dict.fromkeys(endpoints, 0)
    # request i goes to endpoint i % 8: 270 = 33 x 8 + 6, so the first six endpoints
    # get 34 requests and the last two 33; the exporter gets 270 // 4 = 67
    assert [endpoints[name]["requests"] for name in ENDPOINTS] == [34] * 6 + [33] * 2
    assert endpoints["/metrics (exporter)"]["requests"] == 67
    assert figures["requests"] == REQUESTS + 67


def test_checks_reject_wrong_replies(http_load: ModuleType) -> None:
    endpoint, check = http_load.checker(http_load.dashboard_targets(3))
    path = "/api/runs/" + http_load.run_id(1)
    # run 1: (GPU 101 W + CPU 50 W) x 600 s x PUE 1.2 = 108,720 J = 0.0302 kWh
    assert http_load.facility_kwh(1) == pytest.approx(0.0302)
    right = json.dumps({"facility_energy_kwh": 0.0302}).encode()
    wrong = json.dumps({"facility_energy_kwh": http_load.facility_kwh(2)}).encode()
    assert endpoint[path] == "/api/runs/{id}"
    assert check(path, http_load.Reply(200, right, True)) is None
    assert check(path, http_load.Reply(200, wrong, True)) == "unexpected content"
    assert check(path, http_load.Reply(200, b"{}", True)).startswith("unexpected content")
    assert check(path, http_load.Reply(503, right, True)) == "status 503"
    page = "/runs/" + http_load.run_id(2)
    assert check(page, http_load.Reply(200, b"<h1>load-2</h1></html>", True)) is None
    assert check(page, http_load.Reply(200, b"<h1>load-1</h1></html>", True)) is not None
    metrics = b"carbonlens_energy_joules_total 1.0\ncarbonlens_run_info 1.0\n"
    assert http_load.metrics_check("/metrics", http_load.Reply(200, metrics, False)) is None
    assert http_load.metrics_check("/metrics", http_load.Reply(200, b"", False)) is not None


CANNED = {
    "/sized": b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
    "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n",
    "/closing": b"HTTP/1.0 404 Not Found\r\n\r\nbye",
}


def test_client_reads_sized_chunked_and_closing_replies(load: ModuleType) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError):  # the client went away
            while request := await reader.readuntil(b"\r\n\r\n"):
                path = request.split(b" ")[1].decode()
                writer.write(CANNED[path])
                await writer.drain()
                if path == "/closing":
                    break
        writer.close()

    async def run() -> tuple[list[Any], list[Any]]:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            streams = await asyncio.open_connection("127.0.0.1", port)
            replies = [await load.fetch(*streams, path) for path in CANNED]
            streams[1].close()
            # 7 requests on 2 connections; the closing reply makes the client reconnect
            outcomes, _ = await load.drive(port, list(CANNED), requests=7, connections=2, max_s=30)
        return replies, outcomes

    replies, outcomes = asyncio.run(run())
    assert [(r.status, r.body, r.keep_alive) for r in replies] == [
        (200, b"hello", True),
        (200, b"hello", True),
        (404, b"bye", False),
    ]
    # requests 0..6 cycle over the three paths: /closing (404) is asked for twice
    assert [o.path for o in outcomes].count("/closing") == 2
    assert sorted(o.error or "" for o in outcomes) == [""] * 5 + ["status 404"] * 2
