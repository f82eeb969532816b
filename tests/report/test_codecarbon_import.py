"""CodeCarbon emissions.csv files of several versions, imported into a real store."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonlens._version import __version__
from carbonlens.accounting import RunReport, build_report
from carbonlens.records import Component, Method, RunStatus
from carbonlens.report.codecarbon_import import import_codecarbon, read_codecarbon
from carbonlens.report.methods import hardware_used
from carbonlens.report.paper import methods_paragraph
from carbonlens.store.sqlite import SqliteStore
from carbonlens.units import J_PER_KWH

from .conftest import StoredRuns

DATA = Path(__file__).resolve().parents[1] / "data" / "codecarbon"


def _only(runs: StoredRuns, name: str) -> RunReport:
    result = import_codecarbon(runs.store, [DATA / name])
    [info] = result.imported
    return runs.report(info.run_id)


def _energy_j(report: RunReport) -> dict[Component, float]:
    return {t.channel.component: t.energy_j for t in report.components}


def test_version_1_file_has_totals_only(runs: StoredRuns) -> None:
    result = import_codecarbon(runs.store, [DATA / "v1_2020.csv"])
    assert len(result.imported) == 3 and not result.skipped
    report = runs.report(result.imported[0].run_id)
    assert report.info.project == "project_gamma" and report.info.kind == "imported"
    assert report.info.status is RunStatus.FINISHED and report.info.tags == ("codecarbon",)
    assert _energy_j(report) == {Component.OTHER: pytest.approx(0.1 * J_PER_KWH)}
    assert report.operational_g == pytest.approx(40.2)  # 0.0402 kg
    assert report.intensity.intensity_g_per_kwh == pytest.approx(402.0)
    assert report.intensity.location == "aws:us-east-2"
    assert report.intensity.source == "CodeCarbon file"
    assert report.pue.pue_ratio == 1.0 and "no pue column" in report.pue.source
    assert report.embodied_g == 0.0
    assert report.duration_s == 3600 and report.info.started_at.isoformat() == (
        "2020-03-23T08:26:11+00:00"
    )
    assert report.components[0].channel.method is Method.ESTIMATED
    assert report.info.settings["import"]["format"] == "codecarbon 1.x"
    assert "the CodeCarbon timestamp has no time zone: read as UTC" in report.notes


def test_version_2_without_version_column(runs: StoredRuns) -> None:
    report = _only(runs, "v2_2022.csv")
    energy = _energy_j(report)
    assert set(energy) == {Component.CPU, Component.RAM}  # gpu_energy 0: no GPU sample
    assert energy[Component.CPU] == pytest.approx(7.5 * 120.5)  # 7.5 W for 120.5 s
    # emissions_rate is g/s in this version: ignored, intensity = emissions / energy
    assert report.intensity.intensity_g_per_kwh == pytest.approx(207.0)
    assert report.intensity.location == "ESP"
    assert "catalonia, Spain" in report.intensity.reason
    assert "before the codecarbon_version column" in report.info.settings["import"]["format"]


def test_version_2_3_with_gpu(runs: StoredRuns) -> None:
    result = import_codecarbon(runs.store, [DATA / "v2.3.4.csv"])
    report = runs.report(result.imported[1].run_id)
    energy = _energy_j(report)
    assert energy[Component.GPU] == pytest.approx(180.0 * 5400)
    assert report.facility_energy_j == pytest.approx(0.35115 * J_PER_KWH)
    assert report.operational_g == pytest.approx(19.6644)
    assert report.info.settings["import"]["format"] == "codecarbon 2.3.4"
    sensor = report.info.settings["sensors"]["codecarbon"]
    assert sensor["gpu_model"] == "1 x NVIDIA GeForce RTX 3090"
    assert sensor["gpu_power_w"] == 180.0 and sensor["ram_total_size_gb"] == 7.7781219482421875
    assert hardware_used(report) == (
        "1 x NVIDIA GeForce RTX 3090, Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz"
    )
    assert methods_paragraph([report]).startswith(
        f"Energy was recorded with carbonlens {__version__}. "
        "CPU (cpu), GPU (gpu), RAM (ram) energy was estimated (codecarbon: "
        r"cpu\_power\_w 42.5, gpu\_power\_w 180, ram\_power\_w 11.6)."
    )


def test_pue_is_taken_out_of_the_components_and_applied_again(runs: StoredRuns) -> None:
    report = _only(runs, "v3.0.7.csv")
    assert report.pue.pue_ratio == 1.2 and report.pue.source == "CodeCarbon file (pue column)"
    assert _energy_j(report)[Component.GPU] == pytest.approx(250.0 * 7200)  # IT energy
    assert report.facility_energy_j == pytest.approx(0.75 * J_PER_KWH)  # energy_consumed
    assert report.operational_g == pytest.approx(77.25)  # emissions 0.07725 kg
    assert report.intensity.location == "gcp:europe-west1"
    assert report.info.project == "bert-finetune"


def test_cumulative_rows_and_corrupt_lines(runs: StoredRuns) -> None:
    result = import_codecarbon(runs.store, [DATA / "v3.3.0_flushes.csv"])
    assert [(s.line, s.reason) for s in result.skipped] == [
        (5, "3 fields, the header has 38"),
        (6, "duration is 'n/a', not a non-negative number"),
    ]
    assert len(result.imported) == 2  # the rest of the file is imported
    first = runs.report(result.imported[0].run_id)
    assert first.duration_s == pytest.approx(12.127493833001843)  # the last flush
    assert first.info.settings["import"]["rows_merged"] == 3
    assert first.info.settings["import"]["line"] == 4
    assert first.intensity.intensity_g_per_kwh == pytest.approx(174.0)
    row = first.info.settings["import"]["row"]
    assert row["water_consumed"] == "0.0" and row["codecarbon_version"] == "3.3.0"
    assert first.info.settings["import"]["columns"][-1] == "wue"


def test_a_second_import_adds_nothing(runs: StoredRuns) -> None:
    files = sorted(DATA.glob("*.csv"))
    first = import_codecarbon(runs.store, files)
    assert len(first.imported) == 9
    again = import_codecarbon(runs.store, files)
    assert again.imported == () and len(again.already) == 9
    assert len(runs.store.list_runs()) == 9


def test_every_column_is_kept(runs: StoredRuns) -> None:
    report = _only(runs, "v3.0.7.csv")
    header = (DATA / "v3.0.7.csv").read_text().splitlines()[0].split(",")
    settings = report.info.settings["import"]
    assert settings["columns"] == header and sorted(settings["row"]) == sorted(header)
    assert settings["file"] == str(DATA / "v3.0.7.csv")


def test_not_a_codecarbon_file(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    rows, skipped = read_codecarbon(path)
    assert rows == []
    [bad] = skipped
    assert bad.line == 1 and "no timestamp, duration, emissions, energy_consumed" in bad.reason


def test_tasks_blank_lines_repeated_header_and_project(runs: StoredRuns, tmp_path: Path) -> None:
    header = "task_name,timestamp,project_name,run_id,duration,emissions,energy_consumed"
    path = tmp_path / "emissions_tasks.csv"
    path.write_text(
        f"{header}\n"
        "load,2026-01-01T00:01:00,p,r-1,60,0.001,0.01\n"
        "\n"
        f"{header}\n"
        "train,2026-01-01T01:01:00,p,r-1,3600,0.01,0.1\n"
    )
    result = import_codecarbon(runs.store, [path], project="moved")
    assert not result.skipped
    assert sorted(i.name for i in result.imported) == ["load", "train"]
    assert {i.project for i in result.imported} == {"moved"}


def test_timestamps_with_a_zone_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "tz.csv"
    path.write_text(
        "timestamp,project_name,run_id,duration,emissions,energy_consumed\n"
        "2026-01-01T12:00:00+02:00,p,r,3600,0.01,0.1\n"
    )
    store = SqliteStore(tmp_path / "s.db")
    try:
        [info] = import_codecarbon(store, [path]).imported
        stored = store.get_run(info.run_id)
        samples = store.samples(info.run_id)
    finally:
        store.close()
    assert stored is not None
    assert stored.started_at.isoformat() == "2026-01-01T09:00:00+00:00"
    assert not any("time zone" in note for note in stored.settings["notes"])
    assert build_report(stored, samples).operational_g == pytest.approx(10.0)
