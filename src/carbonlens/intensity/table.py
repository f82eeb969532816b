"""Offline grid carbon intensity and PUE from the bundled tables (no network).

The tables in `carbonlens/data/` are read lazily with the stdlib `csv` module on
first use and cached for the life of the process. Lookup order for an annual,
location-based intensity (data/README.md):

1. cloud region: its row's `grid_g_co2e_per_kwh` (Electricity Maps yearly value
   of the region's zone);
2. sub-national zone: the newest year for the zone in
   `grid_intensity_subnational.csv`; when two sources give the same year the
   Electricity Maps row wins (consumption-based and flow-traced, the same basis
   as the cloud-region values);
3. country: `grid_intensity_country.csv` (Ember, lifecycle, production mix);
4. world average: the `WLD` row of the country table.

A location falls through to the next step only when a step has no value, and
`IntensityValue.reason` says so. Bases are never mixed silently: every value
keeps the `basis` column of the row it came from.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from enum import StrEnum
from functools import cache

from carbonlens._frozen import frozen
from carbonlens.data import read_rows
from carbonlens.errors import LocationError
from carbonlens.records import IntensityValue, PueValue

__all__ = [
    "LocationKind",
    "ResolvedLocation",
    "annual_intensity",
    "cloud_pue",
    "list_locations",
    "provider_pue",
    "resolve_location",
    "world_average",
]

_Row = dict[str, str]

_WORLD_ISO3 = "WLD"
_PROVIDER_DEFAULT_REGION = "*"
_MAX_SUGGESTIONS = 3
_SUGGESTION_CUTOFF = 0.6
_ELECTRICITY_MAPS = "Electricity Maps"
# ISO 3166-1 codes "exceptionally reserved" for these countries, which people write for
# them: without them "UK" is unknown and its closest code is UA (Ukraine).
_RESERVED_ISO2 = {"GB": "UK", "GR": "EL"}
# Names people write for countries whose table name (ISO 3166 short name) differs.
_COUNTRY_ALIASES = {
    "AE": ("UAE",),
    "BN": ("Brunei",),
    "BS": ("The Bahamas",),
    "CD": ("Democratic Republic of the Congo", "DR Congo", "DRC"),
    "CG": ("Republic of the Congo",),
    "CI": ("Ivory Coast", "Cote d'Ivoire"),
    "CV": ("Cape Verde",),
    "CZ": ("Czech Republic",),
    "GB": ("Great Britain", "Britain"),
    "GM": ("The Gambia",),
    "KG": ("Kyrgyz Republic",),
    "MK": ("Macedonia",),
    "MM": ("Burma",),
    "NL": ("The Netherlands", "Holland"),
    "PS": ("Palestine",),
    "RU": ("Russia",),
    "SK": ("Slovak Republic",),
    "SZ": ("Swaziland",),
    "TR": ("Turkey", "Turkiye"),
    "US": ("USA", "United States of America"),
    "VN": ("Viet Nam",),
}
# Columns of (value, year, basis, source, license) in the country/zone tables and cloud_regions.csv.
_TABLE_COLUMNS = ("g_co2e_per_kwh", "year", "basis", "source", "license")
_CLOUD_COLUMNS = (
    "grid_g_co2e_per_kwh",
    "grid_ci_year",
    "grid_ci_basis",
    "grid_ci_source",
    "grid_ci_license",
)
# Short names for reasons, matched on the start of a row's `source` column.
_SOURCE_LABELS = (
    (_ELECTRICITY_MAPS, _ELECTRICITY_MAPS),
    ("Ember", "Ember"),
    ("Green Algorithms", "Green Algorithms"),
    ("cloud-carbon-footprint", "CCF (eGRID2020)"),
)


class LocationKind(StrEnum):
    """Which table a resolved location comes from."""

    WORLD = "world"
    COUNTRY = "country"
    ZONE = "zone"
    CLOUD_REGION = "cloud-region"


@frozen
class ResolvedLocation:
    """A location found in the bundled tables.

    Attributes:
        kind: the table the location comes from.
        code: canonical code: ISO-2 for a country ("FR", ISO-3 when a country has
            no ISO-2 such as "XKX"), the zone key ("US-CAL-CISO"),
            "provider:region" for a cloud region ("aws:us-east-1"), "WLD" for the world.
        name: human-readable name ("France", "CAISO", "US East (N. Virginia)").
        country_iso3: ISO-3 code of the country the location lies in ("" for the world).
        zone: the Electricity Maps zone of a cloud region ("" otherwise).
    """

    kind: LocationKind
    code: str
    name: str
    country_iso3: str = ""
    zone: str = ""


def _read(name: str) -> list[_Row]:
    """Read one bundled CSV file as a list of rows."""
    return read_rows(name)


def _year(text: str) -> int | None:
    """The four-digit year a `year` cell starts with ("2020 (eGRID2020 …)" gives 2020)."""
    match = re.match(r"\s*(\d{4})", text)
    return int(match.group(1)) if match else None


def _label(source: str) -> str:
    """A short name for a row's source, for reasons."""
    return next((label for prefix, label in _SOURCE_LABELS if source.startswith(prefix)), source)


