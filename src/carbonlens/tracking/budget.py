"""Budgets while a run goes: warn, then act at 100 %; and predict the run's total.

`BudgetMonitor` is a sampler listener: it adds up the run's energy, prices it as
the report will (facility energy = IT energy × PUE; emissions = facility energy ×
the annual-average intensity chosen at start + embodied emissions amortised over
the elapsed time) and compares it, plus what the project's other runs of the
period spent, with every limit (`budget_limits.Limit`). At `budget_warn_ratio`
(default 80 %) it warns once per limit; at 100 % it acts once per run:

* `warn`: a warning only;
* `raise`: `BudgetExceeded` is raised at the next safe point of the user's
  code, `Tracker.checkpoint()` (or `Tracker.progress()`), never from the
  sampler's thread;
* `terminate`: the handlers given to `on_exceeded` run, each in its own thread
  (`carbonlens run` registers `terminate_child` for its child process).

From progress reports it predicts the run's total (`prediction.StepPredictor`)
and warns early when the prediction exceeds a limit. Warnings go to the
`carbonlens` logger and into the run's notes; `record()` gives what is stored
in the run's settings (`budget`, `prediction`, `stop_reason`).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from carbonlens.errors import CarbonLensError, ConfigError
from carbonlens.records import Sample
from carbonlens.store.base import BudgetKind
from carbonlens.tracking.budget_limits import Limit
from carbonlens.tracking.prediction import Prediction, StepPredictor
from carbonlens.units import J_PER_KWH

if TYPE_CHECKING:
    import subprocess

log = logging.getLogger(__name__)

ExceededHandler = Callable[["BudgetExceeded"], object]


class BudgetExceeded(CarbonLensError):
    """A run or project budget was exceeded; raised at a checkpoint (action `raise`).

    Attributes:
        scope: `run`, or `project 'x' (month)` / `(total)`.
        kind: What is limited (`BudgetKind.EMISSIONS` or `ENERGY`).
        limit: The budget, in the unit `kind` names (kgCO2e or kWh).
        spent: What was spent when it was exceeded, same unit (for a project
            budget, with the period's other runs).
        elapsed_s: Seconds into the run.
    """

    def __init__(self, limit: Limit, spent_si: float, elapsed_s: float) -> None:
        super().__init__(
            f"{limit.scope} budget of {limit.display(limit.limit_si)} exceeded: "
            f"{limit.display(spent_si)} spent after {elapsed_s:.0f} s"
        )
        self.scope = limit.scope
        self.kind = limit.kind
        self.limit = limit.limit_si / limit.unit_si
        self.spent = spent_si / limit.unit_si
        self.elapsed_s = elapsed_s


BudgetExceeded.__module__ = "carbonlens"


def terminate_child(child: subprocess.Popen[Any], grace_s: float) -> int:
    """Stop a child process: SIGTERM, then SIGKILL if it still runs after `grace_s`.

    Blocks until the child has ended (call it from its own thread, as
    `on_exceeded` handlers are). Only the child is signalled, not its own
    children: a well-behaved child forwards SIGTERM to them.

    Returns:
        The child's exit status (negative: the signal that ended it).
    """
    import subprocess  # lazy: only `carbonlens run` terminates a child

    if child.poll() is not None:
        return child.returncode
    log.warning("carbonlens: sending SIGTERM to pid %d (SIGKILL in %g s)", child.pid, grace_s)
    child.terminate()
    try:
        return child.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        log.warning("carbonlens: pid %d still running after %g s: SIGKILL", child.pid, grace_s)
        child.kill()
        return child.wait()


class BudgetMonitor:
    """Watches one run's spending against its limits and predicts its total.

    Args:
        limits: The run's and its project's limits (may be empty: prediction only).
        action: `warn`, `raise` or `terminate` (see the module).
        warn_ratio: Share of a limit (0-1) at which to warn.
        pue_ratio: PUE applied to IT energy.
        intensity_g_per_kwh: Grid intensity applied to facility energy.
        embodied_g_per_s: Embodied emissions amortised per second of run.
        warmup_ratio: Share of the steps the prediction leaves out as warm-up.
    """

    def __init__(
        self,
        limits: Sequence[Limit],
        *,
        action: str,
        warn_ratio: float,
        pue_ratio: float,
        intensity_g_per_kwh: float,
        embodied_g_per_s: float,
        warmup_ratio: float,
    ) -> None:
        self.limits = tuple(limits)
        self._action = action
        self._warn_ratio = warn_ratio
        self._pue_ratio = pue_ratio
        self._intensity_g_per_kwh = intensity_g_per_kwh
        self._embodied_g_per_s = embodied_g_per_s
        self.predictor = StepPredictor(warmup_ratio)
        self._it_j = 0.0
        self._t_s = 0.0
        self._warned: set[int] = set()
        self._exceeded: set[int] = set()
        self._predicted_over: set[int] = set()
        self._acted: BudgetExceeded | None = None
        self._pending: BudgetExceeded | None = None
        self._handlers: list[ExceededHandler] = []
        self._lock = threading.Lock()
        self._latest: Prediction | None = None
        self._kept: list[Prediction] = []
        self.events: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.stop_reason: str | None = None

    def seed(self, it_j: float, t_s: float) -> None:
        """Start from `it_j` joules of IT energy measured by `t_s` seconds into the run
        (a monitor made after the run started)."""
        self._it_j = it_j
        self._t_s = t_s

    def _spent_si(self, kind: BudgetKind, facility_j: float, duration_s: float) -> float:
        if kind is BudgetKind.ENERGY:
            return facility_j
        operational_g = facility_j / J_PER_KWH * self._intensity_g_per_kwh
        return operational_g + self._embodied_g_per_s * duration_s

    def observe(self, samples: Sequence[Sample]) -> None:
        """Add one tick's samples; warn, act and predict (the sampler's thread)."""
        if not samples:
            return
        self._it_j += sum(s.energy_j for s in samples)
        self._t_s = max(self._t_s, *(s.t_s for s in samples))
        if self.predictor.observe(self._t_s, self._it_j):
            self._on_prediction(self.predictor.predict())
        facility_j = self._it_j * self._pue_ratio
        for i, limit in enumerate(self.limits):
            spent_si = limit.spent_before_si + self._spent_si(limit.kind, facility_j, self._t_s)
            ratio = spent_si / limit.limit_si
            if ratio >= 1.0 and i not in self._exceeded:
                self._exceeded.add(i)
                self._warned.add(i)
                self._exceed(limit, BudgetExceeded(limit, spent_si, self._t_s), ratio)
            elif ratio >= self._warn_ratio and i not in self._warned:
                self._warned.add(i)
                self._warn(
                    "warn",
                    limit,
                    ratio,
                    f"{ratio:.0%} of the {limit.scope} budget of "
                    f"{limit.display(limit.limit_si)} spent ({limit.display(spent_si)})",
                )

    def _warn(self, event: str, limit: Limit, ratio: float, message: str) -> None:
        self.events.append(
            {"event": event, "scope": limit.scope, "kind": limit.kind.value}
            | {"t_s": self._t_s, "spent_ratio": ratio}
        )
        self.notes.append(f"budget, {self._t_s:.0f} s into the run: {message}")
        log.warning("carbonlens: %s", message)

    def _exceed(self, limit: Limit, error: BudgetExceeded, ratio: float) -> None:
        first = self._acted is None
        action = self._action if first else "warn"
        then = {
            "warn": "warned only",
            "raise": "BudgetExceeded is raised at the next checkpoint",
            "terminate": "stopping the run",
        }[action]
        self._warn("exceeded", limit, ratio, f"{error}; {then}")
        if not first or action == "warn":
            return
        with self._lock:
            self._acted = error
            handlers = list(self._handlers)
        if action == "raise":
            self._pending = error
            return
        if not handlers:
            self.notes.append("budget: nothing to terminate (only `carbonlens run` has a child)")
            log.warning("carbonlens: budget_action 'terminate' but nothing to terminate")
            return
        self.stop_reason = f"budget: {error}; terminated"
        for handler in handlers:
            self._start(handler, error)

    def _start(self, handler: ExceededHandler, error: BudgetExceeded) -> None:
        threading.Thread(
            target=handler, args=(error,), name="carbonlens-budget", daemon=True
        ).start()

    def on_exceeded(self, handler: ExceededHandler) -> None:
        """Run `handler(error)` in its own thread when the run exceeds a budget with
        action `terminate` (at once if it already has)."""
        with self._lock:
            self._handlers.append(handler)
            acted = self._acted if self._action == "terminate" else None
        if acted is not None:
            self.stop_reason = f"budget: {acted}; terminated"
            self._start(handler, acted)

    def progress(self, step: int, total_steps: int, t_s: float) -> None:
        """Record progress (any thread): `step` of `total_steps` done at `t_s`.

        Raises:
            ConfigError: `total_steps` is not positive, or `step` not in 0..total_steps.
        """
        integers = isinstance(step, int) and isinstance(total_steps, int)
        if not (integers and total_steps > 0 and 0 <= step <= total_steps):
            raise ConfigError(
                "progress needs integers 0 <= step <= total_steps and total_steps > 0, "
                f"got step={step!r}, total_steps={total_steps!r}",
                setting="progress",
            )
        self.predictor.report(step, total_steps, t_s)

    def checkpoint(self) -> None:
        """Raise the pending `BudgetExceeded` (action `raise`), once; else nothing."""
        error, self._pending = self._pending, None
        if error is not None:
            self.stop_reason = f"budget: {error}; BudgetExceeded raised"
            raise error

    def _priced(self, energy_it_j: float, duration_s: float) -> tuple[float, float]:
        facility_j = energy_it_j * self._pue_ratio
        return facility_j, self._spent_si(BudgetKind.EMISSIONS, facility_j, duration_s)

    def _on_prediction(self, prediction: Prediction | None) -> None:
        if prediction is None:
            return
        self._latest = prediction
        tenth = math.floor(10 * prediction.at_step / prediction.total_steps)
        kept = self._kept[-1] if self._kept else None
        if kept is None or tenth > math.floor(10 * kept.at_step / kept.total_steps):
            self._kept.append(prediction)
        for i, limit in enumerate(self.limits):
            if i in self._predicted_over or i in self._exceeded:
                continue
            predicted_si = limit.spent_before_si + self._spent_si(
                limit.kind, prediction.energy_j * self._pue_ratio, prediction.duration_s
            )
            if predicted_si > limit.limit_si:
                self._predicted_over.add(i)
                low = self._priced(prediction.energy_low_j, prediction.duration_s)
                high = self._priced(prediction.energy_high_j, prediction.duration_s)
                pick = 0 if limit.kind is BudgetKind.ENERGY else 1
                self._warn(
                    "predicted_over",
                    limit,
                    predicted_si / limit.limit_si,
                    f"predicted total {limit.display(predicted_si)} (95 % CI "
                    f"{limit.display(limit.spent_before_si + low[pick])} to "
                    f"{limit.display(limit.spent_before_si + high[pick])}) exceeds the "
                    f"{limit.scope} budget of {limit.display(limit.limit_si)} "
                    f"(at step {prediction.at_step} of {prediction.total_steps})",
                )

    def _prediction_entry(self, p: Prediction, actual_j: float | None) -> dict[str, Any]:
        energy_j, emissions_g = self._priced(p.energy_j, p.duration_s)
        low_j, low_g = self._priced(p.energy_low_j, p.duration_s)
        high_j, high_g = self._priced(p.energy_high_j, p.duration_s)
        return {
            "at_step": p.at_step,
            "at_s": p.at_t_s,
            "energy_j": energy_j,
            "energy_low_j": low_j,
            "energy_high_j": high_j,
            "emissions_g": emissions_g,
            "emissions_low_g": low_g,
            "emissions_high_g": high_g,
            "duration_s": p.duration_s,
            "error_ratio": None if not actual_j else energy_j / actual_j - 1.0,
        }

    def record(self) -> dict[str, Any]:
        """What the run stores in its settings: `budget`, `prediction`, `stop_reason`."""
        out: dict[str, Any] = {}
        facility_j = self._it_j * self._pue_ratio
        if self.limits:
            out["budget"] = {
                "action": self._action,
                "warn_ratio": self._warn_ratio,
                "limits": [self._limit_entry(limit, facility_j) for limit in self.limits],
                "events": self.events,
            }
        if self._latest is not None:
            kept = self._kept if self._kept[-1] is self._latest else [*self._kept, self._latest]
            done = self.predictor.last_step == self.predictor.total_steps
            actual_j = facility_j if done else None
            out["prediction"] = {
                "method": "energy per step after warm-up; 95 % CI from batch means "
                "(docs/evaluate.md#prediction)",
                "total_steps": self.predictor.total_steps,
                "last_step": self.predictor.last_step,
                "warmup_steps": self._latest.warmup_steps,
                "actual_energy_j": actual_j,
                "actual_emissions_g": self._priced(self._it_j, self._t_s)[1] if done else None,
                "predictions": [self._prediction_entry(p, actual_j) for p in kept],
            }
        if self.stop_reason:
            out["stop_reason"] = self.stop_reason
        return out

    def _limit_entry(self, limit: Limit, facility_j: float) -> dict[str, Any]:
        unit = "g" if limit.kind is BudgetKind.EMISSIONS else "j"
        spent_si = limit.spent_before_si + self._spent_si(limit.kind, facility_j, self._t_s)
        return {
            "scope": limit.scope,
            "kind": limit.kind.value,
            f"limit_{unit}": limit.limit_si,
            f"spent_before_{unit}": limit.spent_before_si,
            f"spent_{unit}": spent_si,
            "spent_ratio": spent_si / limit.limit_si,
        }
