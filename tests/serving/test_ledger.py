"""Ledger: requests on a hand-moved clock, samples fed as the tracker would."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from carbonlens.errors import ConfigError
from carbonlens.records import Channel, Component, IntensityValue, Method, PueValue, RunInfo, Sample
from carbonlens.serving import Ledger, Settlement, current_request
from carbonlens.serving.summary import Aggregator, RequestRecord
from carbonlens.units import J_PER_KWH

GPU = Channel("fake", Component.GPU, "gpu0", Method.MEASURED)
CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)


class Clock:
    """Seconds since the run started, moved by hand."""

    def __init__(self) -> None:
        self.t_s = 0.0

    def __call__(self) -> float:
        return self.t_s


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _tick(ledger: Ledger, end_t_s: float, duration_s: float, **energy_j: float) -> None:
    channels = {"gpu": GPU, "cpu": CPU}
    ledger.on_samples(
        [Sample(channels[name], end_t_s, duration_s, joules) for name, joules in energy_j.items()]
    )


def _records(ledger: Ledger) -> Iterator[list[RequestRecord]]:
    found: list[RequestRecord] = []

    def keep(settlement: Settlement) -> None:
        found.extend(settlement.records)

    ledger.add_listener(keep)
    yield found


def test_overlapping_requests_get_hand_computed_energy_and_emissions(clock: Clock) -> None:
    ledger = Ledger(clock, intensity_g_per_kwh=100.0, pue_ratio=1.5)
    [records] = list(_records(ledger))
    clock.t_s = 1.0
    with ledger.request(route="/chat", model="m") as a:
        clock.t_s = 3.0
        b = ledger.begin("/chat", "m")
        clock.t_s = 5.0
    clock.t_s = 9.0
    ledger.end(b)
    # [0, 10]: GPU 1,000 J, CPU 200 J. In flight 8 of 10 s; overlaps A 4 s, B 6 s.
    # GPU: idle 200, A 320, B 480. CPU: idle 40, A 64, B 96.
    _tick(ledger, 10.0, 10.0, gpu=1000.0, cpu=200.0)
    by_start = {r.start_t_s: r for r in records}
    assert by_start[1.0].energy_j == pytest.approx(384.0)
    assert by_start[3.0].energy_j == pytest.approx(576.0)
    assert by_start[1.0].emissions_g == pytest.approx(384.0 * 1.5 / J_PER_KWH * 100.0)
    assert a.energy_j == pytest.approx(384.0)
    summary = ledger.summary()
    assert summary.idle_energy_j == pytest.approx(240.0)
    assert summary.attributed_energy_j + summary.idle_energy_j == pytest.approx(1200.0)
    [route] = summary.routes
    assert (route.route, route.model, route.requests) == ("/chat", "m", 2)
    assert route.energy_per_request_j == pytest.approx(480.0)
    assert route.emissions_per_1000_requests_g == pytest.approx(
        480.0 * 1.5 / J_PER_KWH * 100.0 * 1000
    )
    assert (route.latency_p50_s, route.latency_p95_s) == (4.0, 6.0)


def test_tokens_reported_at_the_end_weigh_because_settling_waits(clock: Clock) -> None:
    ledger = Ledger(clock)
    [records] = list(_records(ledger))
    a, b = ledger.begin("/gen"), ledger.begin("/gen")
    clock.t_s = 10.0
    _tick(ledger, 10.0, 10.0, gpu=1000.0)
    assert records == [] and ledger.in_flight == 2  # both open: nothing settled yet
    a.set_tokens(tokens_in=100, tokens_out=200)
    b.set_tokens(tokens_in=50, tokens_out=50)
    ledger.end(a)
    ledger.end(b)
    a.set_tokens(tokens_out=10_000)  # after the end: ignored
    _tick(ledger, 20.0, 10.0, gpu=0.0)
    # both ran [0, 10]: 300 vs 100 tokens -> 750 J and 250 J
    assert sorted(r.energy_j for r in records) == pytest.approx([250.0, 750.0])
    [route] = ledger.summary().routes
    assert route.energy_per_token_j == pytest.approx(1000.0 / 400)


def test_prefill_and_decode_per_token(clock: Clock) -> None:
    ledger = Ledger(clock)
    with ledger.request("/gen", tokens_in=1000, tokens_out=100) as served:
        clock.t_s = 2.0
        served.first_token()
        clock.t_s = 10.0
    _tick(ledger, 10.0, 10.0, gpu=1000.0)
    [route] = ledger.summary().routes
    # prefill [0, 2] gets 200 J for 1,000 prompt tokens; decode 800 J for 100 tokens
    assert route.prefill_energy_per_token_j == pytest.approx(0.2)
    assert route.decode_energy_per_token_j == pytest.approx(8.0)


def test_failed_handler_is_accounted_and_the_error_goes_on(clock: Clock) -> None:
    ledger = Ledger(clock)
    [records] = list(_records(ledger))
    with pytest.raises(ZeroDivisionError), ledger.request("/boom"):
        clock.t_s = 5.0
        _ = 1 / 0
    _tick(ledger, 10.0, 10.0, gpu=100.0)
    [record] = records
    assert record.failed and record.energy_j == pytest.approx(50.0)
    assert ledger.summary().routes[0].failed == 1


def test_request_that_never_finishes_is_cut_at_the_timeout(clock: Clock) -> None:
    ledger = Ledger(clock, timeout_s=5.0)
    [records] = list(_records(ledger))
    stuck = ledger.begin("/stuck")
    clock.t_s = 10.0
    _tick(ledger, 10.0, 10.0, gpu=100.0)
    [record] = records
    assert record.cut and (record.start_t_s, record.end_t_s) == (0.0, 5.0)
    assert record.energy_j == pytest.approx(50.0)
    assert ledger.in_flight == 0
    ledger.end(stuck)  # too late: nothing changes
    assert stuck.end_t_s == 5.0


def test_a_long_request_does_not_hold_back_the_others_beyond_max_wait(clock: Clock) -> None:
    ledger = Ledger(clock, max_wait_s=5.0)
    [records] = list(_records(ledger))
    stuck = ledger.begin("/stream")  # runs [0, 10.5]
    clock.t_s = 1.0
    quick = ledger.begin("/quick")  # runs [1, 2]
    clock.t_s = 2.0
    ledger.end(quick)
    clock.t_s = 3.0
    stuck.first_token()
    for end_t_s in range(1, 8):  # 100 J a second
        _tick(ledger, float(end_t_s), 1.0, gpu=100.0)
    # at 7 s, the intervals that ended by 2 s are shared with /stream counted as running:
    # [0, 1] all to /stream, [1, 2] half each
    [done] = records
    assert (done.route, done.energy_j) == ("/quick", pytest.approx(50.0))
    for end_t_s in range(8, 11):
        _tick(ledger, float(end_t_s), 1.0, gpu=100.0)
    clock.t_s = 10.5
    ledger.end(stuck)
    _tick(ledger, 11.0, 1.0, gpu=100.0)  # /stream ran half of [10, 11]
    assert [r.route for r in records] == ["/quick", "/stream"]
    streamed = records[1]
    assert streamed.energy_j == pytest.approx(100 + 50 + 8 * 100 + 50)
    # prefill until its first token at 3 s, though [0, 2] was shared before it ended
    assert streamed.prefill_energy_j == pytest.approx(100 + 50 + 100)
    assert streamed.decode_energy_j == pytest.approx(7 * 100 + 50)
    assert ledger.summary().idle_energy_j == pytest.approx(50.0)


def test_negative_or_fractional_token_counts_are_refused(clock: Clock) -> None:
    ledger = Ledger(clock)
    with pytest.raises(ConfigError, match="tokens_in"), ledger.request(tokens_in=-1):
        pass
    with ledger.request() as served:
        for bad in (-3, 1.5, True):
            with pytest.raises(ConfigError, match="tokens_out"):
                served.set_tokens(tokens_out=bad)  # type: ignore[arg-type]
    assert ledger.in_flight == 0


def test_decorator_accounts_sync_and_async_handlers(clock: Clock) -> None:
    ledger = Ledger(clock)

    @ledger.track(model="m")
    def handle(n: int) -> int:
        served = current_request()
        assert served is not None
        served.set_tokens(tokens_in=n)
        clock.t_s += 1.0
        return n * 2

    @ledger.track("/async")
    async def handle_async() -> str:
        clock.t_s += 1.0
        return "ok"

    assert handle(3) == 6
    assert asyncio.run(handle_async()) == "ok"
    assert current_request() is None
    clock.t_s = 4.0
    _tick(ledger, 4.0, 4.0, gpu=40.0)
    routes = {r.route: r for r in ledger.summary().routes}
    assert set(routes) == {"/async", handle.__qualname__}
    assert routes[handle.__qualname__].tokens_in == 3
    assert routes["/async"].energy_j == pytest.approx(10.0)

    with pytest.raises(ConfigError, match="generator"):

        @ledger.track()
        def stream() -> Iterator[int]:
            yield 1


def test_close_cuts_open_requests_and_finishes_everything(clock: Clock) -> None:
    ledger = Ledger(clock)
    [records] = list(_records(ledger))
    ledger.begin("/open")
    clock.t_s = 10.0
    _tick(ledger, 10.0, 10.0, gpu=100.0)
    clock.t_s = 12.0
    ledger.close()
    [record] = records
    assert record.cut and record.end_t_s == 12.0 and record.energy_j == pytest.approx(100.0)


def test_occupancy_shows_energy_per_request_falling_with_batching(clock: Clock) -> None:
    ledger = Ledger(clock)
    alone = ledger.begin("/r")
    clock.t_s = 10.0
    ledger.end(alone)
    _tick(ledger, 10.0, 10.0, gpu=1000.0)
    batch = [ledger.begin("/r") for _ in range(4)]
    clock.t_s = 20.0
    for served in batch:
        ledger.end(served)
    _tick(ledger, 20.0, 10.0, gpu=1000.0)  # 100 W throughout
    by_bucket = {o.label: o for o in ledger.summary().occupancy}
    assert by_bucket["1"].energy_per_request_j == pytest.approx(1000.0)
    assert by_bucket["3-4"].energy_per_request_j == pytest.approx(250.0)


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="timeout_s"):
        Ledger(lambda: 0.0, timeout_s=0)
    with pytest.raises(ConfigError, match="pue_ratio"):
        Ledger(lambda: 0.0, pue_ratio=0.9)
    with pytest.raises(ConfigError, match="max_wait_s"):
        Ledger(lambda: 0.0, max_wait_s=0.0)


def test_routes_beyond_the_limit_are_grouped(clock: Clock) -> None:
    ledger = Ledger(clock, max_routes=2)
    for route in ("/a", "/b", "/c", "/a"):
        with ledger.request(route):
            clock.t_s += 1.0
    _tick(ledger, clock.t_s, clock.t_s, gpu=4.0)
    assert [(r.route, r.requests) for r in ledger.summary().routes] == [
        ("(other)", 1),
        ("/a", 2),
        ("/b", 1),
    ]


def test_a_failing_listener_is_logged_once(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    ledger = Ledger(clock)

    def broken(_: Settlement) -> None:
        raise RuntimeError("exporter down")

    ledger.add_listener(broken)
    with caplog.at_level(logging.WARNING):
        _tick(ledger, 1.0, 1.0, gpu=1.0)
        _tick(ledger, 2.0, 1.0, gpu=1.0)
    assert [r.getMessage() for r in caplog.records].count(
        f"carbonlens: serving listener {broken!r} failed: exporter down"
    ) == 1


def test_threads_opening_requests_during_ticks_keep_every_joule() -> None:
    lock = threading.Lock()
    now = [0.0]

    def time_s() -> float:
        with lock:
            now[0] += 0.001
            return now[0]

    ledger = Ledger(time_s)
    total_j = 0.0
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with ledger.request("/x"):
                pass

    workers = [threading.Thread(target=serve) for _ in range(4)]
    for w in workers:
        w.start()
    last_t_s = 0.0
    for _ in range(50):
        end_t_s = time_s()
        ledger.on_samples([Sample(GPU, end_t_s, end_t_s - last_t_s, 10.0)])
        total_j += 10.0
        last_t_s = end_t_s
    stop.set()
    for w in workers:
        w.join()
    end_t_s = time_s()
    ledger.on_samples([Sample(GPU, end_t_s, end_t_s - last_t_s, 10.0)])
    ledger.close()
    summary = ledger.summary()
    assert summary.requests > 0
    assert summary.attributed_energy_j + summary.idle_energy_j == pytest.approx(total_j + 10.0)


class _StartedTracker:
    """What `Ledger.for_tracker` needs from a tracker (see `ServedRun`)."""

    def __init__(self, clock: Clock) -> None:
        self.elapsed_s = clock
        self.listeners: list[Any] = []
        self.info = RunInfo(
            run_id="r",
            project="p",
            name="",
            started_at=datetime(2026, 1, 1, tzinfo=UTC),
            host="h",
            pid=1,
            settings={
                "intensity": vars_of(IntensityValue(56.0, "FR", "table")),
                "pue": vars_of(PueValue(1.2, "user")),
            },
        )

    def add_listener(self, listener: Any) -> None:
        self.listeners.append(listener)


def vars_of(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


def test_for_tracker_uses_its_clock_pricing_and_samples(clock: Clock) -> None:
    tracker = _StartedTracker(clock)
    ledger = Ledger.for_tracker(tracker, timeout_s=30.0)
    assert tracker.listeners == [ledger.on_samples]
    with ledger.request():
        clock.t_s = 1.0
    tracker.listeners[0]([Sample(GPU, 1.0, 1.0, 3600.0)])
    [route] = ledger.summary().routes
    assert route.emissions_g == pytest.approx(3600.0 * 1.2 / J_PER_KWH * 56.0)


def test_latency_percentiles_are_nearest_rank() -> None:
    totals = Aggregator(priced=False)
    for latency_s in range(1, 21):
        totals.add(RequestRecord("/r", "", 0.0, float(latency_s), energy_j=1.0, emissions_g=None))
    [route] = totals.summary(0.0, 20.0).routes
    assert (route.latency_p50_s, route.latency_p95_s) == (10.0, 19.0)
    assert route.emissions_g is None and route.emissions_per_1000_requests_g is None


def test_importing_carbonlens_or_serving_loads_no_server_library() -> None:
    code = (
        "import sys, carbonlens, carbonlens.serving\n"
        "heavy = {'prometheus_client', 'starlette', 'uvicorn', 'carbonlens.serving.ledger',"
        " 'carbonlens.serving.asgi', 'carbonlens.serving.prometheus'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
