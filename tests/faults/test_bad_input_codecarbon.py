"""CodeCarbon CSV import: malformed files are skipped line by line, never half-written.

A bad line becomes a `Skipped` entry naming the file, the line and the column; a
file that yields no run leaves the store exactly as it was (same runs, same samples).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonlens.cli import main
from carbonlens.errors import ConfigError
from carbonlens.report.codecarbon_import import import_codecarbon, read_codecarbon
from carbonlens.store.sqlite import SqliteStore

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
HEADER = "timestamp,run_id,duration,emissions,energy_consumed,cpu_energy,gpu_energy,ram_energy,pue"
GOOD = "2024-05-01T10:00:00,abc,3600,0.1,0.5,0.3,0.1,0.1,1.2"
CELLS = st.sampled_from(
    ["", "0", "1", "-1", "nan", "inf", "1e308", "1e-320", "1" + "0" * 400, "abc", "\x00", "é"]
    + ["2024-05-01T10:00:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59+01:00", '"', "1,2"]
)
ROW = st.lists(CELLS, min_size=0, max_size=11).map(",".join)


def _counts(db: Path) -> tuple[int, int]:
    """(runs, samples) in the SQLite file, read directly."""
    with sqlite3.connect(db) as conn:
        runs = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        samples = conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
    return runs, samples


@FUZZ
@given(content=st.binary(max_size=400))
def test_random_bytes_are_read_or_skipped(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "emissions.csv"
    path.write_bytes(content)
    rows, skipped = read_codecarbon(path)
    assert all(s.path == str(path) and s.line >= 1 and s.reason for s in skipped)
    assert all(r.energy_j >= 0 for r in rows)


@settings(FUZZ, max_examples=80)  # each example creates a SQLite store (~30 ms)
@given(lines=st.lists(ROW, min_size=1, max_size=5), bom=st.booleans())
def test_malformed_rows_never_reach_the_store_half_written(
    tmp_path: Path, lines: list[str], bom: bool
) -> None:
    path = tmp_path / "emissions.csv"
    path.write_text(("\ufeff" if bom else "") + "\n".join([HEADER, *lines]), encoding="utf-8")
    db_path = tmp_path / "runs.db"
    db_path.unlink(missing_ok=True)
    store = SqliteStore(db_path)
    try:
        result = import_codecarbon(store, [path])
        for info in result.imported:  # every stored run is complete and finite
            stored = store.get_run(info.run_id)
            assert stored is not None and stored.ended_at is not None
            assert all(0 <= s.energy_j < float("inf") for s in store.samples(info.run_id))
    finally:
        store.close()
    assert len(result.imported) + len(result.skipped) >= 1 or not any(x.strip() for x in lines)
    assert _counts(db_path)[0] == len(result.imported)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2024-05-01T10:00:00,a,1e300,0.1,0.5,,,,", "duration '1e300' s starts before year 1"),
        ("0001-01-01T00:00:00,a,100,0.1,0.5,,,,", "starts before year 1"),
        ("2024-05-01T10:00:00,a,10,0.1,0.5,,,,0", "pue is '0', not a number >= 1"),
        ("2024-05-01T10:00:00,a,10,0.1,1e308,,,,", "too large"),
        ("2024-05-01T10:00:00,a,10,1,1e-320,,,,", "too small"),  # intensity would be inf
        ("2024-05-01T10:00:00,a,10,nan,0.5,,,,", "emissions is 'nan'"),
        ("2024-05-01T10:00:00,a,10,0.1,0.5\x00,,,,", "energy_consumed is '0.5\\x00'"),
        ("2024-05-01T10:00:00,a,10,0.1", "4 fields, the header has 9"),
        ("yesterday,a,10,0.1,0.5,,,,", "Invalid isoformat string: 'yesterday'"),
    ],
)
def test_a_bad_line_is_skipped_with_its_line_and_reason(
    tmp_path: Path, row: str, reason: str
) -> None:
    path = tmp_path / "emissions.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n{row}\n", encoding="utf-8")
    rows, skipped = read_codecarbon(path)
    assert [r.line for r in rows] == [2]
    [skip] = skipped
    assert (skip.path, skip.line) == (str(path), 3) and reason in skip.reason


def test_an_unreadable_file_is_a_config_error_and_writes_nothing(tmp_path: Path) -> None:
    good = tmp_path / "emissions.csv"
    good.write_text(f"{HEADER}\n{GOOD}\n", encoding="utf-8")
    store = SqliteStore(tmp_path / "runs.db")
    try:
        with pytest.raises(ConfigError, match=r"cannot read .*missing\.csv"):
            import_codecarbon(store, [good, tmp_path / "missing.csv"])
    finally:
        store.close()
    assert _counts(tmp_path / "runs.db") == (0, 0)  # the good file was not written either


def test_cli_import_of_a_bad_file_exits_2_and_leaves_the_store_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(f"{HEADER}\n{GOOD}\n", encoding="utf-8")
    bad.write_bytes(b"\xef\xbb\xbf" + HEADER.encode() + b"\n\x00\x00,\xff\n" + b"9" * 200_000)
    runner = CliRunner()
    first = runner.invoke(main, ["import", "codecarbon", str(good), "--store", str(db)])
    assert first.exit_code == 0, first.output
    before = _counts(db)
    assert before == (1, 3)  # one run; cpu, gpu and ram samples
    result = runner.invoke(main, ["import", "codecarbon", str(bad), "--store", str(db)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{bad}:2: skipped" in result.output and "no run imported" in result.output
    assert _counts(db) == before
