"""A real HTTP server on 127.0.0.1 that plays the four grid-intensity providers.

It answers from the documented formats (docs/reference INTERFACES §5): Electricity
Maps v3 (checks the `auth-token` header), WattTime v3 (HTTP Basic login that
issues bearer tokens, then checks them), the NESO Carbon Intensity API and the
Carbon Aware SDK WebAPI. Tests replace any answer, script one-shot faults per
path (status codes, `Retry-After`, delays, malformed bodies, empty series,
wrong units) and read the request log::

    with IntensityServer() as server:
        server.script("/v3/carbon-intensity/latest", Reply(status=500))
        source = ElectricityMapsIntensity(server.em_token, base_url=server.url)
        ...
        assert len(server.requests_to("/v3/carbon-intensity/latest")) == 2

Paths are matched with `fnmatch` patterns ("/intensity/*"). The server binds an
ephemeral port on 127.0.0.1 only, and stops (ending any delayed answer) when
the `with` block ends.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from carbonlens._frozen import frozen

__all__ = [
    "EM_HISTORY_END",
    "UK_NATIONAL_PERIOD",
    "UK_REGIONAL_PERIOD",
    "WATTTIME_FORECAST",
    "WATTTIME_REGION",
    "IntensityServer",
    "LoggedRequest",
    "Reply",
    "em_point",
    "uk_regional_body",
    "watttime_body",
]


@frozen
class Reply:
    """One scripted answer.

    Attributes:
        status: HTTP status code.
        json: a document to send as JSON (ignored when `body` is given).
        body: raw bytes to send instead (e.g. malformed JSON).
        headers: extra response headers (e.g. {"Retry-After": "2"}).
        delay_s: seconds to wait before answering (to trigger client timeouts).
    """

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@frozen
class LoggedRequest:
    """A request the server received; header names are lower-case."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]

    def param(self, name: str, default: str = "") -> str:
        """The first value of query parameter `name`, or `default`."""
        return self.query.get(name, [default])[0]


