"""Tracker: wiring of sensors, pricing and store, with a fake clock and fake sensors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import carbonlens
from carbonlens.errors import ConfigError, LocationError
from carbonlens.records import Channel, Component, Method, RunStatus
from carbonlens.store import SqliteStore
from carbonlens.testing.fakes import FakeClock, FakeSensor, FakeShares
from carbonlens.tracking.tracker import Tracker

CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)
GPU = Channel("fake", Component.GPU, "gpu0", Method.MEASURED)


def _tracker(tmp_path: Path, clock: FakeClock, *sensors: FakeSensor, **kw: object) -> Tracker:
    return Tracker(
        project="p",
        name="unit",
        sensors=list(sensors),
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(cpu_ratio=0.5),
        interval_s=3600.0,  # the background thread never ticks; the test drives time
        **kw,  # type: ignore[arg-type]
    )


def test_run_is_measured_priced_and_stored(tmp_path: Path) -> None:
    clock = FakeClock()
    cpu = FakeSensor(CPU, energy_j=[0.0, 1800.0, 3600.0])
    gpu = FakeSensor(GPU, energy_j=[0.0, 3600.0, 7200.0])
    tracker = _tracker(tmp_path, clock, cpu, gpu, country="FR", pue=1.2)
    with tracker:
        clock.advance(1800.0)
        with tracker.window("second-half"):
            clock.advance(1800.0)
    report = tracker.report
    assert report is not None
    # 3600 J + 7200 J = 10,800 J of IT energy; x1.2 PUE;
    # FR Ember 2025 = 41.44 g/kWh (grid_intensity_country.csv)
    assert report.it_energy_j == pytest.approx(10_800.0)
    assert report.intensity.intensity_g_per_kwh == pytest.approx(41.44)
    assert report.intensity.year == 2025
    assert report.operational_g == pytest.approx(10_800 * 1.2 / 3.6e6 * 41.44)
    assert report.pue.source == "user setting"
    # CPU share 0.5 from attribution: 1800 J of the 3600 J
    [cpu_total, _gpu_total] = report.components
    assert cpu_total.process_energy_j == pytest.approx(1800.0)
    [window] = report.windows
    assert window.it_energy_j == pytest.approx(1800.0 + 3600.0)
    assert window.duration_s == pytest.approx(1800.0)
    # one GPU card and the host share: embodied is charged for both devices
    assert {e.component for e in report.embodied} == {Component.GPU, Component.OTHER}
    assert report.embodied_g > 0
    assert cpu.closed and gpu.closed

    store = SqliteStore(tmp_path / "runs.db")
    try:
        info = store.get_run(tracker.run_id)
        assert info is not None and info.status == RunStatus.FINISHED
        assert info.duration_s == pytest.approx(3600.0)
        assert sum(s.energy_j for s in store.samples(tracker.run_id)) == pytest.approx(10_800.0)
        assert [w.name for w in store.windows(tracker.run_id)] == ["second-half"]
    finally:
        store.close()
    assert report.store_location == str(tmp_path / "runs.db")


def test_exception_in_block_marks_run_failed_and_propagates(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = _tracker(tmp_path, clock, FakeSensor(CPU, energy_j=[0.0, 5.0]))
    with pytest.raises(ZeroDivisionError), tracker:
        clock.advance(1.0)
        _ = 1 / 0
    assert tracker.report is not None
    assert tracker.report.info.status == RunStatus.FAILED
    assert tracker.report.it_energy_j == pytest.approx(5.0)


def test_no_location_uses_world_average_and_says_so(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = _tracker(tmp_path, clock, FakeSensor(CPU, energy_j=[0.0, 1.0]))
    report = tracker.start().stop()
    assert report.intensity.intensity_g_per_kwh == pytest.approx(472.94)
    assert any("no location set" in note for note in report.notes)


def test_cloud_region_sets_intensity_and_pue(tmp_path: Path) -> None:
    clock = FakeClock()
    sensor = FakeSensor(CPU, energy_j=[0.0, 1.0])
    tracker = _tracker(tmp_path, clock, sensor, region="aws:us-east-1")
    report = tracker.start().stop()
    # cloud_regions.csv: aws us-east-1 -> US-MIDA-PJM 418 g (EM 2025), PUE 1.15 (2024)
    assert report.intensity.intensity_g_per_kwh == 418
    assert report.pue.pue_ratio == pytest.approx(1.15)


def test_bad_explicit_settings_fail_at_construction(tmp_path: Path) -> None:
    with pytest.raises(LocationError, match="did you mean") as info:
        Tracker(country="Frnace", store=tmp_path / "r.db")
    assert "FR" in info.value.suggestions
    with pytest.raises(ConfigError, match="interval_s"):
        Tracker(interval_s=0, store=tmp_path / "r.db")


def test_unwritable_store_falls_back_to_a_file_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store's directory should be")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    clock = FakeClock()
    tracker = Tracker(
        sensors=[FakeSensor(CPU, energy_j=[0.0, 2.0])],
        store=blocker / "runs.db",
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
    )
    with caplog.at_level(logging.WARNING, logger="carbonlens"), tracker:
        clock.advance(1.0)
    report = tracker.report
    assert report is not None
    assert report.it_energy_j == pytest.approx(2.0)
    assert report.store_location.startswith(str(tmp_path / "state" / "carbonlens"))
    assert report.store_location.endswith(".jsonl")
    assert any(report.store_location in note for note in report.notes)
    assert report.store_location in caplog.text


def test_store_failing_mid_run_switches_to_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    clock = FakeClock()
    tracker = _tracker(tmp_path, clock, FakeSensor(CPU, energy_j=[0.0, 1.0, 3.0, 6.0]))
    tracker.start()
    clock.advance(1.0)
    window = tracker.window("w1")
    window.__enter__()  # a tick while the store still works (1 J)
    writer = tracker._writer
    assert writer is not None
    store = writer._store
    assert store is not None

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "append_samples", broken)
    clock.advance(1.0)
    report = tracker.stop()
    # 1 J stayed in the database, the final tick's 2 J went to the fallback file
    assert report.it_energy_j == pytest.approx(3.0)
    assert any("No space left" in note for note in report.notes)
    assert ".jsonl" in report.store_location


def test_track_decorator_keeps_the_report(tmp_path: Path) -> None:
    clock = FakeClock()

    @carbonlens.track(
        project="deco",
        sensors=[FakeSensor(CPU, energy_j=[0.0, 4.0])],
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
    )
    def work(x: int) -> int:
        clock.advance(2.0)
        return x * 2

    assert work(21) == 42
    report = work.last_report  # type: ignore[attr-defined]
    assert report.info.project == "deco"
    assert report.info.name.endswith("work")
    assert report.it_energy_j == pytest.approx(4.0)


def test_interval_is_shortened_to_a_counters_wrap_limit(tmp_path: Path) -> None:
    sensor = FakeSensor(CPU, energy_j=[0.0, 1.0])
    sensor.max_poll_interval_s = 30.0  # type: ignore[attr-defined]  # e.g. a RAPL zone
    tracker = _tracker(tmp_path, FakeClock(), sensor)  # asks for 3600 s
    report = tracker.start().stop()
    assert any("sampling every 30.0 s, not 3600 s" in note for note in report.notes)


def test_host_share_setting_scales_embodied_host_emissions(tmp_path: Path) -> None:
    def host_share(**kw: object) -> float:
        tracker = _tracker(tmp_path, FakeClock(), FakeSensor(CPU, energy_j=[0.0, 1.0]), **kw)
        report = tracker.start().stop()
        [host] = [e for e in report.embodied if e.component == Component.OTHER]
        return host.share_ratio

    assert host_share(settings=carbonlens.Settings(host_share_ratio=0.0625)) == 0.0625
    with pytest.raises(ConfigError, match="between 0 \\(excluded\\) and 1"):
        carbonlens.load_settings(env={"CARBONLENS_HOST_SHARE_RATIO": "2"}, paths=[])


def test_second_start_is_a_no_op(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = _tracker(tmp_path, clock, FakeSensor(CPU, energy_j=[0.0, 2.0, 5.0]))
    tracker.start()
    first_sampler = tracker._sampler
    assert tracker.start() is tracker and tracker._sampler is first_sampler
    clock.advance(1.0)
    assert tracker.stop().it_energy_j == pytest.approx(2.0)


def test_market_based_figure_from_settings(tmp_path: Path) -> None:
    sensor = FakeSensor(CPU, energy_j=[0.0, 3_600_000.0])  # 1 kWh
    settings = carbonlens.Settings(country="FR", contractual_intensity_g_per_kwh=20.0)
    clock = FakeClock()
    tracker = _tracker(tmp_path, clock, sensor, settings=settings).start()
    clock.advance(3600.0)
    report = tracker.stop()
    # FR Ember 2025: 1 kWh x 41.44 g location-based; contract: 1 kWh x 20 g
    assert report.operational_g == pytest.approx(41.44)
    assert report.market is not None and report.market.operational_g == pytest.approx(20.0)
    both = carbonlens.Settings(contractual_intensity_g_per_kwh=20.0, cfe_ratio=0.5)
    with pytest.raises(ConfigError, match="not both"):
        Tracker(settings=both, store=tmp_path / "r.db")


def test_listeners_see_every_interval_and_cannot_break_the_run(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = _tracker(tmp_path, clock, FakeSensor(CPU, energy_j=[0.0, 2.0, 5.0]))
    seen: list[float] = []

    def broken(samples: object) -> None:
        raise ValueError("listener bug")

    tracker.add_listener(lambda samples: seen.extend(s.energy_j for s in samples))
    tracker.add_listener(broken)
    tracker.start()
    clock.advance(1.0)
    with tracker.window("w"):
        clock.advance(1.0)
    report = tracker.stop()
    assert seen == [2.0, 3.0]
    assert report.it_energy_j == pytest.approx(5.0)
