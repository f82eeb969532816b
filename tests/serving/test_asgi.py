"""CarbonMiddleware under a real uvicorn server on 127.0.0.1, a real Tracker, fake sensors."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse, Response, StreamingResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from carbonlens.errors import ConfigError  # noqa: E402
from carbonlens.records import Channel, Component, Method  # noqa: E402
from carbonlens.serving import (  # noqa: E402
    CarbonMiddleware,
    Ledger,
    RequestRecord,
    Settlement,
    current_request,
)
from carbonlens.testing.fakes import FakeClock, FakeSensor  # noqa: E402
from carbonlens.tracking.tracker import Tracker  # noqa: E402

GPU = Channel("fake", Component.GPU, "gpu0", Method.MEASURED)


@contextmanager
def serving(app: Callable[..., object]) -> Iterator[str]:
    """Run `app` under uvicorn on 127.0.0.1 (an ephemeral port) in a thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_level="critical", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: server.started)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.002)


async def _wait_gate(gate: threading.Event) -> None:
    while not gate.is_set():
        await asyncio.sleep(0.002)


def _records(ledger: Ledger) -> list[RequestRecord]:
    found: list[RequestRecord] = []

    def keep(settlement: Settlement) -> None:
        found.extend(settlement.records)

    ledger.add_listener(keep)
    return found


def test_requests_get_hand_computed_shares_of_the_measured_energy(tmp_path: Path) -> None:
    gates = {name: threading.Event() for name in ("a", "b", "stream", "boom")}

    async def work(request: Request) -> Response:
        served = current_request()
        assert served is not None
        served.model = "m"
        await _wait_gate(gates[request.path_params["name"]])
        return PlainTextResponse("done")

    async def stream(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"first "
            await _wait_gate(gates["stream"])
            yield b"last"

        return StreamingResponse(body())

    async def boom(request: Request) -> Response:
        served = current_request()
        assert served is not None
        served.route = "boom"  # a name the handler gives wins over the route template
        await _wait_gate(gates["boom"])
        raise RuntimeError("handler failed")

    clock = FakeClock()
    origin_s = clock.monotonic()
    ledger = Ledger(lambda: clock.monotonic() - origin_s)
    records = _records(ledger)
    app = Starlette(
        routes=[Route("/work/{name}", work), Route("/stream", stream), Route("/boom", boom)],
        middleware=[Middleware(CarbonMiddleware, ledger=ledger)],
    )
    tracker = Tracker(
        project="serving",
        sensors=[FakeSensor(GPU, energy_j=[0.0, 3000.0])],
        store=tmp_path / "runs.db",
        clock=clock,
        country="FR",
        interval_s=3600.0,  # the test drives time; the final tick is at stop()
    )
    with tracker, serving(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        ledger.attach(tracker)
        pool = ThreadPoolExecutor(max_workers=3)

        def start(path: str, in_flight: int) -> Future[httpx.Response]:
            future = pool.submit(client.get, path)
            _wait_for(lambda: ledger.in_flight == in_flight)
            return future

        def finish(gate: str, future: Future[httpx.Response], in_flight: int) -> int:
            gates[gate].set()
            status = future.result(timeout=5).status_code
            _wait_for(lambda: ledger.in_flight == in_flight)
            return status

        a = start("/work/a", 1)  # a: [0, 4]
        clock.advance(2.0)
        b = start("/work/b", 2)  # b: [2, 8]
        clock.advance(2.0)
        assert finish("a", a, 1) == 200
        clock.advance(4.0)
        assert finish("b", b, 0) == 200
        streamed = start("/stream", 1)  # headers and first chunk at 8, last chunk at 12
        clock.advance(4.0)
        assert finish("stream", streamed, 0) == 200
        failing = start("/boom", 1)  # [12, 13], raises
        clock.advance(1.0)
        assert finish("boom", failing, 0) == 500
        pool.shutdown()
        clock.advance(7.0)
    ledger.close()
    # One interval [0, 20] s of 3,000 J. In flight [0, 13]: busy 1,950 J, idle 1,050 J.
    # Overlaps 4 + 6 + 4 + 1 = 15 s: a 520, b 780, stream 520, boom 130 J.
    got = {(r.route, r.start_t_s, r.end_t_s): r for r in records}
    expected = {
        ("/work/{name}", 0.0, 4.0): 520.0,
        ("/work/{name}", 2.0, 8.0): 780.0,
        ("/stream", 8.0, 12.0): 520.0,
        ("boom", 12.0, 13.0): 130.0,
    }
    assert {key: pytest.approx(r.energy_j) for key, r in got.items()} == expected
    assert got[("boom", 12.0, 13.0)].failed
    assert not any(r.failed for key, r in got.items() if key[0] != "boom")
    summary = ledger.summary()
    assert summary.idle_energy_j == pytest.approx(1050.0)
    assert tracker.report is not None
    assert summary.attributed_energy_j + summary.idle_energy_j == pytest.approx(
        tracker.report.it_energy_j
    )


def test_concurrent_load_adds_up_to_the_measured_total(tmp_path: Path) -> None:
    async def work(request: Request) -> Response:
        await asyncio.sleep(0.005)
        return PlainTextResponse("ok")

    tracker = Tracker(
        project="serving",
        sensors=[FakeSensor(GPU, power_w=[250.0])],
        store=tmp_path / "runs.db",
        country="FR",
        interval_s=0.02,
    )
    origin_s = time.monotonic()
    ledger = Ledger(lambda: time.monotonic() - origin_s, intensity_g_per_kwh=50.0)
    app = CarbonMiddleware(Starlette(routes=[Route("/work", work)]), ledger=ledger)
    with tracker:
        ledger.attach(tracker)  # before the server starts: it sees every interval
        with serving(app) as url:
            limits = httpx.Limits(max_connections=8)
            with httpx.Client(base_url=url, limits=limits, timeout=10) as client:
                with ThreadPoolExecutor(max_workers=8) as pool:
                    statuses = list(pool.map(lambda _: client.get("/work").status_code, range(40)))
                time.sleep(0.05)
    ledger.close()
    assert statuses == [200] * 40
    summary = ledger.summary()
    [route] = summary.routes
    assert route.requests == 40 and route.failed == 0 and route.route == "/work"
    assert route.energy_j > 0 and route.latency_p50_s >= 0.005
    assert tracker.report is not None
    assert summary.attributed_energy_j + summary.idle_energy_j == pytest.approx(
        tracker.report.it_energy_j, rel=1e-9
    )


def test_other_scopes_pass_through_and_the_ledger_is_required() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        seen.append(str(scope["type"]))

    ledger = Ledger(lambda: 0.0)
    middleware = CarbonMiddleware(app, ledger=ledger)  # type: ignore[arg-type]
    asyncio.run(middleware({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"] and ledger.in_flight == 0
    with pytest.raises(ConfigError):
        CarbonMiddleware(app)  # type: ignore[arg-type]
