"""Rich tables of `carbonlens bench`, `compare` and `budget show` (CLI only: rich is
imported here, never by the library). Data text is never read as rich markup."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from carbonlens.evaluate.leaderboard import COSTS
from carbonlens.tracking.budget_limits import UNIT_NAMES

if TYPE_CHECKING:
    from rich.table import Table

    from carbonlens.evaluate.pareto import Ranking
    from carbonlens.evaluate.results import BatchResult, BenchmarkResult
    from carbonlens.tracking.budget_limits import BudgetStatus


def _table(title: str, columns: list[str], numeric: int) -> Table:
    """A rich table; the last `numeric` columns are right-aligned numbers."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for i, column in enumerate(columns):
        right = i >= len(columns) - numeric
        table.add_column(column, justify="right" if right else "left", no_wrap=right)
    return table


def _row(table: Table, cells: list[str]) -> None:
    """Add a row of plain text (run names are never read as rich markup)."""
    from rich.text import Text

    table.add_row(*(Text(cell) for cell in cells))


def print_items(*items: Any) -> None:
    """Print tables and plain lines (data is never read as rich markup)."""
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    for item in items:
        console.print(Text(item) if isinstance(item, str) else item, soft_wrap=True)


def _g(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _scale(values: list[float], unit: str) -> tuple[str, float]:
    """The SI prefix that shows the largest of `values` with 1-3 integer digits."""
    largest = max(values, default=0.0)
    for prefix, factor in (("", 1.0), ("m", 1e-3), ("µ", 1e-6)):
        if largest >= factor:
            return prefix + unit, factor
    return "n" + unit, 1e-9


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def bench_table(result: BenchmarkResult) -> Table:
    """One column per batch size, one row per figure."""
    batches = result.batches
    table = _table(
        f"carbonlens bench {result.run_id[:12]}",
        ["batch size", *(str(b.batch_size) for b in batches)],
        len(batches),
    )
    unit, scale = _scale([b.energy_per_prediction_total_j for b in batches], "J")
    mass, per = _scale([b.emissions_per_1000_predictions_g for b in batches], "g")
    rows: list[tuple[str, Callable[[BatchResult], str]]] = [
        ("calls", lambda b: str(b.calls)),
        ("latency p50 (ms)", lambda b: f"{b.latency_p50_s * 1000:.3g}"),
        ("latency p95 (ms)", lambda b: f"{b.latency_p95_s * 1000:.3g}"),
        ("latency p99 (ms)", lambda b: f"{b.latency_p99_s * 1000:.3g}"),
        ("predictions/s", lambda b: _rate(b.throughput_per_s)),
        (f"energy/pred ({unit})", lambda b: f"{b.energy_per_prediction_j / scale:.3g}"),
        (
            "  range",
            lambda b: (
                f"{b.energy_per_prediction_low_j / scale:.3g}–"
                f"{b.energy_per_prediction_high_j / scale:.3g}"
            ),
        ),
        ("  with idle", lambda b: f"{b.energy_per_prediction_total_j / scale:.3g}"),
        (f"CO2e/1k pred ({mass})", lambda b: f"{b.emissions_per_1000_predictions_g / per:.3g}"),
    ]
    if result.flops_per_prediction:
        rows.append(("FLOP/J", lambda b: _g(b.flop_per_j)))
    for label, cell in rows:
        _row(table, [label, *(cell(b) for b in batches)])
    return table


def compare_table(ranking: Ranking, metric: str, cost: str) -> Table:
    per_prediction = cost != "energy-per-prediction" and any(
        e.point.extra.get("energy_per_prediction_j") is not None for e in ranking.entries
    )
    columns = ["#", "run", "front", metric, f"{cost} ({COSTS[cost].unit})", ranking.score]
    extra = ["J/pred"] if per_prediction else []
    table = _table(f"{metric} vs {cost}", [*columns, *extra], 3 + len(extra))
    for e in ranking.entries:
        more = f" +{len(e.dominated_by) - 1}" if len(e.dominated_by) > 1 else ""
        front = "yes" if e.on_front else f"by {e.dominated_by[0][:8]}{more}"
        cells = [str(e.rank), e.point.label, front, _g(e.point.metric), _g(e.point.cost)]
        cells.append(_g(e.score))
        if per_prediction:
            cells.append(_g(e.point.extra.get("energy_per_prediction_j")))
        _row(table, cells)
    return table


def budget_table(statuses: Sequence[BudgetStatus], location: str) -> Table:
    """Budgets with what their period has spent, one row each."""
    table = _table(f"budgets in {location}", ["project", "period", "budget", "spent", "%"], 3)
    for status in statuses:
        budget, unit = status.budget, UNIT_NAMES[status.budget.kind]
        since = f" since {status.period_start:%Y-%m-%d}" if status.period_start else ""
        _row(
            table,
            [
                budget.project,
                budget.period.value + since,
                f"{budget.amount:g} {unit}",
                f"{status.spent:.3g} {unit} ({status.spend.runs} runs)",
                f"{status.spent / budget.amount:.0%}",
            ],
        )
    return table
