"""MLflow logging, against a real MLflow file store under tmp_path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow")

from carbonlens.errors import ConfigError  # noqa: E402
from carbonlens.integrations.mlflow import log_report  # noqa: E402
from carbonlens.report.html import HtmlRun, render_html  # noqa: E402
from carbonlens.testing import FakeClock  # noqa: E402
from carbonlens.tracking.tracker import Tracker  # noqa: E402
from carbonlens.units import J_PER_KWH  # noqa: E402

from .conftest import POWER_W  # noqa: E402


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An MLflow client on a file store under tmp_path (the tracking URI restored after)."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 deprecates file stores
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    try:
        yield mlflow.MlflowClient()
    finally:
        mlflow.set_tracking_uri(previous)


def _report(options: dict[str, Any], clock: FakeClock) -> Any:
    with Tracker(**options) as tracker:
        for epoch in range(2):
            with tracker.window(f"epoch-{epoch}"):
                clock.advance(3.0)
    return tracker.report


def test_report_goes_to_the_active_run_as_metrics_tags_and_artefacts(
    tracking: Any, tracker_options: dict[str, Any], clock: FakeClock
) -> None:
    report = _report(tracker_options, clock)
    with mlflow.start_run() as active:
        assert log_report(report) == active.info.run_id
    run = tracking.get_run(active.info.run_id)
    metrics = run.data.metrics
    assert metrics["carbonlens.it_energy_kwh"] == pytest.approx(6 * POWER_W / J_PER_KWH)
    assert metrics["carbonlens.energy_kwh.cpu"] == pytest.approx(6 * POWER_W / J_PER_KWH)
    assert metrics["carbonlens.emissions_gco2e"] == pytest.approx(report.total_g)
    assert metrics["carbonlens.duration_s"] == pytest.approx(6.0)
    history = tracking.get_metric_history(active.info.run_id, "carbonlens.window_energy_kwh")
    assert [(m.step, m.value) for m in history] == [
        (0, pytest.approx(3 * POWER_W / J_PER_KWH)),
        (1, pytest.approx(3 * POWER_W / J_PER_KWH)),
    ]
    tags = run.data.tags
    assert tags["carbonlens.run_id"] == report.info.run_id
    assert (tags["carbonlens.location"], tags["carbonlens.windows"]) == ("FR", "epoch-0,epoch-1")
    assert tags["carbonlens.methods"] == "cpu:measured"
    paths = {a.path for a in tracking.list_artifacts(active.info.run_id, "carbonlens")}
    assert paths == {"carbonlens/report.html", "carbonlens/report.json"}
    local = Path(tracking.download_artifacts(active.info.run_id, "carbonlens"))
    html = (local / "report.html").read_text()
    assert report.info.run_id in html
    without_samples = render_html([HtmlRun(report, [])])
    assert html.count("<svg") > without_samples.count("<svg")  # charts of the stored samples
    assert json.loads((local / "report.json").read_text())["run_id"] == report.info.run_id


def test_a_finished_run_by_its_id_and_no_active_run_refused(
    tracking: Any, tracker_options: dict[str, Any], clock: FakeClock
) -> None:
    report = _report(tracker_options, clock)
    with pytest.raises(ConfigError, match="no active MLflow run"):
        log_report(report)
    with mlflow.start_run() as ended:
        pass
    log_report(report, run_id=ended.info.run_id, artifacts=False)
    run = tracking.get_run(ended.info.run_id)
    assert "carbonlens.facility_energy_kwh" in run.data.metrics
    assert tracking.list_artifacts(ended.info.run_id) == []
