"""The run store's tables, as portable SQL shared by the SQLite and PostgreSQL back-ends.

`migrations()` lists the schema changes in order; the `schema_version` table
holds how many were applied. Each back-end applies the pending ones in one
transaction when a store is opened, and refuses a store from a newer
carbonlens. Only the types differ: PostgreSQL gets 64-bit integers and text
compared byte-wise (`COLLATE "C"`), so runs, metrics and budgets sort the same
on both back-ends whatever the database's locale.
"""

from __future__ import annotations


def migrations(*, text: str = "TEXT", integer: str = "INTEGER") -> tuple[tuple[str, ...], ...]:
    """Schema migrations in order: entry i (its statements) brings version i to i + 1.

    Args:
        text: The type of text columns.
        integer: The type of integer columns.
    """
    t, i, f = text, integer, "DOUBLE PRECISION"
    return (
        (  # 1: initial schema; the samples key (run_id, seq) doubles as the index on run_id
            f"CREATE TABLE schema_version (version {i} NOT NULL)",
            f"CREATE TABLE runs (run_id {t} PRIMARY KEY, project {t} NOT NULL, name {t} NOT NULL,"
            f" kind {t} NOT NULL, tags {t} NOT NULL, host {t} NOT NULL, pid {i} NOT NULL,"
            f" started_at {t} NOT NULL, ended_at {t}, duration_s {f},"
            f" status {t} NOT NULL, settings {t} NOT NULL, heartbeat_at {t} NOT NULL)",
            "CREATE INDEX runs_started_at ON runs (started_at)",
            f"CREATE TABLE samples (run_id {t} NOT NULL REFERENCES runs (run_id),"
            f" seq {i} NOT NULL, t_s {f} NOT NULL,"
            f" duration_s {f} NOT NULL, sensor {t} NOT NULL, component {t} NOT NULL,"
            f" device {t} NOT NULL, method {t} NOT NULL, energy_j {f} NOT NULL,"
            f" process_energy_j {f}, PRIMARY KEY (run_id, seq))",
            f"CREATE TABLE windows (run_id {t} NOT NULL REFERENCES runs (run_id),"
            f" name {t} NOT NULL, start_t_s {f} NOT NULL, end_t_s {f},"
            " PRIMARY KEY (run_id, name, start_t_s))",
        ),
        (  # 2: metrics of runs (step-indexed) and budgets of projects
            f"CREATE TABLE metrics (run_id {t} NOT NULL REFERENCES runs (run_id),"
            f" name {t} NOT NULL, step {i} NOT NULL, value {f} NOT NULL,"
            f" t_s {f} NOT NULL, PRIMARY KEY (run_id, name, step))",
            f"CREATE TABLE budgets (project {t} NOT NULL, kind {t} NOT NULL,"
            f" amount {f} NOT NULL, period {t} NOT NULL, PRIMARY KEY (project, kind))",
        ),
    )
