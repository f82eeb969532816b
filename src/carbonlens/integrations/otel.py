"""OpenTelemetry metrics: a tracker's live power, energy and emissions as observable instruments.

    from opentelemetry import metrics
    from carbonlens.integrations.otel import register

    tracker = carbonlens.Tracker(project="serving").start()
    register(tracker)                   # the global MeterProvider; or meter_provider=...

The figures are the Prometheus exporter's (`carbonlens.integrations.prometheus`),
fed the same way, by the tracker's samples (`Tracker.add_listener`): a collection
never reads a sensor, and values move once per sampling interval. Names follow
the OpenTelemetry conventions (dotted, lower case, the unit in `unit`, UCUM), and
an OpenTelemetry Prometheus exporter turns them into the Prometheus exporter's
names (`carbonlens.energy`, unit `J`, becomes `carbonlens_energy_joules_total`):

===================================  ===============  =======  =============================
instrument                           kind             unit     value
===================================  ===============  =======  =============================
``carbonlens.power``                 gauge            W        mean IT power over the latest
                                                               sampling interval
``carbonlens.energy``                counter          J        IT energy since the run
                                                               started
``carbonlens.process.energy``        counter          J        the part attributed to the
                                                               tracked processes (channels
                                                               where it is known)
``carbonlens.operational_emissions``  counter         g        IT energy x PUE x grid
                                                               intensity, grams CO2e
``carbonlens.grid.intensity``        gauge            g/kW.h   that intensity (gCO2e/kWh)
``carbonlens.pue``                   gauge            1        that PUE
===================================  ===============  =======  =============================

Every point has the attributes ``carbonlens.run.id`` and ``carbonlens.project``
(a new run starts new series, so a counter never goes back); the first four add
``carbonlens.component`` (cpu, gpu, ram, soc, other), ``carbonlens.device``,
``carbonlens.sensor`` and ``carbonlens.method``; the last two
``carbonlens.location``. Nothing is reported before `tracker.start()`. The
counters are observable: cumulative since the run started, whatever the
reader's temporality.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from carbonlens._frozen import frozen
from carbonlens._version import __version__
from carbonlens.integrations._live import LiveRun, LiveSnapshot, LiveTotals
from carbonlens.integrations._support import import_framework
from carbonlens.records import Channel
from carbonlens.tracking.tracker import Tracker

__all__ = ["METER_NAME", "SUPPORTED", "TrackerInstruments", "register"]

SUPPORTED: Final = ("1.20", "2")
"""Supported opentelemetry-api versions: at least the first, below the second."""
METER_NAME: Final = "carbonlens"
"""The name of the meter (instrumentation scope) the instruments belong to."""

Attributes = dict[str, str]
Points = Callable[[LiveSnapshot, LiveRun], Iterable[tuple[float, Attributes]]]
"""One instrument's points (value, attributes) from a snapshot of a started run."""


def _run_attributes(run: LiveRun) -> Attributes:
    return {"carbonlens.run.id": run.run_id, "carbonlens.project": run.project}


def _channel_attributes(run: LiveRun, channel: Channel) -> Attributes:
    return {
        **_run_attributes(run),
        "carbonlens.component": channel.component.value,
        "carbonlens.device": channel.device,
        "carbonlens.sensor": channel.sensor,
        "carbonlens.method": channel.method.value,
    }


def _per_channel(values: Callable[[LiveSnapshot], dict[Channel, float]]) -> Points:
    return lambda now, run: [(v, _channel_attributes(run, c)) for c, v in values(now).items()]


def _of_run(value: Callable[[LiveRun], float]) -> Points:
    return lambda now, run: [
        (value(run), {**_run_attributes(run), "carbonlens.location": run.location})
    ]


_INSTRUMENTS: Final[tuple[tuple[str, str, str, str, Points], ...]] = (
    ("carbonlens.power", "gauge", "W", "Mean IT power over the latest sampling interval.",
     _per_channel(lambda now: now.power_w)),
    ("carbonlens.energy", "counter", "J", "IT energy since the run started.",
     _per_channel(lambda now: now.energy_j)),
    ("carbonlens.process.energy", "counter", "J",
     "IT energy attributed to the tracked processes since the run started.",
     _per_channel(lambda now: now.process_energy_j)),
    ("carbonlens.operational_emissions", "counter", "g",
     "IT energy x PUE x grid intensity (annual average), grams CO2e.",
     lambda now, run: [
         (run.operational_g(j), _channel_attributes(run, c)) for c, j in now.energy_j.items()
     ]),
    ("carbonlens.grid.intensity", "gauge", "g/kW.h",
     "Grid carbon intensity used to price the run, gCO2e/kWh.",
     _of_run(lambda run: run.intensity_g_per_kwh)),
    ("carbonlens.pue", "gauge", "1", "Power usage effectiveness applied.",
     _of_run(lambda run: run.pue_ratio)),
)  # fmt: skip
"""Name, kind, unit, description and points of each instrument."""


@frozen
class TrackerInstruments:
    """The instruments `register` created for one tracker.

    Attributes:
        totals: The running totals they read (fed by the tracker's samples).
        instruments: The observable instruments, by name.
    """

    totals: LiveTotals
    instruments: dict[str, Any]


def register(tracker: Tracker, *, meter_provider: Any = None) -> TrackerInstruments:
    """Create `tracker`'s observable instruments on a meter of `meter_provider`.

    Register once per tracker (before or after `tracker.start()`); each reader of
    the provider collects the figures as they are at collection time.

    Args:
        tracker: The tracker (started or not yet).
        meter_provider: An OpenTelemetry `MeterProvider`; None means the global one
            (`opentelemetry.metrics.get_meter_provider()`).

    Raises:
        ModuleNotFoundError: opentelemetry-api is not installed.
        ConfigError: An unsupported opentelemetry-api version.
    """
    otel = import_framework("opentelemetry.metrics", "opentelemetry-api", SUPPORTED)
    provider = meter_provider if meter_provider is not None else otel.get_meter_provider()
    meter = provider.get_meter(METER_NAME, __version__)
    totals = LiveTotals(tracker)

    def callback(points: Points) -> Callable[[Any], list[Any]]:
        def observe(options: Any) -> list[Any]:
            now = totals.snapshot()
            if now.run is None:
                return []
            return [otel.Observation(value, attrs) for value, attrs in points(now, now.run)]

        return observe

    instruments = {}
    for name, kind, unit, description, points in _INSTRUMENTS:
        create = (
            meter.create_observable_gauge if kind == "gauge" else meter.create_observable_counter
        )
        instruments[name] = create(
            name, callbacks=[callback(points)], unit=unit, description=description
        )
    return TrackerInstruments(totals, instruments)
