"""Serving aggregates kept with the run: one window of metric points every `window_s`.

A busy server does not write a row per request: every `window_s` seconds of run
time the `WindowWriter` turns the window's aggregates into metric points of the
run (`Store.log_metrics`), step = window number, `t_s` = the window's end:

==============================================  ===============================
``serving|start_t_s``                           the window's start, seconds
``serving|attributed_energy_j`` / ``idle_...``  IT joules of the window
``serving|idle_emissions_g``                    gCO2e (when priced)
``serving|route|<route>|<model>|<field>``       every field of `RouteStats`
``serving|occupancy|<bucket>|requests``         requests by batch occupancy
``serving|occupancy|<bucket>|energy_j``         and their IT joules
==============================================  ===============================

Route fields are sums (requests, energy_j, tokens_in...) plus latency_p50_s and
latency_p95_s, so windows can be added up. `summaries_from_points` reads them
back. A `|` in a route or model name is written as `/`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from carbonlens.errors import ConfigError
from carbonlens.serving.ledger import Ledger, Settlement
from carbonlens.serving.summary import Aggregator, OccupancyStats, RouteStats, ServingSummary
from carbonlens.store.base import MetricPoint

__all__ = ["DEFAULT_WINDOW_S", "PREFIX", "WindowWriter", "summaries_from_points", "window_points"]

log = logging.getLogger(__name__)

PREFIX: Final = "serving"
DEFAULT_WINDOW_S: Final = 60.0
"""Seconds of run time per stored window."""

_ROUTE_FIELDS: Final = tuple(
    f.name for f in dataclasses.fields(RouteStats) if f.name not in ("route", "model")
)
_INT_FIELDS: Final = frozenset(
    f.name for f in dataclasses.fields(RouteStats) if f.type in ("int", int)
)


def _label(text: str) -> str:
    return text.replace("|", "/")


def window_points(summary: ServingSummary, step: int) -> list[MetricPoint]:
    """The metric points of one window (see the module docstring)."""
    end = summary.end_t_s
    values: dict[str, float | None] = {
        f"{PREFIX}|start_t_s": summary.start_t_s,
        f"{PREFIX}|attributed_energy_j": summary.attributed_energy_j,
        f"{PREFIX}|idle_energy_j": summary.idle_energy_j,
        f"{PREFIX}|idle_emissions_g": summary.idle_emissions_g,
    }
    for stats in summary.routes:
        key = f"{PREFIX}|route|{_label(stats.route)}|{_label(stats.model)}"
        for name in _ROUTE_FIELDS:
            values[f"{key}|{name}"] = getattr(stats, name)
    for o in summary.occupancy:
        values[f"{PREFIX}|occupancy|{o.label}|requests"] = o.requests
        values[f"{PREFIX}|occupancy|{o.label}|energy_j"] = o.energy_j
    return [
        MetricPoint(name, step, float(value), end)
        for name, value in values.items()
        if value is not None
    ]


def _route_stats(route: str, model: str, values: dict[str, float]) -> RouteStats:
    fields: dict[str, Any] = {"emissions_g": None}  # not written when unpriced
    fields |= {k: int(v) if k in _INT_FIELDS else v for k, v in values.items()}
    return RouteStats(route=route, model=model, **fields)


def summaries_from_points(points: Iterable[MetricPoint]) -> list[ServingSummary]:
    """The windows a `WindowWriter` stored, in step order (other metrics are ignored)."""
    steps: dict[int, dict[str, tuple[float, float]]] = {}
    for p in points:
        if p.name.startswith(f"{PREFIX}|"):
            steps.setdefault(p.step, {})[p.name.removeprefix(f"{PREFIX}|")] = (p.value, p.t_s)
    summaries = []
    for step in sorted(steps):
        found = steps[step]
        routes: dict[tuple[str, str], dict[str, float]] = {}
        occupancy: dict[str, dict[str, float]] = {}
        for name, (value, _) in found.items():
            parts = name.split("|")
            if parts[0] == "route" and len(parts) == 4:
                routes.setdefault((parts[1], parts[2]), {})[parts[3]] = value
            elif parts[0] == "occupancy" and len(parts) == 3:
                occupancy.setdefault(parts[1], {})[parts[2]] = value
        idle = found.get("idle_emissions_g")
        summaries.append(
            ServingSummary(
                start_t_s=found["start_t_s"][0],
                end_t_s=found["start_t_s"][1],
                routes=tuple(
                    _route_stats(route, model, values)
                    for (route, model), values in sorted(routes.items())
                ),
                occupancy=tuple(
                    OccupancyStats(label, int(v["requests"]), v["energy_j"])
                    for label, v in sorted(
                        occupancy.items(), key=lambda item: int(item[0].split("-")[-1])
                    )
                ),
                attributed_energy_j=found["attributed_energy_j"][0],
                idle_energy_j=found["idle_energy_j"][0],
                idle_emissions_g=None if idle is None else idle[0],
            )
        )
    return summaries


class WindowWriter:
    """Writes a ledger's aggregates as one window of metric points every `window_s`.

    It follows the ledger's settlements (the sampler thread), so the run's clock
    decides when a window closes. A failed write is logged once and its window
    merged into the next one; `close()` writes the last, partial window.
    """

    def __init__(
        self,
        ledger: Ledger,
        sink: Callable[[Sequence[MetricPoint]], None],
        *,
        window_s: float = DEFAULT_WINDOW_S,
    ) -> None:
        """Follow `ledger` and hand each window's points to `sink`.

        Args:
            ledger: The ledger whose settlements are aggregated.
            sink: Takes a window's points, e.g. ``functools.partial(store.log_metrics,
                run_id)`` or a tracker's metric logger.
            window_s: Seconds of run time per window.

        Raises:
            ConfigError: `window_s` is not positive.
        """
        if window_s <= 0:
            raise ConfigError(f"window_s must be > 0, not {window_s!r}", setting="window_s")
        self._sink = sink
        self.window_s = window_s
        self._priced = ledger.priced
        self._aggregator = Aggregator(priced=self._priced)
        self._start_t_s: float | None = None
        self._end_t_s = 0.0
        self._step = 0
        self._warned = False
        ledger.add_listener(self._on_settlement)

    def _on_settlement(self, settlement: Settlement) -> None:
        start_t_s = self._start_t_s
        if start_t_s is None:
            start_t_s = self._start_t_s = settlement.start_t_s
        for record in settlement.records:
            self._aggregator.add(record)
        self._aggregator.add_idle(settlement.idle_energy_j, settlement.idle_emissions_g)
        self._end_t_s = settlement.end_t_s
        if self._end_t_s - start_t_s >= self.window_s:
            self._write(start_t_s)

    def close(self) -> None:
        """Write the window in progress, if it holds anything (after `ledger.close()`)."""
        if self._start_t_s is not None and self._end_t_s > self._start_t_s:
            self._write(self._start_t_s)

    def _write(self, start_t_s: float) -> None:
        summary = self._aggregator.summary(start_t_s, self._end_t_s)
        try:
            self._sink(window_points(summary, self._step))
        except Exception as exc:  # noqa: BLE001 - storage must not break serving
            if not self._warned:
                self._warned = True
                log.warning("carbonlens: serving window not stored (kept for the next): %s", exc)
            return
        self._step += 1
        self._aggregator = Aggregator(priced=self._priced)
        self._start_t_s = self._end_t_s
