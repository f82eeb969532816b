"""Live intensity providers that hang or answer slowly, on 127.0.0.1: a run's end waits
at most the stop deadline (`tracking.live.STOP_DEADLINE_S`, shortened here), then
prices the run at the bundled annual average with a note saying why."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carbonlens.accounting import RunReport
from carbonlens.config import Settings
from carbonlens.records import Channel, Component, Method
from carbonlens.testing.fakes import FakeClock, FakeSensor, FakeShares
from carbonlens.testing.intensity_server import IntensityServer, LoggedRequest, Reply, em_point
from carbonlens.tracking import live
from carbonlens.tracking.tracker import Tracker

CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)
DEADLINE_S = 1.0
MARGIN_S = 1.5
"""Slack for the run's own work on a busy machine; less than the waits it must not do."""
PAST_RANGE = "/v3/carbon-intensity/past-range"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[IntensityServer]:
    monkeypatch.setattr(live, "STOP_DEADLINE_S", DEADLINE_S)
    with IntensityServer() as running:
        monkeypatch.setenv("CARBONLENS_ELECTRICITYMAPS_TOKEN", running.em_token)
        monkeypatch.setenv("CARBONLENS_ELECTRICITYMAPS_URL", running.url)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        yield running


def _timed_run(tmp_path: Path, days: float) -> tuple[RunReport, float]:
    """A 1 kWh run of `days` (in January, so Electricity Maps is asked for its
    past range, one request per 10 days) and how long its `stop()` took."""
    clock = FakeClock(wall=datetime(2026, 1, 1, tzinfo=UTC))
    tracker = Tracker(
        sensors=[FakeSensor(CPU, energy_j=[0.0, 3_600_000.0])],
        settings=Settings(country="DE", intensity_provider="electricitymaps"),
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
    )
    tracker.start()
    clock.advance(days * 86400.0)
    began = time.monotonic()
    report = tracker.stop()
    return report, time.monotonic() - began


def _priced_at_annual_average(report: RunReport) -> None:
    assert report.time_resolved is None
    # 1 kWh at the table's DE intensity (the intensity shown is the table's)
    assert report.operational_g == pytest.approx(report.intensity.intensity_g_per_kwh)
    assert "annual average used" in " ".join(n for n in report.notes if "electricitymaps" in n)


def test_provider_that_never_answers(server: IntensityServer, tmp_path: Path) -> None:
    server.route(PAST_RANGE, Reply(delay_s=60.0, json={}))
    report, stop_s = _timed_run(tmp_path, days=2.0)
    assert stop_s < DEADLINE_S + MARGIN_S
    _priced_at_annual_average(report)
    assert server.requests_to(PAST_RANGE)  # it was asked


def test_slow_answers_within_each_timeout_still_end_at_the_deadline(
    server: IntensityServer, tmp_path: Path
) -> None:
    # 35 days are four past-range requests; each answers in 0.8 s, under the read
    # timeout, so without a bound on the whole the end would wait 4 x 0.8 = 3.2 s
    def slow(request: LoggedRequest) -> Reply:
        start = datetime.fromisoformat(request.param("start"))
        return Reply(delay_s=0.8, json={"zone": "DE", "data": [em_point(start, 300.0)]})

    server.route(PAST_RANGE, slow)
    report, stop_s = _timed_run(tmp_path, days=35.0)
    assert stop_s < DEADLINE_S + MARGIN_S
    _priced_at_annual_average(report)
    assert f"no answer within {DEADLINE_S:g} s" in " ".join(report.notes)


def test_slow_but_timely_provider_is_used(server: IntensityServer, tmp_path: Path) -> None:
    def hourly(request: LoggedRequest) -> Reply:
        start = datetime.fromisoformat(request.param("start"))
        points = [em_point(start + timedelta(hours=h), 300.0) for h in range(48)]
        return Reply(delay_s=0.3, json={"zone": "DE", "data": points})

    server.route(PAST_RANGE, hourly)
    report, stop_s = _timed_run(tmp_path, days=2.0)
    assert stop_s < DEADLINE_S + MARGIN_S
    # 1 kWh spread evenly over 48 hours at 300 g/kWh
    assert report.time_resolved is not None
    assert report.operational_g == pytest.approx(300.0)
