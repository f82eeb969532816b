"""A small disk cache of provider responses: one JSON file per request, with a TTL.

Keys hash the provider name, the endpoint and its query parameters, never a
key or token (those travel in headers, which are not part of the key). Writes
are atomic (a temporary file in the same directory, then `os.replace`), so a
reader never sees half a file; an unreadable or corrupt entry counts as a miss.
Login responses are never cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_TTL_S", "DiskCache", "default_cache_dir"]

DEFAULT_TTL_S = 900.0
"""Default time to live of an entry in seconds (15 min; providers publish every 5-60 min)."""

_FORMAT = 1
_log = logging.getLogger(__name__)


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where responses are cached by default.

    Args:
        env: environment variables (default: `os.environ`).

    Returns:
        `$XDG_CACHE_HOME/carbonlens/intensity`, or `~/.cache/carbonlens/intensity`
        when `XDG_CACHE_HOME` is unset or empty.
    """
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "carbonlens" / "intensity"


class DiskCache:
    """JSON documents on disk under `directory`, each valid for `ttl_s` seconds."""

    def __init__(
        self,
        directory: Path | None = None,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create a cache (the directory is made on the first write).

        Args:
            directory: where entries live (default: `default_cache_dir()`).
            ttl_s: age in seconds after which an entry is a miss.
            clock: wall-clock seconds since the epoch; tests pass a fake.
        """
        self.directory = directory if directory is not None else default_cache_dir()
        self.ttl_s = ttl_s
        self._clock = clock

    def __repr__(self) -> str:
        """Show where and for how long entries are kept."""
        return f"DiskCache({str(self.directory)!r}, ttl_s={self.ttl_s})"

    @staticmethod
    def key(source: str, endpoint: str, params: Mapping[str, object]) -> str:
        """The key of one request: a SHA-256 of source, endpoint and sorted parameters.

        Args:
            source: provider name.
            endpoint: path of the request.
            params: query parameters (never secrets).

        Returns:
            64 hex digits.
        """
        text = json.dumps([source, endpoint, sorted((k, str(v)) for k, v in params.items())])
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> Any | None:
        """The cached document for `key`, or None when missing, expired or unreadable."""
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
            stored_at = float(entry["stored_at"])
            if entry["format"] != _FORMAT:
                return None
            value = entry["value"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            _log.debug("ignoring unreadable cache entry %s: %s", key, exc)
            return None
        age_s = self._clock() - stored_at
        return value if 0.0 <= age_s <= self.ttl_s else None

    def put(self, key: str, value: Any) -> None:
        """Store `value` (JSON-serialisable) under `key`, atomically; write errors are logged."""
        document = json.dumps({"format": _FORMAT, "stored_at": self._clock(), "value": value})
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(document)
                os.replace(tmp, self._path(key))
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            _log.debug("cannot write cache entry %s: %s", key, exc)
