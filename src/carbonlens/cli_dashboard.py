"""`carbonlens dashboard`: serve the local web dashboard of the run store.

The web packages are the `dashboard` extra; without them the command prints the
install command and exits with status 2.
"""

from __future__ import annotations

import importlib.util

import click

from carbonlens._cli_common import CliFailure, carbonlens_errors, store_option

__all__ = ["dashboard_command"]

EXTRA_PACKAGES = ("starlette", "jinja2", "uvicorn")
"""The import names the `dashboard` extra provides."""
INSTALL_HINT = "pip install 'carbonlens[dashboard]'"


def _missing_packages() -> list[str]:
    return [name for name in EXTRA_PACKAGES if importlib.util.find_spec(name) is None]


@click.command("dashboard")
@store_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=8150, show_default=True)
@click.option(
    "--token",
    envvar="CARBONLENS_DASHBOARD_TOKEN",
    help="Token every request must carry; required to bind an address other than "
    "127.0.0.1, localhost or ::1 (env: CARBONLENS_DASHBOARD_TOKEN, kept out of `ps`).",
)
@carbonlens_errors
def dashboard_command(store: str | None, host: str, port: int, token: str | None) -> None:
    """Serve a web dashboard of the stored runs (Ctrl-C stops it).

    Runs table with filters and totals, each run's plots, comparisons of runs,
    projects over time; runs in progress update live. The page makes no request
    beyond this server.
    """
    missing = _missing_packages()
    if missing:
        raise CliFailure(
            f"the dashboard needs {', '.join(missing)}: install them with `{INSTALL_HINT}`"
        )
    import os

    from carbonlens.config import load_settings
    from carbonlens.dashboard.server import build_server, dashboard_url
    from carbonlens.store import default_store_path, is_database_url, store_label, store_path

    target = store or load_settings().store or str(default_store_path(os.environ))
    server = build_server(target, host=host, port=port, token=token)
    path = store_label(target)
    if not is_database_url(target) and not store_path(target).exists():
        click.echo(
            f"carbonlens: warning: no run store at {path} yet; runs appear once "
            "`carbonlens run -- COMMAND` records one",
            err=True,
        )
    click.echo(f"carbonlens dashboard of {path}: {dashboard_url(host, port, token)}", err=True)
    server.run()
