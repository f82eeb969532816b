"""Electricity Maps API v3: latest, history and forecast grid intensity (gCO2e/kWh).

Every request carries the `auth-token` header. Locations: a zone key ("DE",
"US-CAL-CISO"), "lat,lon", or a cloud region "provider:region" ("gcp:europe-west1",
sent as `dataCenterProvider`/`dataCenterRegion`). History inside the last 24 h
uses the free `/history` endpoint; older ranges use `/past-range` (commercial
plans), in chunks of at most 10 days. Values are average (not marginal)
intensities with the requested emission factors (lifecycle by default); a
response with other factors is rejected rather than mixed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from carbonlens.intensity._http import HttpClient, HttpOptions, HttpSource, Params
from carbonlens.intensity._parse import (
    Row,
    build_points,
    clip,
    intensity_g_per_kwh,
    iso_z,
    parse_latlon,
    parse_time,
    utc,
)
from carbonlens.intensity.base import IntensityAuthError
from carbonlens.records import IntensitySeries, IntensityValue

__all__ = ["DEFAULT_URL", "TOKEN_VARIABLE", "ElectricityMapsIntensity"]

DEFAULT_URL = "https://api.electricitymaps.com"
TOKEN_VARIABLE = "CARBONLENS_ELECTRICITYMAPS_TOKEN"
_LICENSE = "Electricity Maps API terms"
_HOURLY_S = 3600.0
_GRANULARITY_S: Mapping[str, float] = {
    "5_minutes": 300.0,
    "15_minutes": 900.0,
    "hourly": _HOURLY_S,
    "daily": 86_400.0,
}
_FREE_HISTORY = timedelta(hours=24)
_PAST_RANGE_CHUNK = timedelta(days=10)
_FACTORS = ("lifecycle", "direct")


class ElectricityMapsIntensity(HttpSource):
    """Grid intensity from the Electricity Maps API v3 (average signal, gCO2e/kWh)."""

    name = "electricitymaps"

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_URL,
        emission_factor: str = "lifecycle",
        http: HttpOptions | None = None,
    ) -> None:
        """Prepare a client (no request is made yet).

        Args:
            token: the API key, sent as the `auth-token` header; never logged.
            base_url: API host, without `/v3` (e.g. "https://api.electricitymap.org").
            emission_factor: "lifecycle" (default) or "direct".
            http: timeouts, retries, cache and test hooks.

        Raises:
            IntensityAuthError: `token` is empty; the message names `TOKEN_VARIABLE`.
            ValueError: unknown `emission_factor`.
        """
        if not token:
            raise IntensityAuthError(self.name, "", "no API token", variable=TOKEN_VARIABLE)
        if emission_factor not in _FACTORS:
            raise ValueError(f"emission_factor must be one of {_FACTORS}, got {emission_factor!r}")
        self._factor = emission_factor
        self._headers = {"auth-token": token}
        self._http = HttpClient(self.name, base_url, http or HttpOptions(), secrets=[token])

    def latest(self, location: str) -> IntensityValue:
        """The latest intensity of `location` (gCO2e/kWh), from `/v3/carbon-intensity/latest`.

        Raises:
            IntensityAuthError: the token was refused.
            IntensityUnavailable: the request failed or the value is missing.
        """
        data = self._get("latest", location)
        with self._http.parsing(location, "latest"):
            [(start, value, _)] = self._rows([data])
            basis = self._basis([data])
        if value is None:
            raise self._http.unavailable(location, "no latest value (carbonIntensity is null)")
        return IntensityValue(
            value,
            location,
            self.name,
            start.year,
            basis,
            f"Electricity Maps latest value for {iso_z(start)}",
            _LICENSE,
        )

    def history(self, location: str, start: datetime, end: datetime) -> IntensitySeries:
        """Observed intensity of `location` over [`start`, `end`) (hourly, gCO2e/kWh).

        Raises:
            ValueError: a naive datetime.
            IntensityUnavailable: a request failed.
        """
        start, end = utc(start, "start"), utc(end, "end")
        items: list[Any] = []
        if start >= self._http.options.now() - _FREE_HISTORY:
            items += self._list(self._get("history", location), "history", location)
        else:
            chunk_start = start
            while chunk_start < end:
                chunk_end = min(end, chunk_start + _PAST_RANGE_CHUNK)
                params = {"start": iso_z(chunk_start), "end": iso_z(chunk_end)}
                items += self._list(self._get("past-range", location, params), "data", location)
                chunk_start = chunk_end
        return self._series(location, items, start, end, forecast=False)

    def forecast(self, location: str, hours: float) -> IntensitySeries:
        """Predicted intensity of `location` from now for `hours` hours (gCO2e/kWh).

        Raises:
            IntensityUnavailable: the request failed (the forecast needs a paid plan).
        """
        start, end = self._forecast_window(hours)
        data = self._get("forecast", location, {"horizonHours": max(1, math.ceil(hours))})
        items = self._list(data, "forecast", location)
        return self._series(location, items, start, end, forecast=True)

    def _get(self, endpoint: str, location: str, extra: Params | None = None) -> Any:
        latlon = parse_latlon(location)
        provider, _, region = location.partition(":")
        where: dict[str, str | float]
        if latlon is not None:
            where = {"lat": latlon[0], "lon": latlon[1]}
        elif region:
            where = {"dataCenterProvider": provider.lower(), "dataCenterRegion": region.lower()}
        else:
            where = {"zone": location}
        params = {**where, "emissionFactorType": self._factor, **(extra or {})}
        return self._http.get_json(
            f"/v3/carbon-intensity/{endpoint}", params, zone=location, headers=self._headers
        )

    def _list(self, data: Any, field: str, location: str) -> list[Any]:
        with self._http.parsing(location, field):
            items = data[field]
            if not isinstance(items, list):
                raise TypeError(f"{field!r} is not a list")
            return items

    def _series(
        self, location: str, items: list[Any], start: datetime, end: datetime, *, forecast: bool
    ) -> IntensitySeries:
        with self._http.parsing(location, "forecast" if forecast else "history"):
            points = clip(build_points(self._rows(items), _HOURLY_S), start, end)
            basis = self._basis(items)
        return IntensitySeries(location, self.name, points, "average", basis, forecast)

    def _rows(self, items: Iterable[Any]) -> list[Row]:
        """Rows of EM data points; rejects points with other emission factors than asked."""
        rows: list[Row] = []
        for item in items:
            factor = item.get("emissionFactorType", self._factor)
            if factor != self._factor:
                raise ValueError(f"asked for {self._factor} emission factors, got {factor!r}")
            step_s = _GRANULARITY_S.get(item.get("temporalGranularity", "hourly"), _HOURLY_S)
            value = intensity_g_per_kwh(item["carbonIntensity"])
            rows.append((parse_time(item["datetime"]), value, step_s))
        return rows

    def _basis(self, items: Iterable[Mapping[str, Any]]) -> str:
        """E.g. "lifecycle (Electricity Maps); 2 estimated value(s)"."""
        estimated = sum(1 for item in items if item.get("isEstimated"))
        note = f"; {estimated} estimated value(s)" if estimated else ""
        return f"{self._factor} (Electricity Maps){note}"
