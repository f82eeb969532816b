"""The Lightning callback on a tiny CPU model: one run, a window per epoch, metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

L = pytest.importorskip("lightning.pytorch")
torch = pytest.importorskip("torch")

from carbonlens.errors import ConfigError  # noqa: E402
from carbonlens.integrations.lightning import CarbonLensCallback  # noqa: E402
from carbonlens.records import RunStatus  # noqa: E402
from carbonlens.store import SqliteStore  # noqa: E402
from carbonlens.testing import FakeClock  # noqa: E402
from carbonlens.tracking.tracker import Tracker  # noqa: E402
from carbonlens.units import J_PER_KWH  # noqa: E402

from .conftest import POWER_W  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning"),  # torch pytree, lightning
    pytest.mark.filterwarnings("ignore::lightning.fabric.utilities.warnings.PossibleUserWarning"),
]

BATCHES = 4
"""Batches per epoch: 64 samples of 16."""


class Tiny(L.LightningModule):
    """Linear regression; each training step moves the fake clock one second."""

    def __init__(
        self, clock: FakeClock, fail_at_epoch: int | None = None, error: type = RuntimeError
    ) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.clock = clock
        self.fail_at_epoch = fail_at_epoch
        self.error = error

    def training_step(self, batch: Any, index: int) -> Any:
        if self.current_epoch == self.fail_at_epoch:
            raise self.error("boom")
        self.clock.advance(1.0)
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, index: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.05)


def _data() -> Any:
    x = torch.randn(BATCHES * 16, 4, generator=torch.Generator().manual_seed(0))
    dataset = torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))
    return torch.utils.data.DataLoader(dataset, batch_size=16)


def _fit(callback: Any, root: Path, model: Tiny, epochs: int = 2) -> Any:
    trainer = L.Trainer(
        max_epochs=epochs,
        callbacks=[callback],
        default_root_dir=root,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, _data(), _data())
    return trainer


def test_fit_is_one_run_with_a_window_per_epoch_and_its_metrics(
    tracker_options: dict[str, Any],
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    callback = CarbonLensCallback(**tracker_options)
    assert isinstance(callback, L.Callback) and isinstance(callback, CarbonLensCallback)
    progress: list[tuple[int, int]] = []
    report_progress = callback.tracker.progress

    def spy(step: int, total_steps: int) -> None:
        progress.append((step, total_steps))
        report_progress(step, total_steps)

    monkeypatch.setattr(callback.tracker, "progress", spy)
    _fit(callback, tmp_path, Tiny(clock))
    report = callback.report
    assert report is not None and report.info.status is RunStatus.FINISHED
    # 10 W x 1 s per step, 4 steps per epoch
    assert [(w.name, w.it_energy_j) for w in report.windows] == [
        ("epoch-0", pytest.approx(BATCHES * POWER_W)),
        ("epoch-1", pytest.approx(BATCHES * POWER_W)),
    ]
    assert report.it_energy_j == pytest.approx(2 * BATCHES * POWER_W)
    assert progress == [(step, 2 * BATCHES) for step in range(1, 2 * BATCHES + 1)]
    store = SqliteStore(tracker_options["store"])
    try:
        points = store.metrics(callback.tracker.run_id)
    finally:
        store.close()
    assert {(p.name, p.step) for p in points} == {
        (name, epoch) for name in ("train_loss", "val_loss") for epoch in (0, 1)
    }


def test_model_card_is_merged_into_the_root_dirs_readme(
    tracker_options: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("---\nlicense: mit\n---\n# Tiny\n\nA linear model.\n")
    callback = CarbonLensCallback(model_card=True, training_type="pre-training", **tracker_options)
    _fit(callback, tmp_path, Tiny(clock))
    assert callback.report is not None
    text = readme.read_text()
    assert text.startswith("---\nlicense: mit\nco2_eq_emissions:\n")
    assert text.endswith("---\n# Tiny\n\nA linear model.\n")
    assert f"emissions: {callback.report.total_g:.6g}"[:16] in text
    assert 'training_type: "pre-training"' in text


def test_failed_fit_is_stored_as_failed_without_a_model_card(
    tracker_options: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    callback = CarbonLensCallback(model_card=tmp_path / "card", **tracker_options)
    with pytest.raises(RuntimeError, match="boom"):
        _fit(callback, tmp_path, Tiny(clock, fail_at_epoch=1))
    report = callback.report
    assert report is not None and report.info.status is RunStatus.FAILED
    assert report.it_energy_j == pytest.approx(BATCHES * POWER_W)
    assert not (tmp_path / "card").exists()


def test_ctrl_c_is_stored_as_interrupted(
    tracker_options: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    callback = CarbonLensCallback(**tracker_options)
    with pytest.raises((KeyboardInterrupt, SystemExit)):
        _fit(callback, tmp_path, Tiny(clock, fail_at_epoch=1, error=KeyboardInterrupt))
    report = callback.report
    assert report is not None and report.info.status is RunStatus.INTERRUPTED


def test_budget_with_action_raise_stops_the_fit_cleanly(
    tracker_options: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    # the first epoch (40 J) exceeds 30 J: the next step's checkpoint stops training
    limit_kwh = 30.0 / J_PER_KWH
    callback = CarbonLensCallback(budget_kwh=limit_kwh, budget_action="raise", **tracker_options)
    trainer = _fit(callback, tmp_path, Tiny(clock), epochs=5)
    report = callback.report
    assert report is not None and report.info.status is RunStatus.INTERRUPTED
    assert callback.run.budget_stop is not None
    assert trainer.current_epoch < 5
    assert report.info.settings["stop_reason"]


def test_users_running_tracker_gets_windows_and_is_left_running(
    tracker_options: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    tracker = Tracker(**tracker_options).start()
    callback = CarbonLensCallback(tracker)
    _fit(callback, tmp_path, Tiny(clock), epochs=1)
    assert callback.report is None
    report = tracker.stop()
    assert [w.name for w in report.windows] == ["epoch-0"]
    with pytest.raises(ConfigError, match="model_card"):
        CarbonLensCallback(tracker, model_card=True)


def test_sync_waits_for_cuda_at_each_window_edge(
    tracker_options: dict[str, Any],
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: calls.append("sync"))
    callback = CarbonLensCallback(sync=True, **tracker_options)
    _fit(callback, tmp_path, Tiny(clock))
    assert len(calls) == 2 * 2 + 1  # open and close of two epochs, then the stop
