"""`carbonlens run` with a command that cannot be run: the shell's exit statuses.

127 (no run recorded) when nothing by that name exists; 126 (the run stored as
`failed`) when it exists but cannot be executed, with a message that says so
rather than "command not found".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from carbonlens.records import RunStatus
from carbonlens.store import open_existing_store


def carbonlens_run(
    tmp_path: Path, program: str, path_dir: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{path_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "CARBONLENS_STORE": str(tmp_path / "runs.db"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    return subprocess.run(
        [sys.executable, "-m", "carbonlens", "run", "--", program],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH directory with `not-executable`, a script without its x bit."""
    directory = tmp_path / "bin"
    directory.mkdir()
    script = directory / "not-executable"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o644)
    return directory


@pytest.mark.skipif(os.name != "posix", reason="execute permission bits")
@pytest.mark.parametrize(
    "program", ["./bin/not-executable", "not-executable", "./bin"], ids=["path", "on-path", "dir"]
)
def test_existing_command_that_cannot_run_exits_126_and_says_why(
    tmp_path: Path, bin_dir: Path, program: str
) -> None:
    result = carbonlens_run(tmp_path, program, bin_dir)

    assert result.returncode == 126, result.stderr
    assert "command not found" not in result.stderr
    assert f"cannot run {program}: Permission denied" in result.stderr
    assert "chmod +x" in result.stderr
    store = open_existing_store(tmp_path / "runs.db")
    try:
        [run] = store.list_runs()
    finally:
        store.close()
    assert run.status is RunStatus.FAILED


@pytest.mark.parametrize("program", ["./bin/missing", "no-such-command-xyz"])
def test_missing_command_exits_127_and_records_nothing(
    tmp_path: Path, bin_dir: Path, program: str
) -> None:
    result = carbonlens_run(tmp_path, program, bin_dir)

    assert result.returncode == 127
    assert f"command not found: {program}" in result.stderr
    assert not (tmp_path / "runs.db").exists()
