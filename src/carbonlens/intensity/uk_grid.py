"""The GB grid from the NESO Carbon Intensity API (no key), national or regional.

Locations: "GB" (also "UK", "national") for Great Britain; "regionid:N" for one
of the 17 NESO regions (1 North Scotland ... 14 South East England, 15 England,
16 Scotland, 17 Wales); an outward postcode ("RG41", or "postcode:RG41"; a full
postcode is cut to its outward part). Half-hourly average intensity in
gCO2e/kWh, operational (generation including imports and T&D losses, not
lifecycle). Observed values use `actual`; where NESO has not published it yet
(`null`) the forecast value is used and the result says so. Regional values are
forecasts only. Data CC BY 4.0 (NESO).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from carbonlens.intensity._http import HttpClient, HttpOptions, HttpSource
from carbonlens.intensity._parse import (
    Row,
    build_points,
    clip,
    floor_time,
    intensity_g_per_kwh,
    iso_z,
    parse_time,
    utc,
)
from carbonlens.records import IntensitySeries, IntensityValue

__all__ = ["DEFAULT_URL", "UkGridIntensity"]

DEFAULT_URL = "https://api.carbonintensity.org.uk"
_LICENSE = "CC-BY-4.0 (NESO Carbon Intensity API)"
_BASIS = "operational, GB generation incl. imports and T&D losses (NESO)"
_PERIOD_S = 1800.0
_NATIONAL = frozenset({"", "gb", "uk", "national"})
_REGION_IDS = range(1, 18)
_REGION = re.compile(r"^region(?:id)?\s*[:/]?\s*(\d{1,2})$", re.IGNORECASE)
_POSTCODE = re.compile(
    r"^(?:postcode\s*[:/]?\s*)?([A-Z]{1,2}\d[A-Z\d]?)(?:\s*\d[A-Z]{2})?$", re.IGNORECASE
)


class UkGridIntensity(HttpSource):
    """GB national or regional intensity from api.carbonintensity.org.uk (gCO2e/kWh)."""

    name = "uk-grid"

    def __init__(self, *, base_url: str = DEFAULT_URL, http: HttpOptions | None = None) -> None:
        """Prepare a client (no key is needed; no request is made yet).

        Args:
            base_url: API host.
            http: timeouts, retries, cache and test hooks.
        """
        self._http = HttpClient(self.name, base_url, http or HttpOptions())

    def latest(self, location: str) -> IntensityValue:
        """The current half hour: `/intensity` (national) or `/regional/...` (regional).

        Raises:
            IntensityUnavailable: unknown location, failed request or empty response.
        """
        scope = self._scope(location)
        path = f"/regional{scope}" if scope else "/intensity"
        with self._http.parsing(location, "latest"):
            periods = self._periods(self._http.get_json(path, zone=location), scope)
            if not periods:
                raise self._http.unavailable(location, "empty response: no current value")
            [(start, value, _)], forecasts = self._rows(periods[:1], scope, observed=True)
        if value is None:
            raise self._http.unavailable(location, "no value for the current half hour")
        kind = "regional forecast" if scope else "actual"
        if forecasts and not scope:
            kind = "actual not yet published: NESO forecast value used"
        return IntensityValue(
            value,
            location,
            self.name,
            start.year,
            _BASIS,
            f"{kind} for the half hour from {iso_z(start, seconds=False)}",
            _LICENSE,
        )

    def history(self, location: str, start: datetime, end: datetime) -> IntensitySeries:
        """Half-hourly values over [`start`, `end`): actual where published, else forecast.

        Raises:
            ValueError: a naive datetime.
            IntensityUnavailable: unknown location or failed request.
        """
        start, end = utc(start, "start"), utc(end, "end")
        span = f"{iso_z(start, seconds=False)}/{iso_z(end, seconds=False)}"
        return self._series(location, span, start, end, forecast=False)

    def forecast(self, location: str, hours: float) -> IntensitySeries:
        """NESO forecast from the current half hour for `hours` hours (at most 48 h).

        Raises:
            IntensityUnavailable: unknown location or failed request.
        """
        start, end = self._forecast_window(hours)
        span = f"{iso_z(floor_time(start, _PERIOD_S), seconds=False)}/fw48h"
        return self._series(location, span, start, end, forecast=True)

    def _series(
        self, location: str, span: str, start: datetime, end: datetime, *, forecast: bool
    ) -> IntensitySeries:
        scope = self._scope(location)
        path = f"/regional/intensity/{span}{scope}" if scope else f"/intensity/{span}"
        data = self._http.get_json(path, zone=location)
        with self._http.parsing(location, "forecast" if forecast else "history"):
            rows, forecasts = self._rows(self._periods(data, scope), scope, observed=not forecast)
            points = clip(build_points(rows, _PERIOD_S), start, end)
        basis = _BASIS
        if scope:
            basis += "; regional values are forecasts only"
        elif forecasts:
            basis += f"; {forecasts} of {len(rows)} value(s) are forecasts (actual not published)"
        return IntensitySeries(location, self.name, points, "average", basis, forecast)

    def _scope(self, location: str) -> str:
        """ "" for national, else the path suffix "/regionid/N" or "/postcode/XXN"."""
        text = location.strip()
        if text.casefold() in _NATIONAL:
            return ""
        if (match := _REGION.match(text)) and int(match.group(1)) in _REGION_IDS:
            return f"/regionid/{int(match.group(1))}"
        if match := _POSTCODE.match(text):
            return f"/postcode/{match.group(1).upper()}"
        raise self._http.unavailable(
            location,
            "unknown GB location: use 'GB', 'regionid:1' to 'regionid:17' "
            "or an outward postcode such as 'RG41'",
        )

    @staticmethod
    def _periods(data: Any, scope: str) -> Sequence[Any]:
        """The half-hour periods of a response; regional ones nest under one region."""
        if not data:  # NESO sometimes answers `200 {}`
            return []
        periods = data["data"]
        if scope:  # documented as a one-element list, served as an object
            region = periods[0] if isinstance(periods, list) and periods else periods
            periods = region["data"] if region else []
        if not isinstance(periods, list):
            raise TypeError("'data' is not a list of periods")
        return periods

    @staticmethod
    def _rows(periods: Sequence[Any], scope: str, *, observed: bool) -> tuple[list[Row], int]:
        """Rows of periods, and how many observed rows fell back to the forecast value."""
        rows: list[Row] = []
        forecasts = 0
        for period in periods:
            intensity = period["intensity"]
            actual = intensity.get("actual") if observed and not scope else None
            if observed and not scope and actual is None:
                forecasts += 1
            value = intensity_g_per_kwh(actual if actual is not None else intensity["forecast"])
            start = parse_time(period["from"])
            duration_s = (parse_time(period["to"]) - start).total_seconds()
            if duration_s <= 0:
                raise ValueError(f"period ends before it starts: {period['from']!r}")
            rows.append((start, value, duration_s))
        return rows, forecasts
