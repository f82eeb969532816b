"""The HTTP machinery every live intensity source shares, written once.

`HttpClient.get_json` does one logical GET: connect/read timeouts, retries with
exponential backoff and jitter on 429, 5xx and transport errors (honouring
`Retry-After` in seconds or as an HTTP date, up to a cap), a total deadline, an
optional disk cache, JSON decoding with clear errors, and redaction of every
secret the client was given (keys, passwords, tokens) from messages and logs.
Failures become `IntensityUnavailable` (`IntensityAuthError` for 401/403).

httpx is imported only when a client is built, so importing a provider module
(and `import carbonlens`) never loads it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Self

from carbonlens._frozen import frozen
from carbonlens._version import __version__
from carbonlens.intensity.base import IntensityAuthError, IntensityUnavailable
from carbonlens.intensity.cache import DiskCache

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpClient", "HttpOptions", "HttpSource", "Params"]

Params = Mapping[str, str | int | float]
"""Query parameters of a request."""

_REDACTED = "***"
_NO_HTTPX = "live intensity needs httpx: pip install 'carbonlens[live]'"
_SNIPPET_CHARS = 200
_log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@frozen
class HttpOptions:
    """How a live source talks to its provider, and the hooks tests inject.

    Attributes:
        client: an `httpx.Client` to use (not closed by the source); by default
            the source builds its own on first use and closes it in `close()`.
        connect_timeout_s: seconds to wait for a connection.
        read_timeout_s: seconds to wait for response data.
        max_retries: retries after the first attempt on 429, 5xx and transport errors.
        backoff_base_s: first backoff delay in seconds; doubles per retry, with jitter.
        backoff_cap_s: longest wait in seconds; a `Retry-After` above it is not
            waited for: the request fails (and the chain falls back) instead.
        deadline_s: bound in seconds on one logical request, retries and waits included.
        cache: a disk cache for successful responses (None: no caching).
        sleep: how to wait between retries (tests pass a recorder).
        now: the current UTC time, for time windows and HTTP-date `Retry-After`.
        jitter: a random number in [0, 1) for backoff jitter.
    """

    client: httpx.Client | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    max_retries: int = 3
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    deadline_s: float = 30.0
    cache: DiskCache | None = None
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = _utc_now
    jitter: Callable[[], float] = random.random


class HttpClient:
    """GETs JSON from one provider for one source, with retries, cache and redaction."""

    def __init__(
        self,
        source: str,
        base_url: str,
        options: HttpOptions,
        *,
        secrets: Iterable[str] = (),
    ) -> None:
        """Prepare a client; no connection is made until the first request.

        Args:
            source: the source's name, used in errors, logs and cache keys.
            base_url: scheme and host (and optional path prefix) of the provider.
            options: timeouts, retries, cache and test hooks.
            secrets: values that must never appear in messages or logs.
        """
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.options = options
        self._secrets: set[str] = set()
        self._client: httpx.Client | None = options.client
        self._owns_client = options.client is None
        for secret in secrets:
            self.add_secret(secret)

    def __repr__(self) -> str:
        """Name the source and host only (no secrets)."""
        return f"HttpClient({self.source!r}, {self.base_url!r})"

    def add_secret(self, secret: str) -> None:
        """Redact `secret` (e.g. a token obtained at login) from now on."""
        if secret:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """`text` with every known secret replaced by ``***``."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, _REDACTED)
        return text

    def unavailable(self, zone: str, reason: str) -> IntensityUnavailable:
        """An `IntensityUnavailable` for this source with a redacted reason."""
        return IntensityUnavailable(self.source, zone, self.redact(reason))

    @contextlib.contextmanager
    def parsing(self, zone: str, what: str) -> Iterator[None]:
        """Turn a malformed response (missing field, wrong type, bad value) into a clean error.

        Args:
            zone: the location asked for.
            what: the response being parsed ("latest", "forecast", ...).

        Raises:
            IntensityUnavailable: the body inside did not have the documented shape.
        """
        try:
            yield
        except KeyError as exc:
            raise self.unavailable(zone, f"unexpected {what} response: missing {exc}") from None
        except (TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
            raise self.unavailable(zone, f"unexpected {what} response: {exc}") from None

    def close(self) -> None:
        """Close the httpx client if this object created it."""
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            import httpx

            self._client = httpx.Client(
                follow_redirects=False, headers={"User-Agent": f"carbonlens/{__version__}"}
            )
        return self._client

    def get_json(
        self,
        path: str,
        params: Params | None = None,
        *,
        zone: str = "",
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        cache: bool = True,
    ) -> Any:
        """GET `base_url + path` and decode its JSON body.

        Args:
            path: endpoint path, e.g. "/v3/carbon-intensity/latest".
            params: query parameters (part of the cache key, so never secrets).
            zone: the location asked for, for error messages.
            headers: extra headers (auth headers go here, never in `params`).
            auth: HTTP Basic credentials (username, password).
            cache: whether the response may be read from / written to the cache.

        Returns:
            The decoded JSON document, or None for 204 No Content.

        Raises:
            IntensityAuthError: HTTP 401 or 403.
            IntensityUnavailable: any other failure, after retries where they apply.
        """
        params = dict(params or {})
        if cache and (hit := self.cached(path, params)) is not None:
            return hit
        data = self._fetch(path, params, zone, headers, auth)
        if cache and self.options.cache is not None and data is not None:
            self.options.cache.put(DiskCache.key(self.source, path, params), data)
        return data

    def cached(self, path: str, params: Params | None = None) -> Any | None:
        """The cached, unexpired response of a GET, or None (also when there is no cache)."""
        if self.options.cache is None:
            return None
        hit = self.options.cache.get(DiskCache.key(self.source, path, dict(params or {})))
        if hit is not None:
            _log.debug("%s: cache hit for GET %s", self.source, path)
        return hit

    def _fetch(
        self,
        path: str,
        params: Params,
        zone: str,
        headers: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
    ) -> Any:
        try:
            import httpx
        except ImportError:
            raise self.unavailable(zone, _NO_HTTPX) from None
        opts = self.options
        # a bad URL, a redirect loop or a bad body encoding: retrying cannot help
        not_retried = (
            httpx.UnsupportedProtocol,
            httpx.InvalidURL,
            httpx.DecodingError,
            httpx.TooManyRedirects,
        )
        deadline = time.monotonic() + opts.deadline_s
        request_headers = {"Accept": "application/json", **(headers or {})}
        what = f"GET {path}"
        attempt = 0
        while True:
            attempt += 1
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                raise self.unavailable(
                    zone, f"{what}: no answer within the {opts.deadline_s:g} s deadline"
                )
            timeout = httpx.Timeout(
                min(opts.read_timeout_s, remaining_s),
                connect=min(opts.connect_timeout_s, remaining_s),
            )
            retry_after_s: float | None = None
            try:
                response = self._http().get(
                    self.base_url + path,
                    params=params,
                    headers=request_headers,
                    auth=auth,
                    timeout=timeout,
                )
            except httpx.TimeoutException as exc:
                failure = f"timed out ({type(exc).__name__})"
            except not_retried as exc:
                raise self.unavailable(zone, f"{what}: {type(exc).__name__}: {exc}") from None
            except httpx.TransportError as exc:
                failure = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                status = response.status_code
                if status in (401, 403):
                    raise IntensityAuthError(
                        self.source,
                        zone,
                        self.redact(f"{what}: HTTP {status} {_snippet(response)}"),
                    )
                if status != 429 and status < 500:
                    return self._decode(response, zone, what)
                failure = f"HTTP {status}"
                retry_after_s = _retry_after_s(response.headers.get("Retry-After"), opts.now())
            if attempt > opts.max_retries:
                raise self.unavailable(zone, f"{what}: {failure} after {attempt} attempt(s)")
            delay_s = self._delay_s(attempt, retry_after_s, zone, what, failure)
            if time.monotonic() + delay_s > deadline:
                raise self.unavailable(
                    zone, f"{what}: {failure}; a retry in {delay_s:.1f} s would pass the deadline"
                )
            _log.info(
                "%s: %s; retrying in %.2f s (attempt %d of %d)",
                self.source,
                self.redact(f"{what}: {failure}"),
                delay_s,
                attempt + 1,
                opts.max_retries + 1,
            )
            opts.sleep(delay_s)

    def _delay_s(
        self, attempt: int, retry_after_s: float | None, zone: str, what: str, failure: str
    ) -> float:
        """Seconds to wait before retry number `attempt`: Retry-After, else backoff with jitter."""
        opts = self.options
        if retry_after_s is not None:
            if retry_after_s > opts.backoff_cap_s:
                raise self.unavailable(
                    zone,
                    f"{what}: {failure}; Retry-After {retry_after_s:g} s "
                    f"is above the {opts.backoff_cap_s:g} s cap",
                )
            return retry_after_s
        backoff_s = min(opts.backoff_cap_s, opts.backoff_base_s * 2.0 ** (attempt - 1))
        return backoff_s * (0.5 + 0.5 * opts.jitter())

    def _decode(self, response: httpx.Response, zone: str, what: str) -> Any:
        if not 200 <= response.status_code < 300:
            raise self.unavailable(
                zone, f"{what}: HTTP {response.status_code} {_snippet(response)}"
            )
        if response.status_code == 204:
            return None
        try:
            return json.loads(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self.unavailable(zone, f"{what}: malformed JSON ({exc})") from None
        except RecursionError:
            raise self.unavailable(zone, f"{what}: malformed JSON (nested too deeply)") from None


def _snippet(response: httpx.Response) -> str:
    """The start of an error body on one line, for messages (redacted by the caller)."""
    text = " ".join(response.text.split())
    return f"({text[:_SNIPPET_CHARS]})" if text else ""


def _retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class HttpSource:
    """What every live source shares: its `HttpClient`, `close()`, context manager, repr."""

    name: str
    _http: HttpClient

    def __repr__(self) -> str:
        """Class and provider URL (never a key)."""
        return f"{type(self).__name__}({self._http.base_url!r})"

    def __enter__(self) -> Self:
        """Use the source in a `with` block; it is closed at the end."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the source."""
        self.close()

    def close(self) -> None:
        """Close the HTTP connections this source opened."""
        self._http.close()

    def _forecast_window(self, hours: float) -> tuple[datetime, datetime]:
        """(now, now + `hours`) in UTC, for a forecast request."""
        now = self._http.options.now()
        return now, now + timedelta(hours=max(0.0, hours))
