"""CSV and JSON export of stored runs and samples, in the documented schema."""

from __future__ import annotations

import csv
import io
import json

import pytest

from carbonlens.records import Sample
from carbonlens.report.export import (
    RUN_COLUMNS,
    SAMPLE_COLUMNS,
    SCHEMA,
    export_document,
    runs_csv,
    samples_csv,
)

from .conftest import CPU, EMBODIED_G, GPU, TOTAL_G, StoredRuns


def _rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_runs_csv_has_the_known_figures(runs: StoredRuns) -> None:
    runs.add()
    columns, [row] = _rows(runs_csv([runs.report("known0001")]))
    assert columns == list(RUN_COLUMNS)
    assert row["run_id"] == "known0001" and row["status"] == "finished"
    assert float(row["energy_kwh"]) == pytest.approx(0.3)
    assert float(row["facility_energy_kwh"]) == pytest.approx(0.36)
    assert float(row["operational_gco2e"]) == pytest.approx(36.0)
    assert float(row["embodied_gco2e"]) == pytest.approx(EMBODIED_G)
    assert float(row["total_gco2e"]) == pytest.approx(TOTAL_G)
    assert float(row["gpu_energy_kwh"]) == pytest.approx(0.2)
    assert float(row["cpu_energy_kwh"]) == pytest.approx(0.1)
    assert row["ram_energy_kwh"] == ""
    assert row["pue"] == "1.2" and row["intensity_g_per_kwh"] == "100.0"
    assert row["methods"] == "cpu:modelled;gpu:measured"
    assert row["started_at"] == "2026-01-01T00:00:00+00:00"


def test_text_with_commas_quotes_and_newlines_round_trips(runs: StoredRuns) -> None:
    name = 'a, "b"\nc'
    runs.add(name=name)
    _columns, [row] = _rows(runs_csv([runs.report("known0001")]))
    assert row["name"] == name


def test_samples_csv(runs: StoredRuns) -> None:
    runs.add()
    info = runs.store.get_run("known0001")
    assert info is not None
    columns, rows = _rows(samples_csv([(info, runs.store.samples("known0001"))]))
    assert columns == list(SAMPLE_COLUMNS) and len(rows) == 4
    first = rows[0]
    assert first["run_id"] == "known0001" and first["component"] == "gpu"
    assert first["method"] == "measured" and float(first["energy_j"]) == 360_000.0
    assert float(first["power_w"]) == 200.0 and first["process_energy_j"] == ""
    assert first["end_at"] == "2026-01-01T00:30:00+00:00"


def test_json_document_with_and_without_samples(runs: StoredRuns) -> None:
    runs.add("known0001")
    runs.add("known0002", samples=[Sample(GPU, 10.0, 10.0, 5.0, 2.5), Sample(CPU, 10.0, 10.0, 1.0)])
    reports = [runs.report("known0001"), runs.report("known0002")]
    plain = export_document(reports, store="s")
    assert plain["schema"] == SCHEMA and plain["store"] == "s"
    assert [r["run_id"] for r in plain["runs"]] == ["known0001", "known0002"]
    assert "samples" not in plain["runs"][0]
    assert plain["runs"][0]["total_gco2e"] == pytest.approx(TOTAL_G)
    samples = {r.info.run_id: runs.store.samples(r.info.run_id) for r in reports}
    full = json.loads(json.dumps(export_document(reports, samples)))
    assert len(full["runs"][0]["samples"]) == 4
    assert full["runs"][1]["samples"][0]["process_energy_j"] == 2.5