def _value(
    row: _Row, code: str, columns: tuple[str, ...] = _TABLE_COLUMNS
) -> IntensityValue | None:
    """The intensity of a row for location `code` (reason left empty), or None if blank."""
    value, year, basis, source, license_ = (row[column] for column in columns)
    if not value.strip():
        return None
    return IntensityValue(float(value), code, source, _year(year), basis, "", license_)


@cache
def _countries() -> dict[str, _Row]:
    """Country rows (and the `WLD` row) by ISO-3 code."""
    return {row["iso3"]: row for row in _read("grid_intensity_country.csv")}


@cache
def _zones() -> dict[str, _Row]:
    """One row per sub-national zone: the newest year, Electricity Maps first on a tie."""
    chosen: dict[str, _Row] = {}
    for row in _read("grid_intensity_subnational.csv"):
        current = chosen.get(row["region_code"])
        if current is None or _zone_rank(row) > _zone_rank(current):
            chosen[row["region_code"]] = row
    return chosen


def _zone_rank(row: _Row) -> tuple[int, bool]:
    """Sort key of a zone row: newer year first, then Electricity Maps."""
    return (_year(row["year"]) or 0, row["source"].startswith(_ELECTRICITY_MAPS))


@cache
def _clouds() -> dict[tuple[str, str], _Row]:
    """Cloud-region rows (and provider-default `*` rows) by (provider, region)."""
    return {(row["provider"], row["region"]): row for row in _read("cloud_regions.csv")}


def _add(keys: dict[str, ResolvedLocation], location: ResolvedLocation, *spellings: str) -> None:
    """Map each non-empty spelling (case-folded) to `location`; the first mapping wins."""
    for spelling in spellings:
        if spelling:
            keys.setdefault(spelling.casefold(), location)


@cache
def _country_keys() -> dict[str, ResolvedLocation]:
    """Countries (and the world) by ISO-2, ISO-3 and name."""
    keys: dict[str, ResolvedLocation] = {}
    for iso3, row in _countries().items():
        iso2, name = row["iso2"], row["country"]
        if iso3 == _WORLD_ISO3:
            _add(keys, ResolvedLocation(LocationKind.WORLD, iso3, name), iso3, name)
        else:
            location = ResolvedLocation(LocationKind.COUNTRY, iso2 or iso3, name, iso3)
            aliases = _COUNTRY_ALIASES.get(iso2, ())
            _add(keys, location, iso2, iso3, name, _RESERVED_ISO2.get(iso2, ""), *aliases)
    return keys


