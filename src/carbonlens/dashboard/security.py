"""Who may read the dashboard, and the headers every response carries.

Without a token the dashboard answers only requests addressed to a loopback
name (`127.0.0.1`, `localhost`, `[::1]`): a web page elsewhere cannot read it by
pointing a domain of its own at 127.0.0.1 (DNS rebinding). With a token, every
request must carry it: an `Authorization: Bearer TOKEN` or `X-Carbonlens-Token`
header, else a `token` query parameter, else the cookie set when a `token`
parameter was accepted (the answer then redirects to the same address without
it, so the token leaves the address bar and the history). Tokens are compared
in constant time. Every response forbids scripts other than the dashboard's own,
every external load, framing and MIME sniffing.
"""

from __future__ import annotations

import hmac
from typing import Final
from urllib.parse import urlencode

from starlette.datastructures import URL, Headers
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "LOOPBACK_HOSTS", "Guard", "is_loopback"]

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
"""Host names that reach only this machine."""
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of every response: the page loads only the
dashboard's own script, style sheet and JSON; nothing from the network."""
_HEADERS: Final = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)
_TOKEN_HEADER: Final = "x-carbonlens-token"
_TOKEN_PARAM: Final = "token"


def is_loopback(host: str) -> bool:
    """Whether a host name or address (IPv6 with or without brackets) is loopback."""
    return host.strip("[]").casefold() in LOOPBACK_HOSTS


def _host_name(host_header: str) -> str:
    """The name of a Host header without its port: `[::1]:8150` -> `::1`."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class Guard:
    """ASGI middleware: the host or token check, then the security headers.

    Args:
        app: the application to guard.
        token: the token every request must carry; None to serve loopback
            addresses only, without a token.
    """

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer refused requests here; pass the others on with the headers added."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        refusal = self._refusal(HTTPConnection(scope))
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
        else:
            await self.app(scope, receive, send_with_headers)

    def _cookie_name(self, conn: HTTPConnection) -> str:
        """One cookie per port: two dashboards on one host keep their own tokens."""
        port = conn.url.port or (conn.scope.get("server") or ("", 0))[1]
        return f"carbonlens_token_{port}"

    def _refusal(self, conn: HTTPConnection) -> Response | None:
        """The answer to a request that may not pass, or None if it may."""
        token = self.token
        if token is None:
            host = _host_name(conn.headers.get("host", ""))
            if is_loopback(host):
                return None
            return PlainTextResponse(
                f"carbonlens dashboard: refused a request for host {host!r}: without a token "
                "this server answers only 127.0.0.1, localhost and [::1]",
                status_code=400,
            )
        header = _bearer(conn.headers) or conn.headers.get(_TOKEN_HEADER)
        param = conn.query_params.get(_TOKEN_PARAM)
        cookie = conn.cookies.get(self._cookie_name(conn))
        if header is not None:
            return None if _same(header, token) else _unauthorized()
        if param is not None:
            return self._accept_param(conn, param) if _same(param, token) else _unauthorized()
        return None if cookie is not None and _same(cookie, token) else _unauthorized()

    def _accept_param(self, conn: HTTPConnection, token: str) -> Response:
        """Keep the token in a cookie and send the browser to the address without it."""
        rest = [(k, v) for k, v in conn.query_params.multi_items() if k != _TOKEN_PARAM]
        target = URL(path=conn.url.path, query=urlencode(rest))
        response = RedirectResponse(str(target), status_code=303)
        response.set_cookie(
            self._cookie_name(conn), token, httponly=True, samesite="strict", path="/"
        )
        return response


def _same(given: str, token: str) -> bool:
    """Constant-time comparison, so the answer's timing tells nothing about the token."""
    return hmac.compare_digest(given.encode(), token.encode())


def _bearer(headers: Headers) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.casefold() == "bearer" and value.strip() else None


def _unauthorized() -> Response:
    return PlainTextResponse(
        "carbonlens dashboard: this server needs its token: open the address that "
        "`carbonlens dashboard` printed (it ends in ?token=...), or send the header "
        "`Authorization: Bearer TOKEN`",
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="carbonlens"'},
    )
