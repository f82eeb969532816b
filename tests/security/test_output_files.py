"""Files the user names (`report -o`, `export -o`) are resolved and written atomically.

A write that fails leaves the old file as it was (or no file) and no temporary
file behind, and says so in one line with exit status 2.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from carbonlens import _cli_common
from carbonlens._cli_common import CliFailure, write_output
from carbonlens.cli import main

from .conftest import RUN_ID


def _invoke(args: list[str], store: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--store", str(store)], env={})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "args",
    [
        ["report", RUN_ID, "--format", "html"],
        ["report", RUN_ID, "--format", "json"],
        ["report", RUN_ID, "--format", "model-card"],
        ["export", RUN_ID, "--format", "csv", "--samples"],
    ],
)
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, store_path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out" / "document.txt"
    out.parent.mkdir()
    out.write_text("the old document\n")

    def full_disk(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_cli_common.os, "replace", full_disk)
    code, output = _invoke([*args, "-o", str(out)], store_path)
    assert code == 2 and "Traceback" not in output
    assert f"cannot write {out}: No space left on device" in output
    assert out.read_text() == "the old document\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["document.txt"]


def test_a_missing_directory_is_a_clean_error(tmp_path: Path, store_path: Path) -> None:
    out = tmp_path / "no" / "such" / "dir" / "report.html"
    code, output = _invoke(["report", RUN_ID, "-o", str(out)], store_path)
    assert code == 2 and "Traceback" not in output
    assert f"cannot write {out}: No such file or directory" in output
    assert not (tmp_path / "no").exists()


def test_a_report_is_written_whole_through_a_symlink(tmp_path: Path, store_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    code, output = _invoke(["report", RUN_ID, "-o", str(link)], store_path)
    assert code == 0, output
    assert link.is_symlink() and target.read_text().startswith("{")  # the link stays a link


def test_permissions_new_files_follow_the_umask_existing_keep_theirs(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        new = write_output("a", tmp_path / "new.txt")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(new.stat().st_mode) == 0o640  # 0666 less umask 027
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o600)
    write_output("new", kept)
    assert kept.read_text() == "new" and stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_paths_are_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    written = write_output("x", Path("../up.txt"))
    assert written == tmp_path / "up.txt" and written.read_text() == "x"
    with pytest.raises(CliFailure, match="cannot write"):
        write_output("x", tmp_path / "sub")  # a directory