@cache
def _zone_keys() -> dict[str, ResolvedLocation]:
    """Sub-national zones by zone key."""
    return {
        code.casefold(): ResolvedLocation(
            LocationKind.ZONE, code, row["region_name"], row["parent_iso3"]
        )
        for code, row in _zones().items()
    }


@cache
def _cloud_keys() -> dict[str, ResolvedLocation]:
    """Cloud regions by "provider:region", and by region alone when only one provider has it."""
    keys: dict[str, ResolvedLocation] = {}
    regions = Counter(region for _provider, region in _clouds())
    for (provider, region), row in _clouds().items():
        if region != _PROVIDER_DEFAULT_REGION:
            code = f"{provider}:{region}"
            location = ResolvedLocation(
                LocationKind.CLOUD_REGION,
                code,
                row["region_name"],
                row["country_iso3"],
                row["em_zone"],
            )
            _add(keys, location, code, region if regions[region] == 1 else "")
    return keys


def watttime_region(location: ResolvedLocation) -> str | None:
    """The WattTime region of a cloud region (None for other locations or when unmapped)."""
    if location.kind != LocationKind.CLOUD_REGION:
        return None
    provider, _, region = location.code.partition(":")
    return _clouds()[(provider, region)]["watttime_region"] or None


def _all_keys() -> dict[str, ResolvedLocation]:
    """Every spelling of every location: countries, then zones, then cloud regions."""
    return {**_cloud_keys(), **_zone_keys(), **_country_keys()}


def resolve_location(text: str) -> ResolvedLocation:
    """Find a location in the bundled tables.

    Accepted (case-insensitive): ISO-2 ("FR") or ISO-3 ("FRA") country codes (and
    the reserved "UK" and "EL" for GB and GR), a country name ("united kingdom",
    or a common English one where the table's differs: "Russia", "Czech Republic"),
    a sub-national zone key ("US-CAL-CISO",
    "CA-QC"), a cloud region with its provider ("aws:us-east-1" or
    "aws/us-east-1"), a cloud region name alone when only one provider uses it
    ("us-east-1"), and "WLD"/"World" for the world average.

    Args:
        text: what the user wrote.

    Returns:
        The location, with its canonical code.

    Raises:
        LocationError: nothing matches; `suggestions` holds up to 3 close codes.
    """
    key = text.strip().casefold()
    if ":" not in key:
        key = key.replace("/", ":", 1)
    key = re.sub(r"\s*:\s*", ":", key)
    # Tables load one at a time, so a country or cloud region never parses the zone table.
    for keys in (_cloud_keys,) if ":" in key else (_country_keys, _zone_keys, _cloud_keys):
        if (location := keys().get(key)) is not None:
            return location
    raise LocationError(text, _suggest(key))


def _suggest(key: str) -> list[str]:
    """Canonical codes of up to 3 locations spelled close to `key`: among the
    locations' names first when `key` reads like a name (letters and spaces, more
    than 3), so that "Russia" is not matched to the code "US-IA"."""
    import difflib  # noqa: PLC0415 - only needed on a miss

    index = _all_keys()
    if len(key) > 3 and key.replace(" ", "").replace("'", "").isalpha():
        names = {
            spelling: location
            for spelling, location in index.items()
            if len(spelling) > 3 and spelling.replace(" ", "").isalpha()
        }
        index = names or index
    matches = difflib.get_close_matches(
        key, index, n=4 * _MAX_SUGGESTIONS, cutoff=_SUGGESTION_CUTOFF
    )
    codes = dict.fromkeys(index[match].code for match in matches)
    return list(codes)[:_MAX_SUGGESTIONS]


def list_locations() -> Iterator[ResolvedLocation]:
    """Every location of the bundled tables: countries and world, then zones, then cloud regions.

    Yields:
        Each location once.
    """
    yield from dict.fromkeys(
        [*_country_keys().values(), *_zone_keys().values(), *_cloud_keys().values()]
    )


