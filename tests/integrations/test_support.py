"""Framework imports and versions, the combined classes, and what the callbacks share."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from carbonlens.errors import ConfigError
from carbonlens.integrations._support import check_version, framework_class, import_framework
from carbonlens.integrations._training import TrainingRun, as_number
from carbonlens.records import RunStatus
from carbonlens.testing import FakeClock
from carbonlens.tracking.tracker import Tracker

INTEGRATIONS = (
    "distributed",
    "huggingface",
    "keras",
    "lightning",
    "mlflow",
    "otel",
    "prometheus",
    "ray_tune",
    "wandb",
)
FRAMEWORKS = (
    "keras",
    "lightning",
    "mlflow",
    "opentelemetry",
    "prometheus_client",
    "pytorch_lightning",
    "ray",
    "torch",
    "transformers",
    "wandb",
)


def test_unsupported_version_names_the_supported_range() -> None:
    with pytest.raises(ConfigError, match=r"lightning >=2.0,<3; 1.9.5 is installed") as info:
        check_version("lightning", "1.9.5", ("2.0", "3"))
    assert "pip install 'lightning>=2.0,<3'" in str(info.value)
    with pytest.raises(ConfigError, match="3.0.1 is installed"):
        check_version("lightning", "3.0.1", ("2.0", "3"))
    check_version("lightning", "2.6.6rc1", ("2.0", "3"))


def test_missing_framework_says_how_to_install_it() -> None:
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'no-such-framework>=1,<2'"):
        import_framework("no_such_framework_xyz", "no-such-framework", ("1", "2"))


def test_combined_class_is_built_once_and_derives_from_both() -> None:
    class Base:
        pass

    class Mine:
        pass

    combined = framework_class(Mine, Base)
    assert issubclass(combined, Mine) and issubclass(combined, Base)
    assert framework_class(Mine, Base) is combined
    assert framework_class(combined, Base) is combined
    assert combined.__name__ == "Mine"


def test_importing_an_integration_imports_no_framework() -> None:
    modules = ", ".join(f"carbonlens.integrations.{name}" for name in INTEGRATIONS)
    code = (
        "import sys, carbonlens\n"
        "assert not [m for m in sys.modules if m.startswith('carbonlens.integrations')]\n"
        f"import {modules}\n"
        f"print(sorted({set(FRAMEWORKS)!r} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1.0), (0.5, 0.5), (float("nan"), None), ("text", None), (True, None), ([1, 2], None)],
)
def test_only_finite_scalars_are_metrics(value: object, expected: float | None) -> None:
    assert as_number(value) == expected


def test_bad_metrics_are_skipped_not_raised(tracker_options: dict[str, Any]) -> None:
    run = TrainingRun(
        None, sync=False, model_card=False, training_type=None, tracker_options=tracker_options
    )
    run.begin()
    run.log_metrics({"loss": 0.5, "": 1.0, "nan": float("nan"), "name": "x"}, step=0)
    run.end()
    assert run.report is not None
    assert set(run.report.info.settings["metrics"]) == {"loss"}


def test_tracker_and_options_together_are_refused(
    tracker_options: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="either a tracker or Tracker options"):
        TrainingRun(
            Tracker(store=tmp_path / "r.db"),
            sync=False,
            model_card=False,
            training_type=None,
            tracker_options={"project": "x"},
        )


def test_model_card_of_a_run_the_user_stops_is_refused(tracker_options: dict[str, Any]) -> None:
    tracker = Tracker(**tracker_options).start()
    try:
        with pytest.raises(ConfigError, match="model_card needs a tracker the callback starts"):
            TrainingRun(
                tracker, sync=False, model_card=True, training_type=None, tracker_options={}
            )
    finally:
        tracker.stop()


def test_unknown_total_only_checks_the_budget(
    tracker_options: dict[str, Any], clock: FakeClock
) -> None:
    run = TrainingRun(
        None, sync=False, model_card=False, training_type=None, tracker_options=tracker_options
    )
    run.begin()
    for total in (None, float("inf"), 0):
        assert run.progress(3, total) is False
    clock.advance(1.0)
    run.end(raised=RunStatus.FAILED)
    assert run.report is not None and run.report.info.status is RunStatus.FAILED
    assert "prediction" not in run.report.info.settings
