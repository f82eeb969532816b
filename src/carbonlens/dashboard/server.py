"""Serving the dashboard: loopback by default, a token for any other address.

`serve` refuses to bind an address other than 127.0.0.1, localhost or ::1
without a token, since the runs (commands, hosts, projects) would then be open to
the network; with a token every request must carry it (`dashboard.security`).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Final

from carbonlens.dashboard.security import is_loopback
from carbonlens.errors import ConfigError

if TYPE_CHECKING:
    import uvicorn

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "build_server", "check_bind", "dashboard_url", "serve"]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8150


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve `host` without a token unless it is a loopback address.

    Raises:
        ConfigError: `host` is not 127.0.0.1, localhost or ::1 and no token is
            given, or the token is empty.
    """
    if token is not None and not token.strip():
        raise ConfigError("the dashboard token is empty: give a long random one", setting="token")
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve the dashboard on {host} without a token: any machine that "
            "reaches this address could read every run. Bind 127.0.0.1 (the default), or "
            "pass a token, e.g. --token \"$(python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')\"",
            setting="token",
        )


def dashboard_url(host: str, port: int, token: str | None = None) -> str:
    """The address to open: `http://127.0.0.1:8150/`, with `?token=` when one is set."""
    try:
        shown = f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        shown = host
    if shown in ("0.0.0.0", "[::]"):
        shown = "127.0.0.1" if shown == "0.0.0.0" else "[::1]"
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def build_server(
    store_path: str | Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    log_level: str = "warning",
) -> uvicorn.Server:
    """A uvicorn server of the dashboard, not started yet.

    Args:
        store_path: the run store to read (see `create_app`).
        host: the address to bind.
        port: the TCP port (0: one the system picks).
        token: the token every request must carry; required unless `host` is loopback.
        log_level: uvicorn's log level ("info" logs every request).

    Returns:
        The server; `run()` serves until interrupted.

    Raises:
        ConfigError: see `check_bind`.
    """
    import uvicorn

    from carbonlens.dashboard.app import create_app

    check_bind(host, token)
    app = create_app(store_path, token=token)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, server_header=False)
    return uvicorn.Server(config)


def serve(
    store_path: str | Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
) -> None:
    """Serve the dashboard until interrupted (Ctrl-C).

    Raises:
        ConfigError: `host` is not loopback and no token is given (see `check_bind`).
    """
    build_server(store_path, host=host, port=port, token=token).run()
