"""W&B logging in offline mode, read back from the run's own `.wandb` file (no network)."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

wandb = pytest.importorskip("wandb")
from wandb.proto import wandb_internal_pb2  # noqa: E402

from carbonlens.errors import ConfigError  # noqa: E402
from carbonlens.integrations.wandb import log_report  # noqa: E402
from carbonlens.testing import FakeClock  # noqa: E402
from carbonlens.tracking.tracker import Tracker  # noqa: E402
from carbonlens.units import J_PER_KWH  # noqa: E402

from .conftest import POWER_W  # noqa: E402

_BLOCK = 32 * 1024
"""The `.wandb` file is a LevelDB-style log: 32 KiB blocks of checksummed chunks."""


def _records(path: Path) -> Iterator[Any]:
    """The protobuf records of an offline run's `.wandb` file, in order.

    Layout: a 7-byte header (`:W&B`, magic 0xBEE1, version), then chunks of
    crc32 (4 bytes), length (2), type (1: full, 2: first, 3: middle, 4: last).
    """
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, parts = 7, b""
    while pos + 7 <= len(data):
        left = _BLOCK - pos % _BLOCK
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if left < 7 or (kind == 0 and length == 0):  # block padding
            pos += left
            continue
        payload = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        parts = payload if kind in (1, 2) else parts + payload
        if kind in (1, 4):
            yield wandb_internal_pb2.Record.FromString(parts)


class OfflineRun:
    """What an offline run wrote: its summary, history rows and artefacts."""

    def __init__(self, run_dir: Path) -> None:
        [path] = run_dir.glob("run-*.wandb")
        self.summary: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.artifacts: list[Any] = []
        for record in _records(path):
            kind = record.WhichOneof("record_type")
            if kind == "summary":
                for item in record.summary.update:
                    key = item.key or "/".join(item.nested_key)
                    self.summary[key] = json.loads(item.value_json)
            elif kind == "history":
                row = {i.key or "/".join(i.nested_key): i.value_json for i in record.history.item}
                self.history.append({k: json.loads(v) for k, v in row.items()})
            elif kind == "artifact":
                self.artifacts.append(record.artifact)


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """W&B offline, every directory it writes under tmp_path; yields WANDB_DIR.

    W&B keeps the settings it read from the environment for the whole process:
    `wandb.teardown()` makes the next test read its own directories again.
    """
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    monkeypatch.setenv("WANDB_DISABLE_CODE", "true")
    for variable, folder in (
        ("WANDB_DIR", "wandb"),
        ("WANDB_CACHE_DIR", "cache"),
        ("WANDB_DATA_DIR", "data"),
        ("WANDB_CONFIG_DIR", "config"),
        ("WANDB_ARTIFACT_DIR", "artifacts"),
    ):
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(variable, str(tmp_path / folder))
    yield tmp_path / "wandb"
    wandb.teardown()


def _init() -> Any:
    return wandb.init(
        project="carbonlens-test",
        settings=wandb.Settings(x_disable_stats=True, x_disable_machine_info=True, console="off"),
    )


def _report(options: dict[str, Any], clock: FakeClock) -> Any:
    with Tracker(**options) as tracker:
        for epoch in range(2):
            with tracker.window(f"epoch-{epoch}"):
                clock.advance(3.0 + epoch)  # 30 J, then 40 J at 10 W
    return tracker.report


def test_report_goes_to_the_active_run_as_summary_rows_and_artefact(
    offline: Path, tracker_options: dict[str, Any], clock: FakeClock
) -> None:
    report = _report(tracker_options, clock)
    run = _init()
    try:
        run.log({"loss": 0.5})  # the user's own history comes first
        assert log_report(report) == run.id
        run_dir = Path(run.dir).parent
    finally:
        run.finish()
    logged = OfflineRun(run_dir)
    summary = logged.summary
    total_kwh = 7 * POWER_W / J_PER_KWH  # 3 s + 4 s at 10 W
    assert summary["carbonlens/it_energy_kwh"] == pytest.approx(total_kwh)
    assert summary["carbonlens/energy_kwh/cpu"] == pytest.approx(total_kwh)
    assert summary["carbonlens/facility_energy_kwh"] == pytest.approx(total_kwh)  # PUE 1
    assert summary["carbonlens/operational_gco2e"] == pytest.approx(total_kwh * 41.44)  # FR
    assert summary["carbonlens/emissions_gco2e"] == pytest.approx(report.total_g)
    assert summary["carbonlens/embodied_gco2e"] == pytest.approx(report.embodied_g)
    assert summary["carbonlens/duration_s"] == pytest.approx(7.0)
    assert summary["carbonlens/intensity_g_per_kwh"] == pytest.approx(41.44)
    assert summary["carbonlens/pue"] == pytest.approx(1.0)
    assert summary["carbonlens/run_id"] == report.info.run_id
    assert summary["carbonlens/windows"] == "epoch-0,epoch-1"
    assert summary["carbonlens/methods"] == "cpu:measured"
    rows = [
        (r["carbonlens/window"], r["carbonlens/window_energy_kwh"], r["_step"])
        for r in logged.history
        if "carbonlens/window" in r
    ]
    assert rows == [
        (0, pytest.approx(3 * POWER_W / J_PER_KWH), 1),
        (1, pytest.approx(4 * POWER_W / J_PER_KWH), 2),
    ]
    [artifact] = logged.artifacts
    name = f"carbonlens-{report.info.run_id[:12]}"
    assert (artifact.type, artifact.name) == ("carbonlens-report", name)
    files = {entry.path: Path(entry.local_path) for entry in artifact.manifest.contents}
    assert sorted(files) == ["report.html", "report.json"]
    assert report.info.run_id in files["report.html"].read_text()
    assert json.loads(files["report.json"].read_text())["run_id"] == report.info.run_id


def test_no_active_run_is_refused_and_a_run_can_be_given(
    offline: Path, tracker_options: dict[str, Any], clock: FakeClock
) -> None:
    report = _report(tracker_options, clock)
    with pytest.raises(ConfigError, match="no active W&B run"):
        log_report(report)
    run = _init()
    try:
        log_report(report, run=run, artifacts=False)
        run_dir = Path(run.dir).parent
    finally:
        run.finish()
    logged = OfflineRun(run_dir)
    assert logged.summary["carbonlens/it_energy_kwh"] == pytest.approx(7 * POWER_W / J_PER_KWH)
    assert logged.artifacts == []
