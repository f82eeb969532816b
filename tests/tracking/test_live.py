"""A run priced with a live provider: the fake Electricity Maps on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carbonlens.config import Settings
from carbonlens.intensity.base import IntensityAuthError
from carbonlens.records import Channel, Component, Method
from carbonlens.testing import FakeClock, FakeSensor, FakeShares
from carbonlens.testing.intensity_server import IntensityServer, LoggedRequest, Reply, em_point
from carbonlens.tracking.tracker import Tracker

CPU = Channel("fake", Component.CPU, "cpu", Method.MEASURED)
HALF_KWH_J = 1_800_000.0


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[IntensityServer]:
    with IntensityServer() as running:
        monkeypatch.setenv("CARBONLENS_ELECTRICITYMAPS_TOKEN", running.em_token)
        monkeypatch.setenv("CARBONLENS_ELECTRICITYMAPS_URL", running.url)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        yield running


def _run(tmp_path: Path, **settings: object) -> Tracker:
    clock = FakeClock(wall=datetime(2026, 1, 1, 0, 30, tzinfo=UTC))
    tracker = Tracker(
        sensors=[FakeSensor(CPU, energy_j=[0.0, HALF_KWH_J, 2 * HALF_KWH_J])],
        settings=Settings(**settings),  # type: ignore[arg-type]
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
    )
    tracker.start()
    clock.advance(1800.0)
    with tracker.window("second-half"):
        clock.advance(1800.0)
    tracker.stop()
    return tracker


def test_run_hours_are_priced_with_the_providers_series(
    server: IntensityServer, tmp_path: Path
) -> None:
    def two_hours(request: LoggedRequest) -> Reply:
        points = [
            em_point(datetime(2026, 1, 1, 0, tzinfo=UTC), 100.0),
            em_point(datetime(2026, 1, 1, 1, tzinfo=UTC), 300.0),
        ]
        return Reply(json={"zone": request.param("zone"), "data": points})

    server.route("/v3/carbon-intensity/past-range", two_hours)
    tracker = _run(tmp_path, country="DE", intensity_provider="electricitymaps")
    report = tracker.report
    assert report is not None
    # 00:30-01:00: 0.5 kWh x 100 g; 01:00-01:30: 0.5 kWh x 300 g -> 200 g
    assert report.operational_g == pytest.approx(200.0)
    assert report.time_resolved is not None and report.time_resolved.covered_ratio == 1.0
    # the annual-average figure stays beside it: 1 kWh x DE Ember 2025
    assert report.operational_annual_g == pytest.approx(report.intensity.intensity_g_per_kwh)
    assert report.windows[0].operational_g == pytest.approx(150.0)
    [request] = server.requests_to("/v3/carbon-intensity/past-range")
    assert request.param("zone") == "DE"
    # the series is kept with the run, so `show` prices it the same way later
    from carbonlens.accounting import build_report
    from carbonlens.store import SqliteStore

    store = SqliteStore(tmp_path / "runs.db")
    info = store.get_run(tracker.run_id)
    assert info is not None
    again = build_report(info, store.samples(info.run_id), store.windows(info.run_id))
    store.close()
    assert again.operational_g == pytest.approx(200.0)
    assert server.em_token not in str(info.settings)


def test_provider_refusing_the_key_leaves_the_annual_average(
    server: IntensityServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARBONLENS_ELECTRICITYMAPS_TOKEN", "wrong-secret-token")
    tracker = _run(tmp_path, country="DE", intensity_provider="electricitymaps")
    report = tracker.report
    assert report is not None and report.time_resolved is None
    assert report.operational_g == pytest.approx(report.operational_annual_g)
    assert any("electricitymaps" in note and "annual average" in note for note in report.notes)
    assert "wrong-secret-token" not in " ".join(report.notes)


def test_missing_key_fails_before_the_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CARBONLENS_ELECTRICITYMAPS_TOKEN", raising=False)
    with pytest.raises(IntensityAuthError, match="CARBONLENS_ELECTRICITYMAPS_TOKEN"):
        Tracker(
            settings=Settings(country="DE", intensity_provider="electricitymaps"),
            store=tmp_path / "r.db",
        )
