"""`carbonlens estimate ...` and `carbonlens hardware ...` through click's test runner."""

from __future__ import annotations

import json
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from carbonlens.cli_estimate import estimate_group
from carbonlens.cli_hardware import hardware_group

KEYS = {
    "energy_kwh",
    "it_energy_kwh",
    "pue",
    "intensity_g_per_kwh",
    "operational_kgco2e",
    "embodied_kgco2e",
    "total_kgco2e",
    "device_hours",
    "wall_hours",
    "flop",
    "low_kgco2e",
    "high_kgco2e",
    "assumptions",
}


@click.group()
def main() -> None:
    """A throwaway root, as the lead registers the groups on `carbonlens`."""


main.add_command(estimate_group)
main.add_command(hardware_group)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def document(*args: str) -> dict[str, Any]:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_hardware_mode_json() -> None:
    # 8 × H100 × 10 h × 500 W = 40 kWh; × 1.1 = 44 kWh; × 100 g/kWh = 4.4 kg
    doc = document(
        "estimate", "hardware", "--device", "H100", "--count", "8", "--hours", "10",
        "--power-w", "500", "--pue", "1.1", "--intensity", "100", "--no-embodied",
    )  # fmt: skip
    assert set(doc) >= KEYS
    assert doc["it_energy_kwh"] == pytest.approx(40.0)
    assert doc["energy_kwh"] == pytest.approx(44.0)
    assert doc["operational_kgco2e"] == pytest.approx(4.4)
    assert doc["total_kgco2e"] == pytest.approx(4.4)
    assert doc["flop"] is None and doc["embodied_kgco2e"] == 0
    # the tracker's ±25 % on a user's wattage (METHOD_RANGE[CONSTANT])
    assert (doc["low_kgco2e"], doc["high_kgco2e"]) == pytest.approx((3.3, 5.5))
    power = doc["assumptions"]["power_w"]
    assert (power["value"], power["low"], power["high"]) == (500, 375, 625)
    assert any("H100 PCIe" in note for note in doc["notes"])


def test_compute_mode_json_names_every_default() -> None:
    doc = document(
        "estimate", "compute", "--params", "7B", "--tokens", "2T", "--device", "A100",
        "--count", "64", "--location", "FR",
    )  # fmt: skip
    assert set(doc) >= KEYS
    assert doc["flop"] == pytest.approx(8.4e22)
    inputs = doc["assumptions"]
    for name in ("mfu_ratio", "load_ratio", "tdp_w", "peak_flop_per_s", "pue_ratio"):
        assert inputs[name]["source"], name
    assert (inputs["mfu_ratio"]["low"], inputs["mfu_ratio"]["high"]) == (0.2, 0.5)
    assert inputs["pue_ratio"]["high"] == 1.56  # unknown data centre: up to the average
    intensity = inputs["intensity_g_per_kwh"]
    assert intensity["low"] < intensity["value"] < intensity["high"]  # datasets disagree
    assert "FR" in intensity["source"]
    assert doc["low_kgco2e"] < doc["total_kgco2e"] < doc["high_kgco2e"]


def test_compare_regions_and_devices() -> None:
    doc = document(
        "estimate", "compute", "--params", "7B", "--tokens", "1T", "--device", "A100",
        "--count", "8", "--location", "US", "--compare-regions", "FR,IN",
        "--compare-devices", "H100",
    )  # fmt: skip
    regions = doc["comparisons"]["regions"]
    assert [r["option"] for r in regions] == ["FR", "US", "IN"]
    us = next(r for r in regions if r["option"] == "US")
    assert us["baseline"] and us["saving_kgco2e"] == 0
    assert regions[0]["saving_ratio"] > 0.8  # France's grid
    devices = doc["comparisons"]["devices"]
    assert {r["option"] for r in devices} == {"A100", "H100"}


def test_cloud_regions_bring_their_pue() -> None:
    doc = document(
        "estimate", "hardware", "--device", "A100", "--hours", "1", "--location", "aws:us-east-1",
    )  # fmt: skip
    assert doc["pue"] == pytest.approx(1.15)
    assert doc["assumptions"]["pue_ratio"]["low"] is None


