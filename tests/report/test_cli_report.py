"""`carbonlens report`, `import codecarbon` and `export`, on a real store, via a test group."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from carbonlens.cli_report import export_command, import_group, report_command
from carbonlens.records import RunStatus

from .conftest import TOTAL_G, StoredRuns

DATA = Path(__file__).resolve().parents[1] / "data" / "codecarbon"
GROUP = click.Group(
    commands={"report": report_command, "import": import_group, "export": export_command}
)


def _run(runs: StoredRuns, *args: str) -> Result:
    return CliRunner().invoke(GROUP, [*args, "--store", str(runs.path)], catch_exceptions=False)


def test_markdown_by_default(runs: StoredRuns) -> None:
    runs.add()
    result = _run(runs, "report", "known")  # a unique prefix
    assert result.exit_code == 0, result.output
    assert (
        "| llama-ft |" in result.stdout and "Energy was recorded with carbonlens" in result.stdout
    )


def test_html_file_by_suffix(runs: StoredRuns, tmp_path: Path) -> None:
    runs.add(name="<script>alert(1)</script>")
    out = tmp_path / "run.html"
    result = _run(runs, "report", "known0001", "-o", str(out))
    assert result.exit_code == 0 and f"wrote {out}" in result.stderr
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "How to cut it" in html and "run in " in html  # the bundled cloud regions


@pytest.mark.parametrize(("fmt", "needle"), [("latex", r"\begin{tabular}"), ("csv", "run_id,")])
def test_other_formats(runs: StoredRuns, fmt: str, needle: str) -> None:
    runs.add()
    result = _run(runs, "report", "known0001", "--format", fmt)
    assert result.exit_code == 0 and needle in result.stdout


def test_json_one_run_and_a_project(runs: StoredRuns) -> None:
    runs.add("known0001")
    runs.add("known0002", project="other")
    one = json.loads(_run(runs, "report", "known0001", "--format", "json").stdout)
    assert one["schema"] == "carbonlens.run/1" and one["total_gco2e"] == pytest.approx(TOTAL_G)
    several = json.loads(_run(runs, "report", "--since", "2025-12-31", "--format", "json").stdout)
    assert several["schema"] == "carbonlens.export/1" and len(several["runs"]) == 2
    project = json.loads(_run(runs, "report", "--project", "other", "--format", "json").stdout)
    assert [r["run_id"] for r in project["runs"]] == ["known0002"]


def test_unknown_run_suggests_recent_ones(runs: StoredRuns) -> None:
    runs.add()
    result = _run(runs, "report", "nope")
    assert result.exit_code == 2
    assert "no run 'nope'" in result.stderr and "recent runs: known0001 (llama-ft)" in result.stderr


def test_empty_project_and_no_selection(runs: StoredRuns) -> None:
    runs.add()
    empty = _run(runs, "report", "--project", "nope")
    assert empty.exit_code == 2
    assert "no runs in project 'nope'" in empty.stderr and "projects: paper" in empty.stderr
    nothing = _run(runs, "report")
    assert nothing.exit_code == 2 and "name a RUN_ID" in nothing.stderr


def test_missing_store_is_reported(tmp_path: Path) -> None:
    result = CliRunner().invoke(GROUP, ["report", "x", "--store", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "no run store" in result.stderr


def test_running_run_is_reported_as_partial(runs: StoredRuns) -> None:
    runs.add(status=RunStatus.RUNNING)
    result = _run(runs, "report", "known0001", "--format", "html")
    assert result.exit_code == 0
    assert "is running: the report is partial" in result.stderr
    assert "partial: running" in result.stdout


def test_model_card_to_stdout_and_merged_into_a_readme(runs: StoredRuns, tmp_path: Path) -> None:
    runs.add()
    block = _run(
        runs, "report", "known0001", "--format", "model-card", "--training-type", "fine-tuning"
    )
    card = yaml.safe_load(block.stdout)["co2_eq_emissions"]
    assert card["emissions"] == pytest.approx(TOTAL_G, rel=1e-5)
    assert card["geographical_location"] == "France" and card["training_type"] == "fine-tuning"
    readme = tmp_path / "README.md"
    readme.write_text("---\nlicense: mit\n---\n# Model\n", encoding="utf-8")
    result = _run(runs, "report", "known0001", "--format", "model-card", "-o", str(readme))
    assert result.exit_code == 0 and "merging co2_eq_emissions" in result.stderr
    text = readme.read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["license"] == "mit" and "co2_eq_emissions" in front
    assert text.endswith("---\n# Model\n")


def test_sci_needs_the_number_of_units(runs: StoredRuns) -> None:
    runs.add()
    missing = _run(runs, "report", "known0001", "--format", "sci", "--sci-unit", "token")
    assert missing.exit_code == 2 and "needs --sci-units" in missing.stderr
    args = ("report", "known0001", "--format", "sci", "--sci-unit", "token", "--sci-units", "1.2e9")
    assert "gCO2e per token" in _run(runs, *args).stdout
    doc = json.loads(_run(runs, *args, "--json").stdout)
    assert doc["sci_gco2e_per_unit"] == pytest.approx(TOTAL_G / 1.2e9)
    per_run = json.loads(_run(runs, "report", "known0001", "--format", "sci", "--json").stdout)
    assert per_run["R_units"] == 1.0 and per_run["functional_unit"] == "run"


def test_import_codecarbon_then_report(runs: StoredRuns) -> None:
    result = _run(runs, "import", "codecarbon", str(DATA / "v3.3.0_flushes.csv"))
    assert result.exit_code == 0
    assert "v3.3.0_flushes.csv:5: skipped: 3 fields" in result.stderr
    assert "v3.3.0_flushes.csv:6: skipped: duration is 'n/a'" in result.stderr
    assert "imported 2 run(s)" in result.stderr
    run_id = result.stdout.split()[0]
    report = json.loads(_run(runs, "report", run_id, "--format", "json").stdout)
    assert report["kind"] == "imported" and report["project"] == "realrun"
    again = _run(runs, "import", "codecarbon", str(DATA / "v3.3.0_flushes.csv"), "--json")
    assert json.loads(again.stdout)["imported"] == []
    assert len(json.loads(again.stdout)["already_imported"]) == 2


def test_import_with_nothing_readable_fails(runs: StoredRuns, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = _run(runs, "import", "codecarbon", str(bad))
    assert result.exit_code == 2 and "no run imported" in result.stderr


def test_import_creates_the_store(tmp_path: Path) -> None:
    store = tmp_path / "new" / "runs.db"
    args = ["import", "codecarbon", str(DATA / "v1_2020.csv"), "--store", str(store)]
    result = CliRunner().invoke(GROUP, args)
    assert result.exit_code == 0 and store.exists()


def test_export_csv_runs_and_samples(runs: StoredRuns, tmp_path: Path) -> None:
    runs.add("known0001")
    runs.add("known0002")
    out = tmp_path / "runs.csv"
    assert _run(runs, "export", "-o", str(out)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert {r["run_id"] for r in rows} == {"known0001", "known0002"}
    samples = _run(runs, "export", "known0001", "--format", "csv", "--samples")
    assert len(list(csv.DictReader(io.StringIO(samples.stdout)))) == 4


def test_export_json_with_samples(runs: StoredRuns) -> None:
    runs.add()
    doc = json.loads(_run(runs, "export", "--project", "paper", "--samples").stdout)
    assert doc["schema"] == "carbonlens.export/1" and len(doc["runs"][0]["samples"]) == 4


def test_export_refuses_other_formats(runs: StoredRuns, tmp_path: Path) -> None:
    runs.add()
    result = _run(runs, "export", "-o", str(tmp_path / "x.html"))
    assert result.exit_code == 2 and "cannot export as html" in result.stderr
