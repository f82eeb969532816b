"""`carbonlens report`, `carbonlens import codecarbon` and `carbonlens export`.

`report` turns stored runs into a document (docs/reports.md): HTML, Markdown or
LaTeX for a paper, JSON, CSV, a Hugging Face model-card block, or an SCI score.
Runs are named by id (or unique prefix) or chosen with `--project`/`--since`.
`import codecarbon` reads CodeCarbon `emissions.csv` files into the store;
`export` writes runs (and samples) as CSV or JSON. Output goes to `-o FILE` or
stdout; warnings go to stderr. Bad input (an unknown run, an empty selection, a
missing `--sci-units`) exits with status 2 and says what to give.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from carbonlens._cli_common import (
    LIMIT,
    STORE_HELP,
    CliFailure,
    carbonlens_errors,
    print_json,
    store_option,
    write_output,
)

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport
    from carbonlens.records import RunInfo, Sample
    from carbonlens.report.serving import ServingOptions, ServingSection
    from carbonlens.store.base import Store

__all__ = ["export_command", "import_group", "report_command"]

REPORT_FORMATS: Final = ("html", "md", "json", "csv", "latex", "model-card", "sci")
_SUFFIXES: Final = {
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".json": "json",
    ".csv": "csv",
    ".tex": "latex",
}
_RECENT: Final = 5


def _store_target(path: str | None) -> str:
    from carbonlens.config import load_settings
    from carbonlens.store import default_store_path

    return path or load_settings().store or str(default_store_path(os.environ))


def _since(text: str | None) -> datetime | None:
    from carbonlens._cli_common import parse_since

    return parse_since(text) if text else None


def _format(fmt: str | None, output: Path | None, default: str) -> str:
    if fmt:
        return fmt
    suffix = output.suffix.lower() if output else ""
    return _SUFFIXES.get(suffix, default)


def _unknown_run(db: Store, run_id: str) -> CliFailure:
    recent = db.list_runs(limit=_RECENT)
    listed = ", ".join(f"{i.run_id[:12]} ({' '.join(i.name.split())[:40]})" for i in recent)
    hint = f"; recent runs: {listed}" if recent else "; the store has no runs yet"
    return CliFailure(f"no run {run_id!r} in {db.location}{hint}")


def _select(
    db: Store,
    run_ids: Sequence[str],
    project: str | None,
    since: str | None,
    limit: int | None,
    *,
    required: bool,
) -> list[RunInfo]:
    """The runs named by id, then those of `project`/`since`; fails on an empty choice."""
    infos = []
    for run_id in run_ids:
        info = db.get_run(run_id)
        if info is None:
            raise _unknown_run(db, run_id)
        infos.append(info)
    if project is not None or since is not None or not (run_ids or required):
        chosen = db.list_runs(project=project, since=_since(since), limit=limit)
        if not chosen:
            projects = sorted({i.project for i in db.list_runs(limit=500)})
            where = f"in project {project!r}" if project is not None else "in the store"
            when = f" since {since}" if since else ""
            known = f"; projects: {', '.join(projects)}" if projects else ""
            raise CliFailure(f"no runs {where}{when} ({db.location}){known}")
        infos += [i for i in chosen if i.run_id not in {j.run_id for j in infos}]
    if not infos:
        raise CliFailure("name a RUN_ID, or choose runs with --project and/or --since")
    return infos


def _load(db: Store, infos: Sequence[RunInfo]) -> tuple[list[RunReport], dict[str, list[Sample]]]:
    from carbonlens.accounting import build_report

    samples = {i.run_id: db.samples(i.run_id) for i in infos}
    reports = [
        build_report(i, samples[i.run_id], db.windows(i.run_id), store_location=db.location)
        for i in infos
    ]
    return reports, samples


def _warn_partial(reports: Sequence[RunReport]) -> None:
    from carbonlens.records import RunStatus

    for r in reports:
        if r.info.status in (RunStatus.RUNNING, RunStatus.INTERRUPTED):
            click.echo(
                f"carbonlens: warning: run {r.info.run_id[:12]} is {r.info.status.value}: "
                "the report is partial (figures up to its last stored sample)",
                err=True,
            )


def _write(text: str, output: Path | None) -> None:
    if output is None or str(output) == "-":
        click.echo(text, nl=False)
        return
    write_output(text, output)
    click.echo(f"wrote {output}", err=True)


def _place(code: str) -> str:
    from carbonlens.errors import CarbonLensError
    from carbonlens.intensity.table import resolve_location

    try:
        return resolve_location(code).name
    except CarbonLensError:
        return code


def _html(
    reports: Sequence[RunReport],
    samples: dict[str, list[Sample]],
    serving: dict[str, ServingSection],
) -> str:
    from carbonlens.dashboard.queries import grid_options
    from carbonlens.report.cut import how_to_cut
    from carbonlens.report.html import HtmlRun, render_html
    from carbonlens.report.serving_render import serving_html

    options = grid_options()
    runs = []
    for r in reports:
        ss = samples[r.info.run_id]
        found = serving.get(r.info.run_id)
        sections = () if found is None else (serving_html(found),)
        runs.append(HtmlRun(r, ss, how_to_cut(r, ss, options), sections))
    return render_html(runs)


def _serving_options(given: dict[str, Any]) -> ServingOptions:
    from carbonlens.estimate.quantities import parse_count
    from carbonlens.report.serving import ServingOptions

    text = given["params"]
    params = None if text is None else parse_count(text, what="--params")
    return ServingOptions(**given | {"params": params})


def _model_card(
    reports: Sequence[RunReport],
    output: Path | None,
    training_type: str | None,
    operational_only: bool,
) -> str:
    from carbonlens.report.model_card import card_emissions, merge_into_readme, yaml_block

    places = ", ".join(dict.fromkeys(_place(r.intensity.location) for r in reports))
    card = card_emissions(
        reports,
        training_type=training_type,
        geographical_location=places or None,
        operational_only=operational_only,
    )
    block = yaml_block(card)
    if output is not None and output.exists():
        click.echo(f"merging co2_eq_emissions into the front matter of {output}", err=True)
        return merge_into_readme(output.read_text(encoding="utf-8"), block)
    return block if output is None else merge_into_readme("", block)


def _sci(reports: Sequence[RunReport], unit: str, units: float | None, as_json: bool) -> str:
    import json

    from carbonlens.report.sci import sci, sci_text, sci_to_dict

    if units is None:
        if unit != "run":
            raise CliFailure(f"--sci-unit {unit} needs --sci-units: how many {unit}s the runs made")
        units = float(len(reports))
    score = sci(reports, unit, units)
    return (
        json.dumps(sci_to_dict(score), indent=2, ensure_ascii=False) + "\n"
        if as_json
        else sci_text(score)
    )


@click.command("report")
@click.argument("run_ids", nargs=-1)
@click.option("--project", help="The runs of this project.")
@click.option("--since", help="Runs started since: 30m, 12h, 7d, 2w or an ISO date.")
@click.option("--limit", type=LIMIT, default=50, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(REPORT_FORMATS), help="Default: from -o's suffix, else md."
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@store_option
@click.option("--sci-unit", default="run", show_default=True, help="SCI functional unit.")
@click.option(
    "--sci-units",
    type=click.FloatRange(min=0, min_open=True),
    help="SCI R: how many functional units the runs made (default for 'run': the run count).",
)
@click.option("--json", "as_json", is_flag=True, help="With --format sci: a JSON document.")
@click.option("--training-type", type=click.Choice(["pre-training", "fine-tuning"]))
@click.option("--operational-only", is_flag=True, help="Model card: leave embodied out.")
@click.option("--training-run", help="Serving: the training run, for the break-even day.")
@click.option("--training-kgco2e", type=click.FloatRange(min=0), help="Serving: or its footprint.")
@click.option(
    "--requests-per-day",
    type=click.FloatRange(min=0, min_open=True),
    help="Serving: requests per day (default: the run's own rate).",
)
@click.option("--params", help="Serving: the model's parameters (8B), for the estimator.")
@click.option("--device", help="Serving: device for the estimator (default: the run's GPU).")
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=1, help="Serving: estimator's batch."
)
@carbonlens_errors
def report_command(
    run_ids: tuple[str, ...],
    project: str | None,
    since: str | None,
    limit: int,
    fmt: str | None,
    output: Path | None,
    store: str | None,
    sci_unit: str,
    sci_units: float | None,
    as_json: bool,
    training_type: str | None,
    operational_only: bool,
    **serving_given: Any,
) -> None:
    """Report runs as HTML, Markdown, LaTeX, JSON, CSV, a model card or SCI.

    With -o FILE for --format model-card, an existing FILE (a README.md) keeps
    everything but its co2_eq_emissions entry, which is replaced or added.
    A run that served requests gets a serving section in Markdown, HTML and
    JSON: its cost beside the estimator's and the training footprint
    (docs/serving.md#the-report-section).
    """
    from carbonlens.report.serving import load_sections
    from carbonlens.store import open_existing_store

    kind = _format(fmt, output, "md")
    db = open_existing_store(_store_target(store))
    try:
        infos = _select(db, run_ids, project, since, limit, required=True)
        reports, samples = _load(db, infos)
        serving = load_sections(db, reports, _serving_options(serving_given))
    finally:
        db.close()
    _warn_partial(reports)
    if kind == "html":
        text = _html(reports, samples, serving)
    elif kind in ("md", "latex"):
        from carbonlens.report import paper
        from carbonlens.report.serving_render import serving_markdown

        if kind == "latex":
            text = paper.latex(reports)
        else:
            text = paper.markdown(reports) + "".join(
                f"\n{serving_markdown(s)}" for s in serving.values()
            )
    elif kind == "json":
        one_run = len(run_ids) == 1 and project is None and since is None
        text = _json_text(reports, db.location, one_run=one_run, serving=serving)
    elif kind == "csv":
        from carbonlens.report.export import runs_csv

        text = runs_csv(reports)
    elif kind == "model-card":
        text = _model_card(reports, output, training_type, operational_only)
    else:
        text = _sci(reports, sci_unit, sci_units, as_json)
    _write(text, output)


def _json_text(
    reports: Sequence[RunReport],
    location: str,
    *,
    one_run: bool,
    serving: dict[str, ServingSection],
) -> str:
    """One run's document for one RUN_ID (with its serving section), else the export
    document (a list of runs)."""
    import json

    from carbonlens.report.export import export_document
    from carbonlens.report.serving_render import serving_to_dict

    doc: Any = reports[0].to_dict() if one_run else export_document(reports, store=location)
    found = serving.get(reports[0].info.run_id) if one_run else None
    if found is not None:
        doc["serving"] = serving_to_dict(found)
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"


@click.group("import")
def import_group() -> None:
    """Bring runs measured by other tools into the store."""


@import_group.command("codecarbon")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--project", help="Put every run in this project instead of its project_name.")
@click.option("--store", help=f"{STORE_HELP[:-1]} (created if missing).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON on stdout.")
@carbonlens_errors
def import_codecarbon_command(
    files: tuple[Path, ...], project: str | None, store: str | None, as_json: bool
) -> None:
    """Import CodeCarbon emissions.csv FILES (any version) as runs of kind 'imported'."""
    from carbonlens.report.codecarbon_import import import_codecarbon
    from carbonlens.store import open_writable_store

    db = open_writable_store(_store_target(store))
    try:
        result = import_codecarbon(db, files, project=project)
    finally:
        db.close()
    skipped = [{"file": s.path, "line": s.line, "reason": s.reason} for s in result.skipped]
    if as_json:
        print_json(
            {
                "imported": [i.run_id for i in result.imported],
                "already_imported": list(result.already),
                "skipped": skipped,
                "store": db.location,
            }
        )
    else:
        for s in result.skipped:
            click.echo(f"carbonlens: warning: {s.path}:{s.line}: skipped: {s.reason}", err=True)
        for info in result.imported:
            click.echo(f"{info.run_id[:12]}  {info.project}  {info.name}")
        again = f", {len(result.already)} already there" if result.already else ""
        click.echo(f"imported {len(result.imported)} run(s){again} into {db.location}", err=True)
    if not result.imported and not result.already:
        raise CliFailure(
            "no run imported: no readable CodeCarbon row in " + ", ".join(map(str, files))
        )


@click.command("export")
@click.argument("run_ids", nargs=-1)
@click.option("--project", help="Only runs of this project.")
@click.option("--since", help="Only runs started since: 30m, 12h, 7d, 2w or an ISO date.")
@click.option("--limit", type=LIMIT, help="At most this many runs, newest first.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), help="Default: from -o.")
@click.option("--samples", "with_samples", is_flag=True, help="Samples: CSV rows, or in JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@store_option
@carbonlens_errors
def export_command(
    run_ids: tuple[str, ...],
    project: str | None,
    since: str | None,
    limit: int | None,
    fmt: str | None,
    with_samples: bool,
    output: Path | None,
    store: str | None,
) -> None:
    """Export runs (all, or those chosen) as CSV or JSON; schemas in docs/reports.md."""
    import json

    from carbonlens.report.export import export_document, runs_csv, samples_csv
    from carbonlens.store import open_existing_store

    kind = _format(fmt, output, "json")
    if kind not in ("csv", "json"):
        raise CliFailure(f"cannot export as {kind}: use --format csv or json")
    db = open_existing_store(_store_target(store))
    try:
        infos = _select(db, run_ids, project, since, limit, required=False)
        reports, samples = _load(db, infos)
    finally:
        db.close()
    if kind == "csv":
        rows = [(r.info, samples[r.info.run_id]) for r in reports]
        text = samples_csv(rows) if with_samples else runs_csv(reports)
    else:
        doc = export_document(reports, samples if with_samples else None, store=db.location)
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    _write(text, output)
