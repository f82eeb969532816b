"""The central run store: PostgreSQL, through SQLAlchemy Core and psycopg 3.

The same tables and queries as the SQLite store (`store._schema`, `store._sql`),
so every machine of a team can write its runs into one database. Needs the
`postgres` extra (`pip install 'carbonlens[postgres]'`); `carbonlens.store`
imports this module only when a PostgreSQL URL is opened, so SQLite users never
load SQLAlchemy.

Every write is one transaction, committed (and so durable) when the call
returns. Concurrent writers from many processes and hosts need no further
locking: PostgreSQL's row locks order appends to the same run (see `store._sql`),
and opening a store migrates its schema under a transaction-scoped advisory
lock, so stores opened at once migrate it exactly once. A store is safe to share
between threads (a small connection pool).

The tables live in the connection's current schema: give carbonlens a database
of its own, or a schema of its own with `?options=-csearch_path%3Dcarbonlens`. A
schema that holds other tables but no `schema_version` is refused, untouched.
The URL's password is never shown: `location` and every message mask it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

import sqlalchemy
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from carbonlens.errors import StoreError
from carbonlens.store._fields import FieldSource, utc_now
from carbonlens.store._liveness import DEFAULT_STALE_AFTER_S
from carbonlens.store._schema import migrations
from carbonlens.store._sql import SqlStore
from carbonlens.store._url import MASK, DatabaseUrl, parse_database_url

MIGRATIONS: Final = migrations(text='TEXT COLLATE "C"', integer="BIGINT")
"""The schema migrations with PostgreSQL's types: 64-bit integers, byte-wise text order."""

CONNECT_TIMEOUT_S: Final = 10.0
"""Default wait, in seconds, for the server to accept a connection."""

STATEMENT_TIMEOUT_S: Final = 30.0
"""Longest a statement may run on the server, in seconds (a batch of samples takes
milliseconds; a lock held by another client should not hold a run's end)."""

_MIGRATION_LOCK: Final = 0x636172626F6E
"""Advisory lock id held while migrating ("carbon" in ASCII)."""


class PostgresStore(SqlStore):
    """Runs (samples, windows, metrics) and budgets in a PostgreSQL database; implements `Store`.

    Args:
        url: `postgresql://USER:PASSWORD@HOST:PORT/DATABASE` (also `postgres://`
            or `postgresql+psycopg://`; libpq's query parameters such as
            `sslmode` are passed on). Without a password in it, libpq's
            `PGPASSWORD` or `~/.pgpass` supply one.
        stale_after_s: Heartbeat age after which a `running` run from another host
            is reported as interrupted (see `store._liveness`).
        clock: Source of the current UTC time (heartbeats, staleness); for tests.
        connect_timeout_s: How long to wait for the server to accept a connection.

    Raises:
        StoreError: The server cannot be reached or refuses the connection (the
            message names host, port and database, never the password), the
            schema holds foreign tables, or it was written by a newer carbonlens.
    """

    def __init__(
        self,
        url: str,
        *,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        clock: Callable[[], datetime] = utc_now,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self._target = parse_database_url(url)
        self.location = self._target.masked
        self._stale_after_s = stale_after_s
        self._clock = clock
        self._closed = False
        self._engine = _engine(self._target, connect_timeout_s)
        try:
            with self._engine.begin() as conn:
                migrate(conn, MIGRATIONS, self.location)
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise StoreError(
                _cannot_open(self._target, _detail(exc, self._target)), path=self.location
            ) from None
        except BaseException:
            self._engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore({self.location!r})"

    def close(self) -> None:
        """Close the store's connections; later calls raise StoreError. Closing twice is fine."""
        self._closed = True
        self._engine.dispose()

    @contextmanager
    def _transaction(self, action: str) -> Iterator[_PostgresTransaction]:
        """One transaction on a pooled connection; database errors become StoreError."""
        self._check_open(action)
        try:
            with self._engine.begin() as conn:
                yield _PostgresTransaction(conn)
        except SQLAlchemyError as exc:
            raise self._error(action, exc) from exc

    def _query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[FieldSource]:
        self._check_open("read")
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(text(sql), dict(params or {})).mappings())
        except SQLAlchemyError as exc:
            raise self._error("read", exc) from exc

    def _check_open(self, action: str) -> None:
        if self._closed:
            raise StoreError(
                f"cannot {action} in run store {self.location}: the store is closed",
                path=self.location,
            )

    def _error(self, action: str, exc: SQLAlchemyError) -> StoreError:
        return StoreError(
            f"cannot {action} in run store {self.location}: {_detail(exc, self._target)}",
            path=self.location,
        )