Handler = Callable[[LoggedRequest], Reply]
_POLL_S = 0.01  # how often serve_forever checks for shutdown (fast teardown)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class IntensityServer:
    """The fake providers on http://127.0.0.1:<ephemeral port>; use it as a context manager."""

    def __init__(
        self,
        *,
        em_token: str = "em-test-token-4f1c",
        watttime_username: str = "wt-user",
        watttime_password: str = "wt-password-93ab",
    ) -> None:
        """Set the credentials the fake providers accept (start with `with` or `start()`)."""
        self.em_token = em_token
        self.watttime_username = watttime_username
        self.watttime_password = watttime_password
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._log: list[LoggedRequest] = []
        self._routes: list[tuple[str, Handler]] = []
        self._scripts: dict[str, list[Reply]] = {}
        self._tokens: set[str] = set()
        self._token_ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._install_defaults()

    def start(self) -> Self:
        """Bind 127.0.0.1 on an ephemeral port and serve in a background thread."""
        owner = self

        class _RequestHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                owner._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        server = ThreadingHTTPServer(("127.0.0.1", 0), _RequestHandler)
        server.daemon_threads = False  # server_close() joins every handler thread
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(_POLL_S,), name="intensity-server"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """End delayed answers, stop serving and close every socket."""
        self._stop.set()
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        """Start the server."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server."""
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. "http://127.0.0.1:53211"."""
        if self._server is None:
            raise RuntimeError("IntensityServer is not running; use it in a `with` block")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, pattern: str, reply: Reply | Handler) -> None:
        """Answer paths matching `pattern` with `reply` from now on (newest route wins)."""
        handler = reply if callable(reply) else (lambda _request, fixed=reply: fixed)
        with self._lock:
            self._routes.insert(0, (pattern, handler))

    def script(self, pattern: str, *replies: Reply) -> None:
        """Answer the next requests to `pattern` with `replies`, once each, before any route."""
        with self._lock:
            self._scripts.setdefault(pattern, []).extend(replies)

    def revoke_tokens(self) -> None:
        """Expire every WattTime token issued so far (the next data call gets 401)."""
        with self._lock:
            self._tokens.clear()

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request received, oldest first."""
        with self._lock:
            return list(self._log)

    def requests_to(self, pattern: str) -> list[LoggedRequest]:
        """The requests whose path matches `pattern`."""
        return [r for r in self.requests if fnmatchcase(r.path, pattern)]

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        request = LoggedRequest(
            handler.command,
            parts.path,
            parse_qs(parts.query),
            {name.lower(): value for name, value in handler.headers.items()},
        )
        with self._lock:
            self._log.append(request)
        reply = self._answer(request)
        if reply.delay_s and self._stop.wait(reply.delay_s):
            return
        body = reply.body if reply.body is not None else json.dumps(reply.json).encode()
        with contextlib.suppress(ConnectionError):
            handler.send_response(reply.status)
            for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)

    def _answer(self, request: LoggedRequest) -> Reply:
        with self._lock:
            for pattern, queue in self._scripts.items():
                if queue and fnmatchcase(request.path, pattern):
                    return queue.pop(0)
            routes = list(self._routes)
        if (refused := self._check_auth(request)) is not None:
            return refused
        for pattern, handler in routes:
            if fnmatchcase(request.path, pattern):
                return handler(request)
        return Reply(404, {"error": {"code": "404 Not Found", "message": request.path}})

    def _check_auth(self, request: LoggedRequest) -> Reply | None:
        """401 when a provider's credentials are missing or wrong, else None."""
        if request.path.startswith("/v3/carbon-intensity/"):
            if request.headers.get("auth-token") != self.em_token:
                return Reply(401, {"message": "invalid auth-token"})
        elif request.path.startswith("/v3/"):
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            with self._lock:
                if token not in self._tokens:
                    return Reply(401, {"error": "token expired or invalid"})
        return None

    def _login(self, request: LoggedRequest) -> Reply:
        user_pass = f"{self.watttime_username}:{self.watttime_password}"
        expected = "Basic " + base64.b64encode(user_pass.encode()).decode()
        if request.headers.get("authorization") != expected:
            return Reply(401, {"error": "invalid credentials"})
        token = f"wt-jwt-{next(self._token_ids)}-5e0d"
        with self._lock:
            self._tokens.add(token)
        return Reply(200, {"token": token})

    def _install_defaults(self) -> None:
        """Answers from the providers' documented examples (INTERFACES §5)."""
        self.route("/login", self._login)
        # Electricity Maps v3: the verbatim `/past` example is also the `/latest` shape.
        self.route("/v3/carbon-intensity/latest", lambda r: Reply(json=_em_point(r, 322)))
        self.route("/v3/carbon-intensity/history", _em_history)
        self.route("/v3/carbon-intensity/past-range", _em_past_range)
        self.route("/v3/carbon-intensity/forecast", _em_forecast)
        # WattTime v3
        self.route("/v3/region-from-loc", lambda r: Reply(json=WATTTIME_REGION))
        self.route("/v3/forecast", lambda r: Reply(json=watttime_body(r, WATTTIME_FORECAST)))
        self.route("/v3/historical", lambda r: Reply(json=watttime_body(r, WATTTIME_FORECAST)))
        # NESO Carbon Intensity: national and (live-shaped) regional examples.
        self.route("/intensity", lambda r: Reply(json={"data": [UK_NATIONAL_PERIOD]}))
        self.route("/intensity/*", lambda r: Reply(json={"data": [UK_NATIONAL_PERIOD]}))
        self.route("/regional/*", lambda r: Reply(json=uk_regional_body([UK_REGIONAL_PERIOD])))
        # Carbon Aware SDK WebAPI
        self.route("/emissions/bylocation", lambda r: Reply(json=[_ca_rating(r)]))
        self.route("/emissions/forecasts/current", _ca_forecast)


# Documented example values, for tests to compute expected numbers from.
WATTTIME_REGION = {
    "region": "ISONE_WCMA",
    "region_full_name": "ISONE Western/Central Massachusetts",
    "signal_type": "co2_moer",
}
WATTTIME_FORECAST = (
    ("2022-07-15T00:00:00+00:00", 1048.4131919701972),
    ("2022-07-15T00:05:00+00:00", 1051.0880801214637),
)
UK_NATIONAL_PERIOD = {
    "from": "2018-01-20T12:00Z",
    "to": "2018-01-20T12:30Z",
    "intensity": {"forecast": 266, "actual": 263, "index": "moderate"},
}
UK_REGIONAL_PERIOD = {
    "from": "2018-01-20T12:00Z",
    "to": "2018-01-20T12:30Z",
    "intensity": {"forecast": 266, "index": "moderate"},
    "generationmix": [{"fuel": "gas", "perc": 43.6}, {"fuel": "wind", "perc": 6.8}],
}
EM_HISTORY_END = datetime(2019, 5, 21, tzinfo=UTC)
"""The newest point of the default `/history`: 24 hourly points, 299 ... 322 gCO2e/kWh."""