def world_average() -> IntensityValue:
    """The world average intensity (gCO2e/kWh), used when no location is set.

    Returns:
        The `WLD` row of the country table.
    """
    return _world(_WORLD_ISO3, "no location set: world average")


def _world(code: str, reason: str) -> IntensityValue:
    """The `WLD` row, for location `code`, with the given reason."""
    world = _value(_countries()[_WORLD_ISO3], code)
    if world is None:
        raise LookupError("bundled grid_intensity_country.csv has no WLD value")
    return replace(world, reason=reason)


def _provider_region(code: str) -> tuple[str, str]:
    """(provider, region) of a cloud-region code "provider:region"."""
    provider, _, region = code.partition(":")
    return provider, region


def annual_intensity(location: ResolvedLocation) -> IntensityValue:
    """The annual average grid intensity (gCO2e/kWh) of a location, offline.

    Follows the module's lookup order: cloud region, then zone, then country,
    then world average, stopping at the first step with a value.

    Args:
        location: a location from `resolve_location`.

    Returns:
        The value with its year, basis, source, licence and the reason it was chosen,
        e.g. "cloud region aws:us-east-1 → Electricity Maps zone US-MIDA-PJM, 2025".
    """
    code, kind = location.code, location.kind
    if kind is LocationKind.WORLD:
        return _world(code, f"world average ({code})")
    skipped: list[str] = []
    if kind is LocationKind.CLOUD_REGION:
        row = _clouds().get(_provider_region(code))
        if row is not None and (value := _value(row, code, _CLOUD_COLUMNS)) is not None:
            label = _label(value.source)
            return replace(
                value, reason=f"cloud region {code} → {label} zone {location.zone}, {value.year}"
            )
        skipped.append(f"cloud region {code} has no grid value")
    zone = {LocationKind.CLOUD_REGION: location.zone, LocationKind.ZONE: code}.get(kind, "")
    row = _zones().get(zone) if zone else None  # a country never reads the zone table
    if row is not None and (value := _value(row, code)) is not None:
        reason = f"zone {zone} → {_label(value.source)}, {value.year} (newest year in table)"
        return replace(value, reason="; ".join([*skipped, reason]))
    if kind is LocationKind.ZONE:
        skipped.append(f"zone {zone} not in table")
    iso3 = location.country_iso3
    row = _countries().get(iso3)
    if row is not None and (value := _value(row, code)) is not None:
        reason = f"country {row['iso2'] or iso3} → {_label(value.source)}, {value.year}"
        return replace(value, reason="; ".join([*skipped, reason]))
    skipped.append(f"country {iso3 or '?'} not in table")
    return _world(code, "; ".join([*skipped, "world average"]))


def cloud_pue(location: ResolvedLocation) -> PueValue | None:
    """The PUE of a cloud region: the region's own row, else the provider default row.

    Args:
        location: a location from `resolve_location`.

    Returns:
        The PUE (ratio, dimensionless) with its source and year, or None for a
        location that is not a cloud region.
    """
    if location.kind is not LocationKind.CLOUD_REGION:
        return None
    provider, region = _provider_region(location.code)
    row = _clouds().get((provider, region))
    return (_pue(row) if row is not None else None) or provider_pue(provider)


def provider_pue(provider: str) -> PueValue | None:
    """The fleet-average PUE of a cloud provider ("aws", "gcp", "azure").

    Args:
        provider: provider name, case-insensitive.

    Returns:
        The provider-default row's PUE (ratio), or None when the table has no such row.
    """
    row = _clouds().get((provider.strip().casefold(), _PROVIDER_DEFAULT_REGION))
    return _pue(row) if row is not None else None


def _pue(row: _Row) -> PueValue | None:
    """The PUE of a cloud row, its source stating the year; None when the cell is blank."""
    if not row["pue"].strip():
        return None
    year = f" ({row['pue_year']})" if row["pue_year"] else ""
    return PueValue(pue_ratio=float(row["pue"]), source=f"{row['pue_source']}{year}")