def test_human_table_shows_breakdown_range_and_assumptions() -> None:
    result = run(
        "estimate", "compute", "--params", "7B", "--tokens", "1T", "--device", "H100",
        "--count", "8", "--compare-training", "peft",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for text in ("facility energy", "embodied", "range", "assumptions", "mfu_ratio", "peft"):
        assert text in result.stdout
    assert "world" in result.stdout.lower()  # no location: the world average


def test_inference_json_has_per_query_and_break_even() -> None:
    doc = document(
        "estimate", "inference", "--params", "7B", "--device", "H100", "--input-tokens", "500",
        "--output-tokens", "200", "--users", "100k", "--queries-per-user", "5",
        "--batch-size", "16", "--training-kgco2e", "50000", "--intensity", "300",
    )  # fmt: skip
    details = doc["details"]
    assert details["queries_per_day"] == 500_000
    assert details["breakeven_day"] == pytest.approx(50_000_000 / details["total_per_day_g"])
    assert details["total_per_year_g"] == pytest.approx(details["total_per_day_g"] * 365.25)


def test_hpo_and_federated() -> None:
    trial = document(
        "estimate", "hardware", "--device", "A100", "--hours", "2", "--intensity", "100",
    )  # fmt: skip
    search = document(
        "estimate", "hpo", "--trials", "10", "--early-stopped", "0.8", "--stopped-at", "0.25",
        "--device", "A100", "--hours", "2", "--intensity", "100",
    )  # fmt: skip
    assert search["total_kgco2e"] == pytest.approx(4 * trial["total_kgco2e"])
    fed = document(
        "estimate", "federated", "--clients", "100", "--rounds", "50", "--client-power-w", "5",
        "--client-seconds", "60", "--bytes-per-round", "20MB", "--intensity", "400",
    )  # fmt: skip
    assert fed["energy_kwh"] == pytest.approx((1.5e6 + 21.24e6) / 3.6e6)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["compute", "--params", "7B", "--device", "A100"], "missing for `estimate compute`"),
        (["compute"], "--params or --flop, --tokens or --flop, --device"),
        (["hardware", "--device", "A100"], "--hours or --device-hours"),
        (["inference", "--params", "7B", "--device", "A100"], "--input-tokens"),
        (["federated", "--clients", "3"], "--rounds"),
        (["hpo", "--device", "A100", "--hours", "1"], "--trials"),
        (["hardware", "--device", "H1000", "--hours", "1"], "close matches: H100"),
        (["hardware", "--device", "A100", "--hours", "1", "--count", "0"], "≥ 1"),
        (["hardware", "--device", "A100", "--hours", "-3"], "hours must be"),
        (
            [
                "compute",
                "--params",
                "7B",
                "--tokens",
                "1T",
                "--device",
                "A100",
                "--utilization",
                "1.5",
            ],
            "≤ 1",
        ),  # fmt: skip
        (["compute", "--params", "7", "--tokens", "1T", "--device", "A100"], "did you mean 7B"),
        (["compute", "--params", "7Gi", "--tokens", "1T", "--device", "A100"], "binary prefix"),
        (["hardware", "--device", "A100", "--hours", "1", "--pue", "0.8"], "PUE must be ≥ 1"),
        (["hardware", "--device", "A100", "--hours", "1", "--location", "Atlantis"], "unknown"),
        (
            [
                "hardware",
                "--device",
                "A100",
                "--hours",
                "1",
                "--location",
                "FR",
                "--intensity",
                "50",
            ],
            "not both",
        ),  # fmt: skip
        (["hardware", "--device", "M1", "--hours", "1"], "--power-w"),
        (
            [
                "federated",
                "--clients",
                "1",
                "--rounds",
                "1",
                "--client-power-w",
                "5",
                "--client-seconds",
                "1",
                "--bytes-per-round",
                "10Mb",
            ],
            "bits or bytes",
        ),  # fmt: skip
    ],
)
def test_bad_input_exits_2_with_a_clear_message(args: list[str], fragment: str) -> None:
    result = run("estimate", *args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output


def test_hardware_list_and_show() -> None:
    listed = document("hardware", "list", "--kind", "tpu")
    assert {d["name"] for d in listed["devices"]} >= {"TPU v2 (per chip)", "TPU v3 (per chip)"}
    shown = document("hardware", "show", "V100")
    assert shown["name"] == "Tesla V100 SXM2 32GB"
    assert "Tesla V100 SXM2 16GB" in shown["alternatives"]
    assert shown["peak_tflops"]["fp16"] == 125 and "bf16" not in shown["peak_tflops"]
    table = run("hardware", "show", "h100 sxm")
    assert table.exit_code == 0 and "H100 SXM5 80GB" in table.stdout
    assert "A100 SXM4 80GB" in run("hardware", "list").stdout
    unknown = run("hardware", "show", "Z9000")
    assert unknown.exit_code == 2 and "unknown hardware" in unknown.output
