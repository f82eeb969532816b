"""Intensity series CSV files: a checked series or a `ScheduleError` naming file and line."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonlens.cli import main
from carbonlens.schedule.models import ScheduleError
from carbonlens.schedule.series_io import MAX_G_PER_KWH, read_series_csv

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
HEADER = "timestamp_utc,g_co2e_per_kwh"
TIMES = st.sampled_from(
    ["2023-01-01T00:00:00Z", "2023-01-01T01:00:00Z", "2023-01-01T01:00:00+05:00", "2023-01-01"]
    + ["0001-01-01T00:00+01:00", "9999-12-31T23:00-01:00", "", "nope", "\x00", "2023-13-01"]
)
VALUES = st.sampled_from(
    ["100", "0", "-1", "nan", "inf", "1e400", "2999.9", "3000", "", "x", "1" + "0" * 400]
)
ROW = st.tuples(TIMES, VALUES, st.sampled_from(["", ",extra", ',"'])).map(
    lambda t: ",".join(t[:2]) + t[2]
)


def _read(path: Path) -> str:
    """ "series" or "error", after checking either outcome."""
    try:
        series = read_series_csv(path)
    except ScheduleError as exc:
        assert str(path) in str(exc)
        return "error"
    assert len(series.points) >= 2
    assert all(0 <= p.intensity_g_per_kwh < MAX_G_PER_KWH for p in series.points)
    assert all(math.isfinite(p.duration_s) and p.duration_s > 0 for p in series.points)
    return "series"


@FUZZ
@given(content=st.binary(max_size=300))
def test_random_bytes_give_a_series_or_a_schedule_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "GB_series.csv"
    path.write_bytes(content)
    assert _read(path) in ("series", "error")


@FUZZ
@given(rows=st.lists(ROW, max_size=6), bom=st.booleans(), header=st.sampled_from([HEADER, "a,b"]))
def test_structured_rows_give_a_series_or_a_schedule_error(
    tmp_path: Path, rows: list[str], bom: bool, header: str
) -> None:
    path = tmp_path / "GB_series.csv"
    path.write_text(("\ufeff" if bom else "") + "\n".join([header, *rows]), encoding="utf-8")
    assert _read(path) in ("series", "error")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("2023-01-01T00:00Z,\n", ":2: '' is not a number"),
        ("2023-01-01T00:00Z,nan\n2023-01-01T01:00Z,1\n", ":2: nan gCO2e/kWh is not a plausible"),
        ("0001-01-01T00:00+01:00,1\n", ":2: '0001-01-01T00:00+01:00' is not an ISO 8601 time"),
        ("2023-01-01T00:00Z," + "1" * 200_000 + "\n", ":2: not readable as CSV"),
        ("2023-01-01T01:00Z,1\n2023-01-01T00:00Z,1\n", "line 3 is earlier than the row before"),
        ("2023-01-01T00:00Z,1\n", "a series needs at least two rows"),
    ],
)
def test_bad_files_name_the_line_and_the_fix(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "GB_series.csv"
    path.write_text(f"{HEADER}\n{body}", encoding="utf-8")
    with pytest.raises(ScheduleError) as caught:
        read_series_csv(path)
    assert str(caught.value).startswith(str(path)) and expected in str(caught.value)


def test_a_wrong_header_names_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "GB_series.csv"
    path.write_text("time,value\n2023-01-01T00:00Z,1\n", encoding="utf-8")
    with pytest.raises(ScheduleError, match="the header must name the columns timestamp_utc,"):
        read_series_csv(path)


def test_a_bom_and_an_offset_are_read(tmp_path: Path) -> None:
    path = tmp_path / "GB_series.csv"
    path.write_text(f"\ufeff{HEADER}\n2023-01-01T01:00+01:00,100\n2023-01-01T01:00Z,200\n")
    series = read_series_csv(path)
    # 01:00+01:00 is 00:00 UTC: two hourly points, 3600 s each
    assert [p.duration_s for p in series.points] == [3600.0, 3600.0]


def test_cli_with_a_bad_series_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "GB_series.csv"
    path.write_bytes(b"timestamp_utc,g_co2e_per_kwh\n\x00," + b"9" * 200_000)
    args = ["schedule", "--duration", "2h", "--deadline", "24h", "--location", "GB"]
    result = CliRunner().invoke(main, [*args, "--series", str(path), "--earliest", "2023-01-01"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{path}:2: not readable as CSV" in result.output
