"""Intensity series from CSV files, checked, and turned into planning grids.

File format (the user's files and the bundled hourly test series alike)::

    timestamp_utc,g_co2e_per_kwh
    2023-01-01T00:00:00Z,185.8
    2023-01-01T01:00:00Z,185.7

`timestamp_utc` is the start of each interval (ISO 8601; without an offset it is
read as UTC); the interval lasts until the next row, at most the file's usual
step (the most common difference between rows), so a missing row is a gap. A
file whose step becomes finer part way (30 min, then 15 min) is read as it is;
one whose step becomes coarser shows gaps. Rows must be sorted and unique;
values finite, non-negative and below 3000 g/kWh (higher is a unit error).
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from carbonlens.records import IntensityPoint, IntensitySeries
from carbonlens.schedule.models import Grid, ScheduleError, iso_z

__all__ = ["COLUMNS", "MAX_G_PER_KWH", "contiguous_grids", "gaps", "read_series_csv", "to_grid"]

COLUMNS = ("timestamp_utc", "g_co2e_per_kwh")
MAX_G_PER_KWH = 3000.0
_TOL_S = 1.0
_SHOWN = 3


def _end(point: IntensityPoint) -> datetime:
    return point.start + timedelta(seconds=point.duration_s)


def read_series_csv(path: str | Path, *, location: str = "", source: str = "") -> IntensitySeries:
    """Read and check a `timestamp_utc,g_co2e_per_kwh` CSV file.

    Args:
        path: the file.
        location: what the series is for (default: the file name up to the first `_`).
        source: where it comes from (default: the file name).

    Returns:
        The series, one point per row; durations as the module docstring says.

    Raises:
        ScheduleError: unreadable file, wrong header, a bad time or value, rows
            out of order or repeated (with line numbers), fewer than two rows.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            rows = list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        raise ScheduleError(f"cannot read the series {path}: {exc}") from exc
    except csv.Error as exc:
        raise ScheduleError(
            f"{path}:{reader.line_num}: not readable as CSV ({exc}); "
            "the file must be `timestamp_utc,g_co2e_per_kwh` rows"
        ) from None
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if not set(COLUMNS) <= set(header):
        raise ScheduleError(f"{path}: the header must name the columns {','.join(COLUMNS)}")
    at, col = header.index(COLUMNS[0]), header.index(COLUMNS[1])
    starts: list[datetime] = []
    values: list[float] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        starts.append(_time(row, at, path, line))
        values.append(_value(row, col, path, line))
    _check_order(starts, path)
    if len(starts) < 2:
        raise ScheduleError(f"{path}: a series needs at least two rows")
    steps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)]
    usual = Counter(steps).most_common(1)[0][0]
    durations = [min(step, usual) for step in steps] + [min(steps[-1], usual)]
    points = tuple(map(IntensityPoint, starts, durations, values))
    return IntensitySeries(location or path.stem.split("_", 1)[0], source or path.name, points)


