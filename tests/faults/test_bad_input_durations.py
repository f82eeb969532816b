"""Durations, times and `--since` spans as typed: a value or a clean error, never a crash."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonlens._cli_common import parse_since
from carbonlens.cli import main
from carbonlens.errors import ConfigError
from carbonlens.schedule.durations import MAX_DURATION_S, parse_duration, parse_time, parse_when

FUZZ = settings(max_examples=200, deadline=None, derandomize=True)
BASE = datetime(2026, 1, 1, tzinfo=UTC)
# pieces people (and fuzzers) type: numbers of every size, units, signs, ISO parts, junk
PIECES = st.sampled_from(
    ["", " ", "-", "+", "1", "0", "1.5", ".5", "9" * 30, "9" * 400, "1e400", "nan", "inf"]
    + ["s", "m", "h", "d", "w", "x", "min", "hours", "y", "P", "T", "D", "H", "M", "S", "W"]
    + ["\x00", "é", "1h30m", "PT1H", "P1Y", "now", "2026-01-01", "Z", "+01:00"]
)
TYPED = st.lists(PIECES, max_size=6).map("".join) | st.text(max_size=20)


@FUZZ
@given(text=TYPED)
def test_parse_duration_gives_finite_seconds_or_a_config_error(text: str) -> None:
    try:
        seconds = parse_duration(text, name="--duration")
    except ConfigError as exc:
        assert "--duration" in str(exc) and exc.setting == "--duration"
        return
    assert math.isfinite(seconds) and 0 < seconds <= MAX_DURATION_S


@FUZZ
@given(text=TYPED)
def test_parse_when_gives_a_utc_time_or_a_config_error(text: str) -> None:
    try:
        moment = parse_when(text, base=BASE, tz=UTC, name="--deadline")
    except ConfigError:
        return
    assert moment.utcoffset() == timedelta(0)


@FUZZ
@given(text=TYPED)
def test_parse_since_gives_an_aware_time_or_a_usage_error(text: str) -> None:
    try:
        moment = parse_since(text)
    except click.BadParameter:
        return
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "is not a duration"),
        ("-1h", "must not be negative"),
        ("1e400s", "unknown unit"),  # "1" then unit "e": refused, not read as 1e400
        ("5x", "unknown unit"),
        ("9" * 400, "longer than 100 years"),  # float("9" * 400) is inf
        ("99999999999d", "longer than 100 years"),
        ("P1Y", "years or months"),
        ("0s", "longer than zero"),
    ],
)
def test_bad_durations_say_why(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_duration(text)


@pytest.mark.parametrize("text", ["9999-12-31T23:00-01:00", "0001-01-01T00:00+01:00"])
def test_times_out_of_range_in_utc_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="out of range"):
        parse_time(text)


@pytest.mark.parametrize("text", ["99999999999w", "9999-12-31T23:59-01:00"])
def test_since_outside_the_calendar_is_a_usage_error(text: str) -> None:
    with pytest.raises(click.BadParameter, match="outside years 1 to 9999"):
        parse_since(text)


SERIES = str(
    Path(__file__).resolve().parents[1] / "data" / "hourly" / "GB_2023_em_2023-06-01_7d.csv"
)
PLAN = ["schedule", "--location", "GB", "--series", SERIES, "--earliest", "2023-06-01T00:00Z"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["runs", "--since", "99999999999w"], "--since"),
        (["runs", "--since", "5x"], "--since"),
        ([*PLAN, "--duration", "9" * 400, "--deadline", "24h"], "--duration"),
        ([*PLAN, "--duration", "-1h", "--deadline", "24h"], "--duration"),
        ([*PLAN, "--duration", "2h", "--deadline", "P99999999999D"], "--deadline"),
        ([*PLAN, "--duration", "2h", "--deadline", "9999-12-31T23:59-01:00"], "out of range"),
        ([*PLAN, "--duration", "2h", "--deadline", "24h", "--min-chunk", "5x"], "--min-chunk"),
    ],
)
def test_cli_durations_exit_2_without_traceback(
    tmp_path: Path, args: list[str], named: str
) -> None:
    (tmp_path / "runs.db").write_bytes(b"")
    env = {"CARBONLENS_STORE": str(tmp_path / "runs.db"), "XDG_CONFIG_HOME": str(tmp_path)}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and named in result.output
