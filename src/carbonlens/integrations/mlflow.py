"""MLflow: a run's energy and emissions as metrics, its reports as artefacts.

    import mlflow
    from carbonlens.integrations.mlflow import log_report

    with mlflow.start_run():
        with carbonlens.Tracker(project="x") as tracker:
            train()
        log_report(tracker.report)      # the active MLflow run; later: run_id=...

Metric names are stable; each carries its unit (kWh, grams CO2e, seconds):

=====================================  =====================================================
metric                                 value
=====================================  =====================================================
``carbonlens.it_energy_kwh``           IT energy (all components)
``carbonlens.facility_energy_kwh``     IT energy x PUE
``carbonlens.emissions_gco2e``         total: operational + embodied
``carbonlens.operational_gco2e``       facility energy x grid intensity
``carbonlens.embodied_gco2e``          embodied emissions amortised over the run
``carbonlens.duration_s``              length of the run
``carbonlens.energy_kwh.<component>``  IT energy of `cpu`, `gpu`, `ram`, `soc`, `other`
``carbonlens.window_energy_kwh``       IT energy of each window, step = window index
``carbonlens.window_emissions_gco2e``  operational emissions of each window, same steps
=====================================  =====================================================

Tags: ``carbonlens.run_id``, ``carbonlens.location``, ``carbonlens.intensity_g_per_kwh``,
``carbonlens.pue``, ``carbonlens.methods`` (``component:method`` pairs) and
``carbonlens.windows`` (the windows' names, in step order). Artefacts:
``carbonlens/report.html`` (the self-contained HTML report) and
``carbonlens/report.json`` (docs/json.md).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from carbonlens.errors import ConfigError, StoreError
from carbonlens.integrations._support import import_framework
from carbonlens.records import Sample
from carbonlens.report.html import HtmlRun, render_html
from carbonlens.store import open_existing_store
from carbonlens.units import kwh_from_j

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport

__all__ = ["ARTIFACT_DIR", "SUPPORTED", "log_report", "report_metrics", "report_tags"]

SUPPORTED: Final = ("2.0", "4")
"""Supported MLflow versions (`mlflow` or `mlflow-skinny`): at least the first, below
the second."""
ARTIFACT_DIR: Final = "carbonlens"
"""Where the artefacts go inside the MLflow run."""
_P: Final = "carbonlens."


def report_metrics(report: RunReport) -> list[tuple[str, float, int]]:
    """The metrics of a report as (name, value, step), in the units their names say."""
    metrics = [
        (f"{_P}it_energy_kwh", kwh_from_j(report.it_energy_j), 0),
        (f"{_P}facility_energy_kwh", kwh_from_j(report.facility_energy_j), 0),
        (f"{_P}emissions_gco2e", report.total_g, 0),
        (f"{_P}operational_gco2e", report.operational_g, 0),
        (f"{_P}embodied_gco2e", report.embodied_g, 0),
        (f"{_P}duration_s", report.duration_s, 0),
    ]
    by_component: dict[str, float] = defaultdict(float)
    for total in report.components:
        by_component[total.channel.component.value] += total.energy_j
    metrics += [(f"{_P}energy_kwh.{c}", kwh_from_j(j), 0) for c, j in sorted(by_component.items())]
    for step, window in enumerate(report.windows):
        metrics.append((f"{_P}window_energy_kwh", kwh_from_j(window.it_energy_j), step))
        metrics.append((f"{_P}window_emissions_gco2e", window.operational_g, step))
    return metrics


def report_tags(report: RunReport) -> dict[str, str]:
    """The tags of a report: its carbonlens run id, grid, PUE, methods and windows."""
    methods = sorted(
        {f"{t.channel.component.value}:{t.channel.method.value}" for t in report.components}
    )
    return {
        f"{_P}run_id": report.info.run_id,
        f"{_P}location": report.intensity.location or "world",
        f"{_P}intensity_g_per_kwh": f"{report.intensity.intensity_g_per_kwh:g}",
        f"{_P}pue": f"{report.pue.pue_ratio:g}",
        f"{_P}methods": ",".join(methods),
        f"{_P}windows": ",".join(w.name for w in report.windows),
    }


def _stored_samples(report: RunReport) -> list[Sample]:
    """The run's samples from its store, for the HTML charts ([] if unreadable)."""
    if not report.store_location:
        return []
    try:
        store = open_existing_store(report.store_location)
    except StoreError:
        return []
    try:
        return store.samples(report.info.run_id)
    finally:
        store.close()


def log_report(
    report: RunReport,
    *,
    run_id: str | None = None,
    samples: Sequence[Sample] | None = None,
    artifacts: bool = True,
) -> str:
    """Log a report's metrics, tags and (optionally) artefacts to an MLflow run.

    Args:
        report: A stopped run's report (`tracker.report`).
        run_id: The MLflow run; None means the active one (`mlflow.active_run()`).
        samples: The run's samples for the HTML charts; None reads them from the
            report's store.
        artifacts: Also log `carbonlens/report.html` and `carbonlens/report.json`.

    Returns:
        The MLflow run id logged to.

    Raises:
        ModuleNotFoundError: MLflow is not installed.
        ConfigError: No `run_id` and no active MLflow run, or an unsupported MLflow.
    """
    mlflow = import_framework("mlflow", "mlflow", SUPPORTED)
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise ConfigError(
                "no active MLflow run: call log_report inside mlflow.start_run() or pass run_id",
                setting="run_id",
            )
        run_id = str(active.info.run_id)
    entities: Any = import_framework("mlflow.entities", "mlflow", SUPPORTED)
    client = mlflow.MlflowClient()
    now_ms = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[entities.Metric(k, v, now_ms, step) for k, v, step in report_metrics(report)],
        tags=[entities.RunTag(k, v) for k, v in report_tags(report).items()],
    )
    if artifacts:
        runs = [HtmlRun(report, list(samples) if samples is not None else _stored_samples(report))]
        client.log_text(run_id, render_html(runs), f"{ARTIFACT_DIR}/report.html")
        document = json.dumps(report.to_dict(), indent=2)
        client.log_text(run_id, document, f"{ARTIFACT_DIR}/report.json")
    return run_id
