"""Provider responses of any shape: a value, a series, or `IntensityUnavailable`.

Each live source is served generated bodies through `httpx.MockTransport`: random
bytes, JSON of random shapes built from the providers' own field names, and
hand-made edge cases (deep nesting, dates at the ends of the calendar, NaN steps).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonlens.intensity._http import HttpOptions
from carbonlens.intensity.base import IntensityUnavailable
from carbonlens.intensity.carbon_aware import CarbonAwareSdkIntensity
from carbonlens.intensity.electricitymaps import ElectricityMapsIntensity
from carbonlens.intensity.uk_grid import UkGridIntensity
from carbonlens.intensity.watttime import WattTimeIntensity
from carbonlens.records import IntensitySeries, IntensityValue

FUZZ = settings(max_examples=120, deadline=None, derandomize=True)
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
FIELDS = [
    "data",
    "meta",
    "units",
    "signal_type",
    "point_time",
    "value",
    "token",
    "region",
    "carbonIntensity",
    "datetime",
    "history",
    "forecast",
    "intensity",
    "actual",
    "from",
    "to",
    "rating",
    "time",
    "duration",
    "forecastData",
    "timestamp",
    "data_point_period_seconds",
    "emissionFactorType",
    "temporalGranularity",
    "isEstimated",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(
        ["2026-01-01T11:00Z", "2026-01-01T11:30Z", "9999-12-31T23:59:59-01:00", "lbs_co2_per_mwh"]
        + ["0001-01-01T00:00:00+01:00", "co2_moer", "hourly", "lifecycle", "00:05:00"]
        + ["99999999.00:00:00", "nan"]
    )
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS), inner),
    max_leaves=25,
)
BODIES = DOCUMENTS.map(lambda d: json.dumps(d).encode()) | st.binary(max_size=60)

Source = Callable[[HttpOptions], Any]
SOURCES: dict[str, tuple[Source, str]] = {
    "electricitymaps": (lambda http: ElectricityMapsIntensity("PLANTED", http=http), "DE"),
    "watttime": (lambda http: WattTimeIntensity("user", "PLANTED", http=http), "CAISO_NORTH"),
    "watttime-latlon": (lambda http: WattTimeIntensity("user", "PLANTED", http=http), "37,-122"),
    "uk-grid": (lambda http: UkGridIntensity(http=http), "GB"),
    "uk-grid-region": (lambda http: UkGridIntensity(http=http), "regionid:3"),
    "carbon-aware-sdk": (
        lambda http: CarbonAwareSdkIntensity("http://127.0.0.1:9", http=http),
        "eastus",
    ),
}


def _options(body: bytes) -> HttpOptions:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(200, json={"token": "T0KEN"})
        return httpx.Response(200, content=body)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return HttpOptions(client=client, max_retries=0, sleep=lambda _s: None, now=lambda: NOW)


def _results(source: Any, location: str) -> list[Callable[[], Any]]:
    return [
        lambda: source.latest(location),
        lambda: source.history(location, NOW - timedelta(hours=3), NOW),
        lambda: source.forecast(location, 3),
    ]


def _check_every_call(body: bytes) -> None:
    for name, (build, location) in SOURCES.items():
        for call in _results(build(_options(body)), location):
            try:
                result = call()
            except IntensityUnavailable as exc:
                assert exc.source == name.removesuffix("-latlon").removesuffix("-region")
                assert "PLANTED" not in str(exc) and "T0KEN" not in str(exc)
                continue
            assert isinstance(result, IntensityValue | IntensitySeries)
            values = (
                [result.intensity_g_per_kwh]
                if isinstance(result, IntensityValue)
                else [p.intensity_g_per_kwh for p in result.points]
            )
            assert all(math.isfinite(v) and v >= 0 for v in values)


@FUZZ
@given(body=BODIES)
def test_any_body_gives_a_value_or_intensity_unavailable(body: bytes) -> None:
    _check_every_call(body)


@pytest.mark.parametrize(
    "document",
    [
        {
            "data": [
                {
                    "from": "9999-12-31T23:00-01:00",
                    "to": "9999-12-31T23:30-01:00",
                    "intensity": {"forecast": 1, "actual": 1},
                }
            ]
        },
        {
            "meta": {"units": "lbs_co2_per_mwh", "data_point_period_seconds": 1e300},
            "data": [{"point_time": "2026-01-01T12:00Z", "value": 1}],
        },
        {
            "meta": {"units": "lbs_co2_per_mwh", "data_point_period_seconds": "nan"},
            "data": [{"point_time": "2026-01-01T12:00Z", "value": 1}],
        },
        {
            "meta": {"units": "lbs_co2_per_mwh", "data_point_period_seconds": -300},
            "data": [{"point_time": "2026-01-01T12:00Z", "value": 1}],
        },
        [{"forecastData": [{"timestamp": "2026-01-01T12:00Z", "value": 1, "duration": 1e300}]}],
        [{"time": "2026-01-01T11:00Z", "rating": 1, "duration": "99999999.00:00:00"}],
        {
            "carbonIntensity": 1,
            "datetime": "9999-12-31T23:59Z",
            "history": [{"carbonIntensity": 1, "datetime": "9999-12-31T23:59:00-01:00"}],
        },
        {"data": None, "meta": [], "token": None, "history": {"a": 1}, "forecast": "x"},
    ],
)
def test_edge_documents_give_intensity_unavailable_not_a_crash(document: Any) -> None:
    _check_every_call(json.dumps(document).encode())


def test_deeply_nested_json_is_malformed_not_a_recursion_error() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    source = UkGridIntensity(http=_options(body))
    with pytest.raises(IntensityUnavailable, match="malformed JSON .nested too deeply"):
        source.latest("GB")


def test_a_nan_step_names_the_point() -> None:
    document = {
        "meta": {"units": "lbs_co2_per_mwh", "data_point_period_seconds": "nan"},
        "data": [{"point_time": "2026-01-01T12:00Z", "value": 100}],
    }
    source = WattTimeIntensity("user", "PLANTED", http=_options(json.dumps(document).encode()))
    with pytest.raises(
        IntensityUnavailable, match=r"the point at 2026-01-01 12:00:00\+00:00 lasts nan s"
    ):
        source.forecast("CAISO_NORTH", 1)
