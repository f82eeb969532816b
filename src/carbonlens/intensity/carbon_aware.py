"""Green Software Foundation Carbon Aware SDK WebAPI (self-hosted): history and forecast.

The WebAPI fronts WattTime, Electricity Maps or JSON files, so its base URL is
always given by the user and no key is sent. Locations are the SDK's names
(Azure regions such as "eastus" by default). Ratings are gCO2e/kWh; whether they
are average or marginal depends on the SDK's upstream, which the API does not
report, so the user states it (`signal=`, default "average").
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

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
from carbonlens.intensity.base import IntensityUnavailable
from carbonlens.records import IntensityPoint, IntensitySeries, IntensityValue

__all__ = ["URL_VARIABLE", "CarbonAwareSdkIntensity"]

URL_VARIABLE = "CARBONLENS_CARBON_AWARE_URL"
_STEP_S = 300.0
_LATEST_LOOKBACK = timedelta(hours=1)
_SIGNALS = ("average", "marginal")
# .NET TimeSpan text: [d.]hh:mm:ss[.fffffff]
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)$")


class CarbonAwareSdkIntensity(HttpSource):
    """Grid intensity from a Carbon Aware SDK WebAPI (gCO2e/kWh)."""

    name = "carbon-aware-sdk"

    def __init__(
        self, base_url: str, *, signal: str = "average", http: HttpOptions | None = None
    ) -> None:
        """Prepare a client for the WebAPI at `base_url` (no request is made yet).

        Args:
            base_url: where the WebAPI runs, e.g. "http://localhost:8080".
            signal: "average" or "marginal", as the SDK's upstream provides.
            http: timeouts, retries, cache and test hooks.

        Raises:
            IntensityUnavailable: `base_url` is empty; the message names `URL_VARIABLE`.
            ValueError: unknown `signal`.
        """
        if not base_url:
            raise IntensityUnavailable(self.name, "", f"no WebAPI URL (set {URL_VARIABLE})")
        if signal not in _SIGNALS:
            raise ValueError(f"signal must be one of {_SIGNALS}, got {signal!r}")
        self._signal = signal
        self._http = HttpClient(self.name, base_url, http or HttpOptions())

    def latest(self, location: str) -> IntensityValue:
        """The newest rating of the last hour, from `/emissions/bylocation` (gCO2e/kWh).

        Raises:
            IntensityUnavailable: the request failed or returned no rating.
        """
        end = floor_time(self._http.options.now(), _STEP_S)
        points = self._by_location(location, end - _LATEST_LOOKBACK, end)
        if not points:
            raise self._http.unavailable(location, "no rating in the last hour")
        newest = points[-1]
        return IntensityValue(
            newest.intensity_g_per_kwh,
            location,
            self.name,
            newest.start.year,
            self._basis(),
            f"newest Carbon Aware SDK rating, for {iso_z(newest.start)}",
        )

    def history(self, location: str, start: datetime, end: datetime) -> IntensitySeries:
        """Ratings over [`start`, `end`) from `/emissions/bylocation` (gCO2e/kWh).

        Raises:
            ValueError: a naive datetime.
            IntensityUnavailable: the request failed.
        """
        start, end = utc(start, "start"), utc(end, "end")
        points = clip(self._by_location(location, start, end), start, end)
        return IntensitySeries(location, self.name, points, self._signal, self._basis())

    def forecast(self, location: str, hours: float) -> IntensitySeries:
        """The current forecast from now for `hours` hours, `/emissions/forecasts/current`.

        Raises:
            IntensityUnavailable: the request failed.
        """
        start, end = self._forecast_window(hours)
        params = {
            "location": location,
            "dataStartAt": iso_z(floor_time(start, _STEP_S)),
            "dataEndAt": iso_z(end),
        }
        data = self._http.get_json("/emissions/forecasts/current", params, zone=location)
        with self._http.parsing(location, "forecast"):
            items = data[0]["forecastData"] if data else []
            rows: list[Row] = [
                (
                    parse_time(item["timestamp"]),
                    intensity_g_per_kwh(item["value"]),
                    float(item["duration"]) * 60.0 if item.get("duration") else None,
                )
                for item in items
            ]
            points = clip(build_points(rows, _STEP_S), start, end)
        return IntensitySeries(location, self.name, points, self._signal, self._basis(), True)

    def _basis(self) -> str:
        return f"{self._signal} (Carbon Aware SDK WebAPI; its upstream source is not reported)"

    def _by_location(
        self, location: str, start: datetime, end: datetime
    ) -> tuple[IntensityPoint, ...]:
        params = {"location": location, "time": iso_z(start), "toTime": iso_z(end)}
        data = self._http.get_json("/emissions/bylocation", params, zone=location)
        with self._http.parsing(location, "bylocation"):
            rows: list[Row] = [
                (
                    parse_time(item["time"]),
                    intensity_g_per_kwh(item["rating"]),
                    _timespan_s(item.get("duration")),
                )
                for item in data or []
            ]
            return build_points(rows, _STEP_S)


def _timespan_s(value: object) -> float | None:
    """Seconds in a .NET TimeSpan string ("00:05:00", "1.00:00:00"); None when absent or zero."""
    if value is None:
        return None
    match = _TIMESPAN.match(str(value))
    if match is None:
        raise ValueError(f"bad duration {value!r}")
    days, hours, minutes, seconds = match.groups()
    total_s = int(days or 0) * 86_400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return total_s or None
