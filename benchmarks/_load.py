"""Shared parts of the local load benchmarks (serving.py, http_load.py, store_load.py).

- `drive`: a raw asyncio HTTP/1.1 client on 127.0.0.1, keep-alive on `connections`
  connections, bounded in requests and seconds, paced (open loop) or as fast as
  the connections allow; each reply can be checked by a function of the caller;
- `serve_uvicorn` / `start_server`: a server in a child process that prints its
  port on its first line of output, and the parent that waits for it;
- `percentile_ms`: nearest-rank percentiles, in milliseconds.

Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import select
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP response: status code, body, whether the connection stays open."""

    status: int
    body: bytes
    keep_alive: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request: its path, how long it took (s), and what was wrong (None: nothing)."""

    path: str
    latency_s: float
    error: str | None


Check = Callable[[str, Reply], str | None]
"""(path, reply) -> what is wrong with the reply, or None if it is right."""


def status_200(path: str, reply: Reply) -> str | None:
    """The default check: any 200 reply is right."""
    return None if reply.status == 200 else f"status {reply.status}"


async def fetch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> Reply:
    """GET `path` on an open connection and read the whole reply (sized or chunked)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, status = status_line.split(" ", 2)[:2]
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    sized = "content-length" in headers or headers.get("transfer-encoding") == "chunked"
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif sized:
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await reader.readexactly(size))
            await reader.readuntil(b"\r\n")
        await reader.readuntil(b"\r\n")
        body = b"".join(parts)
    else:
        body = await reader.read()
    closing = headers.get("connection") == "close" or version == "HTTP/1.0"
    return Reply(int(status), body, sized and not closing)


async def drive(
    port: int,
    paths: Sequence[str],
    *,
    requests: int,
    connections: int,
    max_s: float,
    rate_per_s: float | None = None,
    check: Check = status_200,
) -> tuple[list[Outcome], float]:
    """Send `requests` GETs to 127.0.0.1:`port`, cycling through `paths`.

    Args:
        port: The server's port.
        paths: Request paths, used in turn (request i asks for `paths[i % len(paths)]`).
        requests: How many requests in all.
        connections: Concurrent keep-alive connections (reopened when the server
            closes one, or after an error).
        max_s: No request starts after this many seconds.
        rate_per_s: Pace the requests at this rate (open loop); None: as fast as
            the connections allow.
        check: Judges each reply; its message (or a connection error) makes the
            request an error.

    Returns:
        One outcome per request sent, and the seconds the whole load took.
    """
    outcomes: list[Outcome] = []
    next_index = 0
    t0 = time.perf_counter() + 0.05
    deadline = t0 + max_s

    async def worker() -> None:
        nonlocal next_index
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while next_index < requests and time.perf_counter() < deadline:
                i, next_index = next_index, next_index + 1
                path = paths[i % len(paths)]
                if rate_per_s is not None:
                    delay_s = t0 + i / rate_per_s - time.perf_counter()
                    if delay_s > 0:
                        await asyncio.sleep(delay_s)
                start = time.perf_counter()
                try:
                    if streams is None:
                        streams = await asyncio.open_connection(HOST, port)
                    reply = await fetch(*streams, path)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    error: str | None = f"{type(exc).__name__}: {exc}"
                    reply = None
                else:
                    error = check(path, reply)
                outcomes.append(Outcome(path, time.perf_counter() - start, error))
                if reply is None or not reply.keep_alive:
                    await _close(streams)
                    streams = None
        finally:
            await _close(streams)

    await asyncio.gather(*(worker() for _ in range(connections)))
    return outcomes, time.perf_counter() - t0


async def _close(streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
    if streams is not None:
        streams[1].close()
        with contextlib.suppress(OSError):
            await streams[1].wait_closed()


def percentile_ms(values_s: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile `pct` (0-100] of seconds, in milliseconds (nan if empty)."""
    if not values_s:
        return math.nan
    ordered = sorted(values_s)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)] * 1000


def serve_uvicorn(app: Any) -> None:
    """Serve `app` on 127.0.0.1 and a free port; print the port first, serve until killed."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((HOST, 0))
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def start_server(
    argv: Sequence[str], port_pattern: str = r"^(\d+)$", timeout_s: float = 30.0
) -> tuple[subprocess.Popen[str], int]:
    """Start a server process and wait until a line of its output names its port.

    Args:
        argv: The command.
        port_pattern: A regular expression whose first group, searched in each
            line of the output, is the port.
        timeout_s: How long to wait for it.

    Returns:
        The process (stop it with `stop_server`) and its port.

    Raises:
        RuntimeError: The process ended, or said no port within `timeout_s`.
    """
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = process.stdout.readline() if ready else ""
        if not line and process.poll() is not None:
            break
        if match := re.search(port_pattern, line.strip()):
            return process, int(match.group(1))
    stop_server(process)
    raise RuntimeError(f"{' '.join(argv)} did not say its port within {timeout_s:g} s")


def stop_server(process: subprocess.Popen[str]) -> None:
    """Terminate a server process and wait for it (kill it after 30 s)."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
