"""SampleFanout: hands each tick's samples to the run's budget monitor and listeners.

It runs on the sampler's thread, after the samples were queued for the store.
The monitor comes first (a run with budgets has one from the start; one without
gets one at its first progress report, which starts from the IT energy counted
here so far), then the listeners added with `Tracker.add_listener` (serving
attribution, exporters). Nothing here raises: a listener that fails is logged
once and called again next tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from carbonlens.records import Sample

if TYPE_CHECKING:
    from carbonlens.tracking.budget import BudgetMonitor

log = logging.getLogger(__name__)

Listener = Callable[[list[Sample]], None]


class SampleFanout:
    """The run's budget monitor (if any), its listeners and its IT energy so far."""

    def __init__(self) -> None:
        """No monitor and no listeners yet."""
        self._listeners: list[Listener] = []
        self._failed: set[int] = set()
        self._lock = threading.Lock()
        """Guards the monitor and the energy so far: a monitor made between two ticks
        is seeded with everything before it and observes everything after."""
        self._monitor: BudgetMonitor | None = None
        self._observe: Listener | None = None
        """The monitor's `observe`, bound once: failures are remembered by identity."""
        self._it_j = 0.0
        self._last_t_s = 0.0

    @property
    def monitor(self) -> BudgetMonitor | None:
        """The budget monitor, None while the run has none."""
        return self._monitor

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` with each tick's samples, after the monitor."""
        self._listeners.append(listener)

    def monitor_with(self, make: Callable[[], BudgetMonitor]) -> BudgetMonitor:
        """The monitor; without one, `make()` one now, seeded with the IT energy and
        the time of the samples seen so far."""
        with self._lock:
            if self._monitor is None:
                self._monitor = make()
                self._monitor.seed(self._it_j, self._last_t_s)
                self._observe = self._monitor.observe
            return self._monitor

    def __call__(self, samples: list[Sample]) -> None:
        """Count `samples`, then give them to the monitor and every listener."""
        with self._lock:
            self._it_j += sum(s.energy_j for s in samples)
            self._last_t_s = max(self._last_t_s, *(s.t_s for s in samples))
            observe = self._observe
        listeners = self._listeners if observe is None else [observe, *self._listeners]
        for listener in listeners:
            try:
                listener(samples)
            except Exception as exc:  # noqa: BLE001 - a listener must not break the run
                if id(listener) not in self._failed:
                    self._failed.add(id(listener))
                    log.warning("carbonlens: listener %r failed: %s", listener, exc)
