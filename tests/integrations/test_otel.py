"""OpenTelemetry instruments, collected with the SDK's in-memory reader."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.metrics")
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402

from carbonlens.integrations.otel import METER_NAME, register  # noqa: E402
from carbonlens.records import Channel, Component, Method  # noqa: E402
from carbonlens.testing import FakeClock, FakeSensor, FakeShares  # noqa: E402
from carbonlens.tracking.tracker import Tracker  # noqa: E402
from carbonlens.units import J_PER_KWH  # noqa: E402

from .conftest import CPU, POWER_W  # noqa: E402

RAM = Channel("fake-ram", Component.RAM, "ram", Method.MODELLED)
RAM_W = 4.0
RAM_SHARE = 0.25
FR_G_PER_KWH = 41.44
"""The bundled annual average of the French grid, which the tracker prices with."""
PUE = 1.5

Points = dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[float, str]]


def _collect(reader: InMemoryMetricReader) -> Points:
    """Every point of a collection: (name, sorted attributes) -> (value, unit)."""
    data = reader.get_metrics_data()
    points: Points = {}
    if data is None:
        return points
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == METER_NAME
            for metric in scope.metrics:
                for p in metric.data.data_points:
                    key = (metric.name, tuple(sorted(p.attributes.items())))
                    points[key] = (p.value, metric.unit)
    return points


def _channel(run_id: str, channel: Channel) -> tuple[tuple[str, Any], ...]:
    return tuple(
        sorted(
            {
                "carbonlens.run.id": run_id,
                "carbonlens.project": "integrations",
                "carbonlens.component": channel.component.value,
                "carbonlens.device": channel.device,
                "carbonlens.sensor": channel.sensor,
                "carbonlens.method": channel.method.value,
            }.items()
        )
    )


def test_instruments_report_the_trackers_figures_per_channel(
    tracker_options: dict[str, Any], clock: FakeClock
) -> None:
    options = {
        **tracker_options,
        "pue": PUE,
        "sensors": [FakeSensor(CPU, power_w=[POWER_W]), FakeSensor(RAM, power_w=[RAM_W])],
        "shares": FakeShares(cpu_ratio=1.0, ram_ratio=RAM_SHARE),
    }
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    tracker = Tracker(**options)
    instruments = register(tracker, meter_provider=provider)
    assert sorted(instruments.instruments) == [
        "carbonlens.energy",
        "carbonlens.grid.intensity",
        "carbonlens.operational_emissions",
        "carbonlens.power",
        "carbonlens.process.energy",
        "carbonlens.pue",
    ]
    assert _collect(reader) == {}  # nothing before start
    tracker.start()
    try:
        clock.advance(2.0)
        with tracker.window("a"):  # a window's edges take samples
            pass
        clock.advance(3.0)
        with tracker.window("b"):
            pass
        points = _collect(reader)
    finally:
        tracker.stop()
        provider.shutdown()
    run_id = tracker.run_id
    cpu, ram = _channel(run_id, CPU), _channel(run_id, RAM)
    cpu_j, ram_j = 5.0 * POWER_W, 5.0 * RAM_W  # 2 s + 3 s of fake time
    # operational emissions: IT energy x PUE / 3.6e6 J per kWh x 41.44 g/kWh
    cpu_g = cpu_j * PUE / J_PER_KWH * FR_G_PER_KWH
    ram_g = ram_j * PUE / J_PER_KWH * FR_G_PER_KWH
    run = tuple(
        sorted(
            {
                "carbonlens.run.id": run_id,
                "carbonlens.project": "integrations",
                "carbonlens.location": "FR",
            }.items()
        )
    )
    assert points == {
        ("carbonlens.power", cpu): (pytest.approx(POWER_W), "W"),
        ("carbonlens.power", ram): (pytest.approx(RAM_W), "W"),
        ("carbonlens.energy", cpu): (pytest.approx(cpu_j), "J"),
        ("carbonlens.energy", ram): (pytest.approx(ram_j), "J"),
        ("carbonlens.process.energy", cpu): (pytest.approx(cpu_j), "J"),
        ("carbonlens.process.energy", ram): (pytest.approx(RAM_SHARE * ram_j), "J"),
        ("carbonlens.operational_emissions", cpu): (pytest.approx(cpu_g), "g"),
        ("carbonlens.operational_emissions", ram): (pytest.approx(ram_g), "g"),
        ("carbonlens.grid.intensity", run): (pytest.approx(FR_G_PER_KWH), "g/kW.h"),
        ("carbonlens.pue", run): (pytest.approx(PUE), "1"),
    }
    report = tracker.report
    assert report is not None
    assert cpu_g + ram_g == pytest.approx(report.operational_g)  # the same figures as the run's


def test_counters_are_monotonic_sums_and_the_global_provider_is_the_default(
    tracker_options: dict[str, Any], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry import metrics

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: provider)
    tracker = Tracker(**tracker_options)
    register(tracker)
    energy: list[float] = []
    with tracker:
        for _ in range(2):
            clock.advance(1.0)
            with tracker.window("tick"):
                pass
            [value] = [v for (n, _), (v, _) in _collect(reader).items() if n == "carbonlens.energy"]
            energy.append(value)
    data = reader.get_metrics_data()
    provider.shutdown()
    assert energy == [pytest.approx(POWER_W), pytest.approx(2 * POWER_W)]  # 1 s, then 2 s
    assert data is not None
    [metric] = [
        m
        for r in data.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
        if m.name == "carbonlens.energy"
    ]
    assert metric.data.is_monotonic
