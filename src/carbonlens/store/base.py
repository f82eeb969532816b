"""The store contract: runs, their samples, windows and metrics, written as a run
goes; and the budgets of projects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from carbonlens._frozen import frozen
from carbonlens.records import RunInfo, RunStatus, Sample, Window


@frozen
class MetricPoint:
    """One value of a named metric of a run (`accuracy`, `loss`, ...), at a step.

    `value` is in the metric's own unit (a quality metric has none; a benchmark's
    figures say theirs in the name, e.g. `latency_p95_s`); `t_s` is when it was
    logged, in seconds since the run started. A run keeps one value per
    (name, step): logging the same step again replaces it.
    """

    name: str
    step: int
    value: float
    t_s: float


class BudgetKind(StrEnum):
    """What a budget limits, named by the unit of its amount."""

    EMISSIONS = "kgco2e"
    """Total emissions (operational + embodied), kilograms CO2e."""
    ENERGY = "kwh"
    """Facility energy (IT energy x PUE), kilowatt-hours."""


class BudgetPeriod(StrEnum):
    """Which runs of a project count against its budget."""

    MONTH = "month"
    """Runs started in the current calendar month (UTC)."""
    TOTAL = "total"
    """Every run of the project."""


@frozen
class Budget:
    """A project's limit of one kind: `amount` is in the unit `kind` names (kg CO2e or
    kWh, as the user gave it), over `period`. A project has at most one per kind."""

    project: str
    kind: BudgetKind
    amount: float
    period: BudgetPeriod


class Store(Protocol):
    """Where runs are kept. Every write is durable when the call returns.

    A run left `running` by a process that no longer exists (killed) is reported
    as `interrupted` by `get_run` and `list_runs`, and marked so in the store.
    `finish_run` may replace the run's settings (what was learnt at the end, such
    as the intensity series of the run's hours). `channel_sums` gives one sample
    per channel summing all of a run's samples (latest `t_s`, summed durations and
    energies; process energy summed over the samples that have one, None if none
    has), for listings that need totals only.

    `log_metrics` adds metric points to a run (one per name and step; a later
    point replaces an earlier one with the same name and step) and `metrics`
    returns them ordered by name, then step. `set_budget` replaces the project's
    budget of the same kind; `clear_budget` removes it (False if there was none);
    `budgets` lists them ordered by project, then kind.
    """

    location: str

    def create_run(self, info: RunInfo) -> None: ...

    def append_samples(self, run_id: str, samples: Sequence[Sample]) -> None: ...

    def save_window(self, run_id: str, window: Window) -> None: ...

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        ended_at: datetime,
        duration_s: float,
        settings: Mapping[str, Any] | None = None,
    ) -> None: ...

    def get_run(self, run_id: str) -> RunInfo | None: ...

    def list_runs(
        self,
        *,
        project: str | None = None,
        since: datetime | None = None,
        status: RunStatus | None = None,
        limit: int | None = None,
    ) -> list[RunInfo]: ...

    def samples(self, run_id: str) -> list[Sample]: ...

    def channel_sums(self, run_id: str) -> list[Sample]: ...

    def windows(self, run_id: str) -> list[Window]: ...

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None: ...

    def metrics(self, run_id: str) -> list[MetricPoint]: ...

    def set_budget(self, budget: Budget) -> None: ...

    def clear_budget(self, project: str, kind: BudgetKind) -> bool: ...

    def budgets(self, project: str | None = None) -> list[Budget]: ...

    def close(self) -> None: ...
