"""`carbonlens bench`, `compare` and `budget`: judge models on quality and energy,
and keep spending within limits (docs/evaluate.md).

    carbonlens bench mymodel:predict --batch-sizes 1,8,32 --max-p95-ms 50
    carbonlens compare --project vision --metric accuracy --cost energy --leaderboard md
    carbonlens budget set --project vision --kgco2e 50 --period month
    carbonlens budget show

Exit status: 0 done; 1 an SLO was missed or the benchmarked function raised;
2 bad input (message on stderr).
"""

from __future__ import annotations

import importlib
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from carbonlens._cli_common import (
    CliFailure,
    carbonlens_errors,
    print_json,
    store_option,
    write_output,
)
from carbonlens._evaluate_tables import bench_table, budget_table, compare_table, print_items
from carbonlens.evaluate.leaderboard import COSTS, FORMATS
from carbonlens.evaluate.pareto import SCORES
from carbonlens.evaluate.slo import EXIT_SLO_MISSED
from carbonlens.store.base import BudgetKind, BudgetPeriod

if TYPE_CHECKING:
    from carbonlens.store.base import Store

__all__ = ["bench_command", "budget_group", "compare_command"]


def _load(target: str, option: str) -> Any:
    """The object named `module:attribute` (the current directory is importable)."""
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise CliFailure(f"{option} {target!r}: give module:function, e.g. mymodel:predict")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        value: Any = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - the user's module: report any failure
        raise CliFailure(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise CliFailure(f"{module_name!r} has no attribute {attribute!r}")
        value = getattr(value, part)
    return value


def _batch_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise CliFailure(f"--batch-sizes {text!r}: give integers >= 1, e.g. 1,8,32")
    return sizes


def _metrics(pairs: tuple[str, ...]) -> dict[str, float]:
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            found[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise CliFailure(f"--metric {pair!r}: give NAME=NUMBER, e.g. accuracy=0.91")
    return found


def _open(store: str | None, *, create: bool) -> Store:
    """The store of `--store`, the settings or the default; created if `create`."""
    from carbonlens.config import load_settings
    from carbonlens.store import default_store_path, open_existing_store, open_writable_store

    target = store or load_settings().store or str(default_store_path(os.environ))
    return open_writable_store(target) if create else open_existing_store(target)


@click.command("bench")
@click.argument("target")
@click.option("--inputs", help="module:attribute: a sequence of inputs, or a function giving one.")
@click.option("--batch-sizes", default="1", show_default=True, help="Comma-separated sizes.")
@click.option(
    "--warmup", type=click.IntRange(min=0), default=3, show_default=True, help="Untimed calls."
)
@click.option(
    "--repeats", type=click.IntRange(min=1), default=20, show_default=True, help="Fewest calls."
)
@click.option(
    "--min-time",
    "min_time_s",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Fewest seconds of timed calls per batch size.",
)
@click.option(
    "--idle",
    "idle_s",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Seconds of idle measured first, then subtracted.",
)
@click.option(
    "--flops-per-prediction",
    type=click.FloatRange(min=0, min_open=True),
    help="FLOPs of one prediction (else counted by torch, if loaded).",
)
@click.option("--metric", "metric_pairs", multiple=True, help="NAME=VALUE, stored beside.")
@click.option("--max-j-per-prediction", type=float, help="SLO: most joules per prediction.")
@click.option("--max-p95-ms", type=float, help="SLO: longest p95 latency of one call, ms.")
@click.option("--project", help="Project the benchmark run belongs to.")
@click.option("--name", help="Name of the run (default: TARGET).")
@click.option("--country", help="Country of the grid: ISO code (FR, DEU) or name.")
@click.option("--region", help="Grid zone or cloud region (aws:us-east-1).")
@click.option("--pue", type=float, help="Power usage effectiveness (>= 1.0).")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@carbonlens_errors
def bench_command(
    target: str,
    inputs: str | None,
    batch_sizes: str,
    warmup: int,
    repeats: int,
    min_time_s: float,
    idle_s: float,
    flops_per_prediction: float | None,
    metric_pairs: tuple[str, ...],
    max_j_per_prediction: float | None,
    max_p95_ms: float | None,
    project: str | None,
    name: str | None,
    country: str | None,
    region: str | None,
    pue: float | None,
    store: str | None,
    as_json: bool,
) -> None:
    """Benchmark TARGET (module:function, called with a list of inputs) per batch size.

    Without --inputs the function gets lists of integers. Exits with status 1 when
    an SLO is missed or the function raises (its traceback on stderr).
    """
    from carbonlens.evaluate.benchmark import BenchmarkError, benchmark

    sizes = _batch_sizes(batch_sizes)
    fn = _load(target, "TARGET")
    data = _load(inputs, "--inputs") if inputs else range(max(sizes))
    try:
        result = benchmark(
            fn,
            data() if callable(data) else data,
            warmup=warmup,
            repeats=repeats,
            batch_sizes=sizes,
            min_time_s=min_time_s,
            idle_s=idle_s,
            flops_per_prediction=flops_per_prediction,
            metrics=_metrics(metric_pairs),
            max_j_per_prediction=max_j_per_prediction,
            max_p95_s=None if max_p95_ms is None else max_p95_ms / 1000.0,
            project=project,
            name=name or target,
            country=country,
            region=region,
            pue=pue,
            store=store,
        )
    except BenchmarkError as exc:
        click.echo(exc.traceback, err=True, nl=False)
        click.echo(f"carbonlens: error: {exc}", err=True)
        sys.exit(EXIT_SLO_MISSED)
    store_at = result.report.store_location if result.report else ""
    if as_json:
        print_json({"run_id": result.run_id, "store": store_at, **result.to_dict()})
    else:
        methods = ", ".join(f"{c} {m}" for c, m in result.methods.items())
        flops = ""
        if result.flops_per_prediction:
            flops = f" · {result.flops_per_prediction:.3g} FLOP/pred ({result.flops_source})"
        print_items(
            bench_table(result),
            f"energy/pred is the dynamic part: idle power {result.idle_power_w:.3g} W "
            f"(measured over {result.idle_s:g} s) subtracted; 'with idle' keeps it",
            f"methods: {methods}{flops}",
            *(f"note: {note}" for note in result.notes),
            f"stored as run {result.run_id[:12]} (kind benchmark) in {store_at or 'nowhere'}",
        )
    for miss in result.slo_misses:
        click.echo(f"carbonlens: SLO missed: {miss.message()}", err=True)
    if result.slo_misses:
        sys.exit(EXIT_SLO_MISSED)


@click.command("compare")
@click.option("--project", required=True, help="Compare the runs of this project.")
@click.option("--metric", required=True, help="Quality metric to maximise (e.g. accuracy).")
@click.option(
    "--cost",
    type=click.Choice(list(COSTS)),
    default="energy",
    show_default=True,
    help="What to minimise.",
)
@click.option(
    "--score",
    type=click.Choice(list(SCORES)),
    default="metric_per_cost",
    show_default=True,
    help="Ranking: metric / cost, or distance to the Pareto front.",
)
@click.option("--leaderboard", "fmt", type=click.Choice(FORMATS), help="Print the leaderboard.")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON on stdout.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write the comparison as a self-contained HTML page: Pareto plot and ranking.",
)
@carbonlens_errors
def compare_command(
    project: str,
    metric: str,
    cost: str,
    score: str,
    fmt: str | None,
    store: str | None,
    as_json: bool,
    html_file: str | None,
) -> None:
    """Rank a project's runs on a metric against a cost: Pareto front and scores."""
    from carbonlens.evaluate.leaderboard import compare, document, export

    db = _open(store, create=False)
    try:
        ranking = compare(db, project, metric, cost, score)
    finally:
        db.close()
    if html_file:
        from carbonlens.report.html import render_comparison_html

        page = render_comparison_html(
            ranking, project=project, metric=metric, cost_label=f"{cost} ({COSTS[cost].unit})"
        )
        write_output(page, Path(html_file))
    if as_json:
        print_json(document(ranking, project, metric, cost))
    elif fmt:
        click.echo(export(ranking, metric, cost, fmt), nl=False)
    else:
        left_out = [f"left out: {p.label} ({p.key[:8]}): {why}" for p, why in ranking.excluded]
        print_items(
            compare_table(ranking, metric, cost),
            f"score {ranking.score}: {ranking.score_definition}",
            f"cost {cost}: {COSTS[cost].definition}",
            *left_out,
        )


@click.group("budget", context_settings={"help_option_names": ["-h", "--help"]})
def budget_group() -> None:
    """Carbon and energy budgets of projects, kept in the run store."""


@budget_group.command("set")
@click.option("--project", required=True, help="The project the budget is for.")
@click.option("--kgco2e", help="Emissions budget: kgCO2e (a unit may be given: 50kg, 2t).")
@click.option("--kwh", help="Facility-energy budget: kWh (a unit may be given: 500kWh, 2MWh).")
@click.option(
    "--period",
    type=click.Choice([p.value for p in BudgetPeriod]),
    default="month",
    show_default=True,
)
@store_option
@carbonlens_errors
def budget_set(
    project: str, kgco2e: str | None, kwh: str | None, period: str, store: str | None
) -> None:
    """Set a project's budget; runs warn at 80 % and act at 100 % (budget_action)."""
    from carbonlens.store.base import Budget
    from carbonlens.tracking.budget_limits import UNIT_NAMES, parse_amount

    given = [(BudgetKind.EMISSIONS, kgco2e), (BudgetKind.ENERGY, kwh)]
    budgets = [
        Budget(project, *parse_amount(text, kind), BudgetPeriod(period))
        for kind, text in given
        if text is not None
    ]
    if not budgets:
        raise CliFailure("give --kgco2e, --kwh or both")
    db = _open(store, create=True)
    try:
        for budget in budgets:
            db.set_budget(budget)
    finally:
        db.close()
    for budget in budgets:
        amount = f"{budget.amount:g} {UNIT_NAMES[budget.kind]}"
        per = "per month" if budget.period is BudgetPeriod.MONTH else "in total"
        click.echo(f"budget of project {project!r}: {amount} {per} ({db.location})")


@budget_group.command("clear")
@click.option("--project", required=True, help="The project whose budget to remove.")
@click.option("--kind", type=click.Choice([k.value for k in BudgetKind]), help="Default: both.")
@store_option
@carbonlens_errors
def budget_clear(project: str, kind: str | None, store: str | None) -> None:
    """Remove a project's budget(s)."""
    kinds = [BudgetKind(kind)] if kind else list(BudgetKind)
    db = _open(store, create=False)
    try:
        removed = [k.value for k in kinds if db.clear_budget(project, k)]
    finally:
        db.close()
    if not removed:
        raise CliFailure(f"project {project!r} has no such budget in {db.location}")
    click.echo(f"removed the {' and '.join(removed)} budget of project {project!r}")


@budget_group.command("show")
@click.option("--project", help="Only this project's budgets.")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the budgets as JSON on stdout.")
@carbonlens_errors
def budget_show(project: str | None, store: str | None, as_json: bool) -> None:
    """List budgets with what their period has spent so far."""
    from carbonlens.tracking.budget_limits import budget_statuses

    db = _open(store, create=False)
    try:
        statuses = budget_statuses(db, project, datetime.now(UTC))
    finally:
        db.close()
    if as_json:
        print_json({"budgets": [s.to_dict() for s in statuses], "store": db.location})
        return
    if not statuses:
        print_items(f"no budgets in {db.location}; `carbonlens budget set` sets one")
        return
    print_items(budget_table(statuses, db.location))
