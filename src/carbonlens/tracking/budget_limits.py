"""Budget limits of a run: its own (settings) and its project's (the store), with
what the project's earlier runs have already spent.

Amounts are given as text with a unit (`2kg`, `500 g`, `1.5t`, `3kWh`, `800Wh`):
emissions in g/kg/t CO2e, facility energy in Wh/kWh/MWh. Inside, limits are SI:
grams CO2e or joules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from carbonlens._frozen import frozen
from carbonlens.accounting import stored_report
from carbonlens.config import Settings
from carbonlens.errors import ConfigError
from carbonlens.store.base import Budget, BudgetKind, BudgetPeriod, Store
from carbonlens.units import G_PER_KG, J_PER_KWH

_UNITS: Final[dict[str, tuple[BudgetKind, float]]] = {
    "g": (BudgetKind.EMISSIONS, 1e-3),
    "gco2e": (BudgetKind.EMISSIONS, 1e-3),
    "kg": (BudgetKind.EMISSIONS, 1.0),
    "kgco2e": (BudgetKind.EMISSIONS, 1.0),
    "t": (BudgetKind.EMISSIONS, 1e3),
    "tco2e": (BudgetKind.EMISSIONS, 1e3),
    "wh": (BudgetKind.ENERGY, 1e-3),
    "kwh": (BudgetKind.ENERGY, 1.0),
    "mwh": (BudgetKind.ENERGY, 1e3),
}
"""Unit -> (kind, factor to the kind's unit: kgCO2e or kWh)."""

_AMOUNT = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([a-z0-9]*)\s*", re.I)

UNIT_NAMES: Final = {BudgetKind.EMISSIONS: "kgCO2e", BudgetKind.ENERGY: "kWh"}
"""How each kind's unit is written for people."""


@frozen
class Limit:
    """One budget a run must keep: its own, or its project's for a period.

    `limit_si` and `spent_before_si` are grams CO2e for an emissions budget and
    joules of facility energy for an energy budget; `spent_before_si` is what the
    project's other runs of the period spent (0 for the run's own budget).
    """

    scope: str
    kind: BudgetKind
    limit_si: float
    spent_before_si: float = 0.0

    @property
    def unit_si(self) -> float:
        """SI amount in one unit of the kind: 1000 g per kg, 3.6e6 J per kWh."""
        return si_amount(self.kind, 1.0)

    def display(self, amount_si: float) -> str:
        """`amount_si` in the kind's unit for people: `1.23 kgCO2e`, `4.5 kWh`."""
        return f"{amount_si / self.unit_si:.3g} {UNIT_NAMES[self.kind]}"


@frozen
class Spend:
    """What a project's runs of a period spent: facility energy (J), total emissions
    (g), how many runs, and how many could not be priced (left out)."""

    energy_j: float
    emissions_g: float
    runs: int
    unpriced: int = 0


def si_amount(kind: BudgetKind, amount: float) -> float:
    """An amount in the kind's unit (kgCO2e, kWh) in SI (grams, joules)."""
    return amount * (G_PER_KG if kind is BudgetKind.EMISSIONS else J_PER_KWH)


def parse_amount(text: str, expected: BudgetKind | None = None) -> tuple[BudgetKind, float]:
    """Read a budget amount: `2kg`, `500 g`, `1.5t`, `3kWh`, `800Wh`.

    Args:
        text: A positive number and a unit; the unit may be left out when `expected`
            says which kind of budget it is.
        expected: The kind the caller asks for (`--kgco2e`, `--kwh`), if any.

    Returns:
        The kind and the amount in its unit (kgCO2e or kWh).

    Raises:
        ConfigError: Not a number, an unknown or missing unit, a unit of the other
            kind (conflicting units), or an amount of zero or less.
    """
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise ConfigError(f"budget {text!r} is not an amount such as 2kg or 3kWh", setting="budget")
    number, unit = float(match.group(1)), match.group(2).lower()
    if not unit:
        if expected is None:
            raise ConfigError(
                f"budget {text!r} has no unit: write e.g. {text.strip()}kg (kgCO2e) "
                f"or {text.strip()}kWh",
                setting="budget",
            )
        kind, factor = expected, 1.0
    elif unit in _UNITS:
        kind, factor = _UNITS[unit]
    else:
        raise ConfigError(
            f"budget {text!r}: unknown unit {unit!r} (use g, kg or t of CO2e; Wh, kWh or MWh)",
            setting="budget",
        )
    if expected is not None and kind is not expected:
        raise ConfigError(
            f"conflicting units: a {UNIT_NAMES[expected]} budget was asked for, but {text!r} "
            f"is in {UNIT_NAMES[kind]} terms",
            setting="budget",
        )
    if not (number > 0 and math.isfinite(number)):
        raise ConfigError(f"a budget must be more than zero, got {text!r}", setting="budget")
    return kind, number * factor


def parse_run_budgets(texts: Sequence[str]) -> dict[str, float]:
    """`Tracker` keyword arguments for budgets given as text (`carbonlens run --budget`).

    Returns:
        `{"budget_kgco2e": ..., "budget_kwh": ...}` with the kinds that were given.

    Raises:
        ConfigError: A bad amount (see `parse_amount`), or two amounts of one kind.
    """
    found: dict[BudgetKind, tuple[str, float]] = {}
    for text in texts:
        kind, amount = parse_amount(text)
        if kind in found:
            raise ConfigError(
                f"conflicting budgets {found[kind][0]!r} and {text!r}: both limit "
                f"{'emissions' if kind is BudgetKind.EMISSIONS else 'energy'}; give one",
                setting="budget",
            )
        found[kind] = (text, amount)
    return {f"budget_{kind.value}": amount for kind, (_, amount) in found.items()}


def run_limits(settings: Settings) -> list[Limit]:
    """The run's own budgets, from `budget_kgco2e` and `budget_kwh`."""
    given = (
        (BudgetKind.EMISSIONS, settings.budget_kgco2e),
        (BudgetKind.ENERGY, settings.budget_kwh),
    )
    return [Limit("run", kind, si_amount(kind, amount)) for kind, amount in given if amount]


def period_start(period: BudgetPeriod, now: datetime) -> datetime | None:
    """When a budget period began: the first of `now`'s month (UTC), None for `total`."""
    if period is BudgetPeriod.TOTAL:
        return None
    utc = now.astimezone(UTC)
    return datetime(utc.year, utc.month, 1, tzinfo=UTC)


def project_spend(
    store: Store,
    project: str,
    period: BudgetPeriod,
    now: datetime,
    *,
    exclude_run_id: str | None = None,
) -> Spend:
    """What the project's runs started in the period spent (every status counts).

    Each run is priced by `accounting.stored_report` with the intensity and PUE
    stored with it; a run whose settings cannot be priced is
    counted in `unpriced` and left out.
    """
    energy_j = emissions_g = 0.0
    runs = unpriced = 0
    for info in store.list_runs(project=project, since=period_start(period, now)):
        if info.run_id == exclude_run_id:
            continue
        try:
            report = stored_report(store, info)
        except (KeyError, TypeError, ValueError):
            unpriced += 1
            continue
        energy_j += report.facility_energy_j
        emissions_g += report.total_g
        runs += 1
    return Spend(energy_j, emissions_g, runs, unpriced)


def project_limits(
    store: Store, project: str, now: datetime, *, exclude_run_id: str | None = None
) -> list[Limit]:
    """The project's budgets, each with what the period's other runs spent."""
    limits = []
    for budget in store.budgets(project):
        spend = project_spend(store, project, budget.period, now, exclude_run_id=exclude_run_id)
        spent = spend.emissions_g if budget.kind is BudgetKind.EMISSIONS else spend.energy_j
        scope = f"project {project!r} ({budget.period.value})"
        limits.append(Limit(scope, budget.kind, si_amount(budget.kind, budget.amount), spent))
    return limits


@frozen
class BudgetStatus:
    """A project budget and what its current period has spent (`budget show`)."""

    budget: Budget
    period_start: datetime | None
    spend: Spend

    @property
    def spent(self) -> float:
        """What the period spent, in the budget's unit (kgCO2e or kWh)."""
        kind = self.budget.kind
        spent_si = self.spend.emissions_g if kind is BudgetKind.EMISSIONS else self.spend.energy_j
        return spent_si / si_amount(kind, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible; amounts keyed by unit (`limit_kgco2e`, `spent_kwh`)."""
        kind = self.budget.kind.value
        return {
            "project": self.budget.project,
            "kind": kind,
            "period": self.budget.period.value,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            f"limit_{kind}": self.budget.amount,
            f"spent_{kind}": self.spent,
            "spent_ratio": self.spent / self.budget.amount,
            "runs": self.spend.runs,
            "unpriced_runs": self.spend.unpriced,
        }


def budget_statuses(store: Store, project: str | None, now: datetime) -> list[BudgetStatus]:
    """Every budget (of `project`, or all) with its current period's spend."""
    return [
        BudgetStatus(
            budget,
            period_start(budget.period, now),
            project_spend(store, budget.project, budget.period, now),
        )
        for budget in store.budgets(project)
    ]
