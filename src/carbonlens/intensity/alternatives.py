"""Every value the bundled datasets give for a location, beside the one carbonlens uses.

`annual_intensity` (table.py) picks one value per location by a fixed lookup
order. The same place usually has other published figures: Electricity Maps,
Ember, Our World in Data (via CodeCarbon) and Green Algorithms give country
values (`grid_intensity_country_alt.csv`); a zone has other years and sources in
`grid_intensity_subnational.csv`; a cloud region has Google's own figure (GCP) and
the Green Software Foundation's Real Time Cloud annual figures. `alternatives`
lists them, for the location itself and for the wider areas the lookup order
falls back to (a cloud region's zone, then its country), newest first.

Bases are never mixed silently: each value keeps the full `basis` text of its
row, `basis_kind` reduces it to lifecycle / direct / mixed / unstated for tables,
and a marginal figure (WattTime) is marked with `signal="marginal"`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from functools import cache

from carbonlens._frozen import frozen
from carbonlens.data import read_rows
from carbonlens.intensity.table import LocationKind, ResolvedLocation, annual_intensity

__all__ = ["Alternative", "alternatives", "basis_kind", "dataset_name"]

_Row = dict[str, str]

_WORLD_ISO3 = "WLD"
_WORLD_NAME = "World"
# Short dataset names, matched on the start of a row's `source` text.
_DATASETS = (
    ("Electricity Maps", "Electricity Maps"),
    ("Ember", "Ember"),
    ("Our World in Data", "OWID (CodeCarbon)"),
    ("Green Algorithms", "Green Algorithms"),
    ("cloud-carbon-footprint", "CCF (eGRID2020)"),
)
_SCOPE_ORDER = {
    LocationKind.CLOUD_REGION: 0,
    LocationKind.ZONE: 1,
    LocationKind.COUNTRY: 2,
    LocationKind.WORLD: 3,
}
_GOOGLE_BASIS = (
    "direct (Google: average operational gross emissions), location-based, hourly-weighted"
)
_GOOGLE_LICENSE = "Apache-2.0 (Google region-carbon-info)"
_RTC_SOURCE = (
    "GSF Real Time Cloud Cloud_Region_Metadata.csv "
    "(Green-Software-Foundation/real-time-cloud), column {column}"
)
_RTC_LICENSE = "facts (GSF Real Time Cloud; no open content licence)"
_RTC_AVERAGE_BASIS = "consumption-based average (Electricity Maps); emission factor type not stated"
_RTC_MARGINAL_BASIS = "marginal operating emission rate (WattTime)"


@frozen
class Alternative:
    """One published annual intensity for a location or an area around it.

    Attributes:
        intensity_g_per_kwh: the value, in gCO2e/kWh.
        area: code of the area the value is for: the location itself, or the zone
            ("US-MIDA-PJM") or country ("US") it lies in.
        scope: what kind of area `area` is.
        dataset: short name of the dataset ("Electricity Maps", "Ember", ...).
        source: the row's full source text.
        year: the first year of the row's year cell, for sorting (None if absent).
        vintage: the year cell as published ("2025", "2019-2022 (see note)").
        basis: the row's full basis text (lifecycle or direct, production or
            consumption mix); see `basis_kind` for a one-word summary.
        license: the row's licence text.
        signal: "average" (emissions of the grid mix per kWh) or "marginal"
            (emissions of one more kWh).
        note: the row's free-text remark, if any.
    """

    intensity_g_per_kwh: float
    area: str
    scope: LocationKind
    dataset: str
    source: str
    year: int | None
    vintage: str
    basis: str
    license: str
    signal: str = "average"
    note: str = ""


def dataset_name(source: str) -> str:
    """A short name for a row's source text ("Electricity Maps", "Ember", ...).

    Args:
        source: the `source` cell of a bundled row.

    Returns:
        The dataset's short name, or `source` itself when it is not a known dataset.
    """
    return next((name for prefix, name in _DATASETS if source.startswith(prefix)), source)


def basis_kind(basis: str) -> str:
    """One word for a basis text: "lifecycle", "direct", "mixed" or "unstated".

    Lifecycle figures include upstream emissions (fuel supply, methane leaks,
    plant construction); direct figures count combustion only and are lower for
    the same grid. The two must not be compared as if alike.

    Args:
        basis: the `basis` cell of a bundled row.

    Returns:
        The kind of emission factor the text states.
    """
    text = basis.casefold()
    if "lifecycle" in text:
        return "lifecycle"
    if "direct" in text or "operational" in text:
        return "direct"
    return "mixed" if text.startswith("mixed") else "unstated"


def alternatives(location: ResolvedLocation) -> list[Alternative]:
    """The values other datasets give for a location, newest first.

    Covers the location itself and the wider areas the lookup order falls back
    to: for a cloud region its zone and country, for a zone its country. The
    value `annual_intensity` chose is left out, and a figure that repeats the
    value, year and signal of one already listed (the same number relayed by a
    second publisher) is listed once.

    Args:
        location: a location from `resolve_location`.

    Returns:
        The alternatives, sorted by year (newest first), then narrowest area
        first, then dataset name.
    """
    chosen = annual_intensity(location)
    seen = {(round(chosen.intensity_g_per_kwh, 2), chosen.year, "average")}
    found: list[Alternative] = []
    for alternative in _candidates(location):
        key = (round(alternative.intensity_g_per_kwh, 2), alternative.year, alternative.signal)
        if key not in seen:
            seen.add(key)
            found.append(alternative)
    return sorted(found, key=lambda a: (-(a.year or 0), _SCOPE_ORDER[a.scope], a.dataset, a.area))


def _candidates(location: ResolvedLocation) -> Iterator[Alternative]:
    """Every value for the location and its wider areas, most specific first."""
    if location.kind is LocationKind.WORLD:
        yield from _country_values(_WORLD_ISO3, LocationKind.WORLD)
        return
    if location.kind is LocationKind.CLOUD_REGION:
        row = _cloud_rows().get(location.code)
        if row is not None:
            yield from _cloud_values(location.code, row)
    zone = location.zone if location.kind is LocationKind.CLOUD_REGION else location.code
    if location.kind is not LocationKind.COUNTRY:
        yield from (_row_value(row, zone, LocationKind.ZONE) for row in _zone_rows().get(zone, []))
    yield from _country_values(location.country_iso3, LocationKind.COUNTRY)


def _country_values(iso3: str, scope: LocationKind) -> Iterator[Alternative]:
    """The main-table row of a country (or the world), then its rows in the alternatives file.

    The area is named as `resolve_location` names the country: ISO-2, else ISO-3.
    """
    main = _main_rows().get(iso3)
    area = (main["iso2"] if main is not None else "") or iso3
    rows = ([main] if main is not None else []) + _alt_rows().get(iso3, [])
    for row in rows:
        yield _row_value(row, area, scope, row.get("extra", ""))


def _cloud_values(code: str, row: _Row) -> Iterator[Alternative]:
    """Google's own figure (GCP rows) and the GSF Real Time Cloud annual figures."""
    if row["provider_grid_g_co2e_per_kwh"].strip():
        yield Alternative(
            float(row["provider_grid_g_co2e_per_kwh"]),
            code,
            LocationKind.CLOUD_REGION,
            "Google",
            row["provider_grid_source"],
            _year(row["provider_grid_year"]),
            row["provider_grid_year"],
            _GOOGLE_BASIS,
            _GOOGLE_LICENSE,
            note=f"Google carbon-free energy {row['provider_cfe_pct']}%"
            if row["provider_cfe_pct"]
            else "",
        )
    for column, basis, signal, name in (
        ("rtc_em_avg_consumption_annual", _RTC_AVERAGE_BASIS, "average", "Electricity Maps"),
        ("rtc_watttime_marginal_annual", _RTC_MARGINAL_BASIS, "marginal", "WattTime"),
    ):
        if row[column].strip():
            yield Alternative(
                float(row[column]),
                code,
                LocationKind.CLOUD_REGION,
                f"GSF RTC ({name})",
                _RTC_SOURCE.format(column=column),
                _year(row["rtc_year"]),
                row["rtc_year"],
                basis,
                _RTC_LICENSE,
                signal,
            )


