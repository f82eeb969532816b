"""Finished requests and their aggregates: per route and model and per batch occupancy.

Energies are IT energy in joules (whole machine, every measured device);
emissions are operational gCO2e, facility energy (IT × PUE) × grid intensity.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from dataclasses import dataclass, field

from carbonlens._frozen import frozen

__all__ = [
    "Aggregator",
    "OccupancyStats",
    "RequestRecord",
    "RouteStats",
    "ServingSummary",
    "occupancy_label",
]


@frozen
class RequestRecord:
    """One finished request with the energy attributed to it.

    Times are seconds since the run started (the tracker's monotonic clock).
    `prefill_energy_j` and `decode_energy_j` are set when the handler marked its
    first token; `mean_in_flight` is the mean number of requests in flight while
    it ran, itself included (its batch occupancy, a count). `cut` means it did not
    finish within the ledger's timeout and was ended there.
    """

    route: str
    model: str
    start_t_s: float
    end_t_s: float
    energy_j: float
    emissions_g: float | None
    tokens_in: int | None = None
    tokens_out: int | None = None
    prefill_energy_j: float | None = None
    decode_energy_j: float | None = None
    mean_in_flight: float = 1.0
    failed: bool = False
    cut: bool = False
    status_code: int | None = None

    @property
    def latency_s(self) -> float:
        """Seconds from start to end (the last body chunk, for a streaming response)."""
        return self.end_t_s - self.start_t_s


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (`q` in 0-1) of an ascending list; 0.0 when empty."""
    if not sorted_values:
        return 0.0
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def _per(numerator: float | None, denominator: float) -> float | None:
    return numerator / denominator if numerator is not None and denominator > 0 else None


@frozen
class RouteStats:
    """Aggregates of one (route, model): joules, grams, tokens and latency.

    `token_energy_j` is the energy of the `token_requests` that reported tokens,
    so `energy_per_token_j` is not diluted by those that did not. `prefill_*` and
    `decode_*` cover the requests that marked their first token.
    """

    route: str
    model: str
    requests: int
    failed: int
    cut: int
    energy_j: float
    emissions_g: float | None
    latency_p50_s: float
    latency_p95_s: float
    tokens_in: int = 0
    tokens_out: int = 0
    token_requests: int = 0
    token_energy_j: float = 0.0
    prefill_energy_j: float = 0.0
    prefill_tokens: int = 0
    decode_energy_j: float = 0.0
    decode_tokens: int = 0

    @property
    def energy_per_request_j(self) -> float | None:
        """Mean joules per request."""
        return _per(self.energy_j, self.requests)

    @property
    def energy_per_token_j(self) -> float | None:
        """Joules per token (in + out), over the requests that reported tokens."""
        return _per(self.token_energy_j, self.tokens_in + self.tokens_out)

    @property
    def prefill_energy_per_token_j(self) -> float | None:
        """Joules per prompt token in the prefill phase."""
        return _per(self.prefill_energy_j, self.prefill_tokens)

    @property
    def decode_energy_per_token_j(self) -> float | None:
        """Joules per output token in the decode phase."""
        return _per(self.decode_energy_j, self.decode_tokens)

    @property
    def emissions_per_1000_requests_g(self) -> float | None:
        """gCO2e per 1,000 requests."""
        return _per(None if self.emissions_g is None else self.emissions_g * 1000, self.requests)


@frozen
class OccupancyStats:
    """Requests whose mean occupancy rounds into `label` (e.g. ``"3-4"`` in flight)."""

    label: str
    requests: int
    energy_j: float

    @property
    def energy_per_request_j(self) -> float | None:
        """Mean joules per request at this occupancy: falls as batching improves."""
        return _per(self.energy_j, self.requests)


@frozen
class ServingSummary:
    """Requests served between `start_t_s` and `end_t_s` (seconds since the run started).

    `attributed_energy_j` + `idle_energy_j` is the measured IT energy of the
    settled intervals; idle energy is the part with no request in flight.
    """

    start_t_s: float
    end_t_s: float
    routes: tuple[RouteStats, ...]
    occupancy: tuple[OccupancyStats, ...]
    attributed_energy_j: float
    idle_energy_j: float
    idle_emissions_g: float | None = None

    @property
    def requests(self) -> int:
        """Requests finished in the period."""
        return sum(r.requests for r in self.routes)


def occupancy_label(mean_in_flight: float) -> str:
    """The power-of-two bucket of a mean occupancy: ``1``, ``2``, ``3-4``, ``5-8``..."""
    return _bucket(max(1, round(mean_in_flight)))


@functools.cache
def _bucket(in_flight: int) -> str:
    upper = 1 << (in_flight - 1).bit_length()
    return str(upper) if upper <= 2 else f"{upper // 2 + 1}-{upper}"


@dataclass(slots=True)
class _Totals:
    requests: int = 0
    failed: int = 0
    cut: int = 0
    energy_j: float = 0.0
    emissions_g: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    token_requests: int = 0
    token_energy_j: float = 0.0
    prefill_energy_j: float = 0.0
    prefill_tokens: int = 0
    decode_energy_j: float = 0.0
    decode_tokens: int = 0
    latencies_s: deque[float] = field(default_factory=deque)


class Aggregator:
    """Adds up finished requests and idle energy; not thread-safe (one writer)."""

    def __init__(self, *, priced: bool, max_latencies: int | None = None) -> None:
        """Aggregate records; `priced` says whether records carry emissions.

        `max_latencies` bounds the latencies kept per route and model (the most
        recent ones give p50/p95); None keeps every one.
        """
        self._priced = priced
        self._max_latencies = max_latencies
        self._routes: dict[tuple[str, str], _Totals] = {}
        self._occupancy: dict[str, list[float]] = {}
        self.idle_energy_j = 0.0
        self.idle_emissions_g = 0.0

    def add(self, record: RequestRecord) -> None:
        """Count one finished request."""
        key = (record.route, record.model)
        totals = self._routes.get(key)
        if totals is None:
            totals = self._routes[key] = _Totals(latencies_s=deque(maxlen=self._max_latencies))
        totals.requests += 1
        totals.failed += record.failed
        totals.cut += record.cut
        totals.energy_j += record.energy_j
        totals.emissions_g += record.emissions_g or 0.0
        totals.latencies_s.append(record.latency_s)
        if record.tokens_in is not None or record.tokens_out is not None:
            totals.tokens_in += record.tokens_in or 0
            totals.tokens_out += record.tokens_out or 0
            totals.token_requests += 1
            totals.token_energy_j += record.energy_j
        if record.prefill_energy_j is not None and record.tokens_in is not None:
            totals.prefill_energy_j += record.prefill_energy_j
            totals.prefill_tokens += record.tokens_in
        if record.decode_energy_j is not None and record.tokens_out is not None:
            totals.decode_energy_j += record.decode_energy_j
            totals.decode_tokens += record.tokens_out
        bucket = self._occupancy.setdefault(occupancy_label(record.mean_in_flight), [0, 0.0])
        bucket[0] += 1
        bucket[1] += record.energy_j

    def add_idle(self, energy_j: float, emissions_g: float | None) -> None:
        """Count idle energy (no request in flight) and its emissions."""
        self.idle_energy_j += energy_j
        self.idle_emissions_g += emissions_g or 0.0

    def summary(self, start_t_s: float, end_t_s: float) -> ServingSummary:
        """The aggregates so far, for the period from `start_t_s` to `end_t_s`."""
        routes = []
        for (route, model), t in sorted(self._routes.items()):
            latencies = sorted(t.latencies_s)
            routes.append(
                RouteStats(
                    route=route,
                    model=model,
                    requests=t.requests,
                    failed=t.failed,
                    cut=t.cut,
                    energy_j=t.energy_j,
                    emissions_g=t.emissions_g if self._priced else None,
                    latency_p50_s=_percentile(latencies, 0.50),
                    latency_p95_s=_percentile(latencies, 0.95),
                    tokens_in=t.tokens_in,
                    tokens_out=t.tokens_out,
                    token_requests=t.token_requests,
                    token_energy_j=t.token_energy_j,
                    prefill_energy_j=t.prefill_energy_j,
                    prefill_tokens=t.prefill_tokens,
                    decode_energy_j=t.decode_energy_j,
                    decode_tokens=t.decode_tokens,
                )
            )
        occupancy = tuple(
            OccupancyStats(label, int(n), energy_j)
            for label, (n, energy_j) in sorted(
                self._occupancy.items(), key=lambda item: int(item[0].split("-")[-1])
            )
        )
        return ServingSummary(
            start_t_s=start_t_s,
            end_t_s=end_t_s,
            routes=tuple(routes),
            occupancy=occupancy,
            attributed_energy_j=sum(r.energy_j for r in routes),
            idle_energy_j=self.idle_energy_j,
            idle_emissions_g=self.idle_emissions_g if self._priced else None,
        )
