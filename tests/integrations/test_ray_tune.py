"""The Ray Tune callback: each trial's share and the sweep's total, on a local Ray cluster."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="the Ray Tune callback needs ray[tune]")
tune = pytest.importorskip("ray.tune", reason="the Ray Tune callback needs ray[tune]")

from click.testing import CliRunner  # noqa: E402

from carbonlens.cli import main  # noqa: E402
from carbonlens.errors import ConfigError  # noqa: E402
from carbonlens.integrations.distributed import group_report  # noqa: E402
from carbonlens.integrations.ray_tune import CarbonLensTuneCallback  # noqa: E402
from carbonlens.records import RunStatus  # noqa: E402
from carbonlens.store import SqliteStore  # noqa: E402
from carbonlens.testing import FakeClock  # noqa: E402

from .conftest import POWER_W  # noqa: E402


def _trial(trial_id: str) -> Any:
    """What the callback reads of a Tune trial."""
    return SimpleNamespace(trial_id=trial_id, experiment_dir_name="sweep")


def _group(options: dict[str, Any], group_id: str) -> Any:
    store = SqliteStore(options["store"])
    try:
        return group_report(store, group_id)
    finally:
        store.close()


def test_overlapping_trials_share_each_interval_equally(
    tracker_options: dict[str, Any], clock: FakeClock
) -> None:
    callback = CarbonLensTuneCallback(**tracker_options)
    assert isinstance(callback, tune.Callback)
    a, b, c = _trial("a"), _trial("b"), _trial("c")
    callback.on_trial_start(0, [], a)
    clock.advance(2.0)  # a alone: 20 J
    callback.on_trial_start(1, [], b)
    clock.advance(4.0)  # a and b: 40 J, 20 J each
    callback.on_trial_complete(2, [], a)
    clock.advance(1.0)  # b alone: 10 J
    callback.on_trial_error(3, [], b)
    clock.advance(5.0)  # no trial: 50 J for the sweep only
    callback.on_trial_start(4, [], c)
    clock.advance(1.0)  # c alone: 10 J, still running when the experiment ends
    callback.on_experiment_end([])
    reports = callback.trial_reports
    assert {t: (r.it_energy_j, r.info.status) for t, r in reports.items()} == {
        "a": (pytest.approx(2 * POWER_W + 4 * POWER_W / 2), RunStatus.FINISHED),
        "b": (pytest.approx(4 * POWER_W / 2 + 1 * POWER_W), RunStatus.FAILED),
        "c": (pytest.approx(1 * POWER_W), RunStatus.INTERRUPTED),
    }
    assert [reports[t].duration_s for t in "abc"] == [6.0, 5.0, 1.0]
    sweep = callback.report
    assert sweep is not None and sweep.info.kind == "sweep"
    assert sweep.it_energy_j == pytest.approx(13 * POWER_W)  # every second, counted once
    assert [w.name for w in sweep.windows] == ["trial-a", "trial-b", "trial-c"]
    assert callback.group_id is not None and callback.group_id.startswith("sweep-")
    group = _group(tracker_options, callback.group_id)
    assert [(r.rank, r.report.info.name) for r in group.ranks] == [
        (0, "sweep/a"),
        (1, "sweep/b"),
        (2, "sweep/c"),
    ]
    assert group.it_energy_j == pytest.approx(8 * POWER_W)  # the sweep less its 5 idle seconds
    assert f"sweep-id:{callback.group_id}" in sweep.info.tags
    assert "trial:b" in reports["b"].info.tags
    listed = CliRunner().invoke(
        main, ["group", callback.group_id, "--store", str(tracker_options["store"])]
    )
    assert listed.exit_code == 0, listed.output
    assert "  trial sweep/a (" in listed.output and "share of the node" in listed.output
    assert "rank 0" not in listed.output


def test_a_store_object_and_a_bad_tracker_option_are_refused_at_once(
    tracker_options: dict[str, Any],
) -> None:
    store = SqliteStore(tracker_options["store"])
    try:
        with pytest.raises(ConfigError, match="path or URL"):
            CarbonLensTuneCallback(**{**tracker_options, "store": store})
    finally:
        store.close()
    with pytest.raises(ConfigError):
        CarbonLensTuneCallback(**{**tracker_options, "pue": 0.5})


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray cluster of two CPUs, for this module's tests."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def _train(config: dict[str, Any]) -> None:
    """Reports `x` results; the trial x=3 raises after its first."""
    for step in range(config["x"]):
        if step == 1 and config["x"] == 3:
            raise ValueError("trial x=3 failed")
        tune.report({"score": config["x"] * step})


class Clocked(tune.Callback):  # type: ignore[misc]
    """Moves the fake clock one second per result (in the driver, before ours sees it)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.results: Counter[str] = Counter()

    def on_trial_result(
        self, iteration: int, trials: Any, trial: Any, result: Any, **info: Any
    ) -> None:
        self.clock.advance(1.0)
        self.results[trial.trial_id] += 1


@pytest.mark.slow
def test_sweep_on_a_local_cluster(
    local_ray: None,
    tracker_options: dict[str, Any],
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    clocked = Clocked(clock)
    callback = CarbonLensTuneCallback(**tracker_options)
    tuner = tune.Tuner(
        _train,
        param_space={"x": tune.grid_search([2, 3])},  # two trials, side by side on 2 CPUs
        run_config=tune.RunConfig(
            name="lr-sweep",
            storage_path=str(tmp_path / "ray"),
            callbacks=[clocked, callback],
            verbose=0,
        ),
    )
    results = tuner.fit()
    assert len(results) == 2 and results.num_errors == 1
    reports = callback.trial_reports
    statuses = sorted(r.info.status for r in reports.values())
    assert statuses == [RunStatus.FAILED, RunStatus.FINISHED]
    # the fake clock moves one second at 10 W per result, whichever trial sent it:
    # the trials split those seconds (exactly: see the test above), the sweep has them all
    total_j = sum(clocked.results.values()) * POWER_W
    assert clocked.results.total() >= 3  # x=2: two results, x=3: one, then it raised
    assert sum(r.it_energy_j for r in reports.values()) == pytest.approx(total_j)
    assert all(r.it_energy_j > 0 for r in reports.values())
    sweep = callback.report
    assert sweep is not None and sweep.info.name == "lr-sweep"
    assert sweep.it_energy_j == pytest.approx(total_j)
    assert callback.group_id is not None
    group = _group(tracker_options, callback.group_id)
    assert group.it_energy_j == pytest.approx(total_j)
    assert {r.report.info.name for r in group.ranks} == {f"lr-sweep/{t}" for t in reports}
