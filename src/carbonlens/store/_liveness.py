"""When is a run left `running` really gone? One rule, shared by every store.

A run still marked `running` is *abandoned* (reported, and marked, `interrupted`)
when:

* it was recorded on this host (`RunInfo.host == this_host()`) with a
  positive pid, and that process no longer exists, is a zombie, or is a newer
  process reusing the pid (it started after the run's last heartbeat, give or
  take one second of clock granularity: the run's process died after its last
  write, and a pid is reused only after that); or
* it was recorded on another host (or with no pid), and its last heartbeat (the
  last `append_samples`, else the run's creation) is older than `stale_after_s`.

A run that writes samples again after being marked is revived to `running`.

Why the last heartbeat and not `started_at`: a process's start time is known
only as wall-clock time computed now (boot time + ticks since boot), so a wall
clock stepped forward by D after the run started (NTP, a resumed VM) moves it D
later, past `started_at`, and a live run would read as a reused pid for the rest
of its life. Its heartbeats after the step carry the same D, so the live process
still started before its last heartbeat; only in the one interval between the
step and the next write can a step longer than the process's age mislead (the
run is then revived by that write).

The pid check uses psutil rather than `os.kill(pid, 0)`: on Windows `os.kill`
terminates the process instead of probing it, and psutil also tells the zombie
state and the start time. Access denied means the process exists (another
user's). Limit: a container sharing this host's name but not its pid namespace
is judged by the pid rule, which can be wrong; give such containers their own
hostname.
"""

from __future__ import annotations

import os
from datetime import datetime

DEFAULT_STALE_AFTER_S = 3600.0
"""Heartbeat age in seconds after which a run from another host counts as interrupted."""

_PID_REUSE_TOLERANCE_S = 1.0


def this_host() -> str:
    """This machine's host name, as runs record it (uname's node name)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket  # lazy: only where uname is missing (Windows)

    return socket.gethostname()


def is_abandoned(
    host: str,
    pid: int,
    started_at: datetime,
    heartbeat_at: datetime | None,
    *,
    now: datetime,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> bool:
    """Tell whether a run still marked `running` has lost its process.

    Args:
        host: Host name the run was recorded on.
        pid: Process id of the recording process (0 or less when unknown).
        started_at: When the run started (timezone-aware UTC).
        heartbeat_at: Last time the run wrote to the store, or None if unknown.
        now: The current time (timezone-aware UTC).
        stale_after_s: Heartbeat age in seconds beyond which a run that cannot be
            checked by pid is considered gone.

    Returns:
        True if the run should be reported as interrupted.
    """
    last_seen = heartbeat_at if heartbeat_at is not None else started_at
    if host == this_host() and pid > 0:
        return not _process_alive(pid, last_seen)
    return (now - last_seen).total_seconds() > stale_after_s


def _process_alive(pid: int, last_seen: datetime) -> bool:
    """Whether `pid` is a live process that already existed when the run last wrote."""
    import psutil  # lazy: only needed when a running run is inspected

    try:
        process = psutil.Process(pid)
        with process.oneshot():
            if process.status() == psutil.STATUS_ZOMBIE:
                return False
            created_s = process.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True
    return created_s <= last_seen.timestamp() + _PID_REUSE_TOLERANCE_S
