"""Run stores: where runs, their samples and windows are kept as a run goes.

`open_store` opens the default SQLite store (a path, or a `sqlite:///path` URL)
and, when that fails, keeps the run in a JSON-lines file instead and says so:

======================  =====================================================
store                   `$CARBONLENS_STORE`, else
                        `$XDG_DATA_HOME/carbonlens/runs.db`
                        (`~/.local/share/carbonlens/runs.db`)
fallback directory      `$XDG_STATE_HOME/carbonlens`
                        (`~/.local/state/carbonlens`), else
                        `<temp dir>/carbonlens`
fallback file           `fallback-<UTC timestamp>-<pid>.jsonl`
======================  =====================================================

A corrupt or foreign file is reported and left untouched, never replaced.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from carbonlens.errors import StoreError
from carbonlens.store._liveness import this_host
from carbonlens.store.base import Store
from carbonlens.store.jsonl import JsonlStore
from carbonlens.store.sqlite import SqliteStore

__all__ = [
    "JsonlStore",
    "SqliteStore",
    "default_fallback_dir",
    "default_store_path",
    "open_existing_store",
    "open_fallback",
    "open_store",
    "store_path",
    "this_host",
]


def default_store_path(env: Mapping[str, str]) -> Path:
    """Where runs are stored unless told otherwise.

    Args:
        env: Environment variables (pass `os.environ`).

    Returns:
        `$CARBONLENS_STORE` (a path or `sqlite:///` URL) if set, else
        `$XDG_DATA_HOME/carbonlens/runs.db`, by default
        `~/.local/share/carbonlens/runs.db`.

    Raises:
        StoreError: `$CARBONLENS_STORE` is a URL of another kind.
    """
    if env.get("CARBONLENS_STORE"):
        return store_path(env["CARBONLENS_STORE"])
    return _xdg_dir(env, "XDG_DATA_HOME", ".local/share") / "carbonlens" / "runs.db"


def default_fallback_dir(env: Mapping[str, str]) -> Path:
    """Where runs go when the store cannot be written.

    Args:
        env: Environment variables (pass `os.environ`).

    Returns:
        `$XDG_STATE_HOME/carbonlens`, by default `~/.local/state/carbonlens`.
    """
    return _xdg_dir(env, "XDG_STATE_HOME", ".local/state") / "carbonlens"


def open_store(path_or_url: str | Path, *, fallback_dir: Path) -> tuple[Store, str | None]:
    """Open the SQLite store for writing, or a JSON-lines fallback if that fails.

    Args:
        path_or_url: A database path, or a `sqlite:///relative` or
            `sqlite:////absolute` URL.
        fallback_dir: Directory of the fallback file (see `default_fallback_dir`);
            the temp directory is tried if it is unusable too.

    Returns:
        The store, and None; or the fallback store and a message saying what
        failed and which file keeps the run instead.

    Raises:
        StoreError: The URL is not SQLite (PostgreSQL is not supported yet), or
            neither the store nor any fallback file can be written.
    """
    path = store_path(path_or_url)
    try:
        store = SqliteStore(path)
    except StoreError as exc:
        failure = exc
    else:
        try:
            store.check_writable()
        except StoreError as exc:
            store.close()
            failure = exc
        else:
            return store, None
    return open_fallback(fallback_dir, str(failure))


def open_fallback(fallback_dir: Path, failure: str) -> tuple[Store, str]:
    """Open a new JSON-lines fallback file after the store failed with `failure`.

    Returns:
        The fallback store and a message naming what failed and where the run is kept.

    Raises:
        StoreError: neither `fallback_dir` nor the temp directory can be written.
    """
    import tempfile  # lazy: only the fallback needs it

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"fallback-{stamp}-{os.getpid()}.jsonl"
    problems = [failure]
    for directory in (fallback_dir, Path(tempfile.gettempdir()) / "carbonlens"):
        try:
            fallback = JsonlStore(directory / name)
        except StoreError as exc:
            problems.append(str(exc))
            continue
        return fallback, f"{failure}; this run is kept in {fallback.location} instead"
    raise StoreError("; ".join(problems), path=str(fallback_dir))


def open_existing_store(path_or_url: str | Path) -> Store:
    """Open a store to read it: a database, or a fallback `.jsonl` file.

    Raises:
        StoreError: nothing is stored there yet, or it cannot be read.
    """
    path = store_path(path_or_url)
    if not path.exists():
        raise StoreError(
            f"no run store at {path} yet: `carbonlens run -- COMMAND` creates it "
            "(or pass --store / set CARBONLENS_STORE)",
            path=str(path),
        )
    return JsonlStore(path) if path.suffix == ".jsonl" else SqliteStore(path)


def store_path(path_or_url: str | Path) -> Path:
    """The file of a store path or `sqlite:///` URL.

    Raises:
        StoreError: another kind of URL (PostgreSQL is not supported yet).
    """
    if isinstance(path_or_url, Path):
        return path_or_url
    scheme, separator, rest = path_or_url.partition("://")
    if not separator:
        return Path(path_or_url).expanduser()
    if scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        return Path(rest[1:])
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        raise StoreError(
            f"PostgreSQL support is not available yet ({scheme}://...); "
            "use an SQLite path or sqlite:/// URL",
            path=f"{scheme}://...",
        )
    raise StoreError(  # the URL itself may hold a password: show its scheme only
        f"unsupported store URL {scheme}://...: use a path or a sqlite:/// URL",
        path=f"{scheme}://...",
    )


def _xdg_dir(env: Mapping[str, str], variable: str, default: str) -> Path:
    """An XDG base directory: `$variable` if absolute (as the spec says), else ~/default."""
    value = env.get(variable, "")
    if os.path.isabs(value):
        return Path(value)
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / default
