"""RunWriter: batching of sample writes, and where the run ends up."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from carbonlens.records import Channel, Component, Method, RunInfo, RunStatus, Sample
from carbonlens.store import SqliteStore
from carbonlens.testing.fakes import FakeClock
from carbonlens.tracking.writer import FLUSH_S, RunWriter

CPU = Channel("fake", Component.CPU, "cpu", Method.MODELLED)
INFO = RunInfo("run1", "p", "n", datetime(2026, 1, 1, tzinfo=UTC), "host", 1)


def _sample(t_s: float) -> Sample:
    return Sample(CPU, t_s, 0.1, 1.0)


def test_samples_are_written_at_most_every_flush_period(tmp_path: Path) -> None:
    assert FLUSH_S == 1.0
    store = SqliteStore(tmp_path / "runs.db")
    clock = FakeClock()
    writer = RunWriter(store, INFO, clock)
    writer.append([_sample(0.1)])  # first write goes out at once
    clock.advance(0.5)
    writer.append([_sample(0.6)])  # 0.5 s after the last write: queued
    assert len(store.samples("run1")) == 1
    clock.advance(0.5)
    writer.append([_sample(1.1)])  # 1.0 s: the queue is written
    assert [s.t_s for s in store.samples("run1")] == [0.1, 0.6, 1.1]
    clock.advance(0.1)
    writer.append([_sample(1.2)])
    ended = replace(INFO, ended_at=datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC), duration_s=1.2)
    writer.finish(RunStatus.FINISHED, ended)
    samples, windows, location = writer.read_back()
    assert [s.t_s for s in samples] == [0.1, 0.6, 1.1, 1.2]
    assert windows == [] and location == str(tmp_path / "runs.db")
    reopened = SqliteStore(tmp_path / "runs.db")
    info = reopened.get_run("run1")
    reopened.close()
    assert info is not None and info.status == RunStatus.FINISHED and info.duration_s == 1.2


def test_no_store_raises_nothing() -> None:
    writer = RunWriter(None, INFO, FakeClock())
    writer.append([_sample(1.0)], final=True)
    assert [s.t_s for s in writer.read_back()[0]] == [1.0]


def test_samples_nothing_could_store_are_kept_for_the_report() -> None:
    writer = RunWriter(None, INFO, FakeClock())
    writer.append([_sample(1.0)])
    writer.append([_sample(2.0)], final=True)
    samples, windows, location = writer.read_back()
    assert [s.t_s for s in samples] == [1.0, 2.0]
    assert windows == [] and location == ""
