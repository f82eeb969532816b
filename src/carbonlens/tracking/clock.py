"""Time sources. The sampler owns time; tests inject a fake clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds for durations, wall time for timestamps."""

    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...


class SystemClock:
    """The real clocks: `time.monotonic` and timezone-aware UTC wall time."""

    def monotonic(self) -> float:
        """Seconds on the monotonic clock (immune to wall-clock steps)."""
        return time.monotonic()

    def now(self) -> datetime:
        """Current wall time in UTC."""
        return datetime.now(UTC)
