"""Prometheus exporter: metrics with units in their names, scraped over 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("prometheus_client")
pytest.importorskip("httpx")

import httpx  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from carbonlens.records import Channel, Component, Method, Sample  # noqa: E402
from carbonlens.serving import Ledger  # noqa: E402
from carbonlens.serving.prometheus import PrometheusExporter  # noqa: E402
from carbonlens.units import J_PER_KWH  # noqa: E402

GPU = Channel("fake", Component.GPU, "gpu0", Method.MEASURED)


Values = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _values(text: str) -> Values:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _served_ledger() -> tuple[Ledger, PrometheusExporter]:
    now = [0.0]
    ledger = Ledger(lambda: now[0], intensity_g_per_kwh=100.0)
    exporter = PrometheusExporter(ledger)
    with ledger.request("/chat", "m", tokens_in=30, tokens_out=10) as served:
        now[0] = 1.0
        served.first_token()
        now[0] = 4.0
    with ledger.request("/chat", "m"):
        ledger.begin("/slow", "m")  # still open at the scrape
        now[0] = 5.0
    now[0] = 10.0
    # [0, 10]: 1,000 J; /slow is still open, so the tick waits for it
    ledger.on_samples([Sample(GPU, 10.0, 10.0, 1000.0)])
    return ledger, exporter


def test_metrics_are_scraped_over_loopback() -> None:
    ledger, exporter = _served_ledger()
    server = exporter.serve(port=0)
    try:
        with httpx.Client(timeout=5) as client:
            before = _values(client.get(f"http://127.0.0.1:{server.port}/metrics").text)
            ledger.close()  # cuts /slow at 10 s and settles everything
            after = _values(client.get(f"http://127.0.0.1:{server.port}/metrics").text)
    finally:
        server.close()
    chat = {"route": "/chat", "model": "m"}

    def metric(values: Values, name: str, **labels: str) -> float:
        return values[(name, tuple(sorted(labels.items())))]

    assert metric(before, "carbonlens_requests_in_flight") == 1.0
    assert not any(name == "carbonlens_requests_total" for name, _ in before)
    # [0, 10] busy throughout; overlaps /chat [0, 4] + [4, 5], /slow [4, 10] (cut at close):
    # 1,000 J over 11 request-seconds
    per_s_j = 1000.0 / 11
    assert metric(after, "carbonlens_requests_total", **chat, outcome="ok") == 2
    assert metric(after, "carbonlens_requests_total", route="/slow", model="m", outcome="cut") == 1
    assert metric(after, "carbonlens_request_energy_joules_sum", **chat) == pytest.approx(
        5 * per_s_j
    )
    assert metric(after, "carbonlens_request_energy_joules_count", **chat) == 2
    assert metric(after, "carbonlens_request_duration_seconds_sum", **chat) == pytest.approx(5.0)
    assert metric(after, "carbonlens_request_emissions_grams_total", **chat) == pytest.approx(
        5 * per_s_j / J_PER_KWH * 100.0
    )
    # the first /chat marked its first token at 1 s: 1 of its 4 s is prefill
    prefill = metric(after, "carbonlens_request_phase_energy_joules_total", **chat, phase="prefill")
    assert prefill == pytest.approx(per_s_j)
    assert metric(after, "carbonlens_request_tokens_total", **chat, direction="in") == 30
    assert metric(after, "carbonlens_idle_energy_joules_total") == pytest.approx(0.0)
    # occupancy: 11 request-seconds over 10 busy seconds -> 1.1 in flight for each
    assert metric(after, "carbonlens_occupancy_requests_total", in_flight="1") == 3
    assert metric(after, "carbonlens_requests_in_flight") == 0.0


def test_metrics_can_be_mounted_in_the_served_app() -> None:
    ledger, exporter = _served_ledger()
    ledger.close()

    async def scrape() -> str:
        transport = httpx.ASGITransport(app=exporter.asgi_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.get("/metrics")).text

    assert "carbonlens_idle_energy_joules_total" in asyncio.run(scrape())
