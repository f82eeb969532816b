"""Measured serving cost beside the estimator's figure and the training footprint.

From the windows a serving run stored (`serving.store`), `serving_totals` adds
up what was served; `serving_cost` prices it and puts it beside the estimator's
inference-at-scale figure for the same model and devices (`estimate_for`) and
beside the training footprint:

* per 1,000 requests: operational gCO2e of the energy attributed to requests
  (IT joules × PUE × grid intensity), and the same with the idle energy spread
  over the requests served; the estimator assumes a fleet sized to the load,
  with no idle, so the like-for-like comparison is the first one;
* per token: operational gCO2e of the requests that reported tokens, over
  their tokens in + out (the estimator's: its per-query figure over the tokens
  of a query);
* per day, at the observed request rate or a given one: measured gCO2e per
  request (idle included) × requests per day, plus the serving devices'
  embodied emissions per day of service (not scaled with the rate);
* the break-even day: training gCO2e / serving gCO2e per day, the day
  cumulative serving emissions pass training's (both totals, embodied included,
  as the estimator's own break-even day).

Pure functions; the report renders them (`report.serving`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from carbonlens._frozen import frozen
from carbonlens.errors import ConfigError
from carbonlens.serving.summary import ServingSummary
from carbonlens.units import emissions_g

if TYPE_CHECKING:
    from carbonlens.estimate.hardware import DeviceSpec
    from carbonlens.estimate.model import Estimate, Grid

__all__ = [
    "S_PER_DAY",
    "ServingCost",
    "ServingTotals",
    "estimate_for",
    "observed_requests_per_day",
    "serving_cost",
    "serving_totals",
]

S_PER_DAY: Final = 86_400.0
_ESTIMATED: Final = (
    "energy_per_request_j",
    "per_1000_requests_g",
    "per_token_g",
    "total_per_day_g",
    "breakeven_day",
)


@frozen
class ServingTotals:
    """What a serving run served, added up over its stored windows.

    Energies are IT joules; `token_requests` counts the requests that reported
    tokens, `token_energy_j` is their energy, `tokens_in` and `tokens_out` their
    tokens. Times are seconds
    since the run started.
    """

    requests: int
    failed: int
    token_requests: int
    tokens_in: int
    tokens_out: int
    token_energy_j: float
    attributed_energy_j: float
    idle_energy_j: float
    start_t_s: float
    end_t_s: float
    models: tuple[str, ...]

    @property
    def duration_s(self) -> float:
        """Seconds from the first stored window's start to the last one's end."""
        return self.end_t_s - self.start_t_s

    @property
    def tokens(self) -> int:
        """Tokens in + out of the requests that reported them."""
        return self.tokens_in + self.tokens_out


def serving_totals(summaries: Sequence[ServingSummary]) -> ServingTotals:
    """Add up windows (`summaries_from_points`) into one set of totals.

    Raises:
        ConfigError: no window, or no request in them.
    """
    routes = [r for s in summaries for r in s.routes]
    requests = sum(r.requests for r in routes)
    if not summaries or requests == 0:
        raise ConfigError("the run served no request: no serving cost to report")
    return ServingTotals(
        requests=requests,
        failed=sum(r.failed for r in routes),
        token_requests=sum(r.token_requests for r in routes),
        tokens_in=sum(r.tokens_in for r in routes),
        tokens_out=sum(r.tokens_out for r in routes),
        token_energy_j=sum(r.token_energy_j for r in routes),
        attributed_energy_j=sum(s.attributed_energy_j for s in summaries),
        idle_energy_j=sum(s.idle_energy_j for s in summaries),
        start_t_s=min(s.start_t_s for s in summaries),
        end_t_s=max(s.end_t_s for s in summaries),
        models=tuple(sorted({r.model for r in routes if r.model})),
    )


@frozen
class ServingCost:
    """The serving section of a report: each figure with its unit in its name.

    `measured_*` figures come from the serving run (method `measured_method`,
    source `measured_source`), priced at `intensity_g_per_kwh` and `pue_ratio`;
    `estimated_*` from the estimator (`estimate_source`), None without an
    estimate; `training_g` from `training_source` by `training_method`, None
    when not given.
    `rate_observed` says whether `requests_per_day` is the run's own rate.
    """

    requests: int
    duration_s: float
    tokens: int
    intensity_g_per_kwh: float
    pue_ratio: float
    measured_energy_per_request_j: float
    measured_energy_with_idle_per_request_j: float
    measured_per_1000_requests_g: float
    measured_with_idle_per_1000_requests_g: float
    measured_per_token_g: float | None
    requests_per_day: float
    rate_observed: bool
    operational_per_day_g: float
    embodied_per_day_g: float
    training_g: float | None
    estimated_energy_per_request_j: float | None
    estimated_per_1000_requests_g: float | None
    estimated_per_token_g: float | None
    estimated_total_per_day_g: float | None
    estimated_breakeven_day: float | None
    measured_method: str
    measured_source: str
    pricing_source: str
    estimate_source: str | None
    training_method: str | None
    training_source: str | None

    @property
    def total_per_day_g(self) -> float:
        """Serving gCO2e per day: operational (idle included) + embodied."""
        return self.operational_per_day_g + self.embodied_per_day_g

    @property
    def breakeven_day(self) -> float | None:
        """Days of serving until its cumulative emissions pass training's; None without
        a training footprint or with no serving emissions."""
        if self.training_g is None or self.total_per_day_g <= 0:
            return None
        return self.training_g / self.total_per_day_g

    @property
    def measured_to_estimated_ratio(self) -> float | None:
        """Measured IT joules per request (idle excluded) / the estimator's per query."""
        estimated = self.estimated_energy_per_request_j
        return None if not estimated else self.measured_energy_per_request_j / estimated


