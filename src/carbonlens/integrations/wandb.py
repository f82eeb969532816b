"""Weights & Biases: a run's energy and emissions in the W&B run, its reports as an artefact.

    import wandb
    from carbonlens.integrations.wandb import log_report

    with wandb.init(project="x") as run:
        with carbonlens.Tracker(project="x") as tracker:
            train()
        log_report(tracker.report)      # the active W&B run (`wandb.run`); or run=...

The figures are those MLflow gets (`carbonlens.integrations.mlflow`), named with
`/` instead of `.` so W&B shows them in a `carbonlens` section; each name carries
its unit (kWh, grams CO2e, seconds):

==========================================  ===============================================
summary key                                 value
==========================================  ===============================================
``carbonlens/it_energy_kwh``                IT energy (all components)
``carbonlens/facility_energy_kwh``          IT energy x PUE
``carbonlens/emissions_gco2e``              total: operational + embodied
``carbonlens/operational_gco2e``            facility energy x grid intensity
``carbonlens/embodied_gco2e``               embodied emissions amortised over the run
``carbonlens/duration_s``                   length of the run
``carbonlens/energy_kwh/<component>``       IT energy of `cpu`, `gpu`, `ram`, `soc`, `other`
``carbonlens/intensity_g_per_kwh``          grid intensity used, gCO2e/kWh
``carbonlens/pue``                          PUE applied
``carbonlens/run_id``, ``/location``,       text: the carbonlens run, its grid, the
``/methods``, ``/windows``                  `component:method` pairs, the windows' names
==========================================  ===============================================

Each window is a history row: ``carbonlens/window_energy_kwh`` (IT energy) and
``carbonlens/window_emissions_gco2e`` (operational emissions) against the step
metric ``carbonlens/window``, the window's index (`define_metric`), so they chart
per epoch whatever the run's own step. The HTML report and the JSON document go
into an artefact of type ``carbonlens-report`` named ``carbonlens-<run id>``
(``report.html``, ``report.json``). Works offline (``WANDB_MODE=offline``): W&B
keeps everything in the run's directory for ``wandb sync``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from carbonlens.errors import ConfigError
from carbonlens.integrations._support import import_framework
from carbonlens.integrations.mlflow import _stored_samples, report_metrics, report_tags
from carbonlens.records import Sample
from carbonlens.report.html import HtmlRun, render_html
from carbonlens.units import kwh_from_j

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport

__all__ = ["ARTIFACT_TYPE", "SUPPORTED", "WINDOW_STEP", "log_report", "report_summary"]

SUPPORTED: Final = ("0.17", "1")
"""Supported wandb versions: at least the first, below the second."""
ARTIFACT_TYPE: Final = "carbonlens-report"
"""The type of the artefact that holds the reports."""
WINDOW_STEP: Final = "carbonlens/window"
"""The step metric of the window rows: the window's index."""


def _key(name: str) -> str:
    """`carbonlens.energy_kwh.cpu` as W&B's `carbonlens/energy_kwh/cpu`."""
    return name.replace(".", "/")


def report_summary(report: RunReport) -> dict[str, float | str]:
    """The summary of a report: its totals in the units their keys say, and its text tags.

    The intensity (gCO2e/kWh) and the PUE are numbers, so W&B can chart them
    across runs.
    """
    summary: dict[str, float | str] = {_key(k): v for k, v in report_tags(report).items()}
    summary |= {
        _key(name): value
        for name, value, _ in report_metrics(report)
        if not name.startswith("carbonlens.window_")
    }
    summary[_key("carbonlens.intensity_g_per_kwh")] = report.intensity.intensity_g_per_kwh
    summary[_key("carbonlens.pue")] = report.pue.pue_ratio
    return summary


def _window_rows(report: RunReport) -> list[dict[str, float]]:
    return [
        {
            WINDOW_STEP: index,
            "carbonlens/window_energy_kwh": kwh_from_j(window.it_energy_j),
            "carbonlens/window_emissions_gco2e": window.operational_g,
        }
        for index, window in enumerate(report.windows)
    ]


def log_report(
    report: RunReport,
    *,
    run: Any = None,
    samples: Sequence[Sample] | None = None,
    artifacts: bool = True,
) -> str:
    """Log a report's summary, window rows and (optionally) artefact to a W&B run.

    Call it after training: each window is a history row, which moves the run's
    own step on by one.

    Args:
        report: A stopped run's report (`tracker.report`).
        run: The W&B run (`wandb.init()`'s); None means the active one (`wandb.run`).
        samples: The run's samples for the HTML charts; None reads them from the
            report's store.
        artifacts: Also log the `carbonlens-report` artefact (report.html, report.json).

    Returns:
        The W&B run id logged to.

    Raises:
        ModuleNotFoundError: wandb is not installed.
        ConfigError: No `run` and no active W&B run, or an unsupported wandb.
    """
    wandb = import_framework("wandb", "wandb", SUPPORTED)
    run = run if run is not None else wandb.run
    if run is None:
        raise ConfigError(
            "no active W&B run: call log_report after wandb.init() or pass run=",
            setting="run",
        )
    rows = _window_rows(report)
    if rows:
        run.define_metric(WINDOW_STEP, hidden=True)
        run.define_metric("carbonlens/window_*", step_metric=WINDOW_STEP)
        for row in rows:
            run.log(row)
    run.summary.update(report_summary(report))
    if artifacts:
        stored = list(samples) if samples is not None else _stored_samples(report)
        artifact = wandb.Artifact(
            f"carbonlens-{report.info.run_id[:12]}",
            type=ARTIFACT_TYPE,
            metadata={"run_id": report.info.run_id, "project": report.info.project},
        )
        with artifact.new_file("report.html", encoding="utf-8") as html:
            html.write(render_html([HtmlRun(report, stored)]))
        with artifact.new_file("report.json", encoding="utf-8") as document:
            document.write(json.dumps(report.to_dict(), indent=2))
        run.log_artifact(artifact)
    return str(run.id)
