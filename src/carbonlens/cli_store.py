"""`carbonlens sync` and `carbonlens doctor --store`: moving runs between stores,
checking and repairing the store."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from carbonlens._cli_common import carbonlens_errors, fail, print_json

EXIT_PROBLEMS = 1
"""Exit status of `doctor --store` when problems are left."""


def configured_store() -> str:
    """The store of the settings (`--store` unset): `store`, else the default one."""
    from carbonlens.config import load_settings
    from carbonlens.store import default_store_target

    return load_settings().store or default_store_target(os.environ)


def _same_store(a: str, b: str) -> bool:
    from carbonlens.store import is_database_url, store_path

    if is_database_url(a) or is_database_url(b):
        return a == b
    return store_path(a).resolve() == store_path(b).resolve()


@click.command("sync")
@click.argument("source")
@click.option("--to", "target", help="Store to copy into (default: the configured store).")
@click.option("--run", "run_ids", multiple=True, help="Only this run (id or prefix); repeat.")
@click.option("--dry-run", is_flag=True, help="Say what would be copied; copy nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print what was copied as JSON on stdout.")
@carbonlens_errors
def sync_command(
    source: str, target: str | None, run_ids: tuple[str, ...], dry_run: bool, as_json: bool
) -> None:
    """Copy runs from SOURCE (a fallback .jsonl file, also one renamed .jsonl.imported by
    `doctor --store --repair`, or another store) into the store.

    Runs the store already has in full are skipped; a run it has in part (split
    by a store failure) gets what it lacks. Running it again copies nothing new.
    """
    from carbonlens.store import open_existing_store, open_writable_store
    from carbonlens.store.jsonl import JsonlStore
    from carbonlens.store.transfer import CopyAction, copy_runs

    into = target or configured_store()
    if _same_store(source, into):
        fail(f"{source} is the store itself: give another SOURCE or --to")
    path = Path(source)
    imported = path.suffixes[-2:] == [".jsonl", ".imported"] and path.is_file()
    reader = JsonlStore(path) if imported else open_existing_store(source)
    try:
        writer = open_writable_store(into)
        try:
            result = copy_runs(reader, writer, run_ids or None, dry_run=dry_run)
        finally:
            writer.close()
    finally:
        reader.close()
    if as_json:
        print_json(result.to_dict())
        return
    verb = "would copy" if dry_run else "copied"
    for run in result.runs:
        if run.action is not CopyAction.SKIPPED:
            click.echo(
                f"{run.action.value:7} {run.run_id[:12]}  {run.samples} sample(s), "
                f"{run.windows} window(s), {run.metrics} metric value(s), {run.status.value}"
            )
    click.echo(
        f"{verb} {result.count(CopyAction.COPIED)} new run(s), merged "
        f"{result.count(CopyAction.MERGED)}, skipped {result.count(CopyAction.SKIPPED)} "
        f"(already there); {result.samples} sample(s) from {result.source} into {result.target}"
    )


@carbonlens_errors
def doctor_store(path: str, repair: bool, as_json: bool) -> None:
    """`carbonlens doctor --store [PATH] [--repair]`: print the findings, exit 1 if
    problems are left (PATH empty: the configured store)."""
    from carbonlens.store import default_fallback_dir, is_database_url, store_label, store_path
    from carbonlens.store.repair import check_database, check_store, healthy, repair_store

    given = path or configured_store()
    fallback_dirs = [default_fallback_dir(os.environ), Path(tempfile.gettempdir()) / "carbonlens"]
    if is_database_url(given):
        findings = check_database(given, fallback_dirs, repair=repair)
    else:
        act = repair_store if repair else check_store
        findings = act(store_path(given), fallback_dirs)
    ok = healthy(findings)
    if as_json:
        print_json(
            {
                "store": store_label(given),
                "healthy": ok,
                "repair": repair,
                "findings": [finding.to_dict() for finding in findings],
            }
        )
    else:
        for finding in findings:
            mark = "repaired" if finding.repaired else "ok" if finding.ok else "PROBLEM"
            click.echo(f"{mark:8} {finding.check:10} {finding.message}")
        if not ok and any(f.repairable and not f.ok for f in findings):
            click.echo("run `carbonlens doctor --store --repair` to repair what can be repaired")
    if not ok:
        sys.exit(EXIT_PROBLEMS)