def _cannot_open(target: DatabaseUrl, detail: str) -> str:
    """What to say when the store at `target` cannot be opened: where, why, what to do."""
    return (
        f"cannot open the PostgreSQL run store {target.masked} (host {target.host}, "
        f"port {target.port}, database {target.database}): {detail} (check that the server "
        "is running and accepts connections from this machine, and the user, password and "
        "database)"
    )


def migrate(conn: Connection, steps: Sequence[Sequence[str]], location: str) -> None:
    """Bring the schema up to `len(steps)` inside the caller's transaction.

    Reads the version first, so opening an up-to-date store takes no lock;
    otherwise takes the migration advisory lock, re-reads the version (another
    process may have migrated meanwhile) and applies the pending steps.

    Raises:
        StoreError: The schema holds tables but no `schema_version` (not a
            carbonlens store), or a version newer than `len(steps)`.
        sqlalchemy.exc.SQLAlchemyError: A statement failed (the caller's
            transaction rolls everything back).
    """
    if _schema_version(conn, location, len(steps)) == len(steps):
        return
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    version = _schema_version(conn, location, len(steps))
    if version == len(steps):
        return
    for statements in steps[version:]:
        for statement in statements:
            conn.execute(text(statement))
    conn.execute(text("DELETE FROM schema_version"))
    conn.execute(text("INSERT INTO schema_version (version) VALUES (:v)"), {"v": len(steps)})


def _schema_version(conn: Connection, location: str, supported: int) -> int:
    tables = set(
        conn.execute(
            text(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            )
        ).scalars()
    )
    if "schema_version" not in tables:
        if tables:
            raise StoreError(
                f"{location} is a PostgreSQL database but not a carbonlens run store (its "
                f"schema has tables {', '.join(sorted(tables))}); it was left untouched: give "
                "carbonlens a database of its own, or a schema with "
                "?options=-csearch_path%3Dcarbonlens",
                path=location,
            )
        return 0
    version = int(conn.execute(text("SELECT MAX(version) FROM schema_version")).scalar() or 0)
    if version > supported:
        raise StoreError(
            f"{location} was written by a newer carbonlens (store schema version {version}; "
            f"this carbonlens reads up to {supported}): upgrade carbonlens to use it",
            path=location,
        )
    return version


class _PostgresTransaction:
    """`store._sql.Transaction` on an SQLAlchemy connection inside `begin()`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        return self._conn.execute(text(sql), dict(params)).rowcount

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:  # SQLAlchemy would run the statement once, without parameters
            self._conn.execute(text(sql), [dict(row) for row in rows])

    def fetch(self, sql: str, params: Mapping[str, Any]) -> list[FieldSource]:
        return list(self._conn.execute(text(sql), dict(params)).mappings())


def _engine(target: DatabaseUrl, connect_timeout_s: float) -> sqlalchemy.Engine:
    """An engine for `target` on the psycopg 3 driver (connects lazily); the URL's own
    parameters win over the defaults.

    The defaults bound how long a write can wait on a server that stops answering,
    so that the writer thread, and the end of the run that waits for it, are not
    held for hours: TCP keepalives find a dead connection within about 25 s
    (first probe after 10 s idle, then every 5 s, 3 lost), and `statement_timeout`
    ends a statement the server runs for more than `STATEMENT_TIMEOUT_S` (a lock
    held by another client). A URL that sets its own `options` keeps them, without
    the statement timeout."""
    try:  # from the masked URL, then the secrets: both parsed once, as mask_url does
        url = (
            sqlalchemy.make_url(target.masked)
            .set(drivername="postgresql+psycopg", password=target.password)
            .update_query_dict(dict(target.query_secrets))
        )
    except SQLAlchemyError:
        raise StoreError(
            f"cannot read the store URL {target.masked}: write it as "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
            path=target.masked,
        ) from None
    defaults = {
        "connect_timeout": max(2, round(connect_timeout_s)),
        "application_name": "carbonlens",
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "options": f"-c statement_timeout={round(STATEMENT_TIMEOUT_S * 1000)}",
    }
    connect_args = {name: value for name, value in defaults.items() if name not in url.query}
    return sqlalchemy.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _detail(exc: SQLAlchemyError, target: DatabaseUrl) -> str:
    """The driver's own message on one line, without SQLAlchemy's SQL dump or any password."""
    detail = " ".join(str(getattr(exc, "orig", None) or exc).split())
    for secret in target.secrets:
        detail = detail.replace(secret, MASK)
    return detail
