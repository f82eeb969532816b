"""Historical evaluation: one job a day, priced three ways."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from carbonlens.records import IntensityPoint, IntensitySeries
from carbonlens.schedule import Job, ScheduleError, best_window, evaluate, pause_resume, run_now
from carbonlens.schedule.series_io import read_series_csv, to_grid

DATA = Path(__file__).resolve().parents[1] / "data" / "hourly"
T0 = datetime(2023, 1, 1, tzinfo=UTC)


def hourly(values: list[float]) -> IntensitySeries:
    points = tuple(IntensityPoint(T0 + timedelta(hours=i), 3600, v) for i, v in enumerate(values))
    return IntensitySeries("X", "test", points)


def test_hand_computed_two_days() -> None:
    day = [10.0] * 24
    day[5] = 1.0
    day[7] = 2.0
    result = evaluate(hourly(day + day + day), duration_s=2 * 3600, window_s=12 * 3600)
    assert result.days == 3 and not result.skipped_days
    flexible, paused = result.strategies
    assert flexible.run_now_mean_g_per_kwh == 10.0
    # contiguous 2 h: 05-07 → (1 + 10) / 2 = 5.5; paused: 05 and 07 → 1.5
    assert flexible.plan_mean_g_per_kwh == pytest.approx(5.5)
    assert paused.plan_mean_g_per_kwh == pytest.approx(1.5)
    assert flexible.saving_pct == pytest.approx(45.0)
    assert paused.mean_daily_saving_pct == pytest.approx(85.0)
    assert paused.saving_g_per_kwh == pytest.approx(8.5)


def test_matches_planning_each_day_by_hand_on_real_data() -> None:
    series = read_series_csv(DATA / "DE_2023_em_2023-06-01_7d.csv")
    result = evaluate(series, duration_s=4 * 3600, window_s=24 * 3600, submit_at_s=6 * 3600)
    assert result.days == 6 and result.skipped_days == (date(2023, 6, 7),)
    job = Job.flat(4 * 3600)
    now, flex, paused = [], [], []
    for d in range(6):
        start = datetime(2023, 6, 1 + d, 6, tzinfo=UTC)
        end = start + timedelta(hours=24)
        grid = to_grid(series, start, end)
        now.append(run_now(grid, job, start, end).plan_g_per_kwh)
        flex.append(best_window(grid, job, start, end).plan_g_per_kwh)
        paused.append(pause_resume(grid, job, start, end).plan_g_per_kwh)
    flexible, pr = result.strategies
    assert flexible.run_now_mean_g_per_kwh == pytest.approx(sum(now) / 6)
    assert flexible.plan_mean_g_per_kwh == pytest.approx(sum(flex) / 6)
    assert pr.plan_mean_g_per_kwh == pytest.approx(sum(paused) / 6)
    assert 0 < flexible.saving_pct <= pr.saving_pct
    doc = result.to_dict()
    assert (
        doc["skipped_days"] == ["2023-06-07"]
        and doc["strategies"][0]["strategy"] == "flexible-start"
    )


def test_days_across_a_gap_are_skipped_and_the_range_can_be_chosen() -> None:
    series = read_series_csv(DATA / "GB_2023_neso_2023-10-19_6d.csv")
    result = evaluate(
        series, duration_s=3600, window_s=6 * 3600, start=date(2023, 10, 20), end=date(2023, 10, 23)
    )
    assert result.days == 2  # 20th (00-06 before the gap) and 23rd
    assert result.skipped_days == (date(2023, 10, 21), date(2023, 10, 22))
    assert result.min_chunk_s == 1800


def test_nothing_to_evaluate() -> None:
    with pytest.raises(ScheduleError, match="shorter than the job"):
        evaluate(hourly([1.0] * 24), duration_s=7200, window_s=3600)
    with pytest.raises(ScheduleError, match="empty"):
        evaluate(IntensitySeries("X", "s", ()), duration_s=3600, window_s=7200)
    result = evaluate(hourly([1.0] * 5), duration_s=3600, window_s=24 * 3600)
    assert result.days == 0 and result.skipped_days == (date(2023, 1, 1),)
    assert math.isnan(result.strategies[0].saving_pct)