def _tokens_per_request(totals: ServingTotals) -> float:
    return totals.tokens / totals.token_requests


def observed_requests_per_day(totals: ServingTotals) -> float:
    """The run's request rate, requests per day (its requests over its windows' span).

    Raises:
        ConfigError: the windows span no time.
    """
    if totals.duration_s <= 0:
        raise ConfigError("the serving windows span no time: give --requests-per-day")
    return totals.requests * S_PER_DAY / totals.duration_s


def estimate_for(
    totals: ServingTotals,
    *,
    device: DeviceSpec,
    count: int,
    grid: Grid,
    params: float,
    requests_per_day: float,
    batch_size: int = 1,
    training_g: float | None = None,
) -> Estimate:
    """The estimator's inference at scale for what the run served, over one day.

    Tokens in and out per query are the run's means over the requests that
    reported tokens.

    Raises:
        ConfigError: no request reported tokens (the estimator needs them).
        EstimateError: an input the estimator refuses.
    """
    from carbonlens.estimate.inference import inference

    if totals.tokens == 0:
        raise ConfigError("no request reported tokens: the estimator needs tokens per request")
    return inference(
        device=device,
        count=count,
        grid=grid,
        params=params,
        input_tokens=totals.tokens_in / totals.token_requests,
        output_tokens=totals.tokens_out / totals.token_requests,
        queries_per_day=requests_per_day,
        days=1.0,
        batch_size=batch_size,
        training_g=training_g,
    )


def serving_cost(
    totals: ServingTotals,
    *,
    intensity_g_per_kwh: float,
    pue_ratio: float,
    embodied_per_day_g: float = 0.0,
    requests_per_day: float | None = None,
    training_g: float | None = None,
    estimate: Estimate | None = None,
    measured_method: str = "measured",
    measured_source: str = "",
    pricing_source: str = "",
    estimate_source: str | None = None,
    training_method: str | None = None,
    training_source: str | None = None,
) -> ServingCost:
    """Price a serving run's totals and compare them (see the module docstring).

    Args:
        totals: What the run served (`serving_totals`).
        intensity_g_per_kwh: Grid intensity the run was priced at, gCO2e/kWh.
        pue_ratio: The run's PUE (facility energy / IT energy).
        embodied_per_day_g: Embodied gCO2e of the serving devices per day of service.
        requests_per_day: Requests per day; None: the run's own rate.
        training_g: The training footprint in gCO2e, for the break-even day.
        estimate: An inference estimate for the same model and devices
            (`estimate_for`), over one day at `requests_per_day`.
        measured_method: How the run's energy was obtained, for the report.
        measured_source: Where the run's energy comes from.
        pricing_source: Where the intensity and PUE come from.
        estimate_source: Where the estimate comes from.
        training_method: How the training footprint was obtained.
        training_source: Where the training footprint comes from.

    Raises:
        ConfigError: a negative rate, footprint or embodied figure, or an
            estimate that is not an inference estimate.
    """
    for name, value in (
        ("requests_per_day", requests_per_day),
        ("training_g", training_g),
        ("embodied_per_day_g", embodied_per_day_g),
    ):
        if value is not None and value < 0:
            raise ConfigError(f"{name} must be >= 0, not {value!r}", setting=name)
    if estimate is not None and estimate.mode != "inference":
        raise ConfigError(f"the serving cost needs an inference estimate, not {estimate.mode!r}")
    rate_observed = requests_per_day is None
    per_day = observed_requests_per_day(totals) if requests_per_day is None else requests_per_day
    n = totals.requests
    g_per_it_j = emissions_g(pue_ratio, intensity_g_per_kwh)
    with_idle_j = totals.attributed_energy_j + totals.idle_energy_j
    per_token = totals.token_energy_j * g_per_it_j / totals.tokens if totals.tokens else None
    estimated: dict[str, float | None] = dict.fromkeys(_ESTIMATED)
    if estimate is not None:
        queries = estimate.details["queries_per_day"] * estimate.details["days"]
        per_query_g = estimate.operational_g / queries
        estimated = {
            "energy_per_request_j": estimate.it_energy_j / queries,
            "per_1000_requests_g": per_query_g * 1000,
            "per_token_g": per_query_g / _tokens_per_request(totals) if totals.tokens else None,
            "total_per_day_g": estimate.details["total_per_day_g"],
            "breakeven_day": estimate.details.get("breakeven_day"),
        }
    return ServingCost(
        requests=n,
        duration_s=totals.duration_s,
        tokens=totals.tokens,
        intensity_g_per_kwh=intensity_g_per_kwh,
        pue_ratio=pue_ratio,
        measured_energy_per_request_j=totals.attributed_energy_j / n,
        measured_energy_with_idle_per_request_j=with_idle_j / n,
        measured_per_1000_requests_g=totals.attributed_energy_j * g_per_it_j * 1000 / n,
        measured_with_idle_per_1000_requests_g=with_idle_j * g_per_it_j * 1000 / n,
        measured_per_token_g=per_token,
        requests_per_day=per_day,
        rate_observed=rate_observed,
        operational_per_day_g=with_idle_j * g_per_it_j / n * per_day,
        embodied_per_day_g=embodied_per_day_g,
        training_g=training_g,
        estimated_energy_per_request_j=estimated["energy_per_request_j"],
        estimated_per_1000_requests_g=estimated["per_1000_requests_g"],
        estimated_per_token_g=estimated["per_token_g"],
        estimated_total_per_day_g=estimated["total_per_day_g"],
        estimated_breakeven_day=estimated["breakeven_day"],
        measured_method=measured_method,
        measured_source=measured_source,
        pricing_source=pricing_source,
        estimate_source=estimate_source,
        training_method=training_method,
        training_source=training_source,
    )
