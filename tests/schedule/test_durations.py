"""Durations and times as typed on the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from carbonlens.errors import ConfigError
from carbonlens.schedule.durations import (
    format_duration,
    format_local,
    parse_duration,
    parse_time,
    parse_when,
    zone_from_name,
)

NOW = datetime(2023, 6, 1, 12, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90m", 5400),
        ("1.5h", 5400),
        ("5400s", 5400),
        ("5400", 5400),
        ("2d", 172800),
        ("1w", 604800),
        ("1h30m", 5400),
        ("1 h 30 min", 5400),
        ("2 hours", 7200),
        (".5h", 1800),
        ("PT1H30M", 5400),
        ("pt90m", 5400),
        ("P1DT2H", 93600),
        ("P2W", 1209600),
        ("PT0.5H", 1800),
    ],
)
def test_durations_in_mixed_units_agree(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["-1h", "-PT1H", "0h", "", "h", "1x", "1h30", "P", "PT", "P1M", "P1Y"]
)
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text, name="--duration")


def test_negative_is_named_and_zero_allowed_when_asked() -> None:
    with pytest.raises(ConfigError, match="negative"):
        parse_duration("-1h")
    assert parse_duration("0s", allow_zero=True) == 0
    with pytest.raises(ConfigError, match="months"):
        parse_duration("P1M")


def test_times_are_utc_inside_and_naive_times_are_read_in_the_zone() -> None:
    assert parse_time("2023-06-01T12:00Z") == NOW
    assert parse_time("2023-06-01T13:00+01:00") == NOW
    assert parse_time("2023-06-01 13:00", tz=LONDON) == NOW  # BST
    assert parse_time("2023-01-01", tz=LONDON) == datetime(2023, 1, 1, tzinfo=UTC)
    assert parse_time("now", now=NOW) == NOW
    with pytest.raises(ConfigError, match="neither a time"):
        parse_time("tomorrow")


def test_when_is_a_duration_from_the_base_or_a_time() -> None:
    assert parse_when("24h", base=NOW) == NOW + timedelta(hours=24)
    assert parse_when("PT12H", base=NOW) == NOW + timedelta(hours=12)
    assert parse_when("2023-06-02T00:00Z", base=NOW) == datetime(2023, 6, 2, tzinfo=UTC)
    with pytest.raises(ConfigError, match="negative"):
        parse_when("-2h", base=NOW)


def test_local_display_names_the_zone_and_utc() -> None:
    assert format_local(NOW, LONDON) == "2023-06-01 13:00 BST (12:00 UTC)"
    assert format_local(NOW, UTC) == "2023-06-01 12:00 UTC"
    assert format_local(NOW, LONDON, utc_too=False) == "2023-06-01 13:00 BST"


def test_zone_names() -> None:
    assert zone_from_name("Europe/London") == LONDON
    assert zone_from_name(None) is not None
    with pytest.raises(ConfigError, match="time zone"):
        zone_from_name("Mars/Olympus")


def test_format_duration() -> None:
    assert [format_duration(s) for s in (5400, 21600, 93600, 20, 0)] == [
        "1 h 30 min",
        "6 h",
        "1 d 2 h",
        "20 s",
        "0 s",
    ]
