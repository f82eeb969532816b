"""`carbonlens bench`, `compare` and `budget` through click, on a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from carbonlens.cli_evaluate import bench_command, budget_group, compare_command
from carbonlens.config import Settings
from carbonlens.records import Channel, Component, Method, RunStatus
from carbonlens.store import SqliteStore
from carbonlens.store.base import Budget, BudgetKind, BudgetPeriod
from carbonlens.testing.fakes import FakeClock, FakeSensor, FakeShares
from carbonlens.tracking.tracker import Tracker

CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)
MODEL = """
def predict(batch):
    return [sum(i * x for i in range(2000)) for x in batch]

def broken(batch):
    raise RuntimeError("weights not found")

INPUTS = [1, 2, 3]
"""


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "runs.db"
    monkeypatch.setenv("CARBONLENS_STORE", str(path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    yield path


def invoke(command: object, *args: str) -> Result:
    return CliRunner().invoke(command, list(args))  # type: ignore[arg-type]


@pytest.fixture
def model(store_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    name = f"model_{request.node.name.replace('[', '_').replace(']', '_').replace('-', '_')}"
    (store_path.parent / f"{name}.py").write_text(MODEL)
    monkeypatch.syspath_prepend(str(store_path.parent))
    return name


FAST = ("--idle", "0.2", "--min-time", "0.1", "--repeats", "3", "--warmup", "1")


def test_bench_prints_a_table_and_stores_a_benchmark_run(model: str, store_path: Path) -> None:
    result = invoke(bench_command, f"{model}:predict", "--batch-sizes", "1,4", *FAST)
    assert result.exit_code == 0, result.output
    assert "energy/pred (" in result.stdout and "latency p95 (ms)" in result.stdout
    assert "stored as run" in result.stdout
    with closing(SqliteStore(store_path)) as store:
        [info] = store.list_runs()
    assert info.kind == "benchmark" and info.name == f"{model}:predict"


def test_bench_json_with_inputs_and_metrics(model: str) -> None:
    result = invoke(
        bench_command,
        f"{model}:predict",
        "--inputs",
        f"{model}:INPUTS",
        "--metric",
        "accuracy=0.93",
        "--country",
        "FR",
        "--json",
        *FAST,
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    [batch] = document["batches"]
    assert batch["batch_size"] == 1 and batch["calls"] >= 3
    assert document["idle_power_w"] > 0
    assert set(document["methods"]) >= {"cpu"}


def test_missed_slo_exits_1(model: str) -> None:
    result = invoke(bench_command, f"{model}:predict", "--max-p95-ms", "0.000001", *FAST)
    assert result.exit_code == 1
    assert "carbonlens: SLO missed: batch 1: latency_p95_s" in result.stderr


def test_a_raising_function_exits_1_with_its_traceback(model: str, store_path: Path) -> None:
    result = invoke(bench_command, f"{model}:broken", *FAST)
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "RuntimeError: weights not found" in result.stderr
    assert "stored as failed, without figures" in result.stderr
    with closing(SqliteStore(store_path)) as store:
        [info] = store.list_runs()
    assert info.status is RunStatus.FAILED


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nocolon",), "give module:function"),
        (("no_such_module_xyz:f",), "cannot import 'no_such_module_xyz'"),
        (("json:no_such_function",), "has no attribute 'no_such_function'"),
        (("json:dumps", "--batch-sizes", "0,x"), "give integers >= 1"),
        (("json:dumps", "--metric", "accuracy"), "give NAME=NUMBER"),
        (("json:dumps", "--max-j-per-prediction", "0"), "must be more than zero"),
    ],
)
def test_bench_bad_input_exits_2(store_path: Path, args: tuple[str, ...], message: str) -> None:
    result = invoke(bench_command, *args, *FAST)
    assert result.exit_code == 2
    assert message in result.stderr


def _run(store_path: Path, name: str, energy_j: float, accuracy: float | None, **kw: object) -> str:
    clock = FakeClock(wall=datetime.now(UTC))  # this month, for the monthly budget
    tracker = Tracker(
        project=str(kw.get("project", "vision")),
        name=name,
        sensors=[FakeSensor(CPU, energy_j=[0.0, energy_j])],
        store=store_path,
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
        country="FR",
        pue=1.0,
        settings=Settings(embodied=False),
    )
    tracker.start()
    if accuracy is not None:
        tracker.log_metric("accuracy", accuracy / 2, step=0)
        tracker.log_metric("accuracy", accuracy, step=5)  # the latest step counts
    clock.advance(10.0)
    tracker.stop(RunStatus(str(kw.get("status", "finished"))))
    return tracker.run_id


@pytest.fixture
def runs(store_path: Path) -> dict[str, str]:
    return {
        "small": _run(store_path, "small", 3.6e6, 0.80),  # 1 kWh
        "large": _run(store_path, "large", 7.2e6, 0.90),  # 2 kWh
        "wasteful": _run(store_path, "wasteful", 10.8e6, 0.85),  # 3 kWh, dominated by large
        "unscored": _run(store_path, "unscored", 3.6e6, None),
        "crashed": _run(store_path, "crashed", 3.6e6, 0.99, status="failed"),
        "other": _run(store_path, "other", 3.6e6, 0.99, project="nlp"),
    }


def test_compare_table_ranks_marks_dominated_and_lists_what_was_left_out(
    runs: dict[str, str],
) -> None:
    result = invoke(compare_command, "--project", "vision", "--metric", "accuracy")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("small") < out.index("large") < out.index("wasteful")
    assert f"by {runs['large'][:8]}" in out
    assert "score metric_per_cost: metric / cost" in out
    assert "left out: unscored" in out and "no metric" in out
    assert "left out: crashed" in out and "run failed" in out
    assert "other" not in out


def test_compare_json_document(runs: dict[str, str]) -> None:
    result = invoke(
        compare_command,
        "--project",
        "vision",
        "--metric",
        "accuracy",
        "--score",
        "distance",
        "--json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["cost"] == {
        "name": "energy",
        "unit": "kWh",
        "definition": "facility energy of the run (IT energy x PUE)",
    }
    by_run = {row["run"]: row for row in doc["runs"]}
    assert by_run["small"]["cost"] == pytest.approx(1.0)
    assert by_run["large"]["metric"] == 0.9
    assert by_run["small"]["score"] == by_run["large"]["score"] == 0.0
    assert by_run["wasteful"]["front"].startswith("dominated by")
    assert {e["run"]: e["reason"] for e in doc["excluded"]} == {
        "unscored": "no metric",
        "crashed": "run failed",
    }


def test_leaderboard_exports(runs: dict[str, str]) -> None:
    md = invoke(
        compare_command, "--project", "vision", "--metric", "accuracy", "--leaderboard", "md"
    )
    assert md.exit_code == 0, md.output
    lines = md.stdout.splitlines()
    assert lines[0].startswith("| rank | run | run_id | accuracy | energy (kWh) |")
    assert "energy per prediction (J)" in lines[0]
    assert lines[2].startswith("| 1 | small |")
    csv_out = invoke(
        compare_command, "--project", "vision", "--metric", "accuracy", "--leaderboard", "csv"
    )
    assert csv_out.stdout.splitlines()[0].startswith("rank,run,run_id,accuracy,energy (kWh)")
    as_json = invoke(
        compare_command,
        "--project",
        "vision",
        "--metric",
        "accuracy",
        "--cost",
        "emissions",
        "--leaderboard",
        "json",
    )
    rows = json.loads(as_json.stdout)
    # 1 kWh at FR 41.44 g/kWh
    assert rows[0]["emissions (gCO2e)"] == pytest.approx(41.44)


def test_compare_bad_input(runs: dict[str, str]) -> None:
    missing = invoke(compare_command, "--project", "vision", "--metric", "f1")
    assert missing.exit_code == 2
    assert "no run of project 'vision' has a metric 'f1' (metrics found: accuracy)" in (
        missing.stderr
    )
    empty = invoke(compare_command, "--project", "nobody", "--metric", "accuracy")
    assert empty.exit_code == 2 and "no runs in project 'nobody'" in empty.stderr
    latency = invoke(
        compare_command, "--project", "vision", "--metric", "accuracy", "--cost", "latency"
    )
    assert latency.exit_code == 0  # no benchmark runs: every run lacks the cost
    assert latency.stdout.count("no cost") == 3


def test_budget_set_show_and_clear(store_path: Path, runs: dict[str, str]) -> None:
    result = invoke(budget_group, "set", "--project", "vision", "--kgco2e", "50", "--kwh", "10")
    assert result.exit_code == 0, result.output
    assert "budget of project 'vision': 50 kgCO2e per month" in result.stdout
    assert "10 kWh per month" in result.stdout
    shown = invoke(budget_group, "show", "--json")
    assert shown.exit_code == 0, shown.output
    budgets = json.loads(shown.stdout)["budgets"]
    energy = next(b for b in budgets if b["kind"] == "kwh")
    # small 1 + large 2 + wasteful 3 + unscored 1 + crashed 1 kWh, this month
    assert energy["spent_kwh"] == pytest.approx(8.0)
    assert energy["spent_ratio"] == pytest.approx(0.8)
    assert energy["runs"] == 5
    table = invoke(budget_group, "show", "--project", "vision")
    assert "80%" in table.stdout and "10 kWh" in table.stdout
    cleared = invoke(budget_group, "clear", "--project", "vision", "--kind", "kwh")
    assert cleared.exit_code == 0 and "removed the kwh budget" in cleared.stdout
    with closing(SqliteStore(store_path)) as store:
        assert store.budgets() == [Budget("vision", BudgetKind.EMISSIONS, 50.0, BudgetPeriod.MONTH)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--kgco2e", "0"), "more than zero"),
        (("--kgco2e", "-5"), "more than zero"),
        (("--kgco2e", "50kWh"), "conflicting units"),
        (("--kwh", "3kg"), "conflicting units"),
        ((), "give --kgco2e, --kwh or both"),
    ],
)
def test_budget_set_bad_input(store_path: Path, args: tuple[str, ...], message: str) -> None:
    result = invoke(budget_group, "set", "--project", "vision", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not store_path.exists() or SqliteStore(store_path).budgets() == []


def test_budget_show_without_budgets_and_clear_of_nothing(store_path: Path) -> None:
    SqliteStore(store_path).close()
    assert "no budgets in" in invoke(budget_group, "show").stdout
    result = invoke(budget_group, "clear", "--project", "vision")
    assert result.exit_code == 2 and "has no such budget" in result.stderr


def test_compare_html_writes_a_page_with_the_pareto_plot(
    runs: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "compare.html"
    result = invoke(
        compare_command, "--project", "vision", "--metric", "accuracy", "--html", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "small" in result.stdout  # the table is still printed
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page and "<script" not in page
    assert "Content-Security-Policy" in page
    assert page.count('class="run"') == 3  # small, large, wasteful; the others left out
    assert page.count('class="run" ') == 3
    assert "Left out" in page and "unscored" in page and "run failed" in page
    assert page.index(">small<") < page.index(">large<") < page.index(">wasteful<")


def test_compare_html_unwritable_file_is_a_usage_error(
    runs: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "missing-dir" / "compare.html"
    result = invoke(
        compare_command, "--project", "vision", "--metric", "accuracy", "--html", str(target)
    )
    assert result.exit_code == 2
    assert "cannot write" in result.stderr
