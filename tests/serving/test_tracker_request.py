"""`Tracker.request`, `Tracker.handler` and the tracker's own ledger, on fake sensors.

The tracker samples once, at `stop()` (interval_s is an hour), so the run is one
interval whose energy the FakeSensor scripts; the FakeClock places each request.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from carbonlens.errors import ConfigError
from carbonlens.records import Channel, Component, Method
from carbonlens.serving import CarbonMiddleware, Settlement, current_request, summaries_from_points
from carbonlens.store.sqlite import SqliteStore
from carbonlens.testing import FakeClock, FakeSensor, FakeShares
from carbonlens.tracking.tracker import Tracker

GPU = Channel("fake", Component.GPU, "gpu0", Method.MEASURED)


def _tracker(tmp_path: Path, clock: FakeClock, total_j: float) -> Tracker:
    """A tracker whose one interval, up to `stop()`, holds `total_j` joules."""
    return Tracker(
        sensors=[FakeSensor(GPU, energy_j=[0.0, total_j])],
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
        country="FR",
    )


def test_requests_share_by_tokens_and_their_windows_are_stored(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = _tracker(tmp_path, clock, 1000.0)
    tracker.start()
    settlements: list[Settlement] = []
    tracker.serving_ledger().add_listener(settlements.append)
    clock.advance(1.0)
    with tracker.request("/chat", "m", tokens_in=30, tokens_out=10):  # a: [1, 7], 40 tokens
        clock.advance(2.0)
        with tracker.request("/chat", "m") as b:  # b: [3, 5], 120 tokens
            clock.advance(2.0)
            b.set_tokens(tokens_in=100, tokens_out=20)
        clock.advance(2.0)
    clock.advance(3.0)
    tracker.stop()
    # One interval [0, 10] s of 1,000 J; in flight [1, 7]: busy 600 J, idle 400 J.
    # Both inside the interval with tokens: weights 40 and 120 -> 600 × 40/160 = 150 J
    # and 600 × 120/160 = 450 J.
    records = sorted((r for s in settlements for r in s.records), key=lambda r: r.start_t_s)
    assert [(r.start_t_s, r.end_t_s) for r in records] == [(1.0, 7.0), (3.0, 5.0)]
    assert [r.energy_j for r in records] == [pytest.approx(150.0), pytest.approx(450.0)]
    assert sum(s.idle_energy_j for s in settlements) == pytest.approx(400.0)
    store = SqliteStore(tmp_path / "runs.db")
    try:
        [window] = summaries_from_points(store.metrics(tracker.run_id))
    finally:
        store.close()
    [route] = window.routes
    assert (route.route, route.model, route.requests) == ("/chat", "m", 2)
    assert (route.tokens_in, route.tokens_out, route.token_requests) == (130, 30, 2)
    assert window.attributed_energy_j == pytest.approx(600.0)
    assert window.idle_energy_j == pytest.approx(400.0)


def test_handler_decorates_before_start_sync_async_and_failing(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = _tracker(tmp_path, clock, 400.0)

    @tracker.handler(model="m")
    def plain() -> str:
        clock.advance(1.0)
        return "ok"

    @tracker.handler("/async", model="m")
    async def streamed() -> str:
        clock.advance(1.0)
        served = current_request()
        assert served is not None
        served.set_tokens(tokens_in=5, tokens_out=7)
        return "ok"

    @tracker.handler("/boom")
    def boom() -> None:
        clock.advance(1.0)
        raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError, match="not started"):
        plain()
    tracker.start()
    settlements: list[Settlement] = []
    tracker.serving_ledger().add_listener(settlements.append)
    assert plain() == "ok"  # [0, 1]
    assert asyncio.run(streamed()) == "ok"  # [1, 2]
    with pytest.raises(RuntimeError, match="handler failed"):
        boom()  # [2, 3]
    clock.advance(1.0)  # [3, 4] idle
    tracker.stop()
    # One interval [0, 4] s of 400 J, 100 J a second: each request alone for 1 s.
    got = {r.route: r for s in settlements for r in s.records}
    assert set(got) == {plain.__qualname__, "/async", "/boom"}
    assert {k: r.energy_j for k, r in got.items()} == {
        plain.__qualname__: pytest.approx(100.0),
        "/async": pytest.approx(100.0),
        "/boom": pytest.approx(100.0),
    }
    assert [k for k, r in got.items() if r.failed] == ["/boom"]
    assert (got["/async"].tokens_in, got["/async"].tokens_out) == (5, 7)
    assert sum(s.idle_energy_j for s in settlements) == pytest.approx(100.0)


def test_negative_tokens_are_refused_and_no_request_is_opened(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = _tracker(tmp_path, clock, 10.0)
    with tracker:
        ledger = tracker.serving_ledger()
        with pytest.raises(ConfigError, match="tokens_in"), tracker.request(tokens_in=-1):
            pass
        assert ledger.in_flight == 0
        with tracker.request("/x") as served:
            with pytest.raises(ConfigError, match="tokens_out"):
                served.set_tokens(tokens_out=-3)
            assert served.tokens_out is None


def test_middleware_shares_the_tracker_ledger_and_a_stopped_run_serves_no_more(
    tmp_path: Path,
) -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        return None

    clock = FakeClock()
    tracker = _tracker(tmp_path, clock, 10.0)
    with tracker:
        middleware = CarbonMiddleware(app, tracker=tracker)  # type: ignore[arg-type]
        assert middleware.ledger is tracker.serving_ledger()
    with pytest.raises(RuntimeError, match="stopped"), tracker.request():
        pass


def test_start_and_stop_without_requests_load_no_serving_module(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from carbonlens.records import Channel, Component, Method\n"
        "from carbonlens.testing import FakeSensor, FakeShares\n"
        "from carbonlens.tracking.tracker import Tracker\n"
        "gpu = Channel('fake', Component.GPU, 'gpu0', Method.MEASURED)\n"
        "t = Tracker(sensors=[FakeSensor(gpu, energy_j=[0.0, 1.0])], shares=FakeShares(),"
        f" store={str(tmp_path / 'r.db')!r}, country='FR')\n"
        "t.start(); t.stop()\n"
        "print(sorted(m for m in sys.modules if m.startswith('carbonlens.serving')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
