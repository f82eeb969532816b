"""Run stores: where runs, their samples and windows are kept as a run goes.

A store target is a file (a path, or a `sqlite:///path` URL) or a PostgreSQL
URL (`postgresql://`, `postgres://`, `postgresql+psycopg://`; see
`store.postgres`, imported only when one is opened). `open_store` opens it for a
run and, when an SQLite store fails, keeps the run in a JSON-lines file instead
and says so. A PostgreSQL store that cannot be reached is an error, unless a
local fallback is given: then the run goes to the local SQLite store, to be
copied over later (`carbonlens sync`). URLs are only ever shown with their
password masked.

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
from carbonlens.store._mounts import network_store_warning
from carbonlens.store._url import is_database_url, mask_url
from carbonlens.store.base import Store
from carbonlens.store.sqlite import SqliteStore

__all__ = [
    "SqliteStore",
    "default_fallback_dir",
    "default_store_path",
    "default_store_target",
    "is_database_url",
    "local_store_path",
    "open_existing_store",
    "open_fallback",
    "open_store",
    "open_writable_store",
    "store_label",
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
        StoreError: `$CARBONLENS_STORE` is a URL of another kind (a database URL:
            use `default_store_target`).
    """
    return store_path(default_store_target(env))


def default_store_target(env: Mapping[str, str]) -> str:
    """Where runs are stored unless told otherwise, as a path or URL.

    Args:
        env: Environment variables (pass `os.environ`).

    Returns:
        `$CARBONLENS_STORE` (a path, `sqlite:///` or PostgreSQL URL) if set,
        else `local_store_path(env)`.
    """
    return env.get("CARBONLENS_STORE") or str(local_store_path(env))


def local_store_path(env: Mapping[str, str]) -> Path:
    """This machine's SQLite store: `$XDG_DATA_HOME/carbonlens/runs.db`, by default
    `~/.local/share/carbonlens/runs.db` (also where runs go when a PostgreSQL
    store cannot be reached and the local fallback is on).

    Args:
        env: Environment variables (pass `os.environ`).
    """
    return _xdg_dir(env, "XDG_DATA_HOME", ".local/share") / "carbonlens" / "runs.db"


def default_fallback_dir(env: Mapping[str, str]) -> Path:
    """Where runs go when the store cannot be written.

    Args:
        env: Environment variables (pass `os.environ`).

    Returns:
        `$XDG_STATE_HOME/carbonlens`, by default `~/.local/state/carbonlens`.
    """
    return _xdg_dir(env, "XDG_STATE_HOME", ".local/state") / "carbonlens"


def open_store(
    path_or_url: str | Path, *, fallback_dir: Path, local_fallback: Path | None = None
) -> tuple[Store, str | None]:
    """Open a store for writing a run, or a fallback if that fails.

    Args:
        path_or_url: An SQLite database path, a `sqlite:///relative` or
            `sqlite:////absolute` URL, or a PostgreSQL URL.
        fallback_dir: Directory of the JSON-lines fallback file of an SQLite
            store that fails (see `default_fallback_dir`); the temp directory is
            tried if it is unusable too.
        local_fallback: The SQLite store to use when a PostgreSQL store cannot be
            opened (see `local_store_path`); None: raise instead.

    Returns:
        The store, and None, or for an SQLite store on a network filesystem a
        warning saying why that is unsafe (`_mounts`); or the fallback store and
        a message saying what failed, where the run is kept instead and, for a
        PostgreSQL store, how to copy it over later.

    Raises:
        StoreError: The URL is of an unsupported kind; a PostgreSQL store cannot
            be opened (the message names host, port and database, never the
            password) and `local_fallback` is None; or neither the store nor any
            fallback file can be written.
    """
    if is_database_url(path_or_url):
        try:
            return _open_database(str(path_or_url)), None
        except StoreError as exc:
            if local_fallback is None:
                raise StoreError(
                    f'{exc}; or set store_fallback = "local" to keep runs in the local '
                    "SQLite store meanwhile",
                    path=exc.path,
                ) from exc
            failure = exc
        store, message = open_store(local_fallback, fallback_dir=fallback_dir)
        kept = message or f"this run is kept in the local store {store.location} instead"
        sync = f"carbonlens sync {store.location} --to {mask_url(str(path_or_url))}"
        return store, f"{failure}; {kept}: once the server is back, copy it with `{sync}`"
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
            return store, network_store_warning(path)
    return open_fallback(fallback_dir, str(failure))