def _time(row: list[str], at: int, path: Path, line: int) -> datetime:
    try:
        moment = datetime.fromisoformat(row[at].strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (IndexError, ValueError, OverflowError):
        cell = row[at] if at < len(row) else ""
        raise ScheduleError(
            f"{path}:{line}: {cell!r} is not an ISO 8601 time between years 1 and 9999 (UTC)"
        ) from None


def _value(row: list[str], col: int, path: Path, line: int) -> float:
    try:
        value = float(row[col])
    except (IndexError, ValueError):
        cell = row[col] if col < len(row) else ""
        raise ScheduleError(f"{path}:{line}: {cell!r} is not a number (gCO2e/kWh)") from None
    if not (math.isfinite(value) and 0 <= value < MAX_G_PER_KWH):
        raise ScheduleError(
            f"{path}:{line}: {value:g} gCO2e/kWh is not a plausible intensity "
            f"(0 to {MAX_G_PER_KWH:g}; kg/kWh or lb/MWh?)"
        )
    return value


def _check_order(starts: list[datetime], path: Path) -> None:
    """Refuse repeated and out-of-order rows, naming the first few (line numbers)."""
    repeated = [i for i in range(1, len(starts)) if starts[i] == starts[i - 1]]
    backwards = [i for i in range(1, len(starts)) if starts[i] < starts[i - 1]]
    for found, what in (
        (repeated, "repeats the time of the row before"),
        (backwards, "is earlier than the row before"),
    ):
        if found:
            lines = ", ".join(str(i + 2) for i in found[:_SHOWN])
            more = f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
            raise ScheduleError(
                f"{path}: row(s) at line {lines}{more} {what}; "
                "rows must be sorted by time and unique"
            )


def gaps(points: Iterable[IntensityPoint]) -> list[tuple[datetime, datetime]]:
    """The periods (start, end) between consecutive points that no point covers."""
    out, previous = [], None
    for point in points:
        if previous is not None and (point.start - _end(previous)).total_seconds() > _TOL_S:
            out.append((_end(previous), point.start))
        previous = point
    return out


def _missing_text(missing: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> str:
    parts = []
    for a, b in missing[:_SHOWN]:
        where = "at the start" if a <= start else "at the end" if b >= end else "gap"
        parts.append(f"{iso_z(a)} to {iso_z(b)} ({where}, {(b - a).total_seconds() / 3600:g} h)")
    more = f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
    return "; ".join(parts) + more


def to_grid(
    series: IntensitySeries, start: datetime, end: datetime, *, slot_s: float | None = None
) -> Grid:
    """The series on equal slots over [`start`, `end`), checked to cover all of it.

    Slots are aligned on the series' own times (hours stay hours). Points finer
    than the slot are averaged over it, time-weighted.

    Args:
        series: the intensity series.
        start: start of the planning window (UTC).
        end: end of the planning window (UTC).
        slot_s: slot length in seconds (default: the longest point in the window).

    Raises:
        ScheduleError: the series misses part of the window; the message and
            `missing` say which part.
    """
    inside = [p for p in series.points if _end(p) > start and p.start < end]
    if not inside:
        span = (
            f"covers {iso_z(series.points[0].start)} to {iso_z(_end(series.points[-1]))}"
            if series.points
            else "is empty"
        )
        raise ScheduleError(
            f"the series of {series.location} {span}; the window {iso_z(start)} to "
            f"{iso_z(end)} lies outside it",
            missing=[(start, end)],
        )
    missing = gaps(inside)
    if inside[0].start > start + timedelta(seconds=_TOL_S):
        missing.insert(0, (start, inside[0].start))
    if _end(inside[-1]) < end - timedelta(seconds=_TOL_S):
        missing.append((_end(inside[-1]), end))
    if missing:
        raise ScheduleError(
            f"the series of {series.location} does not cover the window {iso_z(start)} to "
            f"{iso_z(end)}: missing {_missing_text(missing, start, end)}",
            missing=missing,
        )
    slot = slot_s or max(p.duration_s for p in inside)
    origin = inside[0].start
    first = origin + timedelta(seconds=math.floor((start - origin).total_seconds() / slot) * slot)
    count = math.ceil((end - first).total_seconds() / slot - 1e-9)
    sums, covered = [0.0] * count, [0.0] * count
    for p in inside:
        a = (p.start - first).total_seconds()
        b = a + p.duration_s
        i = max(0, int(a // slot))
        while i < count and i * slot < b:
            overlap = min(b, (i + 1) * slot) - max(a, i * slot)
            sums[i] += overlap * p.intensity_g_per_kwh
            covered[i] += overlap
            i += 1
    values = tuple(s / c if c > 0 else 0.0 for s, c in zip(sums, covered, strict=True))
    basis = series.basis or series.signal
    return Grid(series.location, first, slot, values, series.source, basis)


def contiguous_grids(series: IntensitySeries) -> list[Grid]:
    """The series cut at its gaps, each gap-free stretch as one grid."""
    stretches: list[list[IntensityPoint]] = [[]]
    for point in series.points:
        current = stretches[-1]
        if current and (point.start - _end(current[-1])).total_seconds() > _TOL_S:
            stretches.append([])
        stretches[-1].append(point)
    return [
        to_grid(series, stretch[0].start, _end(stretch[-1])) for stretch in stretches if stretch
    ]