def _row_value(row: _Row, area: str, scope: LocationKind, note: str = "") -> Alternative:
    """An alternative from a row of the country, alternatives or sub-national table."""
    return Alternative(
        float(row["g_co2e_per_kwh"]),
        area,
        scope,
        dataset_name(row["source"]),
        row["source"],
        _year(row["year"]),
        row["year"],
        row["basis"],
        row["license"],
        note=note,
    )


def _year(text: str) -> int | None:
    """The first four-digit year in a year cell ("2019-2022 (see note)" gives 2019)."""
    match = re.search(r"\d{4}", text)
    return int(match.group(0)) if match else None


def _valued(rows: list[_Row]) -> list[_Row]:
    """The rows that have a value."""
    return [row for row in rows if row["g_co2e_per_kwh"].strip()]


@cache
def _main_rows() -> dict[str, _Row]:
    """Rows of `grid_intensity_country.csv` by ISO-3 code (with `WLD`)."""
    return {row["iso3"]: row for row in _valued(read_rows("grid_intensity_country.csv"))}


@cache
def _alt_rows() -> dict[str, list[_Row]]:
    """Rows of `grid_intensity_country_alt.csv` by ISO-3 code; the "World" aggregate as `WLD`.

    Other aggregates (EU, G20, ...) have no ISO code and no location, so are not indexed.
    """
    rows: defaultdict[str, list[_Row]] = defaultdict(list)
    for row in _valued(read_rows("grid_intensity_country_alt.csv")):
        key = row["iso3"] or (_WORLD_ISO3 if row["country"] == _WORLD_NAME else "")
        if key:
            rows[key].append(row)
    return dict(rows)


@cache
def _zone_rows() -> dict[str, list[_Row]]:
    """Every row of `grid_intensity_subnational.csv`, by zone code."""
    rows: defaultdict[str, list[_Row]] = defaultdict(list)
    for row in _valued(read_rows("grid_intensity_subnational.csv")):
        rows[row["region_code"]].append(row)
    return dict(rows)


@cache
def _cloud_rows() -> dict[str, _Row]:
    """Rows of `cloud_regions.csv` by "provider:region" code."""
    return {f"{row['provider']}:{row['region']}": row for row in read_rows("cloud_regions.csv")}
