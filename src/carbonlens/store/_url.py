"""Database URLs of run stores: which targets are databases, and how to show them safely.

A store target is a file path, a `sqlite:///` URL or a PostgreSQL URL
(`postgresql://`, `postgres://`, `postgresql+psycopg://`). A URL may hold a
password, so it is only ever shown masked (`postgresql://ada:***@db:5432/runs`,
and any `password` query parameter too); a masked URL is refused rather than
sent to a server. Pure string handling: nothing here imports a database driver.
"""

from __future__ import annotations

import re
from dataclasses import field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from carbonlens._frozen import frozen
from carbonlens.errors import StoreError

MASK = "***"
"""What a password is replaced with wherever a URL is shown."""

DATABASE_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
"""URL schemes of a PostgreSQL run store."""

DEFAULT_PORT = 5432


@frozen
class DatabaseUrl:
    """A PostgreSQL store URL, split; `masked` is the only form fit to show.

    `password`, `query_secrets` (password-like query parameters, decoded) and
    `secrets` (every form of them that a message could quote) are left out of
    `repr`.
    """

    masked: str
    host: str
    port: int
    database: str
    password: str | None = field(repr=False)
    query_secrets: tuple[tuple[str, str], ...] = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)


def is_database_url(target: str | Path) -> bool:
    """Whether `target` names a database server store (a PostgreSQL URL), not a file."""
    if isinstance(target, Path):
        return False
    scheme, separator, _ = target.partition("://")
    return bool(separator) and scheme.lower() in DATABASE_SCHEMES


def mask_url(url: str) -> str:
    """`url` with its password (and `password`-like query parameters) replaced by `***`.

    The credentials end at the last `@`, so a password with an unencoded `/`,
    `?` or `@` is masked whole (at worst, more than the password is hidden).
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    rest = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, rest)
    userinfo, at, remainder = rest.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if at and colon:
        rest = f"{user}:{MASK}@{remainder}"
    return f"{scheme}://{rest}"


def parse_database_url(url: str) -> DatabaseUrl:
    """Split a PostgreSQL store URL (its credentials as `mask_url` finds them).

    Raises:
        StoreError: The URL cannot be parsed, or its password is the mask
            (`***`): a URL copied from a message or report, not the real one.
    """
    masked = mask_url(url)
    userinfo, at, _ = url.partition("://")[2].rpartition("@")
    user, colon, raw_password = userinfo.partition(":")
    password = unquote(raw_password) if at and colon else None
    query = [(m.group(1), m.group(2)) for m in _QUERY_SECRET.finditer(url)]
    query_secrets = tuple((name.strip("?&="), unquote(value)) for name, value in query)
    given = [raw_password if password is not None else "", *(v for _, v in query)]
    secrets = tuple({s for value in given if value for s in (value, unquote(value))})
    if MASK in secrets:
        raise StoreError(
            f"the store URL {masked} has a masked password ({MASK}): give the real URL, "
            "or leave the password out of it and set PGPASSWORD or use ~/.pgpass",
            path=masked,
        )
    try:
        parts = urlsplit(masked)
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise StoreError(
            f"cannot read the store URL {masked}: {exc}; "
            "write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
            path=masked,
        ) from None
    return DatabaseUrl(
        masked=masked,
        host=parts.hostname or "localhost",
        port=port,
        database=unquote(parts.path.lstrip("/")) or unquote(user if at else ""),
        password=password,
        query_secrets=query_secrets,
        secrets=secrets,
    )


_QUERY_SECRET = re.compile(r"([?&][^=&]*password[^=&]*=)([^&]*)", re.IGNORECASE)
"""A password-like query parameter: its `?name=` or `&name=`, then its value."""
