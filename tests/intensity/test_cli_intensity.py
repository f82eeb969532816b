"""`carbonlens intensity show|list|compare`, human and --json, and bad input.

Values are the bundled CSV rows cited in tests/intensity/test_table.py and
test_alternatives.py.
"""

from __future__ import annotations

import json
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from carbonlens.cli_intensity import LOOKUP_ORDER, intensity_group

WIDE = {"COLUMNS": "200"}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(intensity_group, list(args), env=WIDE)


def as_json(*args: str) -> Any:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_group_registers_on_a_main_group() -> None:
    main = click.Group("carbonlens", commands={"intensity": intensity_group})
    result = CliRunner().invoke(main, ["intensity", "--help"])
    assert result.exit_code == 0
    assert all(name in result.stdout for name in ("show", "list", "compare"))


def test_show_country_human() -> None:
    # grid_intensity_country.csv FRA,FR,France,2025,41.44,lifecycle (Ember ...),...,CC-BY-4.0
    result = invoke("show", "FR")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "France (FR) · country" in out
    assert "41.4 gCO2e/kWh, 2025" in out
    assert "country FR → Ember, 2025" in out
    assert "CC-BY-4.0 (Ember / OWID)" in out
    assert "cloud region > zone > country > world" in out
    assert "PUE" not in out
    # grid_intensity_country_alt.csv FRA 2025 31 (Electricity Maps, ODbL-1.0)
    assert "other datasets, newest first" in out
    assert "Electricity Maps" in out and "ODbL-1.0" in out


def test_show_country_json() -> None:
    document = as_json("show", "france")
    assert document["code"] == "FR" and document["kind"] == "country"
    assert document["intensity_g_per_kwh"] == 41.44
    assert (document["year"], document["basis_kind"], document["dataset"]) == (
        2025,
        "lifecycle",
        "Ember",
    )
    assert document["license"] == "CC-BY-4.0 (Ember / OWID)"
    assert document["lookup_order"] == list(LOOKUP_ORDER)
    assert document["pue"] is None
    first = document["alternatives"][0]
    # grid_intensity_country_alt.csv FRA,FR,France,2025,31,...,Electricity Maps ...,ODbL-1.0 ...
    assert first["intensity_g_per_kwh"] == 31.0 and first["year"] == 2025
    assert first["dataset"] == "Electricity Maps" and first["license"].startswith("ODbL-1.0")
    assert set(first) == {
        "intensity_g_per_kwh",
        "area",
        "scope",
        "dataset",
        "year",
        "vintage",
        "basis",
        "basis_kind",
        "signal",
        "source",
        "license",
        "note",
    }


def test_show_cloud_region_has_pue_and_reason() -> None:
    # cloud_regions.csv aws,us-east-1: grid 418 (2025, zone US-MIDA-PJM), pue 1.15 (2024)
    document = as_json("show", "aws/us-east-1")
    assert document["code"] == "aws:us-east-1" and document["kind"] == "cloud-region"
    assert (document["intensity_g_per_kwh"], document["pue"]) == (418.0, 1.15)
    assert document["reason"] == (
        "cloud region aws:us-east-1 → Electricity Maps zone US-MIDA-PJM, 2025"
    )
    assert "(2024)" in document["pue_source"]
    signals = {a["signal"] for a in document["alternatives"]}
    assert signals == {"average", "marginal"}
    out = invoke("show", "aws:us-east-1").stdout
    assert "PUE" in out and "1.15" in out and "marginal" in out


def test_show_zone() -> None:
    # grid_intensity_subnational.csv US-CAL-CISO,USA,US,CAISO,...,2025,208,...
    document = as_json("show", "us-cal-ciso")
    assert (document["code"], document["intensity_g_per_kwh"]) == ("US-CAL-CISO", 208.0)
    assert document["kind"] == "zone"


def test_show_world_without_alternatives() -> None:
    result = invoke("show", "WLD")
    assert result.exit_code == 0
    assert "472.9 gCO2e/kWh, 2024" in result.stdout
    assert "no other dataset has a value for this location" in result.stdout
    assert as_json("show", "World")["alternatives"] == []


@pytest.mark.parametrize("command", [("show",), ("compare", "FR")])
def test_unknown_location_exits_2_with_suggestions(command: tuple[str, ...]) -> None:
    result = invoke(*command, "frnace")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("carbonlens: error: unknown location 'frnace'")
    assert "did you mean FR?" in result.stderr


def test_list_provider_json() -> None:
    # cloud_regions.csv: 38 AWS regions, each with a PUE (region value or the aws,* default 1.15)
    document = as_json("list", "--provider", "aws")
    assert document["count"] == 38 == len(document["locations"])
    assert all(e["code"].startswith("aws:") for e in document["locations"])
    assert all(e["pue"] is not None for e in document["locations"])
    names = [e["name"].casefold() for e in document["locations"]]
    assert names == sorted(names)


def test_list_sorted_by_value_with_limit() -> None:
    document = as_json("list", "--kind", "country", "--sort", "value", "--limit", "5")
    values = [e["intensity_g_per_kwh"] for e in document["locations"]]
    assert len(values) == 5 and values == sorted(values)
    assert {e["kind"] for e in document["locations"]} == {"country"}
    assert set(document["locations"][0]) >= {
        "intensity_g_per_kwh",
        "pue",
        "year",
        "basis",
        "source",
        "license",
    }


def test_list_human() -> None:
    result = invoke("list", "--provider", "gcp", "--sort", "value", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "3 locations, gCO2e/kWh" in result.stdout
    assert "gcp:" in result.stdout and "PUE" in result.stdout
    zones = invoke("list", "--kind", "zone")
    assert zones.exit_code == 0 and "US-CAL-CISO" in zones.stdout and "PUE" not in zones.stdout


def test_list_without_filters_has_every_kind() -> None:
    kinds = {e["kind"] for e in as_json("list")["locations"]}
    assert kinds == {"world", "country", "zone", "cloud-region"}


@pytest.mark.parametrize(
    "args",
    [
        ("list", "--provider", "aws", "--kind", "zone"),
        ("list", "--limit", "0"),
        ("list", "--sort", "colour"),
        ("list", "--provider", "ovh"),
        ("compare",),
    ],
)
def test_bad_options_exit_2(args: tuple[str, ...]) -> None:
    assert invoke(*args).exit_code == 2


def test_compare_json_ranks_and_ratios() -> None:
    # FR 41.44 (Ember 2025), DE 329.65 (Ember 2025), aws:us-east-1 418 (EM 2025)
    document = as_json("compare", "aws:us-east-1", "DE", "FR", "FRA")
    ranked = [(e["rank"], e["code"]) for e in document["locations"]]
    assert ranked == [(1, "FR"), (2, "DE"), (3, "aws:us-east-1")]
    assert document["cleanest"] == "FR"
    ratios = [e["ratio_to_cleanest"] for e in document["locations"]]
    assert ratios == pytest.approx([1.0, 329.65 / 41.44, 418.0 / 41.44])
    assert document["notes"] == []


def test_compare_human_notes_mixed_bases_and_years() -> None:
    # grid_intensity_subnational.csv NERC-RFC: 2020, 410.608, eGRID ... (direct/combustion)
    result = invoke("compare", "FR", "NERC-RFC")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("FR") < out.index("NERC-RFC")
    assert "9.9×" in out  # 410.608 / 41.44 = 9.91
    assert "note: the values have different bases (direct, lifecycle)" in out
    assert "note: the values are from different years (2020, 2025)" in out
    document = as_json("compare", "FR", "NERC-RFC")
    assert len(document["notes"]) == 2
