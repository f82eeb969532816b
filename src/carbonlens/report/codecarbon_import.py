"""Bring CodeCarbon history in: `emissions.csv` files become stored, imported runs.

Every CodeCarbon version's columns are read by name (1.x totals only; 2.x
components, `run_id`, then `codecarbon_version` and `pue`; 3.x water and
utilisation columns; task files' `task_name`); docs/reports.md has the table.

Units at the edge: durations in s, energies in kWh (converted to J here),
emissions in kg (to g), powers in W. ``emissions_rate`` changed unit between
versions (g/s in 2.1, kg/s later), so it is kept verbatim but never used; a
run's grid intensity is ``emissions / energy_consumed`` (g/kWh). CodeCarbon
multiplies each component's energy by the PUE; carbonlens stores IT energy and
applies the PUE itself, so component energies are divided by it (PUE 1.0 when
the file has no ``pue`` column). Rows sharing a ``run_id`` are the cumulative
totals of one run written at each flush: the longest is kept.

Each run is stored with kind ``imported``, one sample per component with energy
(one ``other`` sample when the file gives only a total), method ``estimated``
(the file does not say whether CodeCarbon measured or modelled), no embodied
emissions, and settings recording the file, line, format and every cell of the
row. Timestamps (end of the run) without a zone are read as UTC. A line that
cannot be read is skipped with its line number and the rest imported; run ids
derive from CodeCarbon's ids, so importing a file twice adds nothing.
"""

from __future__ import annotations

import csv
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from carbonlens._frozen import frozen
from carbonlens.accounting import pricing_settings
from carbonlens.errors import ConfigError
from carbonlens.records import (
    Channel,
    Component,
    IntensityValue,
    Method,
    PueValue,
    RunInfo,
    RunStatus,
    Sample,
)
from carbonlens.store.base import Store
from carbonlens.units import G_PER_KG, j_from_kwh, kwh_from_j

__all__ = ["CodeCarbonRow", "ImportResult", "Skipped", "import_codecarbon", "read_codecarbon"]

SOURCE: Final = "CodeCarbon file"
_NAMESPACE: Final = uuid.UUID("5f0c6a52-2f4e-4f38-9a51-7c1c1f1f2b8e")
_REQUIRED: Final = ("timestamp", "duration", "emissions", "energy_consumed")
_COMPONENTS: Final = (
    (Component.CPU, "cpu_energy"),
    (Component.GPU, "gpu_energy"),
    (Component.RAM, "ram_energy"),
)
_DESCRIPTIVE: Final = (
    "codecarbon_version",
    "tracking_mode",
    "cpu_model",
    "cpu_count",
    "gpu_model",
    "gpu_count",
)
_UNITS: Final = {"cpu_power": "_w", "gpu_power": "_w", "ram_power": "_w", "ram_total_size": "_gb"}


@frozen
class Skipped:
    """A line that was not imported, and why.

    Attributes:
        path: the file.
        line: 1-based line number in the file.
        reason: what was wrong with it.
    """

    path: str
    line: int
    reason: str


@frozen
class CodeCarbonRow:
    """One readable line of a CodeCarbon file, its key figures converted.

    Attributes:
        path: the file.
        line: 1-based line number.
        header: the file's columns.
        values: every cell of the line by column, as written.
        ended_at: the row's timestamp (end of the run), UTC when the file has no zone.
        zone_given: whether the timestamp carried a time zone.
        duration_s: seconds.
        emissions_g: grams CO2e (the file's kg × 1000).
        energy_j: energy_consumed in joules (the file's kWh; PUE included, as
            CodeCarbon writes it).
    """

    path: str
    line: int
    header: tuple[str, ...]
    values: dict[str, str]
    ended_at: datetime
    zone_given: bool
    duration_s: float
    emissions_g: float
    energy_j: float


@frozen
class ImportResult:
    """What an import did.

    Attributes:
        imported: the runs stored.
        already: ids of runs that were in the store already (not written again).
        skipped: lines that could not be read.
    """

    imported: tuple[RunInfo, ...]
    already: tuple[str, ...]
    skipped: tuple[Skipped, ...]


