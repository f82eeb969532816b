"""Metrics and budgets in every store, and the migration of a version-1 database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carbonlens.errors import StoreError
from carbonlens.records import Channel, Component, Method, RunInfo, Sample
from carbonlens.store import SqliteStore, open_writable_store
from carbonlens.store._sqlite_schema import MIGRATIONS
from carbonlens.store.base import Budget, BudgetKind, BudgetPeriod, MetricPoint, Store
from carbonlens.store.jsonl import JsonlStore

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CPU = Channel("rapl", Component.CPU, "package-0", Method.MEASURED)


def run_info(run_id: str) -> RunInfo:
    return RunInfo(run_id, "proj", "name", T0, host="node-1", pid=4242)


@pytest.fixture(params=["sqlite", "jsonl", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """A store of each kind: a file under tmp_path, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return tmp_path / ("runs.db" if request.param == "sqlite" else "runs.jsonl")


@pytest.fixture
def store(target: str | Path) -> Iterator[Store]:
    opened = open_writable_store(target)
    yield opened
    opened.close()


def test_metrics_round_trip_ordered_by_name_then_step(store: Store) -> None:
    store.create_run(run_info("r1"))
    store.log_metrics("r1", [MetricPoint("loss", 2, 0.5, 20.0), MetricPoint("loss", 1, 0.9, 10.0)])
    store.log_metrics("r1", [MetricPoint("accuracy", 0, 0.1 + 0.2, 30.0)])

    assert store.metrics("r1") == [
        MetricPoint("accuracy", 0, 0.30000000000000004, 30.0),
        MetricPoint("loss", 1, 0.9, 10.0),
        MetricPoint("loss", 2, 0.5, 20.0),
    ]
    assert store.metrics("unknown") == []


def test_logging_a_step_again_replaces_its_value(store: Store) -> None:
    store.create_run(run_info("r1"))
    store.log_metrics("r1", [MetricPoint("accuracy", 3, 0.8, 1.0)])
    store.log_metrics("r1", [MetricPoint("accuracy", 3, 0.85, 2.0)])

    assert store.metrics("r1") == [MetricPoint("accuracy", 3, 0.85, 2.0)]


def test_metrics_of_an_unknown_run_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.log_metrics("nope", [MetricPoint("accuracy", 0, 1.0, 0.0)])


def test_budgets_are_set_replaced_listed_and_cleared(store: Store) -> None:
    store.set_budget(Budget("b", BudgetKind.EMISSIONS, 50.0, BudgetPeriod.MONTH))
    store.set_budget(Budget("a", BudgetKind.ENERGY, 100.0, BudgetPeriod.TOTAL))
    store.set_budget(Budget("b", BudgetKind.EMISSIONS, 40.0, BudgetPeriod.TOTAL))  # replaces
    store.set_budget(Budget("b", BudgetKind.ENERGY, 7.5, BudgetPeriod.MONTH))

    assert store.budgets() == [
        Budget("a", BudgetKind.ENERGY, 100.0, BudgetPeriod.TOTAL),
        Budget("b", BudgetKind.EMISSIONS, 40.0, BudgetPeriod.TOTAL),
        Budget("b", BudgetKind.ENERGY, 7.5, BudgetPeriod.MONTH),
    ]
    assert [b.kind for b in store.budgets("b")] == [BudgetKind.EMISSIONS, BudgetKind.ENERGY]
    assert store.clear_budget("b", BudgetKind.EMISSIONS) is True
    assert store.clear_budget("b", BudgetKind.EMISSIONS) is False
    assert store.budgets("b") == [Budget("b", BudgetKind.ENERGY, 7.5, BudgetPeriod.MONTH)]
    assert store.budgets("nobody") == []


def test_budgets_written_by_one_handle_are_read_by_another(target: str | Path) -> None:
    writer, reader = open_writable_store(target), open_writable_store(target)
    with closing(writer), closing(reader):
        writer.set_budget(Budget("p", BudgetKind.EMISSIONS, 2.0, BudgetPeriod.MONTH))
        assert reader.budgets("p") == [Budget("p", BudgetKind.EMISSIONS, 2.0, BudgetPeriod.MONTH)]


def test_jsonl_records_of_metrics_and_budgets(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    with closing(JsonlStore(path)) as store:
        store.set_budget(Budget("p", BudgetKind.ENERGY, 3.0, BudgetPeriod.TOTAL))
        store.create_run(run_info("r1"))
        store.log_metrics("r1", [MetricPoint("accuracy", 0, 0.5, 1.0)])
        store.clear_budget("p", BudgetKind.ENERGY)

    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0] == {
        "type": "budget",
        "project": "p",
        "kind": "kwh",
        "amount": 3.0,
        "period": "total",
    }
    assert records[2] == {
        "type": "metrics",
        "run_id": "r1",
        "metrics": [{"name": "accuracy", "step": 0, "value": 0.5, "t_s": 1.0}],
    }
    assert records[3]["amount"] is None
    with closing(JsonlStore(path)) as again:  # a file that starts with a budget is a store
        assert again.budgets() == []
        assert again.metrics("r1") == [MetricPoint("accuracy", 0, 0.5, 1.0)]


def _version_1_database(path: Path) -> None:
    """A store as carbonlens wrote it before metrics and budgets: schema version 1."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version (version) VALUES (1)")
        conn.execute(
            "INSERT INTO runs VALUES ('old', 'proj', 'n', 'run', '[]', 'h', 1,"
            " '2025-03-01T12:00:00.000000+00:00', NULL, NULL, 'finished', '{}',"
            " '2025-03-01T12:00:00.000000+00:00')"
        )
        conn.execute(
            "INSERT INTO samples VALUES ('old', 1, 1.0, 1.0, 'rapl', 'cpu', 'package-0',"
            " 'measured', 5.0, NULL)"
        )
    finally:
        conn.close()


def test_version_1_database_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    _version_1_database(path)

    with closing(SqliteStore(path)) as store:
        assert store.samples("old") == [Sample(CPU, 1.0, 1.0, 5.0)]
        store.log_metrics("old", [MetricPoint("accuracy", 0, 0.9, 0.0)])
        store.set_budget(Budget("proj", BudgetKind.EMISSIONS, 1.0, BudgetPeriod.MONTH))
        assert store.metrics("old") == [MetricPoint("accuracy", 0, 0.9, 0.0)]

    conn = sqlite3.connect(path)
    try:
        (version,) = conn.execute("SELECT version FROM schema_version").fetchone()
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert version == len(MIGRATIONS) == 2
    assert {"metrics", "budgets"} <= tables


def test_metrics_are_kept_per_run(store: Store) -> None:
    store.create_run(run_info("r1"))
    store.create_run(run_info("r2"))
    store.log_metrics("r1", [MetricPoint("accuracy", 0, 0.1, 0.0)])
    store.log_metrics("r2", [MetricPoint("accuracy", 0, 0.2, 0.0)])

    assert [p.value for p in store.metrics("r2")] == [0.2]
