"""Tracker lifecycle edges: windows open at or after `stop()`, start after stop,
forked children, and arguments checked at construction."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from carbonlens.errors import ConfigError
from carbonlens.records import Channel, Component, Method, RunStatus
from carbonlens.store import SqliteStore
from carbonlens.testing.fakes import FakeClock, FakeSensor, FakeShares
from carbonlens.tracking.tracker import Tracker

CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fallback files, if any were made, land in `tmp_path / "state"`."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def _tracker(tmp_path: Path, clock: FakeClock, sensor: FakeSensor) -> Tracker:
    return Tracker(
        project="p",
        sensors=[sensor],
        store=tmp_path / "runs.db",
        clock=clock,
        shares=FakeShares(),
        country="FR",
        interval_s=3600.0,  # the background thread never ticks; the test drives time
    )


def _stored(tmp_path: Path, run_id: str) -> tuple[RunStatus, list[str]]:
    store = SqliteStore(tmp_path / "runs.db")
    try:
        info = store.get_run(run_id)
        assert info is not None
        return info.status, [w.name for w in store.windows(run_id)]
    finally:
        store.close()


def test_window_open_at_stop_ends_with_the_run(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = _tracker(tmp_path, clock, FakeSensor(CPU, energy_j=[0.0, 1.0, 4.0]))
    tracker.start()
    clock.advance(1.0)
    window = tracker.window("last-epoch")
    window.__enter__()  # at 1 s: 1 J
    clock.advance(2.0)
    report = tracker.stop()  # at 3 s: 4 J
    window.__exit__(None, None, None)  # after stop: nothing more to do
    [total] = report.windows
    assert (total.name, total.start_t_s, total.end_t_s) == ("last-epoch", 1.0, 3.0)
    assert total.it_energy_j == pytest.approx(3.0)
    assert any("'last-epoch' was still open" in note for note in report.notes)
    assert _stored(tmp_path, tracker.run_id) == (RunStatus.FINISHED, ["last-epoch"])
    assert not (tmp_path / "state").exists()  # no fallback file for a closed store


def test_window_and_metric_after_stop_are_not_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    sensor = FakeSensor(CPU, energy_j=[0.0, 1.0, 2.0])
    tracker = _tracker(tmp_path, clock, sensor)
    tracker.start()
    clock.advance(1.0)
    tracker.stop()
    reads = sensor.reads
    with caplog.at_level(logging.WARNING, logger="carbonlens"):
        with tracker.window("late"):
            clock.advance(1.0)
        tracker.log_metric("loss", 0.5)
    assert sensor.reads == reads  # the closed sensor is not read again
    assert "windows not recorded: it was stopped" in caplog.text
    assert "metrics not recorded: it was stopped" in caplog.text
    assert _stored(tmp_path, tracker.run_id) == (RunStatus.FINISHED, [])
    assert not (tmp_path / "state").exists()


def test_start_after_stop_raises(tmp_path: Path) -> None:
    tracker = _tracker(tmp_path, FakeClock(), FakeSensor(CPU, energy_j=[0.0, 1.0]))
    tracker.start().stop()
    with pytest.raises(RuntimeError, match="measures one run"):
        tracker.start()


def test_a_forked_child_leaves_the_run_to_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    sensor = FakeSensor(CPU, energy_j=[0.0, 1.0, 3.0])
    tracker = _tracker(tmp_path, clock, sensor)
    tracker.start()
    parent_pid = os.getpid()
    clock.advance(1.0)
    with monkeypatch.context() as child:  # as seen from a forked child process
        child.setattr(os, "getpid", lambda: parent_pid + 1)
        with caplog.at_level(logging.WARNING, logger="carbonlens"):
            with tracker.window("child"):
                clock.advance(1.0)
            report = tracker.stop()
        assert report.it_energy_j == 0.0 and report.info.pid == parent_pid + 1
        assert any(f"a fork of process {parent_pid}" in note for note in report.notes)
        assert tracker.stop().it_energy_j == 0.0
    assert "is a fork of process" in caplog.text
    assert sensor.reads == 1  # the baseline only
    assert _stored(tmp_path, tracker.run_id) == (RunStatus.RUNNING, [])
    parent = tracker.stop()
    assert parent.info.status == RunStatus.FINISHED and parent.it_energy_j == pytest.approx(1.0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_real_fork_neither_hangs_nor_finishes_the_parents_run(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = _tracker(tmp_path, clock, FakeSensor(CPU, energy_j=[0.0, 1.0]))
    tracker.start()
    pid = os.fork()
    if pid == 0:  # the child: leave through os._exit only (no pytest teardown here)
        code = 1
        try:
            with tracker.window("child"):
                pass
            code = 0 if tracker.stop().it_energy_j == 0.0 else 2
        finally:
            sys.stdout.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _stored(tmp_path, tracker.run_id) == (RunStatus.RUNNING, [])
    clock.advance(1.0)
    assert tracker.stop().info.status == RunStatus.FINISHED


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tags": "nightly"}, "tags must be a list of strings"),
        ({"tags": [1]}, "tags must be a list of strings"),
        ({"tags": 5}, "tags must be a list of strings"),
        ({"name": 3}, "name must be a string"),
        ({"root_pid": -1}, "root_pid must be a process id"),
        ({"sensors": ["nope"]}, "unknown sensor 'nope'"),
        ({"sensors": "nope"}, "unknown sensor 'nope'"),
        ({"sensors": [FakeSensor(CPU, energy_j=[0.0]), "rapl"]}, "not both"),
    ],
)
def test_bad_arguments_fail_at_construction(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Tracker(store=tmp_path / "runs.db", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("store", [123, object(), {"path": "runs.db"}])
def test_a_store_that_is_neither_a_path_nor_a_store_fails_at_construction(store: object) -> None:
    # before, it was taken for a Store object and failed at start() with an
    # AttributeError, after the sensors had been opened
    with pytest.raises(ConfigError, match="store must be a path, a URL or a carbonlens Store"):
        Tracker(country="FR", store=store)  # type: ignore[arg-type]


def test_sensor_names_may_be_one_comma_separated_string(tmp_path: Path) -> None:
    tracker = Tracker(store=tmp_path / "runs.db", sensors="cpu-tdp, ram-model")
    assert tracker.settings.sensors == ("cpu-tdp", "ram-model")


def test_stop_refuses_the_running_status(tmp_path: Path) -> None:
    # it was stored as a stopped run still marked running
    tracker = Tracker(
        country="FR",
        store=tmp_path / "runs.db",
        sensors=[FakeSensor(CPU, energy_j=[0.0, 1.0])],
        clock=FakeClock(),
    )
    tracker.start()
    with pytest.raises(ConfigError, match="not running"):
        tracker.stop(RunStatus.RUNNING)
    assert tracker.stop().info.status == RunStatus.FINISHED
