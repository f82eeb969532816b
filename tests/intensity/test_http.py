"""The shared HTTP machinery against a real local server: retries, timeouts, redaction."""

from __future__ import annotations

import logging
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from carbonlens.intensity._http import HttpClient, HttpOptions
from carbonlens.intensity.base import IntensityAuthError, IntensityUnavailable
from carbonlens.testing.intensity_server import IntensityServer, Reply

SECRET = "sk-live-0123456789abcdef"


@pytest.fixture
def client(server: IntensityServer, http: HttpOptions) -> Iterator[HttpClient]:
    server.route("/x", Reply(json={"ok": 1}))
    web = HttpClient("test", server.url, http, secrets=[SECRET])
    yield web
    web.close()


def test_decodes_json_and_sends_params_and_accept(
    client: HttpClient, server: IntensityServer
) -> None:
    assert client.get_json("/x", {"zone": "DE"}, headers={"auth-token": SECRET}) == {"ok": 1}
    [request] = server.requests_to("/x")
    assert request.param("zone") == "DE"
    assert request.headers["accept"] == "application/json"
    assert request.headers["auth-token"] == SECRET


def test_own_client_is_built_lazily_and_closed_but_an_injected_one_is_not(
    server: IntensityServer, http: HttpOptions
) -> None:
    server.route("/x", Reply(json=1))
    own = HttpClient("test", server.url, replace(http, client=None))
    assert own.get_json("/x") == 1
    own.close()
    assert own.get_json("/x") == 1  # a fresh client after close()
    own.close()
    injected = HttpClient("test", server.url, http)
    assert injected.get_json("/x") == 1
    injected.close()
    assert http.client is not None and not http.client.is_closed


def test_429_waits_for_retry_after_seconds(
    client: HttpClient, server: IntensityServer, sleeps: list[float]
) -> None:
    server.script("/x", Reply(429, {"message": "slow down"}, headers={"Retry-After": "2"}))
    assert client.get_json("/x") == {"ok": 1}
    assert sleeps == [2.0]
    assert len(server.requests_to("/x")) == 2


def test_429_waits_until_retry_after_http_date(
    server: IntensityServer, http: HttpOptions, sleeps: list[float]
) -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    server.route("/x", Reply(json=[]))
    server.script("/x", Reply(429, headers={"Retry-After": "Thu, 01 Jan 2026 12:00:02 GMT"}))
    with_clock = replace(http, now=lambda: now)
    web = HttpClient("test", server.url, with_clock)
    try:
        assert web.get_json("/x") == []
    finally:
        web.close()
    assert sleeps == [2.0]  # 12:00:02 - 12:00:00


def test_retry_after_above_the_cap_gives_up_at_once(
    client: HttpClient, server: IntensityServer, sleeps: list[float]
) -> None:
    server.script("/x", Reply(429, headers={"Retry-After": "3600"}))
    with pytest.raises(IntensityUnavailable, match="above the 30 s cap") as info:
        client.get_json("/x", zone="DE")
    assert (info.value.source, info.value.zone) == ("test", "DE")
    assert sleeps == [] and len(server.requests_to("/x")) == 1


def test_5xx_is_retried_with_exponential_backoff(
    client: HttpClient, server: IntensityServer, sleeps: list[float]
) -> None:
    server.script("/x", Reply(500), Reply(503))
    assert client.get_json("/x") == {"ok": 1}
    # base 0.01 s doubled per retry, times (0.5 + 0.5 * jitter) with jitter 0
    assert sleeps == pytest.approx([0.005, 0.01])


def test_persistent_5xx_fails_after_max_retries(
    client: HttpClient, server: IntensityServer
) -> None:
    server.script("/x", *[Reply(502)] * 5)
    with pytest.raises(IntensityUnavailable, match="HTTP 502 after 3 attempt"):
        client.get_json("/x")
    assert len(server.requests_to("/x")) == 3


@pytest.mark.parametrize(
    ("status", "error"), [(401, IntensityAuthError), (404, IntensityUnavailable)]
)
def test_client_errors_are_not_retried(
    client: HttpClient, server: IntensityServer, status: int, error: type[Exception]
) -> None:
    server.script("/x", Reply(status, {"message": "nope"}))
    with pytest.raises(error, match=f"HTTP {status}.*nope"):
        client.get_json("/x")
    assert len(server.requests_to("/x")) == 1


def test_timeout_is_a_clean_error_in_bounded_time(
    server: IntensityServer, http: HttpOptions
) -> None:
    server.script("/x", Reply(delay_s=5), Reply(delay_s=5))
    web = HttpClient("test", server.url, replace(http, read_timeout_s=0.1, max_retries=1))
    began = time.monotonic()
    try:
        with pytest.raises(IntensityUnavailable, match="timed out .*after 2 attempt"):
            web.get_json("/x")
    finally:
        web.close()
    assert time.monotonic() - began < 2.0  # 2 x 0.1 s, not 2 x 5 s


def test_total_deadline_bounds_retries(server: IntensityServer, http: HttpOptions) -> None:
    server.script("/x", *[Reply(delay_s=5)] * 21)
    # without the deadline: 21 attempts x 0.1 s read timeout = 2.1 s
    options = replace(http, read_timeout_s=0.1, max_retries=20, deadline_s=0.25)
    web = HttpClient("test", server.url, options)
    began = time.monotonic()
    try:
        with pytest.raises(IntensityUnavailable, match="deadline"):
            web.get_json("/x")
    finally:
        web.close()
    assert time.monotonic() - began < 1.2
    assert len(server.requests_to("/x")) < 5


def test_malformed_json_is_a_clear_error(client: HttpClient, server: IntensityServer) -> None:
    server.script("/x", Reply(body=b'{"data": [1, 2'))
    with pytest.raises(IntensityUnavailable, match="malformed JSON"):
        client.get_json("/x")
    assert len(server.requests_to("/x")) == 1


def test_204_gives_none(client: HttpClient, server: IntensityServer) -> None:
    server.script("/x", Reply(204, body=b""))
    assert client.get_json("/x") is None


def test_connection_refused_is_retried_then_reported(
    http: HttpOptions, sleeps: list[float]
) -> None:
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    web = HttpClient("test", f"http://127.0.0.1:{port}", http)
    try:
        with pytest.raises(IntensityUnavailable, match="connection failed"):
            web.get_json("/x")
    finally:
        web.close()
    assert len(sleeps) == 2


def test_bad_url_is_not_retried(http: HttpOptions, sleeps: list[float]) -> None:
    web = HttpClient("test", "ftp://127.0.0.1:1", http)
    try:
        with pytest.raises(IntensityUnavailable, match="UnsupportedProtocol"):
            web.get_json("/x")
    finally:
        web.close()
    assert sleeps == []


def test_missing_httpx_is_a_clean_error(http: HttpOptions, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)  # as if the `live` extra were not installed
    with pytest.raises(IntensityUnavailable, match=r"carbonlens\[live\]"):
        HttpClient("test", "http://127.0.0.1:1", replace(http, client=None)).get_json("/x")


def test_secrets_never_reach_messages_or_logs(
    client: HttpClient, server: IntensityServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.add_secret("tok-fresh-777")
    echo = {"message": f"bad key {SECRET} / tok-fresh-777"}
    server.script("/x", Reply(500, echo), Reply(400, echo))
    with pytest.raises(IntensityUnavailable) as info:
        client.get_json("/x", headers={"auth-token": SECRET})
    text = f"{info.value} {info.value.reason} {caplog.text} {client!r}"
    assert SECRET not in text and "tok-fresh-777" not in text
    assert "bad key *** / ***" in str(info.value)
