"""`carbonlens intensity show|list|compare`: grid carbon intensity of places, offline.

Every value comes from the bundled tables (docs/intensity.md) with its year,
basis, source and licence. Every command takes `--json` and then prints one JSON
document on stdout, units in key names (`intensity_g_per_kwh`, `pue`). An
unknown location exits with status 2 and a message with close matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

from carbonlens._cli_common import CliFailure, print_json
from carbonlens.errors import CarbonLensError

if TYPE_CHECKING:
    from rich.table import Table

    from carbonlens.intensity.alternatives import Alternative
    from carbonlens.intensity.table import ResolvedLocation

__all__ = ["LOOKUP_ORDER", "intensity_group"]

LOOKUP_ORDER = ("cloud region", "zone", "country", "world")
"""The order in which the bundled tables are tried for a location (see table.py)."""

_KINDS = ("country", "zone", "cloud-region")
_PROVIDERS = ("aws", "gcp", "azure")
_NO_WRAP = frozenset({"location", "area", "year", "basis", "licence"})


def _resolve(text: str) -> ResolvedLocation:
    """The location the user named, or a `CliFailure` with close matches."""
    from carbonlens.intensity.table import resolve_location

    try:
        return resolve_location(text)
    except CarbonLensError as exc:
        raise CliFailure(str(exc)) from exc


def _number(value: float) -> str:
    """A value for a table: one decimal, ".0" dropped (418, 41.4); two digits below 1 (0.27)."""
    text = f"{value:.1f}" if abs(value) >= 1 else f"{value:.2g}"
    return text.removesuffix(".0")


def _short_license(license_: str) -> str:
    """The first licence identifier in a licence text ("ODbL-1.0", "CC-BY-4.0", "facts")."""
    match = re.search(r"ODbL-1\.0|CC-BY(?:-SA)?-4\.0|Apache-2\.0|MIT", license_)
    return match.group(0) if match else license_.split(" ", 1)[0]


def _entry(location: ResolvedLocation) -> dict[str, Any]:
    """The JSON entry of a location: its annual intensity, where it came from, its PUE."""
    from carbonlens.intensity.alternatives import basis_kind, dataset_name
    from carbonlens.intensity.table import annual_intensity, cloud_pue

    value = annual_intensity(location)
    pue = cloud_pue(location)
    return {
        "code": location.code,
        "name": location.name,
        "kind": location.kind.value,
        "intensity_g_per_kwh": value.intensity_g_per_kwh,
        "year": value.year,
        "basis": value.basis,
        "basis_kind": basis_kind(value.basis),
        "source": value.source,
        "dataset": dataset_name(value.source),
        "license": value.license,
        "reason": value.reason,
        "pue": pue.pue_ratio if pue else None,
        "pue_source": pue.source if pue else None,
    }


def _alternative_entry(alternative: Alternative) -> dict[str, Any]:
    """The JSON entry of a value from another dataset."""
    from carbonlens.intensity.alternatives import basis_kind

    return {
        "intensity_g_per_kwh": alternative.intensity_g_per_kwh,
        "area": alternative.area,
        "scope": alternative.scope.value,
        "dataset": alternative.dataset,
        "year": alternative.year,
        "vintage": alternative.vintage,
        "basis": alternative.basis,
        "basis_kind": basis_kind(alternative.basis),
        "signal": alternative.signal,
        "source": alternative.source,
        "license": alternative.license,
        "note": alternative.note,
    }


def _table(title: str, columns: Iterable[str], numeric: Iterable[str] = ()) -> Table:
    """An empty rich table in the CLI's style.

    `numeric` columns are right-aligned; they and the short code columns are never wrapped.
    """
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    right = set(numeric)
    for column in columns:
        table.add_column(
            column,
            justify="right" if column in right else "left",
            no_wrap=column in right or column in _NO_WRAP,
            overflow="fold",
        )
    return table


def _print(*renderables: Any) -> None:
    """Print tables and plain lines (data text is never read as rich markup)."""
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    for item in renderables:
        console.print(
            Text(item) if isinstance(item, str) else item, soft_wrap=isinstance(item, str)
        )


def _row(table: Table, *cells: str) -> None:
    """Add a row of plain text cells."""
    from rich.text import Text

    table.add_row(*(Text(cell) for cell in cells))


@click.group("intensity", context_settings={"help_option_names": ["-h", "--help"]})
def intensity_group() -> None:
    """Grid carbon intensity of countries, zones and cloud regions (bundled data, offline)."""


@intensity_group.command("show")
@click.argument("location")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def show(location: str, as_json: bool) -> None:
    """The intensity carbonlens uses for LOCATION, why, and what other datasets give.

    LOCATION is an ISO country code (FR, FRA), a country name, a zone (US-CAL-CISO)
    or a cloud region (aws:us-east-1).
    """
    from carbonlens.intensity.alternatives import alternatives, basis_kind

    place = _resolve(location)
    entry = _entry(place)
    others = alternatives(place)
    if as_json:
        alternative_entries = [_alternative_entry(a) for a in others]
        print_json(
            {**entry, "lookup_order": list(LOOKUP_ORDER), "alternatives": alternative_entries}
        )
        return
    summary = _table(f"{place.name} ({place.code}) · {place.kind.value}", ("figure", "value"))
    year = f", {entry['year']}" if entry["year"] else ""
    _row(summary, "intensity", f"{_number(entry['intensity_g_per_kwh'])} gCO2e/kWh{year}")
    _row(summary, "basis", entry["basis"])
    _row(summary, "source", entry["source"])
    _row(summary, "licence", entry["license"])
    _row(summary, "chosen because", entry["reason"])
    _row(summary, "lookup order", " > ".join(LOOKUP_ORDER))
    if entry["pue"] is not None:
        _row(summary, "PUE", f"{entry['pue']:.2f} ({entry['pue_source']})")
    if not others:
        _print(summary, "no other dataset has a value for this location")
        return
    table = _table(
        "other datasets, newest first",
        ("gCO2e/kWh", "area", "dataset", "year", "basis", "licence"),
        numeric=("gCO2e/kWh",),
    )
    for a in others:
        _row(
            table,
            _number(a.intensity_g_per_kwh),
            a.area,
            a.dataset,
            a.vintage.split(" (", 1)[0],
            basis_kind(a.basis) if a.signal == "average" else a.signal,
            _short_license(a.license),
        )
    _print(summary, table)


@intensity_group.command("list")
@click.option("--provider", type=click.Choice(_PROVIDERS), help="Only this provider's regions.")
@click.option("--kind", type=click.Choice(_KINDS), help="Only locations of this kind.")
@click.option(
    "--sort",
    type=click.Choice(("name", "value")),
    default="name",
    show_default=True,
    help="Order by name, or by intensity (cleanest first).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Show at most N locations.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def list_(
    provider: str | None, kind: str | None, sort: str, limit: int | None, as_json: bool
) -> None:
    """List the bundled locations with their intensity, to compare places."""
    from carbonlens.intensity.table import list_locations

    if provider and kind not in (None, "cloud-region"):
        raise CliFailure(
            f"--provider {provider} lists cloud regions; it cannot go with --kind {kind}"
        )
    wanted = "cloud-region" if provider else kind
    places = [
        place
        for place in list_locations()
        if (wanted is None or place.kind.value == wanted)
        and (provider is None or place.code.startswith(f"{provider}:"))
    ]
    entries = [_entry(place) for place in places]
    if sort == "value":
        entries.sort(key=lambda e: (e["intensity_g_per_kwh"], e["code"]))
    else:
        entries.sort(key=lambda e: (e["name"].casefold(), e["code"]))
    entries = entries[:limit] if limit else entries
    if as_json:
        print_json({"count": len(entries), "locations": entries})
        return
    _print(_locations_table(f"{len(entries)} locations, gCO2e/kWh", entries))


def _locations_table(title: str, entries: Sequence[dict[str, Any]], ranked: bool = False) -> Table:
    """One row per location entry, in order.

    With `ranked`, a ratio-to-the-cleanest column instead of the PUE column (the
    ranking is by grid intensity alone; PUE stays in the JSON document).
    """
    columns = ["location", "name", "g/kWh", "year", "basis", "dataset"]
    if ranked:
        columns.insert(3, "ratio")
    elif any(e["pue"] is not None for e in entries):
        columns.append("PUE")
    table = _table(title, columns, numeric=("g/kWh", "ratio", "PUE"))
    for e in entries:
        ratio = e.get("ratio_to_cleanest")
        cells = {
            "location": e["code"],
            "name": e["name"],
            "g/kWh": _number(e["intensity_g_per_kwh"]),
            "ratio": f"{ratio:.1f}×" if ratio is not None else "-",
            "year": str(e["year"] or ""),
            "basis": e["basis_kind"],
            "dataset": e["dataset"],
            "PUE": f"{e['pue']:.2f}" if e["pue"] is not None else "",
        }
        _row(table, *(cells[column] for column in columns))
    return table


@intensity_group.command("compare")
@click.argument("locations", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def compare(locations: tuple[str, ...], as_json: bool) -> None:
    """Rank LOCATIONS from cleanest to dirtiest: `compare FR DE aws:us-east-1`."""
    places = list(dict.fromkeys(_resolve(text) for text in locations))
    entries = sorted((_entry(place) for place in places), key=lambda e: e["intensity_g_per_kwh"])
    cleanest = entries[0]["intensity_g_per_kwh"]
    for rank, e in enumerate(entries, start=1):
        e["rank"] = rank
        e["ratio_to_cleanest"] = e["intensity_g_per_kwh"] / cleanest if cleanest > 0 else None
    notes = _basis_notes(entries)
    if as_json:
        print_json({"cleanest": entries[0]["code"], "locations": entries, "notes": notes})
        return
    title = "cleanest first: gCO2e/kWh and ratio to the cleanest"
    _print(_locations_table(title, entries, ranked=True), *(f"note: {n}" for n in notes))


def _basis_notes(entries: Sequence[dict[str, Any]]) -> list[str]:
    """A warning when the compared values do not share one basis or one year."""
    notes = []
    kinds = sorted({e["basis_kind"] for e in entries})
    if len(kinds) > 1:
        notes.append(
            f"the values have different bases ({', '.join(kinds)}); lifecycle figures include "
            "upstream emissions and are higher than direct ones for the same grid"
        )
    years = sorted({e["year"] for e in entries if e["year"]})
    if len(years) > 1:
        notes.append(f"the values are from different years ({', '.join(map(str, years))})")
    return notes
