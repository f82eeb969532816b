"""Try live intensity sources in order; fall back to the bundled annual average.

Every answer is a `Resolved` value that says which source answered, why each
earlier source did not (`FallbackRecord`s, reasons already redacted by the
sources), and what was done to the data (`notes`). Rules:

* A source fails when it raises `IntensityUnavailable` (bad key, HTTP error,
  timeout, malformed JSON, wrong units...) or returns a series with no points;
  the next source is tried.
* When every live source fails, `fallback(location)` answers (by default the
  bundled annual average of `intensity.table`; a location the tables do not know
  gets the world average), and the value's `reason` says why. With
  `fallback=None` the chain raises `IntensityUnavailable` instead.
* Gaps inside a series (missing periods between two points) up to `max_gap_s`
  (default 2 h) are filled by linear interpolation between the values either
  side, and the notes say how many and how long. A longer gap fails that source
  for the whole series: half-live, half-invented series are not returned, and
  marginal and average signals are never mixed in one series.
* Missing coverage at the ends (a forecast shorter than asked, history that
  starts late) is never padded: `missing_s` and the notes say how much is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Generic, Self, TypeVar

from carbonlens._frozen import frozen
from carbonlens.errors import LocationError
from carbonlens.intensity._parse import iso_z, utc
from carbonlens.intensity.base import IntensitySource, IntensityUnavailable
from carbonlens.intensity.table import annual_intensity, resolve_location, world_average
from carbonlens.records import IntensityPoint, IntensitySeries, IntensityValue

__all__ = [
    "DEFAULT_MAX_GAP_S",
    "FALLBACK",
    "FallbackChain",
    "FallbackRecord",
    "Resolved",
    "bundled_average",
]

FALLBACK = "fallback"
"""`Resolved.source` when no live source answered and the fallback did."""

DEFAULT_MAX_GAP_S = 7200.0
"""Longest gap inside a series that is interpolated (2 h); longer gaps fail the source."""

_TOLERANCE_S = 1.0
_log = logging.getLogger(__name__)
T = TypeVar("T", IntensityValue, IntensitySeries)


@frozen
class FallbackRecord:
    """A source that did not answer, and why (never contains a key or token)."""

    source: str
    reason: str


@frozen
class Resolved(Generic[T]):
    """What a `FallbackChain` answered.

    Attributes:
        value: the intensity value (gCO2e/kWh) or series.
        source: the name of the source that answered, or `FALLBACK`.
        fallbacks: the sources tried before it, in order, with their reasons.
        notes: what was done to the data (interpolation, missing coverage).
        missing_s: seconds of the asked period that the series does not cover.
    """

    value: T
    source: str
    fallbacks: tuple[FallbackRecord, ...] = ()
    notes: tuple[str, ...] = ()
    missing_s: float = 0.0

    @property
    def used_fallback(self) -> bool:
        """Whether every live source failed and the fallback (bundled average) answered."""
        return self.source == FALLBACK


def bundled_average(location: str) -> IntensityValue:
    """The bundled annual average of `location` (gCO2e/kWh), else the world average.

    Args:
        location: anything `table.resolve_location` accepts.

    Returns:
        The table value; a location the tables do not know gets the world
        average, and the reason says so.
    """
    try:
        return annual_intensity(resolve_location(location))
    except LocationError:
        world = world_average()
        reason = f"{location!r} is not in the bundled tables: world average"
        return replace(world, location=location, reason=reason)


class _Unusable(Exception):
    """A series the chain cannot use: no points, or a gap longer than the limit."""


class FallbackChain:
    """Live sources tried in order, then the bundled annual average.

    Its methods mirror `IntensitySource` but return `Resolved` values, so the
    caller can record which source answered and why others did not.
    """

    name = "chain"

    def __init__(
        self,
        sources: Sequence[IntensitySource],
        *,
        fallback: Callable[[str], IntensityValue] | None = bundled_average,
        max_gap_s: float = DEFAULT_MAX_GAP_S,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Build a chain.

        Args:
            sources: live sources, most preferred first.
            fallback: the last resort, given the location (None: raise instead).
            max_gap_s: longest gap in a series to interpolate, in seconds.
            now: the current UTC time, for forecast windows.
        """
        self.sources = tuple(sources)
        self.fallback = fallback
        self.max_gap_s = max_gap_s
        self._now = now

    def __enter__(self) -> Self:
        """Use the chain in a `with` block; its sources are closed at the end."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close every source."""
        self.close()

    def close(self) -> None:
        """Close every source."""
        for source in self.sources:
            source.close()

    def latest(self, location: str) -> Resolved[IntensityValue]:
        """The latest intensity from the first source that has one, else the fallback.

        Raises:
            IntensityUnavailable: every source failed and `fallback` is None.
        """
        records: list[FallbackRecord] = []
        for source in self.sources:
            try:
                return Resolved(source.latest(location), source.name, tuple(records))
            except IntensityUnavailable as exc:
                self._record(records, source.name, exc.reason)
        value = self._fallback(location, records)
        return Resolved(value, FALLBACK, tuple(records), (value.reason,))

    def history(self, location: str, start: datetime, end: datetime) -> Resolved[IntensitySeries]:
        """Observed intensity over [`start`, `end`) (UTC), gaps filled per the module rules.

        Raises:
            ValueError: a naive datetime.
            IntensityUnavailable: every source failed and `fallback` is None.
        """
        start, end = utc(start, "start"), utc(end, "end")
        return self._series(location, start, end, lambda s: s.history(location, start, end))

    def forecast(self, location: str, hours: float) -> Resolved[IntensitySeries]:
        """Predicted intensity from now for `hours` hours; a shorter forecast is not padded.

        Raises:
            IntensityUnavailable: every source failed and `fallback` is None.
        """
        start = self._now()
        end = start + timedelta(hours=max(0.0, hours))
        return self._series(location, start, end, lambda s: s.forecast(location, hours), True)

    def _series(
        self,
        location: str,
        start: datetime,
        end: datetime,
        fetch: Callable[[IntensitySource], IntensitySeries],
        forecast: bool = False,
    ) -> Resolved[IntensitySeries]:
        records: list[FallbackRecord] = []
        for source in self.sources:
            try:
                series = fetch(source)
                if not series.points:
                    raise _Unusable("no data points for the period")
                points, notes = _fill_gaps(series.points, self.max_gap_s)
            except IntensityUnavailable as exc:
                self._record(records, source.name, exc.reason)
                continue
            except _Unusable as exc:
                self._record(records, source.name, str(exc))
                continue
            missing_s, coverage = _coverage(points, start, end, forecast)
            value = replace(series, points=points)
            return Resolved(value, source.name, tuple(records), (*notes, *coverage), missing_s)
        fallback = self._fallback(location, records)
        span_s = max(0.0, (end - start).total_seconds())
        basis = f"annual average, flat: {fallback.basis} ({fallback.year})"
        points = (IntensityPoint(start, span_s, fallback.intensity_g_per_kwh),) if span_s else ()
        flat = IntensitySeries(location, fallback.source, points, "average", basis, forecast)
        return Resolved(flat, FALLBACK, tuple(records), (fallback.reason,))

    @staticmethod
    def _record(records: list[FallbackRecord], source: str, reason: str) -> None:
        _log.info("intensity source %s failed: %s", source, reason)
        records.append(FallbackRecord(source, reason))

    def _fallback(self, location: str, records: list[FallbackRecord]) -> IntensityValue:
        summary = "; ".join(f"{r.source}: {r.reason}" for r in records) or "no live source"
        if self.fallback is None:
            raise IntensityUnavailable(self.name, location, f"every source failed ({summary})")
        value = self.fallback(location)
        _log.warning("no live intensity for %s (%s); using the fallback", location, summary)
        return replace(value, reason=f"live sources failed ({summary}); {value.reason}")


