"""Reading series files, checking them, and putting them on planning grids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carbonlens.records import IntensityPoint, IntensitySeries
from carbonlens.schedule import ScheduleError, read_series_csv, to_grid
from carbonlens.schedule.series_io import contiguous_grids, gaps

DATA = Path(__file__).resolve().parents[1] / "data" / "hourly"
DE = DATA / "DE_2023_em_2023-06-01_7d.csv"
NESO = DATA / "GB_2023_neso_2023-10-19_6d.csv"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "series.csv"
    path.write_text(text)
    return path


def test_reads_a_bundled_hourly_slice() -> None:
    series = read_series_csv(DE)
    assert (series.location, series.source) == ("DE", DE.name)
    assert len(series.points) == 168
    first = series.points[0]
    assert (first.start, first.duration_s, first.intensity_g_per_kwh) == (
        utc(2023, 6, 1),
        3600,
        272.14,
    )


def test_half_hourly_file_with_a_gap_keeps_the_gap() -> None:
    series = read_series_csv(NESO)
    assert {p.duration_s for p in series.points} == {1800}
    assert gaps(series.points) == [(utc(2023, 10, 20, 22), utc(2023, 10, 22, 19, 30))]


def test_window_across_the_gap_says_which_part_is_missing() -> None:
    series = read_series_csv(NESO)
    with pytest.raises(ScheduleError) as err:
        to_grid(series, utc(2023, 10, 20, 12), utc(2023, 10, 23))
    assert err.value.missing == ((utc(2023, 10, 20, 22), utc(2023, 10, 22, 19, 30)),)
    assert "2023-10-20T22:00:00Z to 2023-10-22T19:30:00Z (gap, 45.5 h)" in str(err.value)


def test_window_beyond_the_series_says_which_end_is_missing() -> None:
    series = read_series_csv(DE)
    with pytest.raises(ScheduleError, match="at the end, 12 h") as err:
        to_grid(series, utc(2023, 6, 7), utc(2023, 6, 8, 12))
    assert err.value.missing == ((utc(2023, 6, 8), utc(2023, 6, 8, 12)),)
    with pytest.raises(ScheduleError, match="at the start"):
        to_grid(series, utc(2023, 5, 31, 22), utc(2023, 6, 1, 6))
    with pytest.raises(ScheduleError, match="lies outside"):
        to_grid(series, utc(2024, 1, 1), utc(2024, 1, 2))


def test_grid_is_aligned_on_the_series_and_covers_the_window() -> None:
    grid = to_grid(read_series_csv(DE), utc(2023, 6, 2, 5, 20), utc(2023, 6, 3, 1, 10))
    assert grid.start == utc(2023, 6, 2, 5) and grid.slot_s == 3600
    assert grid.end == utc(2023, 6, 3, 2)
    assert len(grid.values_g_per_kwh) == 21


def test_finer_points_are_averaged_over_a_coarser_slot() -> None:
    grid = to_grid(read_series_csv(NESO), utc(2023, 10, 19), utc(2023, 10, 19, 2), slot_s=3600)
    assert grid.values_g_per_kwh == pytest.approx(
        [(p.intensity_g_per_kwh + q.intensity_g_per_kwh) / 2 for p, q in _pairs(NESO, 2)]
    )


def _pairs(path: Path, count: int) -> list[tuple[IntensityPoint, IntensityPoint]]:
    points = read_series_csv(path).points
    return [(points[2 * i], points[2 * i + 1]) for i in range(count)]


def test_a_series_switching_to_a_finer_step_is_read_as_it_is(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "timestamp_utc,g_co2e_per_kwh\n"
        "2020-10-30T23:00:00Z,100\n2020-10-30T23:30:00Z,200\n"
        "2020-10-31T00:00:00Z,300\n2020-10-31T00:15:00Z,400\n2020-10-31T00:30:00Z,500\n",
    )
    series = read_series_csv(path)
    assert not gaps(series.points)
    grid = to_grid(series, utc(2020, 10, 30, 23), utc(2020, 10, 31, 0, 30))
    assert grid.slot_s == 1800
    assert grid.values_g_per_kwh == pytest.approx((100, 200, 350))


def test_contiguous_grids_split_at_gaps() -> None:
    grids = contiguous_grids(read_series_csv(NESO))
    assert [(g.start, g.end) for g in grids] == [
        (utc(2023, 10, 19), utc(2023, 10, 20, 22)),
        (utc(2023, 10, 22, 19, 30), utc(2023, 10, 25)),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("time,value\n", "header"),
        ("timestamp_utc,g_co2e_per_kwh\n2023-01-01T00:00Z,1\n", "at least two rows"),
        ("timestamp_utc,g_co2e_per_kwh\nyesterday,1\n2023-01-01T00:00Z,1\n", ":2: 'yesterday'"),
        ("timestamp_utc,g_co2e_per_kwh\n2023-01-01T00:00Z,abc\n", ":2: 'abc' is not a number"),
        ("timestamp_utc,g_co2e_per_kwh\n2023-01-01T00:00Z,-5\n", "not a plausible"),
        ("timestamp_utc,g_co2e_per_kwh\n2023-01-01T00:00Z,nan\n", "not a plausible"),
        (
            "timestamp_utc,g_co2e_per_kwh\n2023-01-01T00:00Z,0.45\n2023-01-01T01:00Z,4500\n",
            ":3: 4500",
        ),
        (
            "timestamp_utc,g_co2e_per_kwh\n2023-01-01T00:00Z,1\n2023-01-01T01:00Z,2\n"
            "2023-01-01T01:00Z,3\n",
            "line 4 repeats",
        ),
        (
            "timestamp_utc,g_co2e_per_kwh\n2023-01-01T01:00Z,1\n2023-01-01T00:00Z,2\n",
            "line 3 is earlier",
        ),
    ],
)
def test_bad_files_are_refused_with_the_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message.replace("(", r"\(")):
        read_series_csv(write(tmp_path, body))


def test_missing_file_and_naive_times(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError, match="cannot read"):
        read_series_csv(tmp_path / "nope.csv")
    path = write(
        tmp_path,
        "g_co2e_per_kwh,timestamp_utc\n10,2023-01-01T00:00\n20,2023-01-01T02:00:00+01:00\n"
        "\n30,2023-01-01T02:00\n",
    )
    series = read_series_csv(path, location="X", source="mine")
    assert [p.start for p in series.points] == [
        utc(2023, 1, 1),
        utc(2023, 1, 1, 1),
        utc(2023, 1, 1, 2),
    ]
    assert (series.location, series.source) == ("X", "mine")


def test_series_without_points_is_outside_every_window() -> None:
    empty = IntensitySeries("X", "s", ())
    with pytest.raises(ScheduleError, match="empty"):
        to_grid(empty, utc(2023, 1, 1), utc(2023, 1, 1) + timedelta(hours=1))
