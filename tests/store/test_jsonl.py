"""JsonlStore specifics: the file format, torn and foreign files, incremental reading.

The Store contract (round trips, filters, prefixes, interrupted runs, a killed
writer) runs against JsonlStore too, in test_sqlite.py.
"""

from __future__ import annotations

import json
import logging
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carbonlens.errors import StoreError
from carbonlens.records import Channel, Component, Method, RunInfo, RunStatus, Sample, Window
from carbonlens.store.jsonl import JsonlStore

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CPU = Channel("rapl", Component.CPU, "package-0", Method.MEASURED)


def run_info(run_id: str) -> RunInfo:
    return RunInfo(run_id, "proj", "name", T0, host="node-1", pid=4242, tags=("a",))


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_write_is_one_json_line_of_a_known_type(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "run.jsonl"
    with closing(JsonlStore(path)) as store:
        store.create_run(run_info("r1"))
        store.append_samples("r1", [Sample(CPU, 1.0, 1.0, 0.1 + 0.2, process_energy_j=None)])
        store.save_window("r1", Window("eval", 0.5, 1.0))
        store.finish_run("r1", RunStatus.FINISHED, T0, 1.0)

    records = lines(path)

    assert [r["type"] for r in records] == ["run", "samples", "window", "finish"]
    assert records[0]["started_at"] == "2025-03-01T12:00:00.000000+00:00"
    assert records[1]["samples"] == [
        {
            "t_s": 1.0,
            "duration_s": 1.0,
            "sensor": "rapl",
            "component": "cpu",
            "device": "package-0",
            "method": "measured",
            "energy_j": 0.30000000000000004,
            "process_energy_j": None,
        }
    ]
    assert records[3] == {
        "type": "finish",
        "run_id": "r1",
        "status": "finished",
        "ended_at": "2025-03-01T12:00:00.000000+00:00",
        "duration_s": 1.0,
    }


def test_reopening_replays_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with closing(JsonlStore(path)) as store:
        store.create_run(run_info("r1"))
        store.append_samples("r1", [Sample(CPU, 1.0, 1.0, 2.0)])
    with closing(JsonlStore(path)) as store:
        store.append_samples("r1", [Sample(CPU, 2.0, 1.0, 3.0)])
        assert [s.energy_j for s in store.samples("r1")] == [2.0, 3.0]
        assert store.get_run("r1") == run_info("r1")


def test_a_reader_sees_lines_appended_after_it_opened(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with closing(JsonlStore(path)) as writer, closing(JsonlStore(path)) as reader:
        writer.create_run(run_info("r1"))
        assert [r.run_id for r in reader.list_runs()] == ["r1"]
        writer.append_samples("r1", [Sample(CPU, 1.0, 1.0, 2.0)])
        assert len(reader.samples("r1")) == 1


def test_torn_last_line_is_skipped_and_the_next_write_starts_a_new_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "run.jsonl"
    with closing(JsonlStore(path)) as store:
        store.create_run(run_info("r1"))
        store.append_samples("r1", [Sample(CPU, 1.0, 1.0, 2.0)])
    with path.open("ab") as file:  # a process killed in the middle of a write
        file.write(b'{"type": "samples", "run_id": "r1", "at": "2025-03-01T12:0')

    with caplog.at_level(logging.WARNING), closing(JsonlStore(path)) as store:
        store.append_samples("r1", [Sample(CPU, 2.0, 1.0, 3.0)])
        energies = [s.energy_j for s in store.samples("r1")]

    assert energies == [2.0, 3.0]
    assert "skipping line 3" in caplog.text
    assert json.loads(path.read_text().splitlines()[-1])["samples"][0]["energy_j"] == 3.0


def test_unreadable_middle_lines_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "run.jsonl"
    with closing(JsonlStore(path)) as store:
        store.create_run(run_info("r1"))
    with path.open("a") as file:
        file.write('{"type": "samples", "run_id": "r1", "samples": "oops"}\n')
        file.write('{"type": "teleport"}\n')

    with caplog.at_level(logging.WARNING), closing(JsonlStore(path)) as store:
        store.append_samples("r1", [Sample(CPU, 1.0, 1.0, 2.0)])
        samples = store.samples("r1")

    assert [s.energy_j for s in samples] == [2.0]
    assert "skipping line 2" in caplog.text
    assert "skipping line 3" in caplog.text


@pytest.mark.parametrize(
    "content",
    [b"not json at all\n{}\n", b"\x00\x01binary without newline", b'{"type": "other"}\n'],
)
def test_a_file_that_is_not_a_store_is_refused_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)

    with pytest.raises(StoreError, match="not a carbonlens JSON-lines run store") as caught:
        JsonlStore(path)

    assert caught.value.path == str(path)
    assert path.read_bytes() == content


def test_path_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot open run store"):
        JsonlStore(tmp_path / "file" / "run.jsonl")
