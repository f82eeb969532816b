"""WattTime API v3: marginal emissions (MOER) now, in the past and forecast.

Login is `GET /login` with HTTP Basic auth, which returns a bearer token valid
for 30 minutes; the token is renewed after 25 minutes, and once more when a data
call answers 401. Tokens are redacted from every message and never cached on
disk. Locations: a WattTime region ("CAISO_NORTH") or "lat,lon" (looked up once
with `/v3/region-from-loc`). Values come in lbs CO2/MWh and are converted to
gCO2e/kWh (1 lb/MWh = 453.59237 g / 1,000 kWh = 0.45359237 g/kWh); a response in
other units is rejected. The signal is **marginal** for `co2_moer` (the emissions
of one more kWh, not the grid average) and the series say so.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from carbonlens.intensity._http import HttpClient, HttpOptions, HttpSource, Params
from carbonlens.intensity._parse import (
    build_points,
    clip,
    intensity_g_per_kwh,
    iso_z,
    parse_latlon,
    parse_time,
    utc,
)
from carbonlens.intensity.base import IntensityAuthError
from carbonlens.records import IntensityPoint, IntensitySeries, IntensityValue

__all__ = [
    "DEFAULT_URL",
    "G_PER_KWH_PER_LB_PER_MWH",
    "PASSWORD_VARIABLE",
    "USERNAME_VARIABLE",
    "WattTimeIntensity",
]

DEFAULT_URL = "https://api.watttime.org"
USERNAME_VARIABLE = "CARBONLENS_WATTTIME_USERNAME"
PASSWORD_VARIABLE = "CARBONLENS_WATTTIME_PASSWORD"
G_PER_KWH_PER_LB_PER_MWH = 0.45359237
"""gCO2e/kWh in one lb CO2/MWh (the pound is exactly 453.59237 g)."""

_UNITS = "lbs_co2_per_mwh"
_SIGNALS: Mapping[str, str] = {"co2_moer": "marginal", "co2_aoer": "average"}
_PERIOD_S = 300.0
_TOKEN_RENEW = timedelta(minutes=25)
_MAX_HORIZON_HOURS = 72
_LICENSE = "WattTime data licence (proprietary)"
_log = logging.getLogger(__name__)


class WattTimeIntensity(HttpSource):
    """Grid intensity from WattTime v3, marginal by default (gCO2e/kWh)."""

    name = "watttime"

    def __init__(
        self,
        username: str,
        password: str,
        *,
        base_url: str = DEFAULT_URL,
        signal_type: str = "co2_moer",
        http: HttpOptions | None = None,
    ) -> None:
        """Prepare a client (login happens on the first data request).

        Args:
            username: WattTime account name.
            password: WattTime password; never logged.
            base_url: API host (the login path is `/login`, data paths `/v3/...`).
            signal_type: "co2_moer" (marginal, default) or "co2_aoer" (average).
            http: timeouts, retries, cache and test hooks.

        Raises:
            IntensityAuthError: `username` or `password` is empty; the message
                names the variable to set.
            ValueError: unknown `signal_type`.
        """
        given = {USERNAME_VARIABLE: username, PASSWORD_VARIABLE: password}
        if missing := [variable for variable, value in given.items() if not value]:
            raise IntensityAuthError(
                self.name, "", "no credentials", variable=" and ".join(missing)
            )
        if signal_type not in _SIGNALS:
            raise ValueError(f"signal_type must be one of {tuple(_SIGNALS)}, got {signal_type!r}")
        self._credentials = (username, password)
        self._signal_type = signal_type
        self._token = ""
        self._token_at = datetime.min.replace(tzinfo=UTC)
        self._regions: dict[str, str] = {}
        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        secrets = [password, basic]
        self._http = HttpClient(self.name, base_url, http or HttpOptions(), secrets=secrets)

    @property
    def signal(self) -> str:
        """The signal: "marginal" for co2_moer, "average" for co2_aoer."""
        return _SIGNALS[self._signal_type]

    def latest(self, location: str) -> IntensityValue:
        """The current 5-minute value: the first point of `/v3/forecast` (gCO2e/kWh).

        Raises:
            IntensityAuthError: login refused, or the token refused twice.
            IntensityUnavailable: the request failed, wrong units, or no data.
        """
        region = self._region(location)
        data = self._get("/v3/forecast", {"horizon_hours": 0, "region": region}, location)
        points = self._points(data, location, "forecast")
        if not points:
            raise self._http.unavailable(location, "empty forecast: no current value")
        first = points[0]
        return IntensityValue(
            first.intensity_g_per_kwh,
            location,
            self.name,
            first.start.year,
            self._basis(region),
            f"{self.signal} signal: WattTime {self._signal_type} for the 5-min period "
            f"from {iso_z(first.start)} (first point of /v3/forecast)",
            _LICENSE,
        )

    def history(self, location: str, start: datetime, end: datetime) -> IntensitySeries:
        """Observed values over [`start`, `end`) from `/v3/historical` (5-minute, gCO2e/kWh).

        Raises:
            ValueError: a naive datetime.
            IntensityUnavailable: the request failed or the units are wrong.
        """
        start, end = utc(start, "start"), utc(end, "end")
        region = self._region(location)
        params = {"region": region, "start": iso_z(start), "end": iso_z(end)}
        points = self._points(self._get("/v3/historical", params, location), location, "historical")
        return self._series(location, region, clip(points, start, end), forecast=False)

    def forecast(self, location: str, hours: float) -> IntensitySeries:
        """Forecast values from now for `hours` hours (WattTime gives at most 72 h).

        Raises:
            IntensityUnavailable: the request failed or the units are wrong.
        """
        start, end = self._forecast_window(hours)
        region = self._region(location)
        horizon = min(_MAX_HORIZON_HOURS, max(0, math.ceil(hours)))
        params: Params = {"horizon_hours": horizon, "region": region}
        points = self._points(self._get("/v3/forecast", params, location), location, "forecast")
        return self._series(location, region, clip(points, start, end), forecast=True)

    def _series(
        self, location: str, region: str, points: tuple[IntensityPoint, ...], *, forecast: bool
    ) -> IntensitySeries:
        return IntensitySeries(
            location, self.name, points, self.signal, self._basis(region), forecast
        )

    def _basis(self, region: str) -> str:
        return (
            f"{self.signal} CO2 (WattTime {self._signal_type}, region {region}; "
            f"lbs/MWh x {G_PER_KWH_PER_LB_PER_MWH} = g/kWh)"
        )

    def _region(self, location: str) -> str:
        """The WattTime region of `location`, looking up "lat,lon" once."""
        latlon = parse_latlon(location)
        if latlon is None:
            return location.strip()
        if location not in self._regions:
            params = {"latitude": latlon[0], "longitude": latlon[1]}
            data = self._get("/v3/region-from-loc", params, location)
            with self._http.parsing(location, "region-from-loc"):
                region = data["region"]
                if not isinstance(region, str) or not region:
                    raise ValueError(f"no region in {data!r}")
            self._regions[location] = region
        return self._regions[location]

    def _points(self, data: Any, location: str, what: str) -> tuple[IntensityPoint, ...]:
        with self._http.parsing(location, what):
            meta = data["meta"]
            if meta.get("units") != _UNITS:
                raise ValueError(f"units {meta.get('units')!r}, expected {_UNITS!r}")
            signal_type = meta.get("signal_type", self._signal_type)
            if signal_type != self._signal_type:
                raise ValueError(f"signal {signal_type!r}, asked {self._signal_type!r}")
            period_s = float(meta.get("data_point_period_seconds") or _PERIOD_S)
            rows = [
                (
                    parse_time(item["point_time"]),
                    intensity_g_per_kwh(item["value"], G_PER_KWH_PER_LB_PER_MWH),
                    period_s,
                )
                for item in data["data"]
            ]
            return build_points(rows, period_s)

    def _get(self, path: str, params: Params, location: str) -> Any:
        """A data GET with the bearer token: logs in when needed, and again once on a 401."""
        params = {**params, "signal_type": self._signal_type}
        if (hit := self._http.cached(path, params)) is not None:
            return hit
        if not self._token or self._http.options.now() - self._token_at > _TOKEN_RENEW:
            self._login(location)
        try:
            return self._http.get_json(path, params, zone=location, headers=self._bearer())
        except IntensityAuthError:
            _log.info("watttime: token refused on GET %s; logging in again", path)
            self._login(location)
            return self._http.get_json(path, params, zone=location, headers=self._bearer())

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _login(self, location: str) -> None:
        try:
            data = self._http.get_json("/login", zone=location, auth=self._credentials, cache=False)
        except IntensityAuthError as exc:
            raise IntensityAuthError(
                self.name,
                location,
                f"login refused ({exc.reason})",
                variable=f"{USERNAME_VARIABLE}/{PASSWORD_VARIABLE}",
            ) from None
        with self._http.parsing(location, "login"):
            token = data["token"]
            if not isinstance(token, str) or not token:
                raise ValueError("no token in the login response")
        self._http.add_secret(token)
        self._token, self._token_at = token, self._http.options.now()
