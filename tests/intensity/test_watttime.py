"""WattTime v3 client: login, token refresh, region lookup, lbs/MWh -> g/kWh, marginal label."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from carbonlens.intensity._http import HttpOptions
from carbonlens.intensity.base import IntensityAuthError, IntensityUnavailable
from carbonlens.intensity.watttime import PASSWORD_VARIABLE, USERNAME_VARIABLE, WattTimeIntensity
from carbonlens.testing.intensity_server import (
    IntensityServer,
    LoggedRequest,
    Reply,
    watttime_body,
)

# Documented /v3/forecast example values (lbs CO2/MWh) times 0.45359237 g/kWh per lb/MWh:
# 1048.4131919701972 x 0.45359237 = 475.5522244850267 g/kWh
# 1051.0880801214637 x 0.45359237 = 476.7655333410446 g/kWh
FIRST_G_PER_KWH = 475.5522244850267
SECOND_G_PER_KWH = 476.7655333410446
NOW = datetime(2022, 7, 15, 0, 2, tzinfo=UTC)


class Now:
    """A settable UTC clock."""

    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Now:
    return Now()


@pytest.fixture
def wt(server: IntensityServer, http: HttpOptions, clock: Now) -> Iterator[WattTimeIntensity]:
    options = replace(http, now=clock)
    user, password = server.watttime_username, server.watttime_password
    with WattTimeIntensity(user, password, base_url=server.url, http=options) as source:
        yield source


def test_latest_logs_in_and_converts_lbs_per_mwh(
    wt: WattTimeIntensity, server: IntensityServer
) -> None:
    value = wt.latest("CAISO_NORTH")
    assert value.intensity_g_per_kwh == pytest.approx(FIRST_G_PER_KWH)
    assert value.year == 2022 and value.source == "watttime"
    assert value.basis.startswith("marginal CO2") and "marginal signal" in value.reason
    [login] = server.requests_to("/login")
    assert login.headers["authorization"].startswith("Basic ")
    [forecast] = server.requests_to("/v3/forecast")
    assert forecast.headers["authorization"] == "Bearer wt-jwt-1-5e0d"
    assert forecast.query == {
        "horizon_hours": ["0"],
        "region": ["CAISO_NORTH"],
        "signal_type": ["co2_moer"],
    }


def test_token_is_reused_then_renewed_after_25_minutes(
    wt: WattTimeIntensity, server: IntensityServer, clock: Now
) -> None:
    wt.latest("CAISO_NORTH")
    clock.at += timedelta(minutes=24)
    wt.latest("CAISO_NORTH")
    assert len(server.requests_to("/login")) == 1
    clock.at += timedelta(minutes=2)
    wt.latest("CAISO_NORTH")
    assert len(server.requests_to("/login")) == 2


def test_expired_token_is_refreshed_once_on_401(
    wt: WattTimeIntensity, server: IntensityServer
) -> None:
    wt.latest("CAISO_NORTH")
    server.revoke_tokens()
    assert wt.latest("CAISO_NORTH").intensity_g_per_kwh == pytest.approx(FIRST_G_PER_KWH)
    assert len(server.requests_to("/login")) == 2
    statuses = [r.headers["authorization"] for r in server.requests_to("/v3/forecast")]
    assert statuses == ["Bearer wt-jwt-1-5e0d", "Bearer wt-jwt-1-5e0d", "Bearer wt-jwt-2-5e0d"]


def test_token_refused_twice_is_an_auth_error(
    wt: WattTimeIntensity, server: IntensityServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script("/v3/forecast", Reply(401, {"error": "no"}), Reply(401, {"error": "no"}))
    with pytest.raises(IntensityAuthError, match="HTTP 401") as info:
        wt.latest("CAISO_NORTH")
    assert len(server.requests_to("/login")) == 2
    for secret in ("wt-jwt-1-5e0d", "wt-jwt-2-5e0d", server.watttime_password):
        assert secret not in str(info.value) and secret not in caplog.text


def test_wrong_password_names_the_variables_not_the_value(
    server: IntensityServer, http: HttpOptions, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "wrong-pass-5150"
    wt = WattTimeIntensity("wt-user", password, base_url=server.url, http=http)
    with wt, pytest.raises(IntensityAuthError, match="login refused") as info:
        wt.forecast("CAISO_NORTH", 1)
    assert USERNAME_VARIABLE in str(info.value) and PASSWORD_VARIABLE in str(info.value)
    assert password not in str(info.value) and password not in caplog.text


def test_missing_password_names_the_variable() -> None:
    with pytest.raises(IntensityAuthError, match=PASSWORD_VARIABLE) as info:
        WattTimeIntensity("user", "")
    assert USERNAME_VARIABLE not in str(info.value)


def test_lat_lon_is_looked_up_once(wt: WattTimeIntensity, server: IntensityServer) -> None:
    wt.latest("42.37, -72.52")
    wt.latest("42.37, -72.52")
    [lookup] = server.requests_to("/v3/region-from-loc")
    assert (lookup.param("latitude"), lookup.param("longitude")) == ("42.37", "-72.52")
    assert {r.param("region") for r in server.requests_to("/v3/forecast")} == {"ISONE_WCMA"}


def test_history_is_marginal_and_converted(wt: WattTimeIntensity, server: IntensityServer) -> None:
    start = datetime(2022, 7, 15, tzinfo=UTC)
    series = wt.history("CAISO_NORTH", start, start + timedelta(minutes=10))
    assert [p.intensity_g_per_kwh for p in series.points] == pytest.approx(
        [FIRST_G_PER_KWH, SECOND_G_PER_KWH]
    )
    assert {p.duration_s for p in series.points} == {300.0}
    assert (series.signal, series.forecast) == ("marginal", False)
    [request] = server.requests_to("/v3/historical")
    assert (request.param("start"), request.param("end")) == (
        "2022-07-15T00:00:00Z",
        "2022-07-15T00:10:00Z",
    )


def test_forecast_is_clipped_to_now_and_labelled(
    wt: WattTimeIntensity, server: IntensityServer
) -> None:
    series = wt.forecast("CAISO_NORTH", 100)
    assert len(series.points) == 2 and series.forecast and series.signal == "marginal"
    assert server.requests_to("/v3/forecast")[0].param("horizon_hours") == "72"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"units": "percentile"}, "units 'percentile'"),
        ({"units": "kg_co2_per_mwh"}, "units 'kg_co2_per_mwh'"),
        ({"signal_type": "health_damage"}, "signal 'health_damage'"),
    ],
)
def test_wrong_units_or_signal_are_refused(
    wt: WattTimeIntensity, server: IntensityServer, body: dict[str, str], reason: str
) -> None:
    def reply(request: LoggedRequest) -> Reply:
        document = watttime_body(request, [("2022-07-15T00:00:00+00:00", 96.0)])
        document["meta"].update(body)
        return Reply(json=document)

    server.route("/v3/forecast", reply)
    with pytest.raises(IntensityUnavailable, match=reason):
        wt.latest("CAISO_NORTH")


def test_empty_forecast_has_no_latest(wt: WattTimeIntensity, server: IntensityServer) -> None:
    server.route("/v3/forecast", lambda r: Reply(json=watttime_body(r, [])))
    with pytest.raises(IntensityUnavailable, match="empty forecast"):
        wt.latest("CAISO_NORTH")
    assert wt.forecast("CAISO_NORTH", 1).points == ()
