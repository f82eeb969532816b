"""The serving section: measured cost vs the estimator and training, by hand.

The pure part uses round numbers: 1,000 requests in an hour, 360 kJ attributed
and 90 kJ idle, priced at 400 gCO2e/kWh × PUE 1.5, i.e. 1.5 × 400 / 3,600,000 =
1/6,000 gCO2e per IT joule. The report part serves requests through a real
Tracker on a FakeSensor and reads the section back from `carbonlens report`.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from carbonlens.cli import main
from carbonlens.errors import ConfigError
from carbonlens.estimate.hardware import resolve_device
from carbonlens.estimate.model import Estimate, Grid
from carbonlens.records import Channel, Component, Method
from carbonlens.serving.cost import ServingTotals, estimate_for, serving_cost, serving_totals
from carbonlens.testing import FakeClock, FakeSensor, FakeShares
from carbonlens.tracking.tracker import Tracker

from .runs import record_serving_run

GPU = Channel("fake", Component.GPU, "gpu0", Method.MEASURED)
ROOT = Path(__file__).resolve().parents[2]

TOTALS = ServingTotals(
    requests=1000,
    failed=0,
    token_requests=1000,
    tokens_in=400_000,
    tokens_out=200_000,
    token_energy_j=360_000.0,
    attributed_energy_j=360_000.0,
    idle_energy_j=90_000.0,
    start_t_s=0.0,
    end_t_s=3600.0,
    models=("m",),
)


def _estimate(it_energy_j: float, operational_g: float, per_day_g: float) -> Estimate:
    """An inference estimate over one day of 24,000 queries (only what the cost reads)."""
    return Estimate(
        mode="inference",
        device="H100",
        count=1,
        it_energy_j=it_energy_j,
        facility_energy_j=it_energy_j * 1.5,
        operational_g=operational_g,
        embodied_g=0.0,
        low_g=operational_g,
        high_g=operational_g,
        device_hours=1.0,
        wall_hours=1.0,
        pue_ratio=1.5,
        intensity_g_per_kwh=400.0,
        details={"queries_per_day": 24_000.0, "days": 1.0, "total_per_day_g": per_day_g},
    )


def test_measured_cost_per_request_token_and_day_and_the_breakeven_day() -> None:
    cost = serving_cost(
        TOTALS,
        intensity_g_per_kwh=400.0,
        pue_ratio=1.5,
        embodied_per_day_g=1200.0,
        training_g=120_000.0,
    )
    # 360 J a request × 1/6,000 g/J = 0.06 g: 60 g per 1,000; with idle 450 J: 75 g.
    assert cost.measured_energy_per_request_j == pytest.approx(360.0)
    assert cost.measured_energy_with_idle_per_request_j == pytest.approx(450.0)
    assert cost.measured_per_1000_requests_g == pytest.approx(60.0)
    assert cost.measured_with_idle_per_1000_requests_g == pytest.approx(75.0)
    # 60 g over 600,000 tokens
    assert cost.measured_per_token_g == pytest.approx(1e-4)
    # observed rate: 1,000 requests an hour = 24,000 a day; 0.075 g × 24,000 = 1,800 g
    assert cost.rate_observed and cost.requests_per_day == pytest.approx(24_000.0)
    assert cost.operational_per_day_g == pytest.approx(1800.0)
    # 1,800 + 1,200 = 3 kg a day; training 120 kg -> day 40
    assert cost.total_per_day_g == pytest.approx(3000.0)
    assert cost.breakeven_day == pytest.approx(40.0)
    assert cost.estimated_per_1000_requests_g is None and cost.measured_to_estimated_ratio is None


def test_a_given_rate_scales_the_day_and_moves_the_breakeven_day() -> None:
    cost = serving_cost(
        TOTALS,
        intensity_g_per_kwh=400.0,
        pue_ratio=1.5,
        requests_per_day=100_000.0,
        training_g=120_000.0,
    )
    # 0.075 g × 100,000 = 7.5 kg a day, no embodied: 120 / 7.5 = day 16
    assert not cost.rate_observed
    assert cost.operational_per_day_g == pytest.approx(7500.0)
    assert cost.breakeven_day == pytest.approx(16.0)


def test_the_estimators_figures_beside_the_measured_ones() -> None:
    # 24,000 queries: 7.2 MJ IT -> 300 J a query; 1,200 g -> 50 g per 1,000 and
    # 0.05 g / 600 tokens a query; measured 360 J / 300 J = 1.2.
    estimate = _estimate(7_200_000.0, 1200.0, 1500.0)
    cost = serving_cost(TOTALS, intensity_g_per_kwh=400.0, pue_ratio=1.5, estimate=estimate)
    assert cost.estimated_energy_per_request_j == pytest.approx(300.0)
    assert cost.estimated_per_1000_requests_g == pytest.approx(50.0)
    assert cost.estimated_per_token_g == pytest.approx(0.05 / 600)
    assert cost.estimated_total_per_day_g == pytest.approx(1500.0)
    assert cost.measured_to_estimated_ratio == pytest.approx(1.2)


def test_estimate_for_uses_the_runs_mean_tokens_and_rate() -> None:
    estimate = estimate_for(
        TOTALS,
        device=resolve_device("H100").spec,
        count=1,
        grid=Grid.fixed(400.0, 1.5),
        params=8e9,
        requests_per_day=24_000.0,
        training_g=120_000.0,
    )
    # 400 in + 200 out per request: 2 × 8e9 × 600 = 9.6e12 FLOP a query
    assert estimate.assumptions["query_flop"].value == pytest.approx(9.6e12)
    assert estimate.details["queries_per_day"] == 24_000.0
    assert estimate.details["breakeven_day"] == pytest.approx(
        120_000.0 / estimate.details["total_per_day_g"]
    )


def test_bad_input_is_refused() -> None:
    with pytest.raises(ConfigError, match="requests_per_day"):
        serving_cost(TOTALS, intensity_g_per_kwh=1.0, pue_ratio=1.0, requests_per_day=-1.0)
    hardware = replace(_estimate(1.0, 1.0, 1.0), mode="hardware")
    with pytest.raises(ConfigError, match="inference estimate"):
        serving_cost(TOTALS, intensity_g_per_kwh=1.0, pue_ratio=1.0, estimate=hardware)
    with pytest.raises(ConfigError, match="no request"):
        serving_totals([])
    no_tokens = replace(TOTALS, token_requests=0, tokens_in=0, tokens_out=0)
    with pytest.raises(ConfigError, match="tokens"):
        estimate_for(
            no_tokens,
            device=resolve_device("H100").spec,
            count=1,
            grid=Grid.fixed(400.0),
            params=8e9,
            requests_per_day=1.0,
        )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A serving run: 100 requests of 0.8 s, one a second, 36 kJ over 100 s."""
    path = tmp_path_factory.mktemp("serving") / "runs.db"
    return path, record_serving_run(path, model="<b>llama</b>")


