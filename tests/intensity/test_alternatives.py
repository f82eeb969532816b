"""Values of other datasets beside the chosen one; expected values are the cited CSV rows."""

from __future__ import annotations

import pytest

from carbonlens.intensity.alternatives import (
    Alternative,
    alternatives,
    basis_kind,
    dataset_name,
)
from carbonlens.intensity.table import (
    LocationKind,
    annual_intensity,
    list_locations,
    resolve_location,
)


def _summary(found: list[Alternative]) -> list[tuple[float, str, str, int | None, str]]:
    return [(a.intensity_g_per_kwh, a.area, a.dataset, a.year, a.signal) for a in found]


def test_france_lists_every_other_dataset_newest_first() -> None:
    # Chosen: grid_intensity_country.csv FRA,FR,France,2025,41.44,... (Ember via OWID), left out.
    # grid_intensity_country_alt.csv:
    #   FRA,FR,France,2025,31,"lifecycle (Electricity Maps ...)",Electricity Maps ...,ODbL-1.0 ...
    #   FRA,FR,France,2024,33,... Electricity Maps ...
    #   FRA,FR,France,2024,44.18,lifecycle (Ember); production mix,Ember country_overview_yearly ...
    #   FRA,FR,France,2023,56.039,lifecycle (OWID ...),Our World in Data ... via mlco2/codecarbon
    #   FRA,FR,France,2019-2022 (see note),51.28,mixed (...),Green Algorithms v3.0 ...
    found = alternatives(resolve_location("FR"))
    assert _summary(found) == [
        (31.0, "FR", "Electricity Maps", 2025, "average"),
        (33.0, "FR", "Electricity Maps", 2024, "average"),
        (44.18, "FR", "Ember", 2024, "average"),
        (56.039, "FR", "OWID (CodeCarbon)", 2023, "average"),
        (51.28, "FR", "Green Algorithms", 2019, "average"),
    ]
    electricity_maps, *_, green_algorithms = found
    assert electricity_maps.license.startswith("ODbL-1.0")
    assert electricity_maps.basis.startswith("lifecycle")
    assert electricity_maps.scope is LocationKind.COUNTRY
    assert green_algorithms.vintage == "2019-2022 (see note)"
    assert green_algorithms.note == "Production mix factor"
    assert basis_kind(green_algorithms.basis) == "mixed"


def test_cloud_region_lists_its_own_zone_and_country_values() -> None:
    # cloud_regions.csv aws,us-east-1: grid 418 (EM 2025, chosen), rtc_year 2024,
    # rtc_em_avg_consumption_annual 396.25, rtc_watttime_marginal_annual 557.17.
    # grid_intensity_subnational.csv US-MIDA-PJM: 2025 418 (same as chosen), 2024 403.
    # grid_intensity_country.csv USA 2025 384.4 (Ember); alt file USA: EM 2025 414, 2024 409;
    # Ember 2024 383.55; OWID 2023 369.473; Green Algorithms 423.94.
    found = alternatives(resolve_location("aws:us-east-1"))
    assert _summary(found) == [
        (414.0, "US", "Electricity Maps", 2025, "average"),
        (384.4, "US", "Ember", 2025, "average"),
        (396.25, "aws:us-east-1", "GSF RTC (Electricity Maps)", 2024, "average"),
        (557.17, "aws:us-east-1", "GSF RTC (WattTime)", 2024, "marginal"),
        (403.0, "US-MIDA-PJM", "Electricity Maps", 2024, "average"),
        (409.0, "US", "Electricity Maps", 2024, "average"),
        (383.55, "US", "Ember", 2024, "average"),
        (369.473, "US", "OWID (CodeCarbon)", 2023, "average"),
        (423.94, "US", "Green Algorithms", 2019, "average"),
    ]
    marginal = found[3]
    assert marginal.scope is LocationKind.CLOUD_REGION
    assert "marginal" in marginal.basis and marginal.license.startswith("facts")


