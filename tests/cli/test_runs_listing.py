"""`carbonlens runs` and `show` on what a store may hold: long runs, another tool's
records, a narrow terminal."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from carbonlens.accounting import pricing_settings
from carbonlens.cli import main
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
from carbonlens.store.sqlite import SqliteStore

CPU = Channel("cpu-tdp", Component.CPU, "cpu", Method.MODELLED)
STARTED = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A priced run of 3,600 one-second samples of 10 J, and another tool's record."""
    path = tmp_path / "runs.db"
    settings = pricing_settings(
        IntensityValue(50.0, "FR", "test table", 2025, "lifecycle"), PueValue(1.5, "user"), []
    )
    priced = RunInfo(
        "priced0123456789", "vision", "train resnet", STARTED, "h", 1, settings=settings
    )
    with closing(SqliteStore(path)) as db:
        db.create_run(priced)
        db.append_samples(
            priced.run_id, [Sample(CPU, float(t), 1.0, 10.0, 4.0) for t in range(1, 3601)]
        )
        db.finish_run(priced.run_id, RunStatus.FINISHED, STARTED + timedelta(hours=1), 3600.0)
        foreign = RunInfo("foreign0123456789", "other", "?", STARTED, "h", 2, settings={"x": 1})
        db.create_run(foreign)
        db.finish_run(foreign.run_id, RunStatus.FINISHED, STARTED, 1.0)
    return path


def _cli(*args: str, columns: int = 80) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": str(columns)})
    return result.exit_code, result.stdout, result.stderr


def test_runs_json_prices_the_run_and_lists_the_foreign_record_apart(store: Path) -> None:
    code, out, _ = _cli("runs", "--store", str(store), "--json")
    assert code == 0
    doc = json.loads(out)
    [run] = doc["runs"]
    # 3,600 samples x 10 J = 36,000 J IT = 0.01 kWh; x PUE 1.5 = 0.015 kWh; x 50 g/kWh = 0.75 g
    assert run["run_id"] == "priced0123456789" and run["energy_kwh"] == pytest.approx(0.01)
    assert run["facility_energy_kwh"] == pytest.approx(0.015)
    assert run["operational_gco2e"] == pytest.approx(0.75)
    assert run["store"] == ""  # docs/json.md: each listed run's own store is empty
    [foreign] = doc["unpriced"]
    assert foreign["run_id"] == "foreign0123456789" and foreign["project"] == "other"
    assert foreign["reason"] == "KeyError: 'intensity'"


def test_runs_table_keeps_whole_ids_in_80_columns_and_marks_the_foreign_record(
    store: Path,
) -> None:
    code, out, _ = _cli("runs", "--store", str(store))
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "priced012345" in out and "foreign01234" in out  # the 12 characters of an id
    assert "15.000 Wh" in out and "0.750 g" in out and "(unpriced)" in out
    assert "train resnet" not in out  # names need 100 columns
    code, wide, _ = _cli("runs", "--store", str(store), columns=140)
    assert code == 0 and "train resnet" in wide and "1:00:00" in wide


def test_show_on_a_foreign_record_says_why_without_a_traceback(store: Path) -> None:
    code, out, err = _cli("show", "foreign", "--store", str(store))
    assert code == 2 and out == "" and "Traceback" not in err
    assert "run foreign0123456789 cannot be priced" in err
    assert "written by another tool or is damaged" in err
