"""FallbackChain over real clients and the local server: fallback reasons, gaps, short forecasts.

Also `provider_from_env`: a provider named without its key says which variable to set.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carbonlens.errors import ConfigError
from carbonlens.intensity._http import HttpOptions
from carbonlens.intensity.base import IntensityAuthError, IntensityUnavailable
from carbonlens.intensity.chain import FALLBACK, FallbackChain, bundled_average
from carbonlens.intensity.electricitymaps import ElectricityMapsIntensity
from carbonlens.intensity.providers import PROVIDERS, provider_from_env
from carbonlens.intensity.uk_grid import UkGridIntensity
from carbonlens.intensity.watttime import WattTimeIntensity
from carbonlens.testing.intensity_server import EM_HISTORY_END, IntensityServer, Reply, em_point

NOW = EM_HISTORY_END + timedelta(minutes=30)  # 2019-05-21T00:30Z
# grid_intensity_country.csv: FRA,FR,France,2025,41.44 (Ember); WLD,,World,2024,472.94
FR_G_PER_KWH = 41.44
WORLD_G_PER_KWH = 472.94


def em_chain(server: IntensityServer, http: HttpOptions, token: str = "") -> FallbackChain:
    options = replace(http, now=lambda: NOW)
    em = ElectricityMapsIntensity(token or server.em_token, base_url=server.url, http=options)
    return FallbackChain([em], now=lambda: NOW)


def test_second_source_answers_and_first_failure_is_recorded(
    server: IntensityServer, http: HttpOptions
) -> None:
    bad = ElectricityMapsIntensity("em-bad-token-1234", base_url=server.url, http=http)
    uk = UkGridIntensity(base_url=server.url, http=http)
    with FallbackChain([bad, uk]) as chain:
        result = chain.latest("GB")
    assert (result.source, result.value.intensity_g_per_kwh, result.used_fallback) == (
        "uk-grid",
        263.0,
        False,
    )
    [record] = result.fallbacks
    assert record.source == "electricitymaps" and "HTTP 401" in record.reason
    assert "em-bad-token-1234" not in record.reason


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(500), "HTTP 500 after 3 attempt"),
        (Reply(delay_s=5), "timed out"),
        (Reply(body=b"{oops"), "malformed JSON"),
        (Reply(json={"zone": "FR", "carbonIntensity": 50}), "missing 'datetime'"),
        (Reply(json=em_point(EM_HISTORY_END, 50, emissionFactorType="direct")), "'direct'"),
    ],
)
def test_every_failure_falls_back_to_the_bundled_average_with_its_reason(
    server: IntensityServer, http: HttpOptions, reply: Reply, reason: str
) -> None:
    server.route("/v3/carbon-intensity/latest", reply)
    began = time.monotonic()
    with em_chain(server, replace(http, read_timeout_s=0.1, max_retries=2)) as chain:
        result = chain.latest("FR")
    assert time.monotonic() - began < 2.0  # at most 3 attempts x 0.1 s
    assert result.used_fallback and result.source == FALLBACK
    assert result.value.intensity_g_per_kwh == FR_G_PER_KWH
    assert reason in result.fallbacks[0].reason
    assert result.value.reason.startswith("live sources failed (electricitymaps: ")
    assert result.value.reason.endswith("country FR → Ember, 2025")


def test_unknown_location_falls_back_to_the_world_average() -> None:
    value = bundled_average("CAISO_NORTH")
    assert value.intensity_g_per_kwh == WORLD_G_PER_KWH and value.location == "CAISO_NORTH"
    assert "not in the bundled tables" in value.reason


def test_no_fallback_raises_with_every_reason(server: IntensityServer, http: HttpOptions) -> None:
    bad = ElectricityMapsIntensity("em-bad-token-1234", base_url=server.url, http=http)
    with FallbackChain([bad], fallback=None) as chain, pytest.raises(IntensityUnavailable) as info:
        chain.latest("DE")
    assert info.value.source == "chain" and "electricitymaps: GET" in info.value.reason


def test_empty_series_falls_back_for_the_period(
    server: IntensityServer, http: HttpOptions, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/v3/carbon-intensity/history", Reply(json={"zone": "FR", "history": []}))
    start = NOW - timedelta(hours=2)
    with em_chain(server, http) as chain:
        result = chain.history("FR", start, NOW)
    assert result.fallbacks[0].reason == "no data points for the period"
    [point] = result.value.points
    assert (point.start, point.duration_s, point.intensity_g_per_kwh) == (
        start,
        7200.0,
        FR_G_PER_KWH,
    )
    assert result.value.source.startswith("Ember") and result.source == FALLBACK
    assert result.value.basis.startswith("annual average, flat: lifecycle")
    assert "using the fallback" in caplog.text


def test_short_gap_is_interpolated_and_stated(server: IntensityServer, http: HttpOptions) -> None:
    hours = [EM_HISTORY_END - timedelta(hours=h) for h in (3, 2, 1, 0)]
    rows = [em_point(hours[0], 300), em_point(hours[1], None), em_point(hours[2], None)]
    body = {"zone": "DE", "history": [*rows, em_point(hours[3], 360)]}
    server.route("/v3/carbon-intensity/history", Reply(json=body))
    with em_chain(server, http) as chain:
        result = chain.history("DE", hours[0], hours[3] + timedelta(hours=1))
    # 300 at 21:00 and 360 at 00:00: 22:00 -> 300 + 60 x 1/3 = 320, 23:00 -> 300 + 60 x 2/3 = 340
    values = [p.intensity_g_per_kwh for p in result.value.points]
    assert values == pytest.approx([300.0, 320.0, 340.0, 360.0])
    assert result.source == "electricitymaps" and result.missing_s == 0.0
    assert result.notes == (
        "interpolated 1 gap(s) totalling 120 min linearly between the values either side "
        "(limit 2 h per gap)",
    )


def test_long_gap_falls_back_for_the_whole_series(
    server: IntensityServer, http: HttpOptions
) -> None:
    hours = [EM_HISTORY_END - timedelta(hours=h) for h in (4, 0)]
    body = {"zone": "FR", "history": [em_point(hours[0], 300), em_point(hours[1], 360)]}
    server.route("/v3/carbon-intensity/history", Reply(json=body))
    with em_chain(server, http) as chain:
        result = chain.history("FR", hours[0], NOW)
    assert result.used_fallback
    assert "gap of 3.00 h from 2019-05-20T21:00:00Z" in result.fallbacks[0].reason
    assert "2 h interpolation limit" in result.fallbacks[0].reason


def test_short_forecast_is_returned_with_what_is_missing(
    server: IntensityServer, http: HttpOptions
) -> None:
    options = replace(http, now=lambda: NOW)
    em = ElectricityMapsIntensity(server.em_token, base_url=server.url, http=options)
    server.route("/v3/carbon-intensity/forecast", lambda r: Reply(json={
        "zone": "DE",
        "forecast": [{"carbonIntensity": 400, "datetime": "2019-05-21T00:00:00.000Z"},
                     {"carbonIntensity": 390, "datetime": "2019-05-21T01:00:00.000Z"}],
    }))  # fmt: skip
    with FallbackChain([em], now=lambda: NOW) as chain:
        result = chain.forecast("DE", 24)
    # asked [00:30, 00:30 + 24 h); points cover [00:00, 02:00): 22.5 h missing at the end
    assert len(result.value.points) == 2 and result.value.forecast
    assert result.missing_s == pytest.approx(22.5 * 3600)
    assert result.notes == (
        "forecast covers 1.50 h of the 24.00 h asked: 0.00 h missing at the start, "
        "22.50 h at the end (not padded)",
    )


def test_marginal_signal_survives_the_chain(server: IntensityServer, http: HttpOptions) -> None:
    user, password = server.watttime_username, server.watttime_password
    wt = WattTimeIntensity(user, password, base_url=server.url, http=http)
    start = datetime(2022, 7, 15, tzinfo=UTC)  # the documented WattTime example's first point
    with FallbackChain([wt]) as chain:
        result = chain.history("CAISO_NORTH", start, start + timedelta(minutes=10))
    assert result.value.signal == "marginal" and result.source == "watttime"
    assert result.notes == () and result.missing_s == 0.0


def test_provider_from_env_builds_each_source(server: IntensityServer, http: HttpOptions) -> None:
    env = {
        "CARBONLENS_ELECTRICITYMAPS_TOKEN": server.em_token,
        "CARBONLENS_ELECTRICITYMAPS_URL": server.url,
        "CARBONLENS_WATTTIME_USERNAME": server.watttime_username,
        "CARBONLENS_WATTTIME_PASSWORD": server.watttime_password,
        "CARBONLENS_WATTTIME_URL": server.url,
        "CARBONLENS_UK_GRID_URL": server.url,
        "CARBONLENS_CARBON_AWARE_URL": server.url,
    }
    locations = {"carbon-aware-sdk": "eastus", "electricitymaps": "DE", "uk-grid": "GB"}
    for name in PROVIDERS:
        source = provider_from_env(name.upper(), env, http=replace(http, now=lambda: NOW))
        try:
            assert source.name == name
            assert source.forecast(locations.get(name, "CAISO_NORTH"), 1).source == name
        finally:
            source.close()


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("electricitymaps", "CARBONLENS_ELECTRICITYMAPS_TOKEN"),
        ("watttime", "CARBONLENS_WATTTIME_USERNAME and CARBONLENS_WATTTIME_PASSWORD"),
    ],
)
def test_provider_named_without_its_key_says_which_variable_to_set(
    name: str, variable: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(IntensityAuthError, match=f"set {variable}"):
        provider_from_env(name, {"CARBONLENS_WATTTIME_PASSWORD": ""})


def test_carbon_aware_needs_its_url_and_unknown_names_are_config_errors(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    with pytest.raises(IntensityUnavailable, match="CARBONLENS_CARBON_AWARE_URL"):
        provider_from_env("carbon-aware-sdk", env)
    with pytest.raises(ConfigError, match="choose one of carbon-aware-sdk, electricitymaps"):
        provider_from_env("co2signal", env)
    uk = provider_from_env("uk-grid", env)
    assert "api.carbonintensity.org.uk" in repr(uk)
    uk.close()
