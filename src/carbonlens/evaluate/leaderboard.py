"""Compare a project's runs: their metric and cost from the store, ranked, exported.

A run's metric value is the one at its latest step (for a benchmark's figures,
whose steps are batch sizes: the largest batch size). Costs:

==========================  =====================================  ============
cost                        what                                   unit
==========================  =====================================  ============
`energy`                    facility energy of the run             kWh
`emissions`                 total emissions (operational+embodied) gCO2e
`latency`                   benchmark metric `latency_p95_s`       ms
`energy-per-prediction`     benchmark metric `energy_per_prediction_j`  J
==========================  =====================================  ============

Only finished runs are compared; the others, and runs lacking the metric or the
cost, are listed with the reason and left out. The leaderboard puts energy per
prediction and the quality metric side by side (Markdown, CSV or JSON).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, Final

from carbonlens._frozen import frozen
from carbonlens.accounting import stored_report
from carbonlens.errors import ConfigError
from carbonlens.evaluate.pareto import Point, Ranking, rank
from carbonlens.records import RunInfo, RunStatus
from carbonlens.store.base import MetricPoint, Store
from carbonlens.units import J_PER_KWH


@frozen
class Cost:
    """A cost runs can be compared on: its name, what it is, and its display unit."""

    name: str
    definition: str
    unit: str


COSTS: Final = {
    cost.name: cost
    for cost in (
        Cost("energy", "facility energy of the run (IT energy x PUE)", "kWh"),
        Cost("emissions", "total emissions of the run (operational + embodied)", "gCO2e"),
        Cost("latency", "p95 latency of one call (benchmark metric latency_p95_s)", "ms"),
        Cost(
            "energy-per-prediction",
            "dynamic energy per prediction (benchmark metric energy_per_prediction_j)",
            "J",
        ),
    )
}
"""The costs `compare` accepts."""

FORMATS: Final = ("md", "csv", "json")
"""Leaderboard export formats."""

_COLUMNS: Final = ("rank", "run", "run_id", "metric", "cost", "energy_per_prediction_j")
_SAME_AS_COST: Final = {"energy-per-prediction": "energy_per_prediction_j"}
"""Side columns left out of an export when the cost already shows them."""


def latest_values(points: Sequence[MetricPoint]) -> dict[str, float]:
    """Each metric's value at its latest step."""
    latest: dict[str, MetricPoint] = {}
    for point in points:
        if point.name not in latest or point.step >= latest[point.name].step:
            latest[point.name] = point
    return {name: point.value for name, point in latest.items()}


def _cost(cost: Cost, info: RunInfo, store: Store, values: dict[str, float]) -> float | None:
    if cost.name == "latency":
        latency_s = values.get("latency_p95_s")
        return None if latency_s is None else latency_s * 1000.0
    if cost.name == "energy-per-prediction":
        return values.get("energy_per_prediction_j")
    try:
        report = stored_report(store, info)
    except (KeyError, TypeError, ValueError):  # settings that cannot be priced: no cost
        return None
    return report.facility_energy_j / J_PER_KWH if cost.name == "energy" else report.total_g


def load_points(
    store: Store, project: str, metric: str, cost: str
) -> tuple[list[Point], list[tuple[Point, str]]]:
    """The project's finished runs as points, and the other runs with the reason.

    Raises:
        ConfigError: Unknown cost, no run in the project, or no run with `metric`
            (the message lists the metrics found).
    """
    if cost not in COSTS:
        raise ConfigError(f"unknown cost {cost!r}: use one of {', '.join(COSTS)}", setting="cost")
    infos = store.list_runs(project=project)
    if not infos:
        raise ConfigError(f"no runs in project {project!r}", setting="project")
    points: list[Point] = []
    others: list[tuple[Point, str]] = []
    seen: set[str] = set()
    for info in infos:
        values = latest_values(store.metrics(info.run_id))
        seen |= set(values)
        label = info.name or info.run_id[:12]
        if info.status is not RunStatus.FINISHED:
            others.append((Point(info.run_id, label, None, None), f"run {info.status.value}"))
            continue
        extra = {"energy_per_prediction_j": values.get("energy_per_prediction_j")}
        value = _cost(COSTS[cost], info, store, values)
        points.append(Point(info.run_id, label, values.get(metric), value, extra))
    if metric not in seen:
        found = ", ".join(sorted(seen)) or "none"
        raise ConfigError(
            f"no run of project {project!r} has a metric {metric!r} (metrics found: {found}); "
            "log it with tracker.log_metric",
            setting="metric",
        )
    return points, others


def compare(store: Store, project: str, metric: str, cost: str, score: str) -> Ranking:
    """Rank the project's runs on `metric` against `cost` (see `load_points`)."""
    points, others = load_points(store, project, metric, cost)
    ranking = rank(points, score)
    return Ranking(ranking.score, ranking.entries, (*others, *ranking.excluded))


def rows(ranking: Ranking) -> list[dict[str, Any]]:
    """The leaderboard's rows: rank, run name and id, metric, cost, energy per
    prediction (J), score, and whether on the front or dominated by whom."""
    return [
        {
            "rank": entry.rank,
            "run": entry.point.label,
            "run_id": entry.point.key,
            "metric": entry.point.metric,
            "cost": entry.point.cost,
            "energy_per_prediction_j": entry.point.extra.get("energy_per_prediction_j"),
            "score": entry.score,
            "front": "front"
            if entry.on_front
            else "dominated by " + ", ".join(key[:12] for key in entry.dominated_by),
        }
        for entry in ranking.entries
    ]


def document(ranking: Ranking, project: str, metric: str, cost: str) -> dict[str, Any]:
    """The comparison as one JSON-compatible document (`compare --json`)."""
    return {
        "project": project,
        "metric": metric,
        "cost": {"name": cost, "unit": COSTS[cost].unit, "definition": COSTS[cost].definition},
        "score": {"name": ranking.score, "definition": ranking.score_definition},
        "runs": rows(ranking),
        "excluded": [
            {"run_id": point.key, "run": point.label, "reason": reason}
            for point, reason in ranking.excluded
        ],
    }


def export(ranking: Ranking, metric: str, cost: str, fmt: str) -> str:
    """The leaderboard as Markdown, CSV or JSON text; headers name the metric, the
    cost with its unit, and the score.

    Raises:
        ValueError: `fmt` is not one of `FORMATS`.
    """
    header = {
        "metric": metric,
        "cost": f"{cost} ({COSTS[cost].unit})",
        "energy_per_prediction_j": "energy per prediction (J)",
        "score": ranking.score,
    }
    keys = [k for k in (*_COLUMNS, "score", "front") if k != _SAME_AS_COST.get(cost)]
    names = [header.get(k, k) for k in keys]
    table = [{header.get(k, k): row[k] for k in keys} for row in rows(ranking)]
    if fmt == "json":
        return json.dumps(table, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)
        return out.getvalue()
    if fmt != "md":
        raise ValueError(f"unknown leaderboard format {fmt!r}: use one of {', '.join(FORMATS)}")
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in table:
        cells = [_cell(row[name]) for name in names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")