def _report(store: tuple[Path, str], *args: str) -> str:
    path, run_id = store
    result = CliRunner().invoke(main, ["report", run_id, "--store", str(path), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_json_report_holds_the_section_with_units_methods_and_sources(
    store: tuple[Path, str],
) -> None:
    args = ("--format", "json", "--training-kgco2e", "120", "--requests-per-day", "1e6")
    doc = json.loads(_report(store, *args))
    section, figures = doc["serving"], doc["serving"]["figures"]
    assert (section["requests"], section["tokens"], section["duration_s"]) == (100, 50_000, 100.0)
    assert section["requests_per_day_basis"] == "given"
    # 36 kJ over 100 s is 360 W; busy 0.8 s of each second: 288 J a request, 360 with idle
    g_per_j = doc["pue"]["pue_ratio"] * doc["intensity"]["intensity_g_per_kwh"] / 3.6e6
    assert figures["measured_energy_per_request_j"]["value"] == pytest.approx(288.0)
    assert figures["measured_per_1000_requests_gco2e"]["value"] == pytest.approx(288e3 * g_per_j)
    assert figures["measured_per_token_gco2e"]["value"] == pytest.approx(288 * g_per_j / 500)
    per_day = 360 * g_per_j * 1e6
    assert figures["operational_per_day_gco2e"]["value"] == pytest.approx(per_day)
    embodied = doc["embodied_gco2e"] / doc["duration_s"] * 86_400
    assert figures["embodied_per_day_gco2e"]["value"] == pytest.approx(embodied)
    assert figures["breakeven_days"]["value"] == pytest.approx(120_000 / (per_day + embodied))
    assert figures["training_gco2e"] == {
        "label": "training footprint",
        "value": 120_000.0,
        "unit": "gCO2e",
        "method": "given",
        "source": "--training-kgco2e",
    }
    assert all(f["unit"] and f["method"] and f["source"] for f in figures.values())
    assert section["notes"] == ["no estimator comparison: give --params (the model's parameters)"]


def test_the_training_run_and_the_estimator_in_markdown(store: tuple[Path, str]) -> None:
    path, run_id = store
    text = _report(store, "--training-run", run_id, "--params", "8B", "--device", "H100")
    serving = text[text.index("## Serving: chat-api") :]
    assert "| requests per day | 86,400 | requests/day | measured |" in serving
    assert "training run " + run_id[:12] in serving
    assert "| break-even day: training footprint / serving emissions per day |" in serving
    assert re.search(
        r"\| energy per request \(estimator: no idle\) \| [\d,.]+ \| J/request \|", serving
    )
    assert "1 × H100" in serving and "400 tokens in and 100 out" in serving
    assert "\\<b\\>llama\\</b\\>" in serving  # store text is escaped


def test_the_html_report_shows_the_section_escaped(store: tuple[Path, str]) -> None:
    html = _report(store, "--format", "html")
    assert "<h3>Serving: chat-api</h3>" in html
    assert "&lt;b&gt;llama&lt;/b&gt;" in html and "<b>llama" not in html
    assert "<td>energy per request, idle excluded</td><td class=n>288</td>" in html


def test_bad_serving_options_fail_with_a_reason(store: tuple[Path, str]) -> None:
    path, _ = store
    result = CliRunner().invoke(
        main, ["report", "nope", "--store", str(path), "--training-kgco2e", "1"]
    )
    assert result.exit_code == 2 and "no run 'nope'" in result.output
    both = ("--training-kgco2e", "1", "--training-run", "x")
    result = CliRunner().invoke(main, ["report", store[1], "--store", str(path), *both])
    assert result.exit_code == 2 and "not both" in result.output


def test_a_run_that_served_nothing_has_no_section_and_refuses_serving_options(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    tracker = Tracker(
        sensors=[FakeSensor(GPU, energy_j=[0.0, 100.0])],
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
        country="FR",
    )
    with tracker:
        tracker.serving_ledger()  # a ledger, idle windows, no request
        clock.advance(10.0)
    path = str(tmp_path / "runs.db")
    result = CliRunner().invoke(main, ["report", tracker.run_id, "--store", path])
    assert result.exit_code == 0 and "Serving" not in result.output
    result = CliRunner().invoke(
        main, ["report", tracker.run_id, "--store", path, "--requests-per-day", "10"]
    )
    assert result.exit_code == 2 and "no request stored" in result.output


def test_every_json_key_of_the_section_is_documented(store: tuple[Path, str]) -> None:
    args = ("--format", "json", "--training-kgco2e", "1", "--params", "8B", "--device", "H100")
    section = json.loads(_report(store, *args))["serving"]
    keys = set(section) | set(section["figures"]) | set(section["figures"]["training_gco2e"])
    text = (ROOT / "docs" / "json.md").read_text(encoding="utf-8")
    missing = sorted(k for k in keys if f"`{k}`" not in text and f".{k}`" not in text)
    assert not missing, f"serving JSON keys missing from docs/json.md: {missing}"
