"""What-if: the same job across several regions, devices, precisions or training types.

`across` runs one job under each option and `compare` ranks the results by total
emissions, lowest first, with each one's saving against a baseline (positive
when it emits less than the baseline)::

    from functools import partial
    job = partial(modes.compute, params=7e9, tokens=2e12, device=a100, count=64)
    rows = across(lambda grid: job(grid=grid), {"FR": fr, "US": us, "IN": india}, baseline="US")

The varied value is whatever the job function takes: a `Grid` for regions, a
`DeviceSpec` for devices, a `Precision` or a `Training` kind. Each row keeps the
full `Estimate`, so its range and assumptions stay available.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from carbonlens._frozen import frozen
from carbonlens.errors import EstimateError
from carbonlens.estimate.model import Estimate

__all__ = ["Scenario", "across", "compare"]

T = TypeVar("T")


@frozen
class Scenario:
    """One option of a what-if comparison.

    Attributes:
        label: the option's name ("FR", "H100", "fp8", "peft").
        estimate: the job's estimate under this option.
        rank: 1 for the lowest total emissions.
        saving_g: baseline total minus this total, gCO2e (negative: emits more).
        saving_ratio: `saving_g` as a share of the baseline total (0-1, negative
            when it emits more; 0 when the baseline total is 0).
        baseline: whether this option is the baseline.
    """

    label: str
    estimate: Estimate
    rank: int
    saving_g: float
    saving_ratio: float
    baseline: bool


def compare(estimates: Mapping[str, Estimate], *, baseline: str) -> tuple[Scenario, ...]:
    """Rank estimates of the same job by total emissions, with savings against `baseline`.

    Args:
        estimates: the job's estimate under each option, by label.
        baseline: the label to measure savings against.

    Returns:
        The options, lowest total first (ties keep the given order).

    Raises:
        EstimateError: `baseline` is not one of the labels.
    """
    if baseline not in estimates:
        raise EstimateError(f"baseline {baseline!r} is not among {', '.join(estimates)}")
    reference = estimates[baseline].total_g
    ranked = sorted(estimates.items(), key=lambda item: item[1].total_g)
    return tuple(
        Scenario(
            label=label,
            estimate=estimate,
            rank=rank,
            saving_g=reference - estimate.total_g,
            saving_ratio=(reference - estimate.total_g) / reference if reference else 0.0,
            baseline=label == baseline,
        )
        for rank, (label, estimate) in enumerate(ranked, start=1)
    )


def across(
    job: Callable[[T], Estimate], options: Mapping[str, T], *, baseline: str
) -> tuple[Scenario, ...]:
    """Run `job` under every option and rank the results (see `compare`).

    Args:
        job: the job as a function of the varied value (a grid, a device...).
        options: the values to try, by label; must include `baseline`.
        baseline: the label to measure savings against.

    Returns:
        The ranked options.

    Raises:
        EstimateError: `baseline` missing, or the job fails for an option (the
            message names the option).
    """
    if baseline not in options:
        raise EstimateError(f"baseline {baseline!r} is not among {', '.join(options)}")
    estimates: dict[str, Estimate] = {}
    for label, option in options.items():
        try:
            estimates[label] = job(option)
        except EstimateError as exc:
            raise EstimateError(f"{label}: {exc}") from exc
    return compare(estimates, baseline=baseline)