def _number(values: Mapping[str, str], column: str) -> float | None:
    """A non-negative finite number from a cell, None when the cell is absent or empty."""
    text = values.get(column, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{column} is {text!r}, not a non-negative number")
    return value


def _parse(path: str, line: int, header: tuple[str, ...], cells: list[str]) -> CodeCarbonRow:
    if len(cells) != len(header):
        raise ValueError(f"{len(cells)} fields, the header has {len(header)}")
    values = dict(zip(header, cells, strict=True))
    numbers = {column: _number(values, column) for column in _REQUIRED[1:]}
    missing = [column for column, value in numbers.items() if value is None]
    if missing:
        raise ValueError(f"empty {', '.join(missing)}")
    ended_at = datetime.fromisoformat(values["timestamp"].strip())
    zone_given = ended_at.tzinfo is not None
    if not zone_given:
        ended_at = ended_at.replace(tzinfo=UTC)
    components_kwh = [_number(values, column) or 0.0 for column, _ in _COMPONENTS]
    pue = _number(values, "pue")
    if pue is not None and pue < 1.0:
        raise ValueError(f"pue is {values['pue']!r}, not a number >= 1")
    duration_s = numbers["duration"] or 0.0
    try:
        ended_at - timedelta(seconds=duration_s)  # the start must be a date too
    except OverflowError:
        raise ValueError(
            f"duration {values['duration']!r} s starts before year 1 (timestamp "
            f"{values['timestamp'].strip()!r})"
        ) from None
    row = CodeCarbonRow(
        path=path,
        line=line,
        header=header,
        values=values,
        ended_at=ended_at,
        zone_given=zone_given,
        duration_s=duration_s,
        emissions_g=(numbers["emissions"] or 0.0) * G_PER_KG,
        energy_j=j_from_kwh(numbers["energy_consumed"] or 0.0),
    )
    intensity = row.emissions_g / kwh_from_j(row.energy_j) if row.energy_j > 0 else 0.0
    figures = (row.emissions_g, row.energy_j, intensity, *map(j_from_kwh, components_kwh))
    if not all(map(math.isfinite, figures)):
        raise ValueError("emissions or an energy is too large (or energy too small) for a real run")
    return row


def read_codecarbon(path: Path) -> tuple[list[CodeCarbonRow], list[Skipped]]:
    """Read one CodeCarbon CSV file, line by line.

    Args:
        path: an ``emissions.csv`` written by any CodeCarbon version.

    Returns:
        The readable rows and the skipped lines (a file without the required
        columns is skipped whole, as its line 1).

    Raises:
        ConfigError: the file cannot be read (missing, a directory, no permission).
    """
    name = str(path)
    try:
        lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {name}: {exc.strerror or exc}", source=name) from None
    rows: list[CodeCarbonRow] = []
    skipped: list[Skipped] = []
    header: tuple[str, ...] = ()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            cells = next(csv.reader([text]))
        except csv.Error as exc:
            skipped.append(Skipped(name, number, f"unreadable CSV: {exc}"))
            continue
        if not header:
            header = tuple(c.strip() for c in cells)
            absent = [column for column in _REQUIRED if column not in header]
            if absent:
                reason = f"not a CodeCarbon emissions file: no {', '.join(absent)} column"
                return [], [Skipped(name, number, reason)]
            continue
        if tuple(c.strip() for c in cells) == header:
            continue  # a header repeated by a concatenated file
        try:
            rows.append(_parse(name, number, header, cells))
        except ValueError as exc:
            skipped.append(Skipped(name, number, str(exc)))
    return rows, skipped


def _key(row: CodeCarbonRow) -> str:
    values = row.values
    ident = values.get("run_id") or f"{values.get('experiment_id', '')}|{values['timestamp']}"
    task = values.get("task_name", "")
    return f"{ident}|{task}" if task else ident


def _format(row: CodeCarbonRow) -> str:
    if "codecarbon_version" in row.header:
        return f"codecarbon {row.values['codecarbon_version'] or 'version not recorded'}"
    if "emissions_rate" in row.header:
        return "codecarbon 2.x (before the codecarbon_version column)"
    return "codecarbon 1.x"


def _location(values: Mapping[str, str]) -> str:
    """A cloud region as "provider:region", else the ISO-3 country code."""
    if values.get("on_cloud", "").strip().upper() == "Y" and values.get("cloud_region"):
        return f"{values.get('cloud_provider', '')}:{values['cloud_region']}"
    return values.get("country_iso_code", "")


def _place(values: Mapping[str, str]) -> str:
    """Where CodeCarbon placed the run, in its words ("ontario, Canada")."""
    parts = (values.get("region", ""), values.get("country_name", ""))
    return ", ".join(p for p in parts if p) or "not recorded"


def _samples(row: CodeCarbonRow, pue: float) -> list[Sample]:
    found = []
    for component, column in _COMPONENTS:
        kwh = _number(row.values, column)
        if kwh:
            channel = Channel("codecarbon", component, component.value, Method.ESTIMATED)
            found.append(Sample(channel, row.duration_s, row.duration_s, j_from_kwh(kwh) / pue))
    if not found and row.energy_j > 0:
        channel = Channel("codecarbon", Component.OTHER, "total", Method.ESTIMATED)
        found.append(Sample(channel, row.duration_s, row.duration_s, row.energy_j / pue))
    return found


def _settings(
    row: CodeCarbonRow, rows_merged: int, samples: Sequence[Sample], pue: float
) -> dict[str, Any]:
    values, label = row.values, _format(row)
    intensity = IntensityValue(
        intensity_g_per_kwh=row.emissions_g / kwh_from_j(row.energy_j) if row.energy_j > 0 else 0.0,
        location=_location(values),
        source=SOURCE,
        basis=f"as computed by {label}",
        reason=f"emissions / energy_consumed of {row.path}, line {row.line} "
        f"(CodeCarbon location: {_place(values)})",
    )
    pue_value = PueValue(
        pue,
        f"{SOURCE} (pue column)" if "pue" in row.header else f"{SOURCE} has no pue column: 1.0",
    )
    notes = [
        f"imported from {row.path} line {row.line} ({label}); CodeCarbon reports no embodied "
        "emissions and does not say whether energy was measured or modelled"
    ]
    if not row.zone_given:
        notes.append("the CodeCarbon timestamp has no time zone: read as UTC")
    components_j = sum(s.energy_j for s in samples) * pue
    if row.energy_j > 0 and abs(components_j - row.energy_j) > 1e-3 * row.energy_j:
        notes.append(
            f"components sum to {kwh_from_j(components_j):.6g} kWh, energy_consumed says "
            f"{kwh_from_j(row.energy_j):.6g} kWh"
        )
    sensor: dict[str, Any] = {k: values[k] for k in _DESCRIPTIVE if values.get(k)}
    for column, unit in _UNITS.items():
        if (value := _number(values, column)) is not None:
            sensor[column + unit] = value  # CodeCarbon's last power reading (W), RAM size (GB)
    return {
        **pricing_settings(intensity, pue_value, [], notes),
        "location": intensity.location,
        "sensors": {"codecarbon": sensor},
        "import": {
            "source": "codecarbon",
            "file": row.path,
            "line": row.line,
            "format": label,
            "rows_merged": rows_merged,
            "columns": list(row.header),
            "row": dict(values),
        },
    }


def _run(row: CodeCarbonRow, rows_merged: int, project: str | None) -> tuple[RunInfo, list[Sample]]:
    values = row.values
    pue = _number(values, "pue") or 1.0
    samples = _samples(row, pue)
    ident = values.get("run_id") or values.get("experiment_id") or ""
    info = RunInfo(
        run_id=uuid.uuid5(_NAMESPACE, f"codecarbon:{_key(row)}").hex,
        project=project or values.get("project_name") or "codecarbon",
        name=values.get("task_name") or f"codecarbon run {ident[:8]}".strip(),
        started_at=row.ended_at - timedelta(seconds=row.duration_s),
        host="unknown (CodeCarbon file)",
        pid=0,
        tags=("codecarbon",),
        kind="imported",
        settings=_settings(row, rows_merged, samples, pue),
    )
    return info, samples


def import_codecarbon(
    store: Store, paths: Iterable[Path], *, project: str | None = None
) -> ImportResult:
    """Read CodeCarbon CSV files and store each run in them once.

    Args:
        store: where to write the runs.
        paths: ``emissions.csv`` files of any CodeCarbon version.
        project: put every run in this project instead of its ``project_name``.

    Returns:
        The runs stored, the ids already present, and the skipped lines.

    Raises:
        ConfigError: a file cannot be read (nothing is written then).
        StoreError: the store cannot be written.
    """
    latest: dict[str, tuple[CodeCarbonRow, int]] = {}
    skipped: list[Skipped] = []
    for path in paths:
        rows, bad = read_codecarbon(path)
        skipped += bad
        for row in rows:
            kept, count = latest.get(_key(row), (row, 0))
            latest[_key(row)] = (max(kept, row, key=lambda r: r.duration_s), count + 1)
    imported: list[RunInfo] = []
    already: list[str] = []
    runs = [(row, *_run(row, count, project)) for row, count in latest.values()]
    for row, info, samples in runs:  # every run is built before the first is written
        if store.get_run(info.run_id) is not None:
            already.append(info.run_id)
            continue
        store.create_run(info)
        store.append_samples(info.run_id, samples)
        store.finish_run(info.run_id, RunStatus.FINISHED, row.ended_at, row.duration_s)
        imported.append(
            replace(
                info, status=RunStatus.FINISHED, ended_at=row.ended_at, duration_s=row.duration_s
            )
        )
    return ImportResult(tuple(imported), tuple(already), tuple(skipped))
