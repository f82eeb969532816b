"""Electricity Maps v3 client against the local fake server (documented response shapes)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from carbonlens.intensity._http import HttpOptions
from carbonlens.intensity.base import IntensityAuthError, IntensityUnavailable
from carbonlens.intensity.electricitymaps import TOKEN_VARIABLE, ElectricityMapsIntensity
from carbonlens.testing.intensity_server import (
    EM_HISTORY_END,
    IntensityServer,
    Reply,
    em_point,
)

NOW = EM_HISTORY_END + timedelta(minutes=30)  # 2019-05-21T00:30Z
LATEST = "/v3/carbon-intensity/latest"


@pytest.fixture
def em(server: IntensityServer, http: HttpOptions) -> Iterator[ElectricityMapsIntensity]:
    options = replace(http, now=lambda: NOW)
    with ElectricityMapsIntensity(server.em_token, base_url=server.url, http=options) as source:
        yield source


def test_latest_is_the_documented_value_with_auth_header(
    em: ElectricityMapsIntensity, server: IntensityServer
) -> None:
    value = em.latest("DE")
    # documented example: {"zone": "DE", "carbonIntensity": 322,
    #                      "datetime": "2019-05-21T00:00:00.000Z", ...}
    assert (value.intensity_g_per_kwh, value.location, value.year) == (322.0, "DE", 2019)
    assert value.source == "electricitymaps" and value.basis == "lifecycle (Electricity Maps)"
    assert "2019-05-21T00:00:00Z" in value.reason
    [request] = server.requests_to(LATEST)
    assert request.headers["auth-token"] == server.em_token
    assert request.param("zone") == "DE" and request.param("emissionFactorType") == "lifecycle"


@pytest.mark.parametrize(
    ("location", "params"),
    [
        ("48.1,11.6", {"lat": "48.1", "lon": "11.6"}),
        ("GCP:europe-west1", {"dataCenterProvider": "gcp", "dataCenterRegion": "europe-west1"}),
    ],
)
def test_location_forms(
    em: ElectricityMapsIntensity, server: IntensityServer, location: str, params: dict[str, str]
) -> None:
    em.latest(location)
    [request] = server.requests_to(LATEST)
    assert {k: request.param(k) for k in params} == params and "zone" not in request.query


def test_recent_history_uses_free_endpoint_and_clips(em: ElectricityMapsIntensity) -> None:
    series = em.history("DE", EM_HISTORY_END - timedelta(hours=3), EM_HISTORY_END)
    # default /history: 24 hourly points 299..322 ending 2019-05-21T00:00Z; [21:00, 00:00) keeps 3
    assert [p.intensity_g_per_kwh for p in series.points] == [319.0, 320.0, 321.0]
    assert [p.start.hour for p in series.points] == [21, 22, 23]
    assert {p.duration_s for p in series.points} == {3600.0}
    assert (series.signal, series.forecast, series.source) == ("average", False, "electricitymaps")


def test_old_history_uses_past_range_in_ten_day_chunks(
    em: ElectricityMapsIntensity, server: IntensityServer
) -> None:
    start = NOW - timedelta(days=15)
    series = em.history("DE", start, start + timedelta(days=12))
    requests = server.requests_to("/v3/carbon-intensity/past-range")
    assert [(r.param("start"), r.param("end")) for r in requests] == [
        ("2019-05-06T00:30:00Z", "2019-05-16T00:30:00Z"),
        ("2019-05-16T00:30:00Z", "2019-05-18T00:30:00Z"),
    ]
    assert len(series.points) == 12 * 24


def test_null_values_leave_gaps(em: ElectricityMapsIntensity, server: IntensityServer) -> None:
    hours = [EM_HISTORY_END - timedelta(hours=h) for h in (2, 1, 0)]
    body = {"zone": "DE", "history": [em_point(hours[0], 300), em_point(hours[1], None),
                                       em_point(hours[2], 310)]}  # fmt: skip
    server.route("/v3/carbon-intensity/history", Reply(json=body))
    series = em.history("DE", hours[0], NOW)
    assert [(p.start.hour, p.duration_s) for p in series.points] == [(22, 3600.0), (0, 3600.0)]


def test_forecast_from_now(em: ElectricityMapsIntensity, server: IntensityServer) -> None:
    series = em.forecast("DE", 3)
    # default forecast rows: 400 - i from 2019-05-21T01:00Z hourly; window [00:30, 03:30)
    assert [p.intensity_g_per_kwh for p in series.points] == [400.0, 399.0, 398.0]
    assert series.forecast is True
    [request] = server.requests_to("/v3/carbon-intensity/forecast")
    assert request.param("horizonHours") == "3"


def test_wrong_token_is_an_auth_error_without_the_token(
    server: IntensityServer, http: HttpOptions, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "em-wrong-token-0000"
    with ElectricityMapsIntensity(token, base_url=server.url, http=http) as em:
        with pytest.raises(IntensityAuthError, match="HTTP 401") as info:
            em.latest("DE")
        assert token not in repr(em)
    assert info.value.zone == "DE"
    assert token not in str(info.value) and token not in caplog.text


def test_missing_token_names_the_variable() -> None:
    with pytest.raises(IntensityAuthError, match=TOKEN_VARIABLE) as info:
        ElectricityMapsIntensity("")
    assert info.value.variable == TOKEN_VARIABLE


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(json={"zone": "DE", **em_point(EM_HISTORY_END, None)}), "carbonIntensity is null"),
        (Reply(json={"zone": "DE"}), "missing 'carbonIntensity'"),
        (Reply(body=b"<html>gateway</html>"), "malformed JSON"),
        (Reply(json=em_point(EM_HISTORY_END, 322, emissionFactorType="direct")), "'direct'"),
        (Reply(json=em_point(EM_HISTORY_END, 322_000)), "implausible intensity 322000"),
        (Reply(json=em_point(EM_HISTORY_END, "322")), "expected a number"),  # type: ignore[arg-type]
    ],
)
def test_bad_latest_responses_are_clean_errors(
    em: ElectricityMapsIntensity, server: IntensityServer, reply: Reply, reason: str
) -> None:
    server.script(LATEST, reply)
    with pytest.raises(IntensityUnavailable, match=reason):
        em.latest("DE")


def test_history_not_a_list_is_a_clean_error(
    em: ElectricityMapsIntensity, server: IntensityServer
) -> None:
    server.script("/v3/carbon-intensity/history", Reply(json={"zone": "DE", "history": {}}))
    with pytest.raises(IntensityUnavailable, match="not a list"):
        em.history("DE", EM_HISTORY_END - timedelta(hours=1), EM_HISTORY_END)


def test_naive_datetimes_are_refused(em: ElectricityMapsIntensity) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        em.history("DE", NOW.replace(tzinfo=None), NOW)