def _fill_gaps(
    points: tuple[IntensityPoint, ...], max_gap_s: float
) -> tuple[tuple[IntensityPoint, ...], tuple[str, ...]]:
    """Points with interior gaps up to `max_gap_s` filled linearly, and a note saying so.

    Filled points take the step of the point before the gap; a value at time t is
    interpolated between the starts of the two points around the gap.

    Raises:
        _Unusable: a gap is longer than `max_gap_s`.
    """
    out = [points[0]]
    gaps, filled_s = 0, 0.0
    for before, after in pairwise(points):
        t = before.start + timedelta(seconds=before.duration_s)
        gap_s = (after.start - t).total_seconds()
        if gap_s > _TOLERANCE_S:
            if gap_s > max_gap_s:
                raise _Unusable(
                    f"gap of {gap_s / 3600:.2f} h from {iso_z(t)} is longer than the "
                    f"{max_gap_s / 3600:g} h interpolation limit"
                )
            span_s = (after.start - before.start).total_seconds()
            rise = after.intensity_g_per_kwh - before.intensity_g_per_kwh
            while t < after.start:
                step_s = min(before.duration_s, (after.start - t).total_seconds())
                ratio = (t - before.start).total_seconds() / span_s
                out.append(IntensityPoint(t, step_s, before.intensity_g_per_kwh + rise * ratio))
                t += timedelta(seconds=step_s)
            gaps, filled_s = gaps + 1, filled_s + gap_s
        out.append(after)
    notes = (
        (
            f"interpolated {gaps} gap(s) totalling {filled_s / 60:g} min linearly between "
            f"the values either side (limit {max_gap_s / 3600:g} h per gap)",
        )
        if gaps
        else ()
    )
    return tuple(out), notes


def _coverage(
    points: tuple[IntensityPoint, ...], start: datetime, end: datetime, forecast: bool
) -> tuple[float, tuple[str, ...]]:
    """Seconds of [`start`, `end`) not covered at either end, and a note when any."""
    last = points[-1]
    head_s = max(0.0, (points[0].start - start).total_seconds())
    tail_s = max(0.0, (end - last.start).total_seconds() - last.duration_s)
    missing_s = (head_s if head_s > _TOLERANCE_S else 0.0) + (
        tail_s if tail_s > _TOLERANCE_S else 0.0
    )
    if not missing_s:
        return 0.0, ()
    asked_h = (end - start).total_seconds() / 3600
    kind = "forecast" if forecast else "history"
    return missing_s, (
        f"{kind} covers {asked_h - missing_s / 3600:.2f} h of the {asked_h:.2f} h asked: "
        f"{head_s / 3600:.2f} h missing at the start, {tail_s / 3600:.2f} h at the end "
        "(not padded)",
    )
