"""Prometheus: a tracker's live power, energy and emissions, scraped over HTTP.

    tracker = carbonlens.Tracker(project="serving").start()
    server = serve(tracker, port=9875)          # http://127.0.0.1:9875/metrics
    ...
    server.close(); tracker.stop()

`carbonlens exporter` does the same for the whole machine until stopped. The
metrics are fed by the tracker's samples (`Tracker.add_listener`): the exporter
never reads a sensor and never owns the sampling cadence, so a scrape costs the
same whatever the scrape interval, and values move once per sampling interval.

Stable names, in base units; every series but `carbonlens_run_info` has the labels
`component` (cpu, gpu, ram, soc, other), `device` (package-0, gpu0, ...), `sensor`
(rapl, nvml, cpu-tdp, ...) and `method` (measured, sampled, modelled, constant):

===============================================  =======  ===============================
metric                                           type     value
===============================================  =======  ===============================
``carbonlens_power_watts``                       gauge    mean IT power over the latest
                                                          sampling interval
``carbonlens_energy_joules_total``               counter  IT energy since the run started
``carbonlens_process_energy_joules_total``       counter  the part attributed to the
                                                          tracked processes (channels
                                                          where it is known)
``carbonlens_operational_emissions_grams_total`` counter  IT energy x PUE x grid intensity
                                                          (the annual average chosen at
                                                          start), grams CO2e
``carbonlens_grid_intensity_grams_per_kwh``      gauge    that intensity (no labels)
``carbonlens_pue_ratio``                         gauge    that PUE (no labels)
``carbonlens_run_info``                          gauge    1, labels `run_id`, `project`,
                                                          `name`, `host`, `location`
===============================================  =======  ===============================
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Final

from carbonlens._frozen import frozen
from carbonlens.integrations._live import LiveTotals
from carbonlens.integrations._support import import_framework
from carbonlens.records import Channel
from carbonlens.tracking.tracker import Tracker

__all__ = ["DEFAULT_PORT", "SUPPORTED", "MetricsServer", "TrackerMetrics", "serve"]

SUPPORTED: Final = ("0.20", "1")
"""Supported prometheus-client versions: at least the first, below the second."""
DEFAULT_PORT: Final = 9875
"""The port `serve` and `carbonlens exporter` listen on unless told otherwise."""
CHANNEL_LABELS: Final = ("component", "device", "sensor", "method")


def _labels(channel: Channel) -> list[str]:
    return [channel.component.value, channel.device, channel.sensor, channel.method.value]


class TrackerMetrics:
    """The live metrics of one tracker: a prometheus-client collector.

    Created before or after `tracker.start()`; it listens to the tracker's samples
    from then on. Register it with a `CollectorRegistry` (`serve` does).
    """

    def __init__(self, tracker: Tracker) -> None:
        """Listen to `tracker`'s samples."""
        self._totals = LiveTotals(tracker)
        self._metrics = import_framework("prometheus_client.core", "prometheus-client", SUPPORTED)

    def collect(self) -> Iterator[Any]:
        """The metric families, as they are now (called at each scrape)."""
        m = self._metrics
        now = self._totals.snapshot()
        families = {
            "power": m.GaugeMetricFamily(
                "carbonlens_power_watts",
                "Mean IT power over the latest sampling interval, watts.",
                labels=CHANNEL_LABELS,
            ),
            "energy": m.CounterMetricFamily(
                "carbonlens_energy_joules",
                "IT energy since the run started, joules.",
                labels=CHANNEL_LABELS,
            ),
            "process": m.CounterMetricFamily(
                "carbonlens_process_energy_joules",
                "IT energy attributed to the tracked processes, joules.",
                labels=CHANNEL_LABELS,
            ),
            "emissions": m.CounterMetricFamily(
                "carbonlens_operational_emissions_grams",
                "IT energy x PUE x grid intensity (annual average), grams CO2e.",
                labels=CHANNEL_LABELS,
            ),
        }
        run = now.run
        for channel, watts in now.power_w.items():
            families["power"].add_metric(_labels(channel), watts)
        for channel, joules in now.process_energy_j.items():
            families["process"].add_metric(_labels(channel), joules)
        for channel, joules in now.energy_j.items():
            families["energy"].add_metric(_labels(channel), joules)
        if run is None:
            yield from families.values()
            return
        for channel, joules in now.energy_j.items():
            families["emissions"].add_metric(_labels(channel), run.operational_g(joules))
        yield from families.values()
        yield m.GaugeMetricFamily(
            "carbonlens_grid_intensity_grams_per_kwh",
            "Grid carbon intensity used to price the run, gCO2e/kWh.",
            value=run.intensity_g_per_kwh,
        )
        yield m.GaugeMetricFamily(
            "carbonlens_pue_ratio", "Power usage effectiveness applied.", value=run.pue_ratio
        )
        labels = {
            "run_id": run.run_id,
            "project": run.project,
            "name": run.name,
            "host": run.host,
            "location": run.location,
        }
        info = m.GaugeMetricFamily(
            "carbonlens_run_info", "The tracked run (value 1).", labels=list(labels)
        )
        info.add_metric(list(labels.values()), 1.0)
        yield info


@frozen
class MetricsServer:
    """An HTTP server of one tracker's metrics, in a daemon thread.

    Attributes:
        url: Where Prometheus scrapes, e.g. `http://127.0.0.1:9875/metrics`.
        metrics: The collector it serves.
    """

    url: str
    metrics: TrackerMetrics
    _server: Any
    _thread: threading.Thread

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def serve(tracker: Tracker, *, port: int = DEFAULT_PORT, addr: str = "127.0.0.1") -> MetricsServer:
    """Serve `tracker`'s metrics at `http://addr:port/metrics`, in a daemon thread.

    Args:
        tracker: The tracker (started or not yet).
        port: TCP port; 0 picks a free one (read it from the returned `url`).
        addr: Address to bind; the default is this machine only.

    Raises:
        ModuleNotFoundError: prometheus-client is not installed.
        ConfigError: An unsupported prometheus-client version.
        OSError: The port cannot be bound.
    """
    client = import_framework("prometheus_client", "prometheus-client", SUPPORTED)
    metrics = TrackerMetrics(tracker)
    registry = client.CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    server, thread = client.start_http_server(port, addr=addr, registry=registry)
    host = f"[{addr}]" if ":" in addr else addr
    return MetricsServer(f"http://{host}:{server.server_port}/metrics", metrics, server, thread)
