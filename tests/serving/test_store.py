"""Serving windows in the run store: aggregated metric points, never a row per request."""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carbonlens.errors import ConfigError
from carbonlens.records import Channel, Component, Method, RunInfo, Sample
from carbonlens.serving import Ledger, WindowWriter, summaries_from_points
from carbonlens.store import SqliteStore
from carbonlens.store.base import MetricPoint

GPU = Channel("fake", Component.GPU, "gpu0", Method.MEASURED)


def _serve(ledger: Ledger, now: list[float], until_t_s: float) -> int:
    """Two requests a second on two routes, a tick every 5 s of 500 J; returns requests."""
    served = 0
    while now[0] < until_t_s:
        with ledger.request("/chat" if served % 2 else "/embed", "m", tokens_in=10, tokens_out=5):
            now[0] += 0.25
        now[0] += 0.25
        served += 1
        if now[0] % 5 == 0:
            ledger.on_samples([Sample(GPU, now[0], 5.0, 500.0)])
    return served


def test_windows_round_trip_through_the_sqlite_store(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "runs.db")
    info = RunInfo("run1", "p", "", datetime(2026, 1, 1, tzinfo=UTC), "host", 1)
    store.create_run(info)
    now = [0.0]
    ledger = Ledger(lambda: now[0], intensity_g_per_kwh=100.0)
    writer = WindowWriter(ledger, functools.partial(store.log_metrics, "run1"), window_s=10.0)
    served = _serve(ledger, now, 25.0)
    ledger.close()
    writer.close()
    try:
        points = store.metrics("run1")
    finally:
        store.close()
    windows = summaries_from_points(points)
    assert [(w.start_t_s, w.end_t_s) for w in windows] == [(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)]
    # a window is 4 totals + 15 fields per (route, model) + 2 per occupancy bucket, however
    # many requests it holds (20 here, or 60,000 at 1,000 requests/s)
    assert Counter(p.step for p in points) == {0: 36, 1: 36, 2: 36}
    total = ledger.summary()
    assert sum(w.requests for w in windows) == total.requests == served
    assert sum(w.attributed_energy_j + w.idle_energy_j for w in windows) == pytest.approx(2500.0)
    assert sum(w.idle_energy_j for w in windows) == pytest.approx(total.idle_energy_j)
    [embed, chat] = sorted(windows[0].routes, key=lambda r: r.route, reverse=True)
    assert (embed.route, embed.model, embed.requests, embed.tokens_in) == ("/embed", "m", 10, 100)
    # 20 requests in [0, 10], each in flight 0.25 s of every 0.5 s: 500 J per 5 s tick is
    # half idle, and each request gets 250 J / 10 = 25 J
    assert embed.energy_per_request_j == pytest.approx(25.0)
    assert chat.energy_per_token_j == pytest.approx(25.0 / 15)
    assert embed.latency_p95_s == pytest.approx(0.25)
    assert windows[0].idle_emissions_g is not None
    assert [o.label for o in windows[0].occupancy] == ["1"]


def test_a_failed_write_is_logged_once_and_merged_into_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    ledger = Ledger(lambda: now[0])
    written: list[Sequence[MetricPoint]] = []
    failures = [RuntimeError("disk full"), RuntimeError("disk full")]

    def sink(points: Sequence[MetricPoint]) -> None:
        if failures:
            raise failures.pop()
        written.append(points)

    WindowWriter(ledger, sink, window_s=5.0)
    with caplog.at_level(logging.WARNING):
        served = _serve(ledger, now, 15.0)
    [window] = summaries_from_points(p for points in written for p in points)
    assert (window.start_t_s, window.end_t_s, window.requests) == (0.0, 15.0, served)
    assert window.idle_emissions_g is None
    assert sum("disk full" in r.getMessage() for r in caplog.records) == 1


def test_window_length_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="window_s"):
        WindowWriter(Ledger(lambda: 0.0), lambda points: None, window_s=0.0)
