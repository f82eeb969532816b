"""Salvaging a corrupt SQLite store: every readable row, table by table, into a new one.

Rows are read in row-id order; where reading fails (an unreadable page), the
reader jumps ahead to the next row id from which reading works again, and the
skipped row ids are counted as lost. The original files are renamed, never
deleted. Used by `store.repair` (`carbonlens doctor --store --repair`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from carbonlens._frozen import frozen
from carbonlens.errors import StoreError
from carbonlens.store._private import create_private_file
from carbonlens.store._sqlite_schema import connect

TABLES = ("runs", "samples", "windows", "metrics", "budgets")
"""The store's tables, in the order a salvage copies them."""

_BATCH_ROWS = 1_000


@frozen
class Salvage:
    """A salvaged database: rows copied and rows unreadable, per table.

    `lost` counts the row ids skipped over unreadable pages (carbonlens numbers
    rows consecutively, so it is the number of rows lost, give or take deleted
    budgets) up to the last readable row; `tail_lost` names the tables whose end
    could not be read, so that their rows after it are lost too, uncounted.
    """

    kept: Path
    recovered: dict[str, int]
    lost: dict[str, int]
    tail_lost: tuple[str, ...] = ()

    @property
    def rows_recovered(self) -> int:
        """Rows copied, all tables."""
        return sum(self.recovered.values())

    @property
    def rows_lost(self) -> int:
        """Rows found unreadable, all tables."""
        return sum(self.lost.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible fields."""
        return {
            "kept_as": str(self.kept),
            "rows_recovered": self.rows_recovered,
            "rows_lost": self.rows_lost,
            "rows_lost_exact": not self.tail_lost,
            "tables": {
                table: {
                    "recovered": self.recovered[table],
                    "lost": self.lost[table],
                    "lost_exact": table not in self.tail_lost,
                }
                for table in self.recovered
            },
        }


def salvage_database(path: Path, at: datetime) -> Salvage:
    """Copy every readable row of the database at `path` into a new one at `path`.

    The original and its -wal/-shm files are renamed `<name>.corrupt-<stamp>`
    (plus `-wal`/`-shm`), never deleted; `at` (UTC) gives the stamp.

    Raises:
        StoreError: The new database cannot be written, or a file renamed.
    """
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    kept = path.with_name(f"{path.name}.corrupt-{stamp}")
    fresh = path.with_name(f"{path.name}.salvage-{stamp}")
    create_private_file(fresh)
    target = connect(fresh)
    recovered: dict[str, int] = {}
    lost: dict[str, int] = {}
    tail_lost: list[str] = []
    try:
        target.execute("PRAGMA foreign_keys = OFF")  # keep samples whose run row is lost
        try:
            source_conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.DatabaseError:
            source_conn = None
        for table in TABLES:
            recovered[table], lost[table], tail = (
                _copy_table(source_conn, target, table) if source_conn else (0, 0, True)
            )
            if tail:
                tail_lost.append(table)
        if source_conn is not None:
            source_conn.close()
    finally:
        target.close()
    try:
        for suffix in ("-wal", "-shm", ""):
            original = Path(f"{path}{suffix}")
            if original.exists():
                original.rename(f"{kept}{suffix}")
        fresh.rename(path)
    except OSError as exc:
        raise StoreError(f"cannot put the salvaged store in place: {exc}", path=str(path)) from exc
    return Salvage(kept, recovered, lost, tuple(tail_lost))


def _copy_table(
    source: sqlite3.Connection, target: sqlite3.Connection, table: str
) -> tuple[int, int, bool]:
    """Copy the readable rows of `table`: (rows copied, row ids skipped as unreadable,
    whether its end was unreadable)."""
    columns = [row[1] for row in target.execute(f"PRAGMA table_info({table})")]
    names = ", ".join(columns)
    insert = f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
    select = f"SELECT rowid, {names} FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT ?"

    def read_one(start: int) -> Any:
        """The row with the lowest row id >= `start`, None if none (DatabaseError if
        it cannot be read)."""
        return source.execute(select, (start, 1)).fetchone()

    def first_readable(start: int) -> int | None:
        """The lowest row id >= `start` from which reading works, None if none."""
        try:
            row = read_one(start)
        except sqlite3.DatabaseError:
            return None
        return None if row is None else int(row[0])

    copied = skipped = 0
    start = 0  # the next row id to read
    tail = False
    target.execute("BEGIN")
    try:
        while True:
            rows: list[Any] = []
            try:
                for row in source.execute(select, (start, -1)):
                    rows.append(row[1:])
                    start = int(row[0]) + 1
                    if len(rows) == _BATCH_ROWS:
                        copied += _insert(target, insert, rows)
                copied += _insert(target, insert, rows)
                break  # read to the end
            except sqlite3.DatabaseError:
                copied += _insert(target, insert, rows)
            try:  # sqlite3 reads a row ahead: the last readable ones come one by one
                while (row := read_one(start)) is not None:
                    copied += _insert(target, insert, [row[1:]])
                    start = int(row[0]) + 1
                break  # read to the end
            except sqlite3.DatabaseError:
                pass
            resume = _skip_unreadable(first_readable, start)
            if resume is None:
                tail = True
                break
            skipped += resume - start
            start = resume
        target.execute("COMMIT")
    except BaseException:
        target.execute("ROLLBACK")
        raise
    return copied, skipped, tail


def _insert(target: sqlite3.Connection, insert: str, rows: list[Any]) -> int:
    """Insert `rows` and empty the list; how many there were."""
    target.executemany(insert, rows)
    count = len(rows)
    rows.clear()
    return count


def _skip_unreadable(first_readable: Callable[[int], int | None], start: int) -> int | None:
    """The first readable row id after the unreadable ones from `start` on.

    Reading from `start` fails. Tries 1, 2, 4, ... row ids further until reading
    works, then bisects back so that no readable row is skipped (reading fails
    from any row id of an unreadable page). None when nothing further is readable.
    """
    step = 1
    while (found := first_readable(start + step)) is None:
        step *= 2
        if start + step > 2**62:
            return None
    low, high = step // 2, step  # reading fails from start + low, works from start + high
    while high - low > 1:
        middle = (low + high) // 2
        candidate = first_readable(start + middle)
        if candidate is None:
            low = middle
        else:
            high, found = middle, candidate
    return found
