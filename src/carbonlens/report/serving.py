"""The serving section of a report: measured cost, the estimator's, the break-even day.

For a run that stored serving windows (`serving.store`), `load_sections` adds
them up, prices them at the run's grid intensity and PUE, and compares them
with the estimator's inference-at-scale figure for the same model and devices
and with a training footprint (a stored run, or a given figure): see
`serving.cost` and docs/serving.md. `report.serving_render` shows the section
in Markdown, HTML and JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from carbonlens._frozen import frozen
from carbonlens.errors import ConfigError, EstimateError
from carbonlens.records import Component
from carbonlens.report.methods import sensor_entries
from carbonlens.report.paper import number_text
from carbonlens.serving.cost import (
    S_PER_DAY,
    ServingCost,
    ServingTotals,
    estimate_for,
    observed_requests_per_day,
    serving_cost,
    serving_totals,
)
from carbonlens.serving.store import summaries_from_points
from carbonlens.units import G_PER_KG

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport
    from carbonlens.estimate.model import Estimate
    from carbonlens.store.base import Store

__all__ = ["ServingOptions", "ServingSection", "Training", "load_sections"]


@frozen
class ServingOptions:
    """What the user gave for the serving section (`carbonlens report` options).

    Attributes:
        training_run: id (or prefix) of the training run, whose total is the footprint.
        training_kgco2e: the training footprint, kgCO2e (instead of a run).
        requests_per_day: requests per day (default: the run's own rate).
        params: the model's parameters, for the estimator.
        device: the device as written (default: the run's GPU), for the estimator.
        batch_size: queries decoded together, for the estimator.
    """

    training_run: str | None = None
    training_kgco2e: float | None = None
    requests_per_day: float | None = None
    params: float | None = None
    device: str | None = None
    batch_size: int = 1


@frozen
class ServingSection:
    """One serving run's section: its cost, the models served and remarks."""

    run_id: str
    name: str
    cost: ServingCost
    models: tuple[str, ...]
    notes: tuple[str, ...] = ()


@frozen
class Training:
    """The training footprint (gCO2e), the method behind it and its source."""

    footprint_g: float | None = None
    method: str | None = None
    source: str | None = None


def _methods(report: RunReport) -> str:
    """The methods of a run's energy, e.g. ``measured`` or ``measured+modelled``."""
    return "+".join(sorted({t.channel.method.value for t in report.components})) or "none"


def _gpu(report: RunReport) -> tuple[str | None, int]:
    """The model of the run's GPUs as recorded by its sensors, and how many it measured."""
    count = sum(1 for t in report.components if t.channel.component is Component.GPU)
    for _, assumptions in sensor_entries(report):
        for device in (assumptions.get("devices") or {}).values():
            if isinstance(device, Mapping) and device.get("model"):
                return str(device["model"]), max(count, 1)
    return None, max(count, 1)


def _training(db: Store, options: ServingOptions) -> Training:
    """The footprint of `--training-run` or `--training-kgco2e`, if given."""
    from carbonlens.accounting import build_report

    if options.training_run is not None and options.training_kgco2e is not None:
        raise ConfigError("give --training-run or --training-kgco2e, not both")
    if options.training_kgco2e is not None:
        return Training(options.training_kgco2e * G_PER_KG, "given", "--training-kgco2e")
    if options.training_run is None:
        return Training()
    info = db.get_run(options.training_run)
    if info is None:
        raise ConfigError(f"no training run {options.training_run!r} in {db.location}")
    report = build_report(info, db.samples(info.run_id), db.windows(info.run_id))
    name = info.name or info.project
    source = f"training run {info.run_id[:12]} ({name}): its total, embodied included"
    return Training(report.total_g, _methods(report), source)


def _estimate(
    report: RunReport,
    options: ServingOptions,
    totals: ServingTotals,
    requests_per_day: float,
    training_g: float | None,
    notes: list[str],
) -> tuple[Estimate | None, str | None]:
    """The estimator's figure for the run's model and devices, or None with a note why."""
    from carbonlens.estimate.hardware import resolve_device
    from carbonlens.estimate.model import Grid

    if options.params is None:
        notes.append("no estimator comparison: give --params (the model's parameters)")
        return None, None
    model, count = _gpu(report)
    name = options.device or model
    if name is None:
        notes.append("no estimator comparison: give --device (the run recorded no GPU model)")
        return None, None
    try:
        spec = resolve_device(name).spec
    except EstimateError as exc:
        if options.device is not None:
            raise
        notes.append(f"no estimator comparison: {exc}; give --device")
        return None, None
    try:
        estimate = estimate_for(
            totals,
            device=spec,
            count=count,
            grid=Grid(report.intensity, report.pue),
            params=options.params,
            requests_per_day=requests_per_day,
            batch_size=options.batch_size,
            training_g=training_g,
        )
    except ConfigError as exc:
        notes.append(f"no estimator comparison: {exc}")
        return None, None
    source = (
        f"carbonlens estimate inference: {count} × {spec.name}, {number_text(options.params)} "
        f"parameters, {number_text(totals.tokens_in / totals.token_requests)} tokens in and "
        f"{number_text(totals.tokens_out / totals.token_requests)} out per request "
        f"(the run's means), batch size {options.batch_size}, the run's grid and PUE"
    )
    return estimate, source


def _section(
    report: RunReport, db: Store, options: ServingOptions, training: Training
) -> ServingSection | None:
    """The serving section of one run, or None when it stored no request."""
    summaries = summaries_from_points(db.metrics(report.info.run_id))
    if not any(route.requests for s in summaries for route in s.routes):
        return None
    totals = serving_totals(summaries)
    per_day = options.requests_per_day or observed_requests_per_day(totals)
    notes: list[str] = []
    estimate, estimate_source = _estimate(
        report, options, totals, per_day, training.footprint_g, notes
    )
    intensity = report.intensity
    cost = serving_cost(
        totals,
        intensity_g_per_kwh=intensity.intensity_g_per_kwh,
        pue_ratio=report.pue.pue_ratio,
        embodied_per_day_g=report.embodied_g * S_PER_DAY / report.duration_s
        if report.duration_s > 0
        else 0.0,
        requests_per_day=options.requests_per_day,
        training_g=training.footprint_g,
        estimate=estimate,
        measured_method=_methods(report),
        measured_source=(
            f"serving run {report.info.run_id[:12]}, {len(summaries)} stored window(s): "
            "energy shared among requests in flight"
        ),
        pricing_source=(
            f"{number_text(intensity.intensity_g_per_kwh)} gCO2e/kWh "
            f"({intensity.location or 'world'} grid) × PUE {number_text(report.pue.pue_ratio)}, "
            "the run's (sources in its methods)"
        ),
        estimate_source=estimate_source,
        training_method=training.method,
        training_source=training.source,
    )
    return ServingSection(report.info.run_id, report.info.name, cost, totals.models, tuple(notes))


def load_sections(
    db: Store, reports: Sequence[RunReport], options: ServingOptions
) -> dict[str, ServingSection]:
    """The serving section of each run that stored serving windows, by run id.

    Raises:
        ConfigError: a training run that is not in the store, both a training run
            and a footprint, or serving options for runs that stored no window.
        EstimateError: an explicit --device the estimator does not know.
    """
    training = _training(db, options)
    sections = {}
    for report in reports:
        found = _section(report, db, options, training)
        if found is not None:
            sections[report.info.run_id] = found
    if not sections and options != ServingOptions():
        raise ConfigError(
            "no request stored in the chosen run(s): the serving options need a run "
            "that served requests (Tracker.request, Tracker.handler or CarbonMiddleware)"
        )
    return sections
