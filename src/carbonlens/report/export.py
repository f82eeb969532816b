"""Runs and samples for other programs: CSV tables and one JSON document.

Schemas (documented in docs/reports.md):

* runs CSV (`RUN_COLUMNS`): one row per run, the report's figures with units in
  the column names (kWh, gCO2e), energy per component and each component's methods;
* samples CSV (`SAMPLE_COLUMNS`): one row per stored sample, joules and seconds as
  stored, with the run id, and the sample's end as a UTC time (run start + `t_s`);
* JSON (``schema: carbonlens.export/1``): the run documents of docs/json.md
  (`report_to_dict`), each with its samples when asked.

Values are written as they are stored: text is not altered, so a spreadsheet may
read a run name that starts with ``=`` as a formula (import as text if in doubt).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from carbonlens.records import Component, RunInfo, Sample
from carbonlens.report.json import report_to_dict

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport

__all__ = [
    "RUN_COLUMNS",
    "SAMPLE_COLUMNS",
    "SCHEMA",
    "export_document",
    "run_row",
    "runs_csv",
    "sample_rows",
    "samples_csv",
]

SCHEMA: Final = "carbonlens.export/1"
_COPIED: Final = (
    "run_id",
    "project",
    "name",
    "kind",
    "status",
    "started_at",
    "ended_at",
    "duration_s",
    "host",
    "energy_kwh",
    "energy_low_kwh",
    "energy_high_kwh",
    "facility_energy_kwh",
    "operational_gco2e",
    "operational_low_gco2e",
    "operational_high_gco2e",
    "embodied_gco2e",
    "total_gco2e",
)
RUN_COLUMNS: Final = (
    *_COPIED,
    "tags",
    "pue",
    "intensity_g_per_kwh",
    "intensity_location",
    "intensity_source",
    "intensity_year",
    *(f"{c.value}_energy_kwh" for c in Component),
    "methods",
)
SAMPLE_COLUMNS: Final = (
    "run_id",
    "t_s",
    "duration_s",
    "end_at",
    "sensor",
    "component",
    "device",
    "method",
    "energy_j",
    "process_energy_j",
    "power_w",
)


def run_row(report: RunReport) -> dict[str, Any]:
    """One run as a flat row of `RUN_COLUMNS` (empty cells as None)."""
    doc = report_to_dict(report)
    by_component = doc["totals_by_component"]
    row = {key: doc[key] for key in _COPIED}
    row.update(
        {
            "tags": ";".join(doc["tags"]),
            "pue": doc["pue"]["pue_ratio"],
            "intensity_g_per_kwh": doc["intensity"]["intensity_g_per_kwh"],
            "intensity_location": doc["intensity"]["location"],
            "intensity_source": doc["intensity"]["source"],
            "intensity_year": doc["intensity"]["year"],
            "methods": ";".join(
                f"{name}:{'+'.join(entry['methods'])}" for name, entry in by_component.items()
            ),
        }
    )
    for component in Component:
        entry = by_component.get(component.value)
        row[f"{component.value}_energy_kwh"] = entry["energy_kwh"] if entry else None
    return row


def sample_rows(info: RunInfo, samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """A run's samples as flat rows of `SAMPLE_COLUMNS`."""
    return [
        {
            "run_id": info.run_id,
            "t_s": s.t_s,
            "duration_s": s.duration_s,
            "end_at": (info.started_at + timedelta(seconds=s.t_s)).astimezone(UTC).isoformat(),
            "sensor": s.channel.sensor,
            "component": s.channel.component.value,
            "device": s.channel.device,
            "method": s.channel.method.value,
            "energy_j": s.energy_j,
            "process_energy_j": s.process_energy_j,
            "power_w": s.power_w,
        }
        for s in samples
    ]


def _csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def runs_csv(reports: Sequence[RunReport]) -> str:
    """The runs CSV: a header and one row per report."""
    return _csv(RUN_COLUMNS, [run_row(r) for r in reports])


def samples_csv(runs: Sequence[tuple[RunInfo, Sequence[Sample]]]) -> str:
    """The samples CSV: a header and one row per sample of every run given."""
    return _csv(SAMPLE_COLUMNS, [row for info, ss in runs for row in sample_rows(info, ss)])


def export_document(
    reports: Sequence[RunReport],
    samples: Mapping[str, Sequence[Sample]] | None = None,
    *,
    store: str = "",
    exported_at: datetime | None = None,
) -> dict[str, Any]:
    """The JSON export: every run's document, with its samples when `samples` is given.

    Args:
        reports: the runs.
        samples: samples by run id, or None to leave samples out.
        store: the store they were read from.
        exported_at: the export time (default: now, UTC).

    Returns:
        A JSON-compatible document (``schema: carbonlens.export/1``).
    """
    runs = []
    for report in reports:
        doc = report_to_dict(report)
        if samples is not None:
            doc["samples"] = sample_rows(report.info, samples.get(report.info.run_id, ()))
        runs.append(doc)
    return {
        "schema": SCHEMA,
        "exported_at": (exported_at or datetime.now(UTC)).isoformat(),
        "store": store,
        "runs": runs,
    }
