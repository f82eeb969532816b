"""Carbon Aware SDK WebAPI client against the documented example responses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from carbonlens.intensity._http import HttpOptions
from carbonlens.intensity.base import IntensityUnavailable
from carbonlens.intensity.carbon_aware import URL_VARIABLE, CarbonAwareSdkIntensity
from carbonlens.testing.intensity_server import IntensityServer, Reply

NOW = datetime(2022, 7, 19, 14, 3, tzinfo=UTC)


@pytest.fixture
def sdk(server: IntensityServer, http: HttpOptions) -> Iterator[CarbonAwareSdkIntensity]:
    with CarbonAwareSdkIntensity(server.url, http=replace(http, now=lambda: NOW)) as source:
        yield source


def rating(time: str, value: float, duration: str | None = None) -> dict[str, object]:
    row: dict[str, object] = {"location": "eastus", "time": time, "rating": value}
    return row if duration is None else {**row, "duration": duration}


def test_forecast_is_the_documented_example(
    sdk: CarbonAwareSdkIntensity, server: IntensityServer
) -> None:
    series = sdk.forecast("northeurope", 2)
    # forecastData: [{"timestamp": "2022-07-19T14:00:00+00:00", "duration": 10,
    #                 "value": 532.02293146}]  (duration in minutes)
    [point] = series.points
    assert (point.intensity_g_per_kwh, point.duration_s) == (532.02293146, 600.0)
    assert point.start == datetime(2022, 7, 19, 14, tzinfo=UTC)
    assert series.forecast and series.signal == "average" and "upstream" in series.basis
    [request] = server.requests_to("/emissions/forecasts/current")
    assert request.query == {
        "location": ["northeurope"],
        "dataStartAt": ["2022-07-19T14:00:00Z"],
        "dataEndAt": ["2022-07-19T16:03:00Z"],
    }


def test_latest_is_the_newest_rating(sdk: CarbonAwareSdkIntensity, server: IntensityServer) -> None:
    rows = [
        rating("2022-07-19T13:55:00+00:00", 80, "00:05:00"),
        rating("2022-07-19T13:50:00.5092741+00:00", 70, "00:05:00"),
    ]
    server.route("/emissions/bylocation", Reply(json=rows))
    value = sdk.latest("eastus")
    assert (value.intensity_g_per_kwh, value.source) == (80.0, "carbon-aware-sdk")
    [request] = server.requests_to("/emissions/bylocation")
    assert (request.param("time"), request.param("toTime")) == (
        "2022-07-19T13:00:00Z",
        "2022-07-19T14:00:00Z",
    )


def test_history_reads_timespan_durations(
    sdk: CarbonAwareSdkIntensity, server: IntensityServer
) -> None:
    rows = [
        rating("2022-07-19T10:00:00+00:00", 300, "01:00:00"),
        rating("2022-07-19T11:00:00+00:00", 310, "1.00:00:00"),
    ]
    server.route("/emissions/bylocation", Reply(json=rows))
    start = NOW - timedelta(hours=4)
    series = sdk.history("eastus", start, NOW)
    assert [(p.intensity_g_per_kwh, p.duration_s) for p in series.points] == [
        (300.0, 3600.0),
        (310.0, 86_400.0),
    ]


def test_documented_bylocation_example_without_duration(sdk: CarbonAwareSdkIntensity) -> None:
    # [{"location": "eastus", "time": "2022-05-17T20:45:11.5092741+00:00", "rating": 70}]
    start = datetime(2022, 5, 17, 20, tzinfo=UTC)
    [point] = sdk.history("eastus", start, start + timedelta(hours=1)).points
    assert (point.intensity_g_per_kwh, point.duration_s) == (70.0, 300.0)


def test_204_no_content_is_an_empty_forecast(
    sdk: CarbonAwareSdkIntensity, server: IntensityServer
) -> None:
    server.script("/emissions/forecasts/current", Reply(204, body=b""))
    assert sdk.forecast("eastus", 1).points == ()


def test_no_recent_rating(sdk: CarbonAwareSdkIntensity, server: IntensityServer) -> None:
    server.route("/emissions/bylocation", Reply(json=[]))
    with pytest.raises(IntensityUnavailable, match="no rating in the last hour"):
        sdk.latest("eastus")


def test_validation_problem_details(sdk: CarbonAwareSdkIntensity, server: IntensityServer) -> None:
    problem = {"type": "x", "title": "One or more validation errors occurred.", "status": 400}
    server.script("/emissions/bylocation", Reply(400, problem))
    with pytest.raises(IntensityUnavailable, match="validation errors"):
        sdk.latest("nowhere")


def test_bad_duration_is_a_clean_error(
    sdk: CarbonAwareSdkIntensity, server: IntensityServer
) -> None:
    server.route("/emissions/bylocation", Reply(json=[rating("2022-07-19T13:55Z", 80, "5 min")]))
    with pytest.raises(IntensityUnavailable, match="bad duration"):
        sdk.latest("eastus")


def test_missing_url_names_the_variable() -> None:
    with pytest.raises(IntensityUnavailable, match=URL_VARIABLE):
        CarbonAwareSdkIntensity("")
