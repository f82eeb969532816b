"""RunWriter: batching of sample writes, and where the run ends up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carbonlens.errors import StoreError
from carbonlens.records import Channel, Component, Method, RunInfo, RunStatus, Sample
from carbonlens.store import SqliteStore
from carbonlens.store.base import Store
from carbonlens.testing.fakes import FakeClock
from carbonlens.tracking import writer as writer_module
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


def test_no_sample_waits_longer_than_the_flush_period(tmp_path: Path) -> None:
    # A queue is written unless it can wait for the next call (expected one gap
    # later) without its oldest sample waiting more than FLUSH_S = 1 s.
    store = SqliteStore(tmp_path / "runs.db")
    clock = FakeClock()
    writer = RunWriter(store, INFO, clock)
    stored = []
    for t_s in (0.3, 0.6, 0.9, 1.2, 1.5, 1.8, 2.1):  # every 0.3 s
        clock.advance(0.3)
        writer.append([_sample(t_s)])
        stored.append(len(store.samples("run1")))
    # 0.3 written at once; 0.6 waits (0.6 - 0.3 + 0.3 <= 1), 0.9 too (0.9);
    # at 1.2, 0.9 + 0.3 > 1: written, so 0.6 waited 0.6 s. Again from 1.2 to 2.1.
    assert stored == [1, 1, 1, 4, 4, 4, 7]


def test_with_an_interval_over_half_the_flush_period_each_sample_is_written_at_once(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "runs.db")
    clock = FakeClock()
    writer = RunWriter(store, INFO, clock)
    for i in range(1, 5):
        clock.advance(0.6)  # waiting for the next tick would make it 1.2 s > FLUSH_S
        writer.append([_sample(0.6 * i)])
        assert len(store.samples("run1")) == i


class _SlowStore(SqliteStore):
    """A store whose sample writes wait until the test lets them through."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def append_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        self.entered.set()
        self.gate.wait(10.0)
        super().append_samples(run_id, samples)


def test_a_slow_store_never_holds_up_the_sampler(tmp_path: Path) -> None:
    # In the background the writer thread waits on the store; append (the
    # sampler's call) returns at once and what queues meanwhile goes out in the
    # next batch. Nothing is lost.
    store = _SlowStore(tmp_path / "runs.db")
    clock = FakeClock()
    writer = RunWriter(store, INFO, clock, background=True)
    writer.append([_sample(0.1)])  # due at once: handed to the writer thread
    assert store.entered.wait(5.0)
    for i in range(2, 12):  # ten more ticks while the first write is stuck
        clock.advance(0.1)
        writer.append([_sample(0.1 * i)])
    assert store.samples("run1") == []
    store.gate.set()
    ended = replace(INFO, ended_at=datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC), duration_s=1.1)
    writer.finish(RunStatus.FINISHED, ended)
    samples, _, _ = writer.read_back()
    assert [round(s.t_s, 1) for s in samples] == [round(0.1 * i, 1) for i in range(1, 12)]
    assert not any(t.name == "carbonlens-writer" for t in threading.enumerate())


class _FlakyStore(SqliteStore):
    """A store whose sample writes fail while `failing` is set."""

    failing = False

    def append_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        if self.failing:
            raise StoreError(f"cannot write in run store {self.location}: disk I/O error")
        super().append_samples(run_id, samples)


class _FailingStore(SqliteStore):
    """A store that takes the run, then refuses every write."""

    def append_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        raise StoreError(f"cannot write in run store {self.location}: disk I/O error")

    def finish_run(self, *args: object, **kwargs: object) -> None:
        raise StoreError(f"cannot write in run store {self.location}: disk I/O error")


def test_a_fallback_that_fails_too_warns_once_and_the_report_keeps_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The store fails, the fallback takes the run and then fails on every write: one
    # warning and one note (not one per flush), a count, every sample in the report.
    fallback = _FailingStore(tmp_path / "fallback.db")
    monkeypatch.setattr(writer_module, "open_fallback", lambda *_: (fallback, "kept in F"))
    clock = FakeClock()
    writer = RunWriter(_FailingStore(tmp_path / "runs.db"), INFO, clock)
    with caplog.at_level(logging.WARNING, logger="carbonlens"):
        for i in range(1, 6):  # five flushes: the first switches to the fallback
            writer.append([_sample(float(i))])
            clock.advance(1.0)
        ended = replace(INFO, ended_at=datetime(2026, 1, 1, 0, 0, 6, tzinfo=UTC), duration_s=5.0)
        writer.finish(RunStatus.FINISHED, ended)
    warned = [r.getMessage() for r in caplog.records]
    assert warned == [
        "carbonlens: kept in F",
        f"carbonlens: fallback store {tmp_path / 'fallback.db'} failed too (cannot write in "
        f"run store {tmp_path / 'fallback.db'}: disk I/O error); what is not stored is kept "
        "for the report",
    ]
    # five appends and the run's end failed in the fallback
    assert writer.notes[1:] == [
        f"fallback store {tmp_path / 'fallback.db'} failed too (cannot write in run store "
        f"{tmp_path / 'fallback.db'}: disk I/O error)",
        "6 writes in all could not be stored; their samples and windows are in this report only",
    ]
    samples, _, _ = writer.read_back()
    assert [s.t_s for s in samples] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_without_a_fallback_each_failing_write_tries_again_and_notes_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No fallback file can be made: each later flush tries the store first (it may
    # come back), then a fallback again; the warning and note are written once.
    opened: list[str] = []

    def no_fallback(*_: object) -> tuple[Store, str]:
        opened.append("fallback")
        raise StoreError("cannot create /state/carbonlens: read-only file system")

    monkeypatch.setattr(writer_module, "open_fallback", no_fallback)
    store = _FlakyStore(tmp_path / "runs.db")
    clock = FakeClock()
    writer = RunWriter(store, INFO, clock)
    for i in range(1, 5):  # fails, fails, works, works
        store.failing = i <= 2
        writer.append([_sample(float(i))])
        clock.advance(1.0)
    ended = replace(INFO, ended_at=datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC), duration_s=4.0)
    writer.finish(RunStatus.FINISHED, ended)
    assert opened == ["fallback", "fallback"]  # the two failing flushes, then the store
    assert writer.notes == [
        f"run not stored after cannot write in run store {tmp_path / 'runs.db'}: disk I/O "
        "error: cannot create /state/carbonlens: read-only file system",
        "2 writes in all could not be stored; their samples and windows are in this report only",
    ]
    assert [s.t_s for s in store.samples("run1")] == [3.0, 4.0]  # the store came back
    samples, _, _ = writer.read_back()
    assert [s.t_s for s in samples] == [1.0, 2.0, 3.0, 4.0]
