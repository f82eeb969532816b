"""Prometheus metrics of the requests a ledger settles (extra: `carbonlens[serving]`).

The exporter listens to the ledger's settlements, on the sampler thread; it
never reads a sensor and runs no loop of its own. Metric names carry their unit:

=====================================================  =========  ===================
name                                                   type       labels
=====================================================  =========  ===================
``carbonlens_requests_total``                          counter    route, model, outcome
``carbonlens_request_energy_joules``                   histogram  route, model
``carbonlens_request_duration_seconds``                histogram  route, model
``carbonlens_request_emissions_grams_total``           counter    route, model
``carbonlens_request_phase_energy_joules_total``       counter    route, model, phase
``carbonlens_request_tokens_total``                    counter    route, model, direction
``carbonlens_occupancy_requests_total``                counter    in_flight
``carbonlens_occupancy_energy_joules_total``           counter    in_flight
``carbonlens_idle_energy_joules_total``                counter
``carbonlens_idle_emissions_grams_total``              counter
``carbonlens_requests_in_flight``                      gauge
=====================================================  =========  ===================

`outcome` is ``ok``, ``failed`` or ``cut``; `phase` ``prefill`` or ``decode``;
`direction` ``in`` or ``out``; `in_flight` a batch-occupancy bucket (``1``,
``2``, ``3-4``...). Energies are IT joules, emissions operational gCO2e.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Final

try:
    from prometheus_client import (
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        make_asgi_app,
        start_http_server,
    )
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the Prometheus exporter needs prometheus-client: pip install 'carbonlens[serving]'"
    ) from exc

from carbonlens.serving.asgi import ASGIApp
from carbonlens.serving.ledger import Ledger, Settlement
from carbonlens.serving.summary import occupancy_label

__all__ = ["ENERGY_BUCKETS_J", "MetricsServer", "PrometheusExporter"]

ENERGY_BUCKETS_J: Final = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
"""Histogram buckets of energy per request, joules (a small model's request is
well under a joule, a long generation on a large GPU a few hundred)."""
DURATION_BUCKETS_S: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
"""Histogram buckets of request latency, seconds."""


class MetricsServer:
    """A `/metrics` HTTP server in a daemon thread; `close()` stops it."""

    def __init__(self, registry: CollectorRegistry, port: int, addr: str) -> None:
        """Start serving `registry` on `addr:port` (port 0: any free port)."""
        self._server, self._thread = start_http_server(port, addr=addr, registry=registry)
        self.port: int = self._server.server_port
        """The port the server listens on."""

    def close(self) -> None:
        """Stop the server and wait for its thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class PrometheusExporter:
    """Keeps Prometheus metrics of a ledger's requests, in its own registry by default."""

    def __init__(self, ledger: Ledger, *, registry: CollectorRegistry | None = None) -> None:
        """Register the metrics in `registry` (default: a new one) and follow `ledger`."""
        self.registry = registry if registry is not None else CollectorRegistry()
        labels = ("route", "model")
        r = self.registry
        requests = Counter(
            "carbonlens_requests", "Requests finished", (*labels, "outcome"), registry=r
        )
        self._energy = Histogram(
            "carbonlens_request_energy_joules",
            "IT energy attributed to a request, joules",
            labels,
            buckets=ENERGY_BUCKETS_J,
            registry=r,
        )
        self._duration = Histogram(
            "carbonlens_request_duration_seconds",
            "Request latency to the last body chunk, seconds",
            labels,
            buckets=DURATION_BUCKETS_S,
            registry=r,
        )
        emissions = Counter(
            "carbonlens_request_emissions_grams",
            "Operational emissions of requests, gCO2e",
            labels,
            registry=r,
        )
        phase = Counter(
            "carbonlens_request_phase_energy_joules",
            "IT energy of requests by phase (prefill, decode), joules",
            (*labels, "phase"),
            registry=r,
        )
        tokens = Counter(
            "carbonlens_request_tokens", "Tokens reported", (*labels, "direction"), registry=r
        )
        occupancy_requests = Counter(
            "carbonlens_occupancy_requests",
            "Requests by mean batch occupancy",
            ("in_flight",),
            registry=r,
        )
        occupancy_energy = Counter(
            "carbonlens_occupancy_energy_joules",
            "IT energy of requests by mean batch occupancy, joules",
            ("in_flight",),
            registry=r,
        )
        self._idle = Counter(
            "carbonlens_idle_energy_joules",
            "IT energy with no request in flight, joules",
            registry=r,
        )
        self._idle_emissions = Counter(
            "carbonlens_idle_emissions_grams",
            "Operational emissions of idle energy, gCO2e",
            registry=r,
        )
        self._counters = {
            "requests": requests,
            "emissions": emissions,
            "phase": phase,
            "tokens": tokens,
            "occupancy_requests": occupancy_requests,
            "occupancy_energy": occupancy_energy,
        }
        self._children: dict[tuple[str, str], tuple[Histogram, Histogram]] = {}
        in_flight = Gauge("carbonlens_requests_in_flight", "Requests open now", registry=r)
        in_flight.set_function(lambda: ledger.in_flight)
        ledger.add_listener(self.observe)

    def observe(self, settlement: Settlement) -> None:
        """Count one settlement (the ledger calls this on the sampler thread).

        Counters are summed per label set first, so a request costs two histogram
        observations and a few additions.
        """
        sums: dict[tuple[str, ...], float] = defaultdict(float)
        for r in settlement.records:
            route, model = r.route, r.model
            histograms = self._children.get((route, model))
            if histograms is None:
                histograms = self._children[route, model] = (
                    self._energy.labels(route, model),
                    self._duration.labels(route, model),
                )
            histograms[0].observe(r.energy_j)
            histograms[1].observe(r.latency_s)
            outcome = "cut" if r.cut else "failed" if r.failed else "ok"
            sums["requests", route, model, outcome] += 1
            if r.emissions_g is not None:
                sums["emissions", route, model] += r.emissions_g
            if r.prefill_energy_j is not None and r.decode_energy_j is not None:
                sums["phase", route, model, "prefill"] += r.prefill_energy_j
                sums["phase", route, model, "decode"] += r.decode_energy_j
            if r.tokens_in is not None:
                sums["tokens", route, model, "in"] += r.tokens_in
            if r.tokens_out is not None:
                sums["tokens", route, model, "out"] += r.tokens_out
            bucket = occupancy_label(r.mean_in_flight)
            sums["occupancy_requests", bucket] += 1
            sums["occupancy_energy", bucket] += r.energy_j
        for (name, *labels), value in sums.items():
            self._counters[name].labels(*labels).inc(value)
        self._idle.inc(settlement.idle_energy_j)
        if settlement.idle_emissions_g is not None:
            self._idle_emissions.inc(settlement.idle_emissions_g)

    def serve(self, port: int = 0, addr: str = "127.0.0.1") -> MetricsServer:
        """Serve `/metrics` on `addr:port` from this process (port 0: any free port)."""
        return MetricsServer(self.registry, port, addr)

    def asgi_app(self) -> ASGIApp:
        """An ASGI app serving the metrics, to mount in the server itself (`/metrics`)."""
        app: ASGIApp = make_asgi_app(registry=self.registry)
        return app