def test_gcp_region_shows_googles_direct_figure_once() -> None:
    # cloud_regions.csv gcp,us-central1: provider_grid 412.72, provider_grid_year 2024,
    # provider_cfe_pct 87; rtc_em_avg_consumption_annual is also 412.72 for 2024 (the same
    # figure relayed by GSF), so it is listed once, as Google's.
    found = alternatives(resolve_location("gcp:us-central1"))
    google = [a for a in found if a.intensity_g_per_kwh == 412.72]
    assert len(google) == 1
    (figure,) = google
    assert (figure.dataset, figure.year, figure.area) == ("Google", 2024, "gcp:us-central1")
    assert basis_kind(figure.basis) == "direct"
    assert figure.note == "Google carbon-free energy 87%"
    assert figure.license.startswith("Apache-2.0")


def test_zone_lists_other_years_and_sources_then_its_country() -> None:
    # grid_intensity_subnational.csv CA-QC: 2025 41 (EM, chosen), 2024 35 (EM),
    # 2019 1.5 (Green Algorithms, "production/generation factor ..."); CAN country rows follow.
    found = alternatives(resolve_location("CA-QC"))
    zone = [(a.intensity_g_per_kwh, a.year, a.dataset) for a in found if a.area == "CA-QC"]
    assert zone == [(35.0, 2024, "Electricity Maps"), (1.5, 2019, "Green Algorithms")]
    assert {a.area for a in found} == {"CA-QC", "CA"}
    # grid_intensity_country.csv CAN,CA,Canada,2025,190.72,... (Ember)
    assert (190.72, 2025, "Ember") in [(a.intensity_g_per_kwh, a.year, a.dataset) for a in found]


def test_world_has_no_other_value_than_its_own() -> None:
    # grid_intensity_country.csv WLD 2024 472.94 and the alt file's World row
    # (Ember via co2.js, 2024, 472.94) are the same figure.
    assert alternatives(resolve_location("WLD")) == []


def test_country_without_iso2_is_named_by_its_iso3_code() -> None:
    # grid_intensity_country_alt.csv XKX,XK,Kosovo,2025,605,... and 2024,650 (Electricity Maps);
    # resolve_location names Kosovo "XKX" (grid_intensity_country.csv has no ISO-2 for it).
    found = alternatives(resolve_location("Kosovo"))
    assert _summary(found) == [
        (605.0, "XKX", "Electricity Maps", 2025, "average"),
        (650.0, "XKX", "Electricity Maps", 2024, "average"),
    ]


def test_every_location_lists_sorted_values_without_the_chosen_one() -> None:
    for location in list_locations():
        chosen = annual_intensity(location)
        found = alternatives(location)
        years = [a.year or 0 for a in found]
        assert years == sorted(years, reverse=True), location.code
        assert all(a.basis and a.license and a.source for a in found), location.code
        keys = [(a.intensity_g_per_kwh, a.year, a.signal) for a in found]
        assert (chosen.intensity_g_per_kwh, chosen.year, "average") not in keys, location.code
        assert len(keys) == len(set(keys)), location.code


@pytest.mark.parametrize(
    ("basis", "kind"),
    [
        ("lifecycle (Ember); production mix", "lifecycle"),
        ("lifecycle; consumption-based (flow-traced)", "lifecycle"),
        ("eGRID NERC-region CO2e output emission rate (direct/combustion)", "direct"),
        ("direct (Google: average operational gross emissions)", "direct"),
        ("mixed (mostly carbonfootprint.com / AIB production-mix factors)", "mixed"),
        ("production/generation factor as published by carbonfootprint.com", "unstated"),
        ("", "unstated"),
    ],
)
def test_basis_kind(basis: str, kind: str) -> None:
    assert basis_kind(basis) == kind


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("Electricity Maps yearly 2025 for em_zone (via co2.js)", "Electricity Maps"),
        ("Ember country_overview_yearly via thegreenwebfoundation/co2.js", "Ember"),
        (
            "Our World in Data energy dataset (Ember/EI based) via mlco2/codecarbon",
            "OWID (CodeCarbon)",
        ),
        ("cloud-carbon-footprint packages/core/src ...", "CCF (eGRID2020)"),
        ("somebody's table", "somebody's table"),
    ],
)
def test_dataset_name(source: str, name: str) -> None:
    assert dataset_name(source) == name
