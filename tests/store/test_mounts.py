"""The store's network-filesystem warning, on mount tables written under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonlens.records import Channel, Component, Method
from carbonlens.store import _mounts
from carbonlens.store._mounts import filesystem_type, network_store_warning
from carbonlens.testing import FakeClock, FakeSensor
from carbonlens.tracking.tracker import Tracker

# /proc/self/mounts of an HPC login node (paths under /clmnt so that nothing on this
# machine's real filesystem resolves them differently): root on ext4 with an overlay
# mounted on top of it, home on NFS, a tmpfs inside home, Lustre with a space.
TABLE = """\
/dev/sda1 / ext4 rw,relatime 0 0
overlay / overlay rw,relatime 0 0
server:/export/home /clmnt/home nfs4 rw,vers=4.2 0 0
tmpfs /clmnt/home/me/scratch tmpfs rw 0 0
10.0.0.1@o2ib:/fs /clmnt/my\\040data lustre rw 0 0
"""


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "mounts"
    path.write_text(TABLE)
    return path


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/clmnt/home/me/.local/share/carbonlens/runs.db", "nfs4"),
        ("/clmnt/home", "nfs4"),
        ("/clmnt/home/me/scratch/runs.db", "tmpfs"),  # the longer mount point wins
        ("/clmnt/my data/runs.db", "lustre"),  # \040 is a space
        ("/clmnt/homework/runs.db", "overlay"),  # not inside /clmnt/home; / on top
    ],
)
def test_filesystem_type_is_the_longest_mount_point_holding_the_path(
    table: Path, path: str, kind: str
) -> None:
    assert filesystem_type(Path(path), table) == kind


def test_no_mount_table_means_no_answer(tmp_path: Path) -> None:
    assert filesystem_type(Path("/clmnt/home/x"), tmp_path / "absent") is None
    assert network_store_warning(Path("/clmnt/home/x"), tmp_path / "absent") is None


def test_warning_names_the_filesystem_and_the_way_out(table: Path) -> None:
    message = network_store_warning(Path("/clmnt/home/me/runs.db"), table)
    assert message is not None and "on a network filesystem (nfs4)" in message
    assert "carbonlens sync" in message and "PostgreSQL" in message
    assert network_store_warning(Path("/clmnt/home/me/scratch/runs.db"), table) is None


def test_a_tracker_on_a_network_store_says_so_in_its_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mounts").write_text(f"/dev/sda1 / ext4 rw 0 0\nsrv:/x {tmp_path} nfs rw 0 0\n")
    monkeypatch.setattr(_mounts, "MOUNTS", tmp_path / "mounts")
    cpu = Channel("fake", Component.CPU, "cpu", Method.MEASURED)
    tracker = Tracker(
        country="FR",
        store=str(tmp_path / "runs.db"),
        sensors=[FakeSensor(cpu, energy_j=[0.0, 5.0])],
        clock=FakeClock(),
    )
    tracker.start()
    report = tracker.stop()
    assert any("is on a network filesystem (nfs)" in note for note in report.notes)
