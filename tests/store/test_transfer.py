"""copy_runs and `carbonlens sync`: runs copied whole, once, between any two stores."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from carbonlens.cli import main
from carbonlens.errors import StoreError
from carbonlens.records import Channel, Component, Method, RunInfo, RunStatus, Sample, Window
from carbonlens.store import SqliteStore
from carbonlens.store.base import MetricPoint, Store
from carbonlens.store.jsonl import JsonlStore
from carbonlens.store.transfer import CopyAction, copy_runs, missing_samples

CPU = Channel("fake", Component.CPU, "cpu", Method.SAMPLED)
GPU = Channel("fake", Component.GPU, "gpu0", Method.MEASURED)
START = datetime(2026, 1, 1, tzinfo=UTC)


def info(run_id: str, minutes: int = 0) -> RunInfo:
    # another host, no pid: judged by heartbeat age, which stale_after_s=1e12 allows
    return RunInfo(run_id, "p", "n", START + timedelta(minutes=minutes), "elsewhere", 0)


def samples(first: int, last: int) -> list[Sample]:
    """One CPU and one GPU sample per second from `first` to `last`."""
    return [
        Sample(c, float(t), 1.0, float(t), None) for t in range(first, last + 1) for c in (CPU, GPU)
    ]


def sqlite(path: Path) -> SqliteStore:
    return SqliteStore(path, stale_after_s=1e12)


def jsonl(path: Path) -> JsonlStore:
    return JsonlStore(path, stale_after_s=1e12)


def write_run(store: Store, run: RunInfo, parts: list[Sample], *, finish: bool = True) -> None:
    store.create_run(run)
    store.append_samples(run.run_id, parts)
    store.save_window(run.run_id, Window("epoch-1", 1.0, 2.0))
    store.log_metrics(run.run_id, [MetricPoint("loss", 0, 0.5, 1.0)])
    if finish:
        ended = run.started_at + timedelta(seconds=10)
        store.finish_run(run.run_id, RunStatus.FINISHED, ended, 10.0, {"notes": ["done"]})


def test_copies_runs_whole_then_skips_them(tmp_path: Path) -> None:
    with (
        closing(jsonl(tmp_path / "fb.jsonl")) as source,
        closing(sqlite(tmp_path / "db")) as target,
    ):
        write_run(source, info("a"), samples(1, 3))
        write_run(source, info("b", 1), samples(1, 2), finish=False)
        first = copy_runs(source, target)
        assert [(r.run_id, r.action, r.samples, r.windows, r.metrics) for r in first.runs] == [
            ("a", CopyAction.COPIED, 6, 1, 1),  # 3 s x 2 channels
            ("b", CopyAction.COPIED, 4, 1, 1),
        ]
        copied = target.get_run("a")
        assert copied is not None and copied.status is RunStatus.FINISHED
        assert copied.duration_s == 10.0 and copied.settings == {"notes": ["done"]}
        assert target.samples("a") == samples(1, 3)
        assert target.windows("a") == [Window("epoch-1", 1.0, 2.0)]
        assert target.metrics("a") == [MetricPoint("loss", 0, 0.5, 1.0)]
        running = target.get_run("b")
        assert running is not None and running.status is RunStatus.RUNNING

        again = copy_runs(source, target)
        assert [r.action for r in again.runs] == [CopyAction.SKIPPED] * 2
        assert again.to_dict()["copied"] == 0 and again.samples == 0
        assert len(target.samples("a")) == 6  # nothing twice


def test_joins_a_run_split_by_a_store_failure(tmp_path: Path) -> None:
    # The store got seconds 1-4, then failed; the fallback got 5-8 and the end.
    run = info("split")
    with closing(sqlite(tmp_path / "db")) as store, closing(jsonl(tmp_path / "fb.jsonl")) as fb:
        store.create_run(run)
        store.append_samples("split", samples(1, 4))
        fb.create_run(run)
        fb.append_samples("split", samples(5, 8))
        fb.finish_run("split", RunStatus.FINISHED, START + timedelta(seconds=8), 8.0)
        result = copy_runs(fb, store)
        [entry] = result.runs
        assert (entry.action, entry.samples) == (CopyAction.MERGED, 8)
        assert store.samples("split") == samples(1, 8)
        joined = store.get_run("split")
        assert joined is not None and joined.status is RunStatus.FINISHED
        assert joined.duration_s == 8.0
        assert copy_runs(fb, store).runs[0].action is CopyAction.SKIPPED


def test_a_final_status_is_never_replaced_by_a_less_final_one(tmp_path: Path) -> None:
    with closing(sqlite(tmp_path / "db")) as target, closing(jsonl(tmp_path / "fb")) as source:
        write_run(target, info("r"), samples(1, 2))
        write_run(source, info("r"), samples(1, 2), finish=False)
        source.finish_run("r", RunStatus.INTERRUPTED, START + timedelta(seconds=1), 1.0)
        assert copy_runs(source, target).runs[0].action is CopyAction.SKIPPED
        kept = target.get_run("r")
        assert kept is not None and kept.status is RunStatus.FINISHED


def test_chosen_runs_dry_run_and_unknown_ids(tmp_path: Path) -> None:
    with closing(sqlite(tmp_path / "a")) as source, closing(sqlite(tmp_path / "b")) as target:
        write_run(source, info("aaa1"), samples(1, 1))
        write_run(source, info("bbb2", 1), samples(1, 1))
        planned = copy_runs(source, target, ["bbb"], dry_run=True)
        assert [(r.run_id, r.action) for r in planned.runs] == [("bbb2", CopyAction.COPIED)]
        assert planned.dry_run and target.list_runs() == []
        copy_runs(source, target, ["bbb"])
        assert [r.run_id for r in target.list_runs()] == ["bbb2"]
        with pytest.raises(StoreError, match="no run 'zzz'"):
            copy_runs(source, target, ["zzz"])


def test_missing_samples_counts_repeats() -> None:
    one, two = samples(1, 1)[0], samples(2, 2)[0]
    assert missing_samples([one, one, two], [one]) == [one, two]
    assert missing_samples([one], [one, one]) == []


def test_sync_command_copies_a_fallback_file_once(tmp_path: Path) -> None:
    fallback, database = tmp_path / "fallback-x.jsonl", tmp_path / "runs.db"
    with closing(jsonl(fallback)) as source:
        write_run(source, info("r1"), samples(1, 3))
    runner = CliRunner()
    args = ["sync", str(fallback), "--to", str(database), "--json"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    doc = json.loads(first.output)
    assert {k: doc[k] for k in ("copied", "merged", "skipped", "samples")} == {
        "copied": 1,
        "merged": 0,
        "skipped": 0,
        "samples": 6,
    }
    assert doc["runs"][0] == {
        "run_id": "r1",
        "action": "copied",
        "samples": 6,
        "windows": 1,
        "metrics": 1,
        "status": "finished",
    }
    assert (doc["source"], doc["target"], doc["dry_run"]) == (str(fallback), str(database), False)
    second = runner.invoke(main, ["sync", str(fallback), "--to", str(database)])
    assert second.exit_code == 0 and "copied 0 new run(s), merged 0, skipped 1" in second.output
    same = runner.invoke(main, ["sync", str(database), "--to", str(database)])
    assert same.exit_code == 2 and "is the store itself" in same.output
    imported = fallback.rename(fallback.with_name(fallback.name + ".imported"))
    other = runner.invoke(main, ["sync", str(imported), "--to", str(tmp_path / "other.db")])
    assert other.exit_code == 0 and "copied 1 new run(s)" in other.output, other.output
