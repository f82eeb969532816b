"""Whether an SQLite store sits on a network filesystem, from the Linux mount table.

SQLite's file locking and its WAL index (shared memory) only work between
processes of one machine (https://www.sqlite.org/wal.html, "all processes using
a database must be on the same host computer"; https://www.sqlite.org/faq.html#q5
on NFS locking). The default store lives under the home directory, which on most
HPC clusters is NFS, Lustre or GPFS shared by every node: jobs on several nodes
writing one store at once can corrupt it. This module finds the filesystem type
of a path so that the store can say so before it happens.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final

MOUNTS: Final = Path("/proc/self/mounts")

NETWORK_FILESYSTEMS: Final = frozenset(
    {
        "9p",
        "afs",
        "beegfs",
        "ceph",
        "cifs",
        "fuse.gcsfuse",
        "fuse.glusterfs",
        "fuse.juicefs",
        "fuse.rclone",
        "fuse.s3fs",
        "fuse.sshfs",
        "glusterfs",
        "gpfs",
        "lustre",
        "nfs",
        "nfs4",
        "panfs",
        "pvfs2",
        "smb3",
        "smbfs",
        "wekafs",
    }
)
"""Filesystem types (as in /proc/self/mounts) shared between machines."""

_ESCAPE: Final = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    """Undo the kernel's octal escapes of a mount point (`\\040` for a space)."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def filesystem_type(path: Path, mounts: Path | None = None) -> str | None:
    """The type of the filesystem that holds `path` (symbolic links resolved), from
    the mount table `mounts` (default `MOUNTS`).

    The longest mount point containing the path wins, and of several mounts on
    one point the last (the one on top). None where the mount table cannot be
    read (not Linux).
    """
    try:
        text = (mounts or MOUNTS).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    target = os.path.realpath(path)
    best: tuple[int, str] | None = None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = _unescape(fields[1])
        inside = point == "/" or target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), fields[2])
    return None if best is None else best[1]


def network_store_warning(path: Path, mounts: Path | None = None) -> str | None:
    """Why an SQLite store at `path` is at risk on a network filesystem, or None."""
    kind = filesystem_type(path, mounts)
    if kind not in NETWORK_FILESYSTEMS:
        return None
    return (
        f"the run store {path} is on a network filesystem ({kind}): SQLite's locking "
        "only works between processes of one machine, so runs on several machines "
        "writing it at once can corrupt it. Keep a store per machine on a local disk "
        "(CARBONLENS_STORE=/tmp/carbonlens/runs.db, then `carbonlens sync` the runs "
        "into a shared one) or use a PostgreSQL store"
    )
