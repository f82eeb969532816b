"""A throwaway PostgreSQL server for tests and benchmarks of the central run store.

::

    with throwaway_server(durable=False) as server_url:
        url = create_database(server_url)      # a fresh, empty database
        store = PostgresStore(url)
        ...
        drop_database(url)

`throwaway_server` uses the server at `$CARBONLENS_TEST_POSTGRES_URL` when it
is set (its user must be allowed to create databases); otherwise it runs
`initdb` and `pg_ctl` (from PATH, else the newest `/usr/lib/postgresql/*/bin`)
on a data directory in a new temp directory, listening on 127.0.0.1 only, on a
free port, with trust authentication for user `postgres`, and stops the server
and removes the directory when the block ends. initdb refuses to run as root, so
under root the server runs as the `postgres` user (else `nobody`) through
`runuser`, owning the temp directory. Creating databases needs psycopg (the
`postgres` extra).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "URL_VARIABLE",
    "PostgresServer",
    "create_database",
    "drop_database",
    "find_postgres_bin",
    "throwaway_server",
]

URL_VARIABLE = "CARBONLENS_TEST_POSTGRES_URL"
"""Environment variable naming an existing server to use instead of starting one."""

_TIMEOUT_S = 120.0
_PORT_TRIES = 3


def find_postgres_bin(path: str | None = None) -> Path | None:
    """The directory holding `initdb` and `pg_ctl`: on `path` (default $PATH), else the
    newest `/usr/lib/postgresql/<version>/bin`; None if there is none."""
    initdb = shutil.which("initdb", path=path)
    if initdb is not None:
        found = Path(initdb).resolve().parent
        if (found / "pg_ctl").exists():
            return found
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


class PostgresServer:
    """A PostgreSQL server of its own, on 127.0.0.1, for as long as the `with` block.

    Args:
        bin_dir: Where `initdb` and `pg_ctl` are (default `find_postgres_bin()`).
        durable: False turns fsync and synchronous commit off: much faster for
            tests, but a benchmark of write latency wants True.

    Attributes:
        url: `postgresql://postgres@127.0.0.1:PORT/postgres`, once started.

    Raises:
        RuntimeError: No PostgreSQL binaries, or initdb or the server failed
            (the message includes their output).
    """

    def __init__(self, bin_dir: Path | None = None, *, durable: bool = True) -> None:
        found = bin_dir or find_postgres_bin()
        if found is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) found")
        self._bin = found
        self._durable = durable
        self._user = _server_user()
        self._root: Path | None = None
        self.url = ""

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Create the data directory and start the server; waits until it accepts connections."""
        self._root = Path(tempfile.mkdtemp(prefix="carbonlens-pg-"))
        try:
            if self._user is not None:
                os.chown(self._root, self._user.pw_uid, self._user.pw_gid)
            data = self._root / "data"
            self._run(
                "initdb", "-D", str(data), "-U", "postgres", "-A", "trust",
                "-E", "UTF8", "--no-locale", "--no-sync",
            )  # fmt: skip
            for attempt in range(_PORT_TRIES):
                port = _free_port()
                try:
                    self._run("pg_ctl", "-D", str(data), "-l", str(self._root / "server.log"),
                              "-w", "-t", "60", "-o", self._options(port), "start")  # fmt: skip
                except RuntimeError:
                    if attempt == _PORT_TRIES - 1:
                        raise
                    continue
                self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
                return
        except BaseException:
            self._remove()
            raise

    def stop(self) -> None:
        """Stop the server and remove its directory (stopping twice is fine)."""
        if self._root is None:
            return
        with contextlib.suppress(RuntimeError):
            self._run("pg_ctl", "-D", str(self._root / "data"), "-m", "fast", "-w", "stop")
        self._remove()

    def _options(self, port: int) -> str:
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {port}",
            f"-c unix_socket_directories={self._root}",
            "-c max_connections=200",
        ]
        if not self._durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return " ".join(options)

    def _run(self, program: str, *args: str) -> None:
        command: Sequence[str] = [str(self._bin / program), *args]
        if self._user is not None:
            command = ["runuser", "-u", self._user.pw_name, "--", *command]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=_TIMEOUT_S, cwd=self._root
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"{program} failed: {exc}") from exc
        if done.returncode != 0:
            log = self._root / "server.log" if self._root else None
            server_log = log.read_text(errors="replace") if log and log.exists() else ""
            output = f"{done.stdout}{done.stderr}{server_log}"
            raise RuntimeError(f"{program} exited with {done.returncode}:\n{output}")

    def _remove(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None


@contextlib.contextmanager
def throwaway_server(*, durable: bool = True) -> Iterator[str]:
    """The URL of a PostgreSQL server for this block: `$CARBONLENS_TEST_POSTGRES_URL`,
    else a `PostgresServer` started for it (see the module; `durable` as there)."""
    existing = os.environ.get(URL_VARIABLE)
    if existing:
        yield existing
        return
    with PostgresServer(durable=durable) as server:
        yield server.url


def create_database(server_url: str) -> str:
    """Create an empty database with a random name on `server_url`'s server; return its URL."""
    name = f"carbonlens_test_{secrets.token_hex(6)}"
    _admin(server_url, f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def drop_database(url: str) -> None:
    """Drop the database of `url` (created by `create_database`), closing its connections."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    _admin(urlunsplit(parts._replace(path="/postgres")), f'DROP DATABASE "{name}" WITH (FORCE)')


def _admin(url: str, statement: str) -> None:
    import psycopg  # lazy: only tests of the PostgreSQL store need it

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement.encode())


def _server_user() -> pwd.struct_passwd | None:
    """The account to run the server as: None (this one) unless this is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and neither a postgres nor a nobody user exists")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
