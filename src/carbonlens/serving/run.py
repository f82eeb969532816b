"""A tracker's own ledger: one attribution for every request served in its run.

`Tracker.request`, `Tracker.handler` and a `CarbonMiddleware` given the tracker
all use the ledger the tracker makes on first use (`Tracker.serving_ledger`),
so the run's measured energy is shared once among all of them. Its aggregates
are stored with the run as windows of metric points (`serving.store`), which
`carbonlens report RUN_ID` reads back; `Tracker.stop()` closes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from carbonlens.serving.ledger import Ledger, ServedRun
from carbonlens.serving.store import DEFAULT_WINDOW_S, WindowWriter
from carbonlens.store.base import MetricPoint

__all__ = ["LedgerOwner", "TrackerServing"]


class LedgerOwner(Protocol):
    """A run that owns a serving ledger (`Tracker`)."""

    def serving_ledger(self) -> Ledger: ...


class TrackerServing:
    """The serving ledger of one started run, and the writer storing its windows."""

    def __init__(
        self,
        run: ServedRun,
        sink: Callable[[Sequence[MetricPoint]], None],
        *,
        window_s: float = DEFAULT_WINDOW_S,
    ) -> None:
        """A ledger on `run`'s clock and pricing whose windows go to `sink`.

        Args:
            run: The started tracker.
            sink: Takes each window's points (the tracker's run writer).
            window_s: Seconds of run time per stored window.
        """
        self.ledger = Ledger.for_tracker(run)
        self._windows = WindowWriter(self.ledger, sink, window_s=window_s)

    def close(self) -> None:
        """Settle every request (cutting those still open) and store the last window.

        Call it after the run's sampler has stopped, so its last interval is shared.
        """
        self.ledger.close()
        self._windows.close()