def watttime_body(
    request: LoggedRequest, points: Any, *, units: str = "lbs_co2_per_mwh"
) -> dict[str, Any]:
    """A WattTime v3 `/forecast` or `/historical` envelope for (point_time, value) pairs."""
    return {
        "data": [{"point_time": t, "value": v} for t, v in points],
        "meta": {
            "data_point_period_seconds": 300,
            "region": request.param("region", "CAISO_NORTH"),
            "warnings": [],
            "signal_type": request.param("signal_type", "co2_moer"),
            "model": {"date": "2023-03-01"},
            "units": units,
        },
    }


def uk_regional_body(periods: list[Any], regionid: int = 3) -> dict[str, Any]:
    """A NESO regionid/postcode answer as the live API serves it (`data` is an object)."""
    region = {"regionid": regionid, "dnoregion": "Electricity North West"}
    return {"data": {**region, "shortname": "North West England", "data": periods}}


def em_point(moment: datetime, value: float | None, **extra: Any) -> dict[str, Any]:
    """One Electricity Maps data point in the documented `/past` shape."""
    return {
        "carbonIntensity": value,
        "datetime": _iso(moment),
        "updatedAt": "2022-04-07T15:32:21.002Z",
        "createdAt": "2022-02-08T06:20:31.772Z",
        "emissionFactorType": "lifecycle",
        "isEstimated": False,
        "estimationMethod": None,
        **extra,
    }


def _em_point(request: LoggedRequest, value: float) -> dict[str, Any]:
    return {"zone": request.param("zone", "DE"), **em_point(EM_HISTORY_END, value)}


def _em_history(request: LoggedRequest) -> Reply:
    hours = [EM_HISTORY_END - timedelta(hours=23 - i) for i in range(24)]
    points = [em_point(moment, 299 + i) for i, moment in enumerate(hours)]
    return Reply(json={"zone": request.param("zone", "DE"), "history": points})


def _em_past_range(request: LoggedRequest) -> Reply:
    start = datetime.fromisoformat(request.param("start"))
    count = int((datetime.fromisoformat(request.param("end")) - start).total_seconds() // 3600)
    points = [em_point(start + timedelta(hours=i), 322) for i in range(count)]
    return Reply(json={"zone": request.param("zone", "DE"), "data": points})


def _em_forecast(request: LoggedRequest) -> Reply:
    start = EM_HISTORY_END + timedelta(hours=1)
    rows = [
        {"carbonIntensity": 400 - i, "datetime": _iso(start + timedelta(hours=i))}
        for i in range(int(request.param("horizonHours", "24")))
    ]
    zone = request.param("zone", "DE")
    return Reply(json={"zone": zone, "forecast": rows, "updatedAt": _iso(start)})


def _ca_rating(request: LoggedRequest) -> dict[str, Any]:
    location = request.param("location", "eastus")
    return {"location": location, "time": "2022-05-17T20:45:11.5092741+00:00", "rating": 70}


def _ca_forecast(request: LoggedRequest) -> Reply:
    point = {"location": "IE", "timestamp": "2022-07-19T14:00:00+00:00", "duration": 10}
    forecast = {
        "requestedAt": "2022-07-19T13:37:49+00:00",
        "generatedAt": "2022-07-19T13:35:00+00:00",
        "location": request.param("location", "northeurope"),
        "dataStartAt": "2022-07-19T14:00:00Z",
        "dataEndAt": "2022-07-20T04:38:00Z",
        "windowSize": 10,
        "optimalDataPoint": {**point, "value": 448.4451043375},
        "forecastData": [{**point, "value": 532.02293146}],
    }
    return Reply(json=[forecast])
