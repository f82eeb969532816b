"""The Prometheus exporter, scraped over 127.0.0.1: in a process and as a command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from carbonlens.integrations.prometheus import DEFAULT_PORT, serve  # noqa: E402
from carbonlens.testing import FakeClock  # noqa: E402
from carbonlens.tracking.tracker import Tracker  # noqa: E402
from carbonlens.units import J_PER_KWH  # noqa: E402

from .conftest import POWER_W  # noqa: E402

CHANNEL = {"component": "cpu", "device": "package-0", "sensor": "fake", "method": "measured"}


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by (name, sorted labels)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_scrape_shows_power_energy_and_emissions_per_device(
    tracker_options: dict[str, Any], clock: FakeClock
) -> None:
    tracker = Tracker(**tracker_options)
    server = serve(tracker, port=0)
    try:
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/metrics")
        before = _scrape(server.url)
        assert not [name for name, _ in before if name.startswith("carbonlens_run_info")]
        tracker.start()
        clock.advance(2.0)
        with tracker.window("tick"):  # a window's edges take samples
            pass
        metrics = _scrape(server.url)
    finally:
        server.close()
        tracker.stop()
    labels = tuple(sorted(CHANNEL.items()))
    settings = tracker.info.settings
    energy_j = 2.0 * POWER_W
    grams = energy_j * settings["pue"]["pue_ratio"] / J_PER_KWH
    grams *= settings["intensity"]["intensity_g_per_kwh"]
    assert metrics[("carbonlens_power_watts", labels)] == pytest.approx(POWER_W)
    assert metrics[("carbonlens_energy_joules_total", labels)] == pytest.approx(energy_j)
    assert metrics[("carbonlens_process_energy_joules_total", labels)] == pytest.approx(energy_j)
    emissions = metrics[("carbonlens_operational_emissions_grams_total", labels)]
    assert emissions == pytest.approx(grams)
    assert metrics[("carbonlens_grid_intensity_grams_per_kwh", ())] == pytest.approx(41.44)
    assert metrics[("carbonlens_pue_ratio", ())] == pytest.approx(1.0)
    [info] = [labels for name, labels in metrics if name == "carbonlens_run_info"]
    assert dict(info)["run_id"] == tracker.run_id
    assert dict(info)["location"] == "FR"


def test_closed_server_frees_its_port(tracker_options: dict[str, Any]) -> None:
    server = serve(Tracker(**tracker_options), port=0)
    server.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url, timeout=2)


@pytest.mark.slow
def test_exporter_command_serves_this_machine_then_stops(tmp_path: Path) -> None:
    code = "from carbonlens.cli_integrations import exporter_command; exporter_command()"
    args = ["--port", "0", "--duration", "4", "--interval", "0.2", "--country", "FR"]
    env = {**os.environ, "HOME": str(tmp_path), "CARBONLENS_STORE": str(tmp_path / "runs.db")}
    with subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("carbonlens: serving metrics on http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1].strip()
        deadline = time.monotonic() + 3.0
        energy: list[float] = []
        while not energy and time.monotonic() < deadline:
            metrics = _scrape(url)
            energy = [v for (n, _), v in metrics.items() if n == "carbonlens_energy_joules_total"]
            time.sleep(0.1)
        _, stderr = process.communicate(timeout=30)
    assert energy and all(value >= 0 for value in energy)
    assert process.returncode == 0, stderr
    assert "CO2e" in stderr


def test_exporter_default_port_is_the_documented_one() -> None:
    from carbonlens.cli_integrations import exporter_command

    [port] = [p for p in exporter_command.params if p.name == "port"]
    assert port.default == DEFAULT_PORT
