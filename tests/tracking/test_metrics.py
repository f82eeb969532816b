"""Metrics logged on a run: checked, numbered, queued and stored with the samples."""

from __future__ import annotations

import math
from contextlib import closing
from pathlib import Path

import pytest

from carbonlens.errors import ConfigError
from carbonlens.records import Channel, Component, Method
from carbonlens.store import SqliteStore
from carbonlens.store.base import MetricPoint
from carbonlens.testing.fakes import FakeClock, FakeSensor, FakeShares
from carbonlens.tracking.metrics import MetricLog
from carbonlens.tracking.tracker import Tracker

CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)


def test_metrics_are_stored_with_the_run_and_summarised(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = Tracker(
        project="p",
        sensors=[FakeSensor(CPU, energy_j=[0.0, 1.0, 2.0])],
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
    )
    with tracker:
        tracker.log_metric("loss", 0.9)  # step 0
        clock.advance(2.0)
        tracker.log_metric("loss", 0.5)  # step 1
        tracker.log_metric("accuracy", 0.7, step=10)
        tracker.log_metric("accuracy", 0.6, step=3)  # an earlier step, logged late
        tracker.log_metric("loss", 0.4)  # step 2: the next after the latest
    with closing(SqliteStore(tmp_path / "runs.db")) as store:
        assert store.metrics(tracker.run_id) == [
            MetricPoint("accuracy", 3, 0.6, 2.0),
            MetricPoint("accuracy", 10, 0.7, 2.0),
            MetricPoint("loss", 0, 0.9, 0.0),
            MetricPoint("loss", 1, 0.5, 2.0),
            MetricPoint("loss", 2, 0.4, 2.0),
        ]
    report = tracker.report
    assert report is not None
    assert report.to_dict()["metrics"] == {
        "accuracy": {"value": 0.7, "step": 10, "count": 2},
        "loss": {"value": 0.4, "step": 2, "count": 3},
    }


@pytest.mark.parametrize(
    ("name", "value", "step"),
    [("", 1.0, None), ("acc", math.nan, None), ("acc", True, None), ("acc", 1.0, -1)],
)
def test_bad_metric_points_are_refused(name: str, value: float, step: int | None) -> None:
    with pytest.raises(ConfigError):
        MetricLog().point(name, value, step, 0.0)


def test_logging_before_start_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not started"):
        Tracker(store=tmp_path / "runs.db").log_metric("loss", 1.0)


def test_annotations_are_stored_but_cannot_replace_the_trackers_own(tmp_path: Path) -> None:
    tracker = Tracker(
        sensors=[FakeSensor(CPU, energy_j=[0.0, 1.0])],
        store=tmp_path / "runs.db",
        clock=FakeClock(),
        shares=FakeShares(),
        interval_s=3600.0,
    ).start()
    tracker.annotate("dataset", {"name": "imagenet", "split": "val"})
    for key in ("intensity", "budget", "metrics", "notes"):
        with pytest.raises(ConfigError, match="written by the tracker"):
            tracker.annotate(key, 1)
    report = tracker.stop()
    assert report.info.settings["dataset"] == {"name": "imagenet", "split": "val"}


def test_writer_writes_queued_points_with_the_samples(tmp_path: Path) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    from carbonlens.records import RunInfo, RunStatus, Sample
    from carbonlens.tracking.writer import FLUSH_S, RunWriter

    info = RunInfo("run1", "p", "n", datetime(2026, 1, 1, tzinfo=UTC), "host", 1)
    ended = replace(info, ended_at=datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC), duration_s=2.0)
    clock = FakeClock()
    with closing(SqliteStore(tmp_path / "runs.db")) as store:
        writer = RunWriter(store, info, clock)
        writer.append([Sample(CPU, 0.5, 0.5, 1.0)])  # the first write goes out at once
        writer.add_metrics([MetricPoint("loss", 0, 1.0, 0.6)])
        clock.advance(FLUSH_S / 2)
        writer.append([])
        assert store.metrics("run1") == []  # queued until the next flush
        clock.advance(FLUSH_S / 2)
        writer.append([])
        assert [p.name for p in store.metrics("run1")] == ["loss"]
        writer.finish(RunStatus.FINISHED, ended)

    nowhere = RunWriter(None, info, clock)
    nowhere.add_metrics([MetricPoint("loss", 0, 1.0, 0.0)])
    nowhere.finish(RunStatus.FINISHED, ended)
    assert "1 metric point(s) could not be stored" in nowhere.notes
