"""Response parsing shared by the live sources: times, values, series, locations.

Pure functions with no I/O. A value that breaks the documented format raises
`ValueError`/`TypeError`; sources run their parsing inside `HttpClient.parsing`,
which turns those into `IntensityUnavailable` with the reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from carbonlens.records import IntensityPoint

__all__ = [
    "MAX_PLAUSIBLE_G_PER_KWH",
    "MAX_POINT_S",
    "Row",
    "build_points",
    "clip",
    "floor_time",
    "intensity_g_per_kwh",
    "iso_z",
    "parse_latlon",
    "parse_time",
    "utc",
]

MAX_PLAUSIBLE_G_PER_KWH = 3000.0
"""Values above this (gCO2e/kWh) are rejected as wrong units: the dirtiest plants emit ~1,200."""

MAX_POINT_S = 31 * 86_400.0
"""Longest period one point may cover, in seconds (a month; providers give 5 min to a day)."""

Row = tuple[datetime, float | None, float | None]
"""A parsed point: (start UTC, gCO2e/kWh or None when missing, duration_s or None)."""

_LATLON = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


def utc(moment: datetime, name: str = "datetime") -> datetime:
    """`moment` in UTC.

    Raises:
        ValueError: `moment` is naive (carbonlens never guesses a time zone), or
            out of range once in UTC.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(UTC)), got {moment}")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{name} is out of range in UTC, got {moment}") from None


def parse_time(value: object) -> datetime:
    """A UTC datetime from an ISO 8601 string of a response ("2018-01-20T12:00Z", "...+00:00").

    Raises:
        ValueError: not a string, not ISO 8601, or without a time zone.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 time, got {value!r}")
    return utc(datetime.fromisoformat(value), f"time {value!r}")


def iso_z(moment: datetime, *, seconds: bool = True) -> str:
    """`moment` (aware) as ISO 8601 UTC with a `Z`: "2022-07-19T14:00:00Z" (or "...T14:00Z")."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ" if seconds else "%Y-%m-%dT%H:%MZ")


def floor_time(moment: datetime, step_s: float) -> datetime:
    """`moment` (aware) rounded down to a multiple of `step_s` seconds since the epoch (UTC)."""
    moment = utc(moment)
    epoch_s = moment.timestamp()
    return datetime.fromtimestamp(epoch_s - epoch_s % step_s, UTC)


def intensity_g_per_kwh(value: object, factor: float = 1.0) -> float | None:
    """An intensity in gCO2e/kWh from a JSON number times `factor`; None for JSON null.

    Args:
        value: the number as decoded from JSON.
        factor: unit conversion to gCO2e/kWh (1.0 when the provider already uses it).

    Raises:
        ValueError: not a number, not finite, negative or above `MAX_PLAUSIBLE_G_PER_KWH`.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    converted = float(value) * factor
    if not math.isfinite(converted) or not 0.0 <= converted <= MAX_PLAUSIBLE_G_PER_KWH:
        raise ValueError(
            f"implausible intensity {converted:g} gCO2e/kWh "
            f"(outside 0-{MAX_PLAUSIBLE_G_PER_KWH:g}; wrong units?)"
        )
    return converted


def build_points(rows: Iterable[Row], default_step_s: float) -> tuple[IntensityPoint, ...]:
    """Time-ordered points from parsed rows; rows without a value are dropped (they leave gaps).

    A row without its own duration lasts the series' step: the smallest spacing
    between consecutive rows (so a gap is never stretched into a long point), or
    `default_step_s` for a single row. A repeated start keeps its last row.

    Args:
        rows: (start, intensity gCO2e/kWh or None, duration_s or None).
        default_step_s: the provider's documented period, in seconds.

    Returns:
        The points, oldest first.

    Raises:
        ValueError: a duration that is not a finite number of seconds above zero
            and at most `MAX_POINT_S`, or a point that would end after year 9999.
    """
    by_start = {start: (value, duration_s) for start, value, duration_s in rows}
    starts = sorted(by_start)
    spacings = [(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)]
    step_s = min(spacings, default=default_step_s)
    points = tuple(
        IntensityPoint(start, duration_s or step_s, value)
        for start in starts
        for value, duration_s in [by_start[start]]
        if value is not None
    )
    for point in points:
        if not 0.0 < point.duration_s <= MAX_POINT_S:  # also refuses NaN
            raise ValueError(
                f"the point at {point.start} lasts {point.duration_s:g} s "
                f"(expected above 0 and at most {MAX_POINT_S:g} s)"
            )
        if point.start > datetime.max.replace(tzinfo=UTC) - timedelta(seconds=point.duration_s):
            raise ValueError(f"the point at {point.start} ends after year 9999")
    return points


def clip(
    points: Iterable[IntensityPoint], start: datetime, end: datetime
) -> tuple[IntensityPoint, ...]:
    """The points that overlap [`start`, `end`)."""
    return tuple(
        p for p in points if p.start < end and p.start + timedelta(seconds=p.duration_s) > start
    )


def parse_latlon(location: str) -> tuple[float, float] | None:
    """(latitude, longitude) in degrees from "lat,lon" text; None when not one or out of range."""
    match = _LATLON.match(location)
    if match is None:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    return (lat, lon) if -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0 else None
