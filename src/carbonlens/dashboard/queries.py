"""What the dashboard shows, shaped from a `Store`: plain data, no web code.

Every figure is priced by `accounting.build_report`, the one pricing path. A
listing prices each run with `accounting.stored_report` (from its per-channel
sums, or from its samples when it is priced period by period against an
intensity series). A run
whose stored settings cannot be priced (a foreign or damaged record) is listed
without figures and counted as unpriced. A run still `running` (or
`interrupted`) is partial: its figures cover the time up to its last sample.

A listing of many runs would price every run on every request, so the prices of
runs that are over are kept (`price`), keyed by the store, the run and what
changes when a run changes (status, end, duration); a running run is priced
afresh each time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Final

from carbonlens._frozen import frozen
from carbonlens.accounting import RunReport, build_report, stored_report
from carbonlens.errors import ConfigError
from carbonlens.evaluate.leaderboard import COSTS, compare
from carbonlens.evaluate.pareto import Ranking
from carbonlens.records import RunInfo, RunStatus
from carbonlens.report.cut import GridOption, how_to_cut
from carbonlens.report.html import HtmlRun
from carbonlens.report.timeseries import channel_label
from carbonlens.store.base import Store
from carbonlens.tracking.budget_limits import BudgetStatus, budget_statuses

__all__ = [
    "DEFAULT_LIMIT",
    "PARTIAL_STATUSES",
    "Comparison",
    "Period",
    "ProjectPage",
    "RunFilter",
    "RunRow",
    "RunsTable",
    "Totals",
    "compare_runs",
    "grid_options",
    "live_rows",
    "price",
    "project_page",
    "projects",
    "recent_runs",
    "run_page",
    "runs_table",
    "totals",
]

DEFAULT_LIMIT: Final = 200
"""Rows shown by default in a runs table (totals always cover every matching run)."""
PARTIAL_STATUSES: Final = frozenset({RunStatus.RUNNING, RunStatus.INTERRUPTED})
"""Statuses whose figures stop at the last stored sample."""
_RECENT: Final = 5
_DAYS_BY_DAY: Final = 62


@frozen
class RunFilter:
    """Which runs a table lists: every condition given must hold.

    Attributes:
        project: only the runs of this project.
        status: only runs with this status.
        since: only runs started at or after this time (timezone-aware).
        text: words that must each appear (any case) in the run's id, name,
            project, kind, host or tags.
        limit: at most this many rows, newest first; None for every one.
    """

    project: str | None = None
    status: RunStatus | None = None
    since: datetime | None = None
    text: str = ""
    limit: int | None = DEFAULT_LIMIT

    def matches(self, info: RunInfo) -> bool:
        """Whether `info` contains every word of `text`."""
        fields = (info.run_id, info.name, info.project, info.kind, info.host, *info.tags)
        haystack = " ".join(fields).casefold()
        return all(word in haystack for word in self.text.casefold().split())


@frozen
class RunRow:
    """One run of a table: its record and its priced report (None if unpriceable)."""

    info: RunInfo
    report: RunReport | None

    @property
    def partial(self) -> bool:
        """The run has no end yet (running) or lost its process (interrupted)."""
        return self.info.status in PARTIAL_STATUSES


@frozen
class Totals:
    """Sums over some runs: facility energy (J) and emissions (g) of the priced ones.

    Attributes:
        runs: how many runs were summed, priced or not.
        facility_energy_j: their facility energy (IT energy x PUE).
        operational_g: their operational emissions.
        embodied_g: their amortised embodied emissions.
        unpriced: how many runs had settings that could not be priced (left out).
    """

    runs: int
    facility_energy_j: float
    operational_g: float
    embodied_g: float
    unpriced: int

    @property
    def total_g(self) -> float:
        """Operational plus embodied emissions."""
        return self.operational_g + self.embodied_g


@frozen
class RunsTable:
    """A filtered list of runs, newest first.

    Attributes:
        rows: the first `RunFilter.limit` matching runs.
        totals: sums over every matching run, not only the rows shown.
        projects: every project in the store (the choices of the project filter).
    """

    rows: tuple[RunRow, ...]
    totals: Totals
    projects: tuple[str, ...]

    @property
    def truncated(self) -> bool:
        """More runs match than the rows show."""
        return self.totals.runs > len(self.rows)


@frozen
class Comparison:
    """Runs side by side, in the order asked for.

    Attributes:
        runs: each run's report and samples.
        problems: why some asked-for ids were left out (unknown, ambiguous prefix).
    """

    runs: tuple[HtmlRun, ...]
    problems: tuple[str, ...]

    def channel_labels(self) -> list[str]:
        """Every channel of any of the runs ('gpu gpu0 (measured)'), in first-seen order."""
        labels = (channel_label(t.channel) for r in self.runs for t in r.report.components)
        return list(dict.fromkeys(labels))

    def channel_energy_j(self, run: HtmlRun, label: str) -> float | None:
        """IT energy of the channel named `label` in `run`, None if it has no such channel."""
        found = [t.energy_j for t in run.report.components if channel_label(t.channel) == label]
        return sum(found) if found else None


@frozen
class Period:
    """A project's runs started within one day or month (UTC).

    Attributes:
        start: the first instant of the period.
        label: "2026-01-31" for a day, "2026-01" for a month.
        totals: sums over the period's runs.
    """

    start: datetime
    label: str
    totals: Totals


@frozen
class ProjectPage:
    """A project: its runs, their totals by period, and its budgets.

    Attributes:
        project: the project's name.
        table: its runs (all of them: the limit is lifted).
        periods: totals by day (runs spanning up to 62 days) or by month, oldest first.
        budgets: each budget of the project with what its current period spent.
    """

    project: str
    table: RunsTable
    periods: tuple[Period, ...]
    budgets: tuple[BudgetStatus, ...]


_PRICED_MAX: Final = 4096
"""Prices of runs that are over kept at most (the oldest go first)."""
_priced: dict[tuple[str, str], tuple[tuple[object, ...], RunReport | None]] = {}
_priced_lock = threading.Lock()


def price(store: Store, info: RunInfo) -> RunReport | None:
    """A run's report for listings, or None if its settings cannot be priced.

    A run that is over is priced once for as long as its status, end and
    duration stay the same; a running run is priced every time.
    """
    if info.status is RunStatus.RUNNING:
        return _price(store, info)
    key = (store.location, info.run_id)
    version = (info.status, info.ended_at, info.duration_s)
    with _priced_lock:
        kept = _priced.get(key)
    if kept is not None and kept[0] == version:
        return kept[1]
    report = _price(store, info)
    with _priced_lock:
        _priced.pop(key, None)
        _priced[key] = (version, report)
        while len(_priced) > _PRICED_MAX:
            del _priced[next(iter(_priced))]
    return report


def _price(store: Store, info: RunInfo) -> RunReport | None:
    try:
        return stored_report(store, info, store_location=store.location)
    except (KeyError, TypeError, ValueError):
        return None


def totals(reports: Iterable[RunReport | None]) -> Totals:
    """Sum priced reports; a None counts as an unpriced run."""
    runs = unpriced = 0
    energy_j = operational_g = embodied_g = 0.0
    for report in reports:
        runs += 1
        if report is None:
            unpriced += 1
            continue
        energy_j += report.facility_energy_j
        operational_g += report.operational_g
        embodied_g += report.embodied_g
    return Totals(runs, energy_j, operational_g, embodied_g, unpriced)


def runs_table(store: Store, flt: RunFilter) -> RunsTable:
    """The runs matching `flt`, newest first, with totals over all that match."""
    infos = store.list_runs(project=flt.project, since=flt.since, status=flt.status)
    rows = [RunRow(i, price(store, i)) for i in infos if flt.matches(i)]
    return RunsTable(tuple(rows[: flt.limit]), totals(r.report for r in rows), projects(store))


def projects(store: Store) -> tuple[str, ...]:
    """Every project with a run in the store, sorted."""
    return tuple(sorted({i.project for i in store.list_runs()}))


def recent_runs(store: Store, count: int = _RECENT) -> list[RunInfo]:
    """The newest runs, to suggest when a run id is unknown."""
    return store.list_runs(limit=count)


def grid_options() -> list[GridOption]:
    """The bundled cloud regions, as candidate grids for "how to cut it"."""
    from carbonlens.intensity.table import LocationKind, annual_intensity, cloud_pue, list_locations

    return [
        GridOption(loc.code, loc.name, annual_intensity(loc), cloud_pue(loc))
        for loc in list_locations()
        if loc.kind is LocationKind.CLOUD_REGION
    ]


def run_page(
    store: Store, run_id: str, options: Sequence[GridOption] | None = None
) -> HtmlRun | None:
    """A run priced from all its samples and windows, for its page.

    Args:
        store: where the run is.
        run_id: its id, or a unique prefix.
        options: candidate grids for "how to cut it"; None leaves the section out.

    Returns:
        The run with its report, samples and alternatives; None if there is no such run.

    Raises:
        StoreError: the prefix matches several runs, or the store cannot be read.
    """
    info = store.get_run(run_id)
    if info is None:
        return None
    samples = store.samples(info.run_id)
    report = build_report(info, samples, store.windows(info.run_id), store_location=store.location)
    cut = how_to_cut(report, samples, options) if options is not None else None
    return HtmlRun(report, samples, cut)


def compare_runs(store: Store, run_ids: Sequence[str]) -> Comparison:
    """The runs named by `run_ids` (ids or unique prefixes; repeats once), side by side."""
    from carbonlens.errors import StoreError

    found: dict[str, HtmlRun] = {}
    problems = []
    for run_id in dict.fromkeys(run_ids):
        try:
            run = run_page(store, run_id)
        except StoreError as exc:
            problems.append(str(exc))
            continue
        if run is None:
            problems.append(f"no run {run_id!r}")
        else:
            found.setdefault(run.report.info.run_id, run)
    return Comparison(tuple(found.values()), tuple(problems))


def _period(moment: datetime, by_day: bool) -> tuple[datetime, str]:
    utc = moment.astimezone(UTC)
    if by_day:
        return datetime(utc.year, utc.month, utc.day, tzinfo=UTC), f"{utc:%Y-%m-%d}"
    return datetime(utc.year, utc.month, 1, tzinfo=UTC), f"{utc:%Y-%m}"


def project_page(store: Store, project: str, *, now: datetime) -> ProjectPage | None:
    """A project's runs, totals by period and budget status.

    Args:
        store: where the runs are.
        project: the project's exact name.
        now: the current time (the budgets' current period).

    Returns:
        The page, or None if the project has neither runs nor budgets.
    """
    table = runs_table(store, RunFilter(project=project, limit=None))
    budgets = tuple(budget_statuses(store, project, now))
    if not table.rows and not budgets:
        return None
    starts = [r.info.started_at for r in table.rows]
    by_day = not starts or (max(starts) - min(starts)).days <= _DAYS_BY_DAY
    grouped: dict[tuple[datetime, str], list[RunReport | None]] = {}
    for row in reversed(table.rows):
        grouped.setdefault(_period(row.info.started_at, by_day), []).append(row.report)
    periods = tuple(
        Period(start, label, totals(reports)) for (start, label), reports in grouped.items()
    )
    return ProjectPage(project, table, periods, budgets)


@frozen
class QualityVsCost:
    """A project's finished runs ranked on one metric against facility energy.

    Attributes:
        metric: the metric (the first, by name, that a run of the project logged).
        cost_label: the cost with its unit.
        ranking: the ranked runs, the front marked, the others left out with why.
    """

    metric: str
    cost_label: str
    ranking: Ranking


def quality_vs_cost(store: Store, project: str) -> QualityVsCost | None:
    """The project's runs on their first metric (by name) against energy, or None
    when no run logged a metric or no run could be ranked."""
    names = sorted(
        {p.name for info in store.list_runs(project=project) for p in store.metrics(info.run_id)}
    )
    if not names:
        return None
    try:
        ranking = compare(store, project, names[0], "energy", "metric_per_cost")
    except ConfigError:
        return None
    if not ranking.entries:
        return None
    return QualityVsCost(names[0], f"energy ({COSTS['energy'].unit})", ranking)


def live_rows(store: Store, run_ids: Sequence[str]) -> list[RunRow]:
    """Current figures of the runs with these exact ids (prefixes and unknown ids are skipped)."""
    rows = []
    for run_id in dict.fromkeys(run_ids):
        info = store.get_run(run_id)
        if info is not None and info.run_id == run_id:
            rows.append(RunRow(info, price(store, info)))
    return rows
