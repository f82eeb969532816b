"""Store files readable by their owner only: what carbonlens creates is 0600 / 0700.

Runs name hosts, commands and projects, so the files and directories carbonlens
creates for them are the user's alone. A file or directory that already exists
keeps the permissions its owner gave it.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
"""Permissions of a store file carbonlens creates (SQLite copies them to -wal/-shm)."""

DIR_MODE = 0o700
"""Permissions of a directory carbonlens creates for a store."""


def make_private_dirs(directory: Path) -> None:
    """Create `directory` and its missing parents with `DIR_MODE` (existing ones unchanged).

    Raises:
        OSError: A directory cannot be created.
    """
    missing: list[Path] = []
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:  # created meanwhile by another process: keep its mode
            continue
        os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask


def create_private_file(path: Path) -> None:
    """Create `path` empty with `FILE_MODE` unless it exists (then it is left as it is).

    Raises:
        OSError: The file cannot be created.
    """
    make_private_dirs(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        return
    os.chmod(path, FILE_MODE)  # os.open's mode is filtered by the umask
