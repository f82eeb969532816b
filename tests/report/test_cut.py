"""How to cut it: cleaner regions and a better start, priced through build_report."""

from __future__ import annotations

from datetime import timedelta

import pytest

from carbonlens.accounting import series_settings
from carbonlens.records import IntensityPoint, IntensitySeries, IntensityValue, PueValue, Sample
from carbonlens.report.cut import (
    DEVICES_NOTE,
    Alternative,
    GridOption,
    best_start,
    cleaner_regions,
    how_to_cut,
)

from .conftest import CPU, EMBODIED_G, GPU, START, TOTAL_G, StoredRuns, known_settings


def _grid(code: str, g_per_kwh: float, pue: float | None = None) -> GridOption:
    value = IntensityValue(g_per_kwh, code, f"table for {code}", 2025, "lifecycle")
    return GridOption(code, f"name of {code}", value, PueValue(pue, "region PUE") if pue else None)


OPTIONS = [
    _grid("FR", 1.0),
    _grid("c:dirty", 500.0),
    _grid("a:clean", 10.0, 1.1),
    _grid("b:ok", 50.0),
]


def _hourly(*g_per_kwh: float) -> IntensitySeries:
    points = tuple(
        IntensityPoint(START + timedelta(hours=h), 3600.0, g) for h, g in enumerate(g_per_kwh)
    )
    return IntensitySeries("FR", "Electricity Maps", points)


def test_cleanest_regions_priced_with_their_intensity_and_pue(runs: StoredRuns) -> None:
    runs.add()
    report = runs.report("known0001")
    found = cleaner_regions(report, runs.store.samples("known0001"), OPTIONS, count=2)
    assert [a.label for a in found] == [
        "run in a:clean (name of a:clean)",
        "run in b:ok (name of b:ok)",
    ]
    clean, ok = found
    # 0.3 kWh IT x PUE 1.1 x 10 g/kWh = 3.3 g; embodied unchanged
    assert clean.total_g == pytest.approx(3.3 + EMBODIED_G)
    assert clean.saving_g == pytest.approx(36.0 - 3.3)
    assert clean.saving_pct == pytest.approx(100 * (36.0 - 3.3) / TOTAL_G)
    # no PUE for the region: the run's 1.2 is kept, 0.36 kWh x 50 = 18 g
    assert ok.saving_g == pytest.approx(18.0)
    assert any("PUE 1.1 (region PUE)" in a for a in clean.assumptions)
    assert any("PUE 1.2 (user setting)" in a for a in ok.assumptions)
    assert any("table for a:clean, 2025 (lifecycle)" in a for a in clean.assumptions)


def test_own_location_is_skipped_and_dirtier_grids_are_not_offered(runs: StoredRuns) -> None:
    runs.add()
    report = runs.report("known0001")
    samples = runs.store.samples("known0001")
    assert cleaner_regions(report, samples, [_grid("FR", 1.0), _grid("x", 900.0)]) == []
    cut = how_to_cut(report, samples, [_grid("x", 900.0)])
    assert cut.alternatives == ()
    assert any("already as clean" in n for n in cut.notes)
    assert DEVICES_NOTE in cut.notes


def test_best_start_in_the_runs_own_series(runs: StoredRuns) -> None:
    series = _hourly(100.0, 90.0, 20.0, 60.0, 100.0)
    runs.add(settings=known_settings(intensity_series=series_settings(series)))
    report = runs.report("known0001")
    assert report.operational_g == pytest.approx(36.0)  # hour 0 at 100 g/kWh
    best = best_start(report, runs.store.samples("known0001"))
    assert isinstance(best, Alternative)
    assert best.label == "start at 2026-01-01T02:00:00+00:00"
    assert best.saving_g == pytest.approx(36.0 - 0.36 * 20.0)
    assert "5 start times tried" in best.assumptions[0]


def test_a_forecast_can_be_given(runs: StoredRuns) -> None:
    runs.add()
    report = runs.report("known0001")
    forecast = IntensitySeries("FR", "UK NESO", _hourly(300.0, 5.0).points, forecast=True)
    best = best_start(report, runs.store.samples("known0001"), forecast)
    assert isinstance(best, Alternative)
    assert best.total_g == pytest.approx(0.36 * 5.0 + EMBODIED_G)
    assert "forecast" in best.assumptions[0]


def test_no_series_says_why(runs: StoredRuns) -> None:
    runs.add()
    report = runs.report("known0001")
    note = best_start(report, runs.store.samples("known0001"))
    assert isinstance(note, str) and "no intensity series" in note
    too_short = _hourly(100.0)
    only = best_start(report, runs.store.samples("known0001"), _hourly(100.0, 100.0))
    assert isinstance(only, str) and "would have emitted less" in only
    assert isinstance(best_start(report, [], too_short), str)


def test_long_runs_are_priced_in_chunks(runs: StoredRuns) -> None:
    samples = [
        Sample(ch, float(t), 1.0, w)
        for t in range(1, 3601)
        for ch, w in ((GPU, 200.0), (CPU, 100.0))
    ]
    series = _hourly(100.0, 100.0, 20.0, 100.0)
    runs.add(samples=samples, settings=known_settings(intensity_series=series_settings(series)))
    report = runs.report("known0001")
    best = best_start(report, runs.store.samples("known0001"))
    assert isinstance(best, Alternative)
    assert best.saving_g == pytest.approx(36.0 - 7.2, rel=1e-6)


def test_how_to_cut_orders_by_saving(runs: StoredRuns) -> None:
    runs.add(settings=known_settings(intensity_series=series_settings(_hourly(100.0, 30.0))))
    report = runs.report("known0001")
    cut = how_to_cut(report, runs.store.samples("known0001"), OPTIONS, count=3)
    savings = [a.saving_g for a in cut.alternatives]
    assert savings == sorted(savings, reverse=True)
    assert {a.kind for a in cut.alternatives} == {"region", "start time"}
    assert cut.baseline_g == pytest.approx(TOTAL_G)
