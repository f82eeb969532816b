"""Shared fixtures: a PostgreSQL server for the session, a fresh database per test.

The server is `$CARBONLENS_TEST_POSTGRES_URL` if set, else a throwaway one started
from the PostgreSQL binaries (`carbonlens.testing.postgres`); without either,
the PostgreSQL tests are skipped and say why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from carbonlens.testing.postgres import (
    URL_VARIABLE,
    create_database,
    drop_database,
    find_postgres_bin,
    throwaway_server,
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server (its maintenance database) for the whole session."""
    if not os.environ.get(URL_VARIABLE) and find_postgres_bin() is None:
        pytest.skip(
            "PostgreSQL tests need a server: no initdb/pg_ctl on PATH or in "
            f"/usr/lib/postgresql/*/bin (apt-get install postgresql), and {URL_VARIABLE} is unset"
        )
    with throwaway_server(durable=False) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database of its own for one test (dropped afterwards)."""
    url = create_database(postgres_server)
    yield url
    drop_database(url)
