"""NESO Carbon Intensity client: national and regional, actual vs forecast, odd live shapes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from carbonlens.intensity._http import HttpOptions
from carbonlens.intensity.base import IntensityUnavailable
from carbonlens.intensity.uk_grid import UkGridIntensity
from carbonlens.testing.intensity_server import (
    UK_REGIONAL_PERIOD,
    IntensityServer,
    Reply,
    uk_regional_body,
)

NOW = datetime(2018, 1, 20, 12, 10, tzinfo=UTC)


def period(start: str, end: str, forecast: int, actual: int | None) -> dict[str, Any]:
    """One national half hour in the documented shape."""
    intensity = {"forecast": forecast, "actual": actual, "index": "moderate"}
    return {"from": start, "to": end, "intensity": intensity}


@pytest.fixture
def uk(server: IntensityServer, http: HttpOptions) -> Iterator[UkGridIntensity]:
    with UkGridIntensity(base_url=server.url, http=replace(http, now=lambda: NOW)) as source:
        yield source


def test_national_latest_is_the_actual_value(uk: UkGridIntensity, server: IntensityServer) -> None:
    value = uk.latest("GB")
    # documented example: {"from": "2018-01-20T12:00Z", ..., "forecast": 266, "actual": 263}
    assert (value.intensity_g_per_kwh, value.year, value.location) == (263.0, 2018, "GB")
    assert value.reason == "actual for the half hour from 2018-01-20T12:00Z"
    assert value.license.startswith("CC-BY-4.0") and value.basis.startswith("operational")
    assert [r.path for r in server.requests] == ["/intensity"]
    assert "authorization" not in server.requests[0].headers


def test_unpublished_actual_uses_the_forecast_and_says_so(
    uk: UkGridIntensity, server: IntensityServer
) -> None:
    body = {"data": [period("2018-01-20T12:00Z", "2018-01-20T12:30Z", 266, None)]}
    server.route("/intensity", Reply(json=body))
    value = uk.latest("national")
    assert value.intensity_g_per_kwh == 266.0
    assert "actual not yet published: NESO forecast value used" in value.reason


@pytest.mark.parametrize(
    ("location", "path"),
    [
        ("regionid:3", "/regional/regionid/3"),
        ("region 13", "/regional/regionid/13"),
        ("RG41", "/regional/postcode/RG41"),
        ("postcode:rg41 1aa", "/regional/postcode/RG41"),
        ("SW1A 1AA", "/regional/postcode/SW1A"),
    ],
)
def test_regional_latest_by_region_or_postcode(
    uk: UkGridIntensity, server: IntensityServer, location: str, path: str
) -> None:
    value = uk.latest(location)
    assert value.intensity_g_per_kwh == 266.0  # regional: forecast only
    assert value.reason.startswith("regional forecast")
    assert [r.path for r in server.requests] == [path]


def test_regional_documented_array_shape_is_accepted_too(
    uk: UkGridIntensity, server: IntensityServer
) -> None:
    documented = {"data": [uk_regional_body([UK_REGIONAL_PERIOD])["data"]]}
    server.route("/regional/*", Reply(json=documented))
    assert uk.latest("regionid:3").intensity_g_per_kwh == 266.0


@pytest.mark.parametrize("location", ["regionid:18", "Paris", "12345"])
def test_unknown_locations_are_refused_before_any_request(
    uk: UkGridIntensity, server: IntensityServer, location: str
) -> None:
    with pytest.raises(IntensityUnavailable, match="unknown GB location"):
        uk.latest(location)
    assert server.requests == []


def test_empty_200_body(uk: UkGridIntensity, server: IntensityServer) -> None:
    server.route("/regional/*", Reply(json={}))
    with pytest.raises(IntensityUnavailable, match="empty response"):
        uk.latest("RG41")
    assert uk.history("RG41", NOW - timedelta(hours=1), NOW).points == ()


def test_history_marks_forecast_values(uk: UkGridIntensity, server: IntensityServer) -> None:
    body = {
        "data": [
            period("2018-01-20T11:00Z", "2018-01-20T11:30Z", 250, 248),
            period("2018-01-20T11:30Z", "2018-01-20T12:00Z", 255, None),
        ]
    }
    server.route("/intensity/*", Reply(json=body))
    series = uk.history("GB", NOW - timedelta(hours=1, minutes=10), NOW - timedelta(minutes=10))
    assert [r.path for r in server.requests] == ["/intensity/2018-01-20T11:00Z/2018-01-20T12:00Z"]
    assert [(p.intensity_g_per_kwh, p.duration_s) for p in series.points] == [
        (248.0, 1800.0),
        (255.0, 1800.0),
    ]
    assert series.basis.endswith("1 of 2 value(s) are forecasts (actual not published)")


def test_forecast_starts_at_the_current_half_hour(
    uk: UkGridIntensity, server: IntensityServer
) -> None:
    body = {
        "data": [
            period(f"2018-01-20T{h:02d}:{m:02d}Z", f"2018-01-20T{h2:02d}:{m2:02d}Z", 200 + i, None)
            for i, (h, m, h2, m2) in enumerate([(12, 0, 12, 30), (12, 30, 13, 0), (13, 0, 13, 30)])
        ]
    }
    server.route("/regional/intensity/*", Reply(json=uk_regional_body(body["data"])))
    series = uk.forecast("regionid:3", 1)
    assert [r.path for r in server.requests] == [
        "/regional/intensity/2018-01-20T12:00Z/fw48h/regionid/3"
    ]
    # window [12:10, 13:10): all three half hours overlap it
    assert [p.intensity_g_per_kwh for p in series.points] == [200.0, 201.0, 202.0]
    assert series.forecast and series.basis.endswith("regional values are forecasts only")


def test_error_body_and_500_retry(
    uk: UkGridIntensity, server: IntensityServer, sleeps: list[float]
) -> None:
    error = {"error": {"code": "400 Bad Request", "message": "Invalid date"}}
    server.script("/intensity", Reply(500, error), Reply(400, error))
    with pytest.raises(IntensityUnavailable, match="HTTP 400 .*Invalid date"):
        uk.latest("GB")
    assert len(sleeps) == 1
