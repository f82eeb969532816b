"""`CarbonMiddleware`: plain ASGI, for Starlette, FastAPI or any ASGI application.

Each HTTP request is opened in the ledger when it arrives and ended when the
last body chunk has been handed to the server (so a streaming response counts
until its end), when the application raises (marked failed, the exception goes
on), or when the application returns without finishing its body. Other scopes
(lifespan, websocket) pass through untouched.

The request path costs a few microseconds: a lock taken twice for a set
insertion and removal, a context variable, and a wrapper around `send`; no I/O.
Handlers reach their request with `carbonlens.serving.current_request()` to
name the model, report tokens or mark the first token::

    app = Starlette(routes=...)
    app.add_middleware(CarbonMiddleware, ledger=ledger)

    async def chat(request):
        served = current_request()
        served.model = "llama-3-8b"
        ...
        served.set_tokens(tokens_in=412, tokens_out=128)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from carbonlens.errors import ConfigError
from carbonlens.serving.ledger import Ledger
from carbonlens.serving.request import _CURRENT, ServedRequest
from carbonlens.serving.run import LedgerOwner

__all__ = ["ASGIApp", "CarbonMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _route(scope: Scope) -> str:
    """The route template the router matched (Starlette, FastAPI), else the path."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else str(scope.get("path", ""))


def _finish(ledger: Ledger, served: ServedRequest, scope: Scope, path: str, failed: bool) -> None:
    if served.route == path:  # not named by the handler: use the route template
        served.route = _route(scope)
    ledger.end(served, failed=failed)


class CarbonMiddleware:
    """Attributes the server's measured energy to the HTTP requests it serves."""

    def __init__(
        self, app: ASGIApp, *, ledger: Ledger | None = None, tracker: LedgerOwner | None = None
    ) -> None:
        """Wrap `app`; give a `ledger`, or a started `tracker` to use its ledger.

        With `tracker`, the ledger is `tracker.serving_ledger()`, the one its
        `request` and `handler` use too, reachable as `middleware.ledger`.

        Raises:
            ConfigError: neither or both of `ledger` and `tracker` are given.
        """
        if ledger is None and tracker is not None:
            ledger = tracker.serving_ledger()
        elif ledger is None or tracker is not None:
            raise ConfigError("CarbonMiddleware takes a ledger or a tracker, not both or neither")
        self.app = app
        self.ledger = ledger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection, accounting it if it is an HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ledger = self.ledger
        path = str(scope.get("path", ""))
        served = ledger.begin(path)

        async def watch(message: Message) -> None:
            await send(message)
            kind = message["type"]
            if kind == "http.response.start":
                served.status_code = message["status"]
            elif kind == "http.response.body" and not message.get("more_body", False):
                _finish(ledger, served, scope, path, (served.status_code or 0) >= 500)

        token = _CURRENT.set(served)
        try:
            await self.app(scope, receive, watch)
        except BaseException:
            _finish(ledger, served, scope, path, True)
            raise
        finally:
            _CURRENT.reset(token)
        if served.end_t_s is None:  # returned without finishing its body
            _finish(ledger, served, scope, path, False)