def open_fallback(fallback_dir: Path, failure: str) -> tuple[Store, str]:
    """Open a new JSON-lines fallback file after the store failed with `failure`.

    Returns:
        The fallback store and a message naming what failed and where the run is kept.

    Raises:
        StoreError: neither `fallback_dir` nor the temp directory can be written.
    """
    import tempfile  # lazy: only the fallback needs it

    from carbonlens.store.jsonl import JsonlStore

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
    """Open a store to read it: a database file or server, or a fallback `.jsonl` file.

    Raises:
        StoreError: nothing is stored there yet, or it cannot be read.
    """
    if is_database_url(path_or_url):
        return _open_database(str(path_or_url))
    path = store_path(path_or_url)
    if not path.exists():
        raise StoreError(
            f"no run store at {path} yet: `carbonlens run -- COMMAND` creates it "
            "(or pass --store / set CARBONLENS_STORE)",
            path=str(path),
        )
    return open_writable_store(path)


def open_writable_store(path_or_url: str | Path) -> Store:
    """Open a store to write to it, creating it if missing, with no fallback: a
    PostgreSQL URL, a fallback `.jsonl` file, else an SQLite database.

    Raises:
        StoreError: it cannot be created or opened.
    """
    if is_database_url(path_or_url):
        return _open_database(str(path_or_url))
    path = store_path(path_or_url)
    if path.suffix == ".jsonl":
        from carbonlens.store.jsonl import JsonlStore  # lazy: fallback files are rare

        return JsonlStore(path)
    return SqliteStore(path)


def store_label(path_or_url: str | Path) -> str:
    """How to show a store target: its file, or its URL with the password masked."""
    if is_database_url(path_or_url):
        return mask_url(str(path_or_url))
    return str(store_path(path_or_url))


def store_path(path_or_url: str | Path) -> Path:
    """The file of a store path or `sqlite:///` URL.

    Raises:
        StoreError: another kind of URL, a PostgreSQL one included (it has no
            file: see `is_database_url`).
    """
    if isinstance(path_or_url, Path):
        return path_or_url
    scheme, separator, rest = path_or_url.partition("://")
    if not separator:
        return Path(path_or_url).expanduser()
    if scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        return Path(rest[1:])
    if scheme == "sqlite":
        raise StoreError(
            f"the store URL {mask_url(path_or_url)} names no file: write "
            "sqlite:///relative/runs.db or sqlite:////absolute/runs.db (three slashes, "
            "then the path), or give the path itself",
            path=mask_url(path_or_url),
        )
    if is_database_url(path_or_url):
        raise StoreError(
            f"{mask_url(path_or_url)} is a database server, not a file",
            path=mask_url(path_or_url),
        )
    raise StoreError(  # the URL itself may hold a password: show its scheme only
        f"unsupported store URL {scheme}://...: use a path, a sqlite:/// URL "
        "or a postgresql:// URL",
        path=f"{scheme}://...",
    )


def _open_database(url: str) -> Store:
    """A `PostgresStore` for `url`; StoreError if the `postgres` extra is missing."""
    try:
        from carbonlens.store.postgres import PostgresStore  # lazy: loads SQLAlchemy
    except ImportError as exc:
        raise StoreError(
            f"the PostgreSQL store {mask_url(url)} needs SQLAlchemy and psycopg "
            f"({exc.name} is missing): pip install 'carbonlens[postgres]'",
            path=mask_url(url),
        ) from None
    return PostgresStore(url)


def _xdg_dir(env: Mapping[str, str], variable: str, default: str) -> Path:
    """An XDG base directory: `$variable` if absolute (as the spec says), else ~/default."""
    value = env.get(variable, "")
    if os.path.isabs(value):
        return Path(value)
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / default
