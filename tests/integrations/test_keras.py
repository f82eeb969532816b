"""The Keras 3 callback (PyTorch back-end) on a tiny CPU model: one run, epoch windows."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":
    pytest.skip("these tests run Keras on its PyTorch back-end", allow_module_level=True)

from carbonlens.errors import ConfigError  # noqa: E402
from carbonlens.integrations.keras import CarbonLensCallback  # noqa: E402
from carbonlens.records import RunStatus  # noqa: E402
from carbonlens.store import SqliteStore  # noqa: E402
from carbonlens.testing import FakeClock  # noqa: E402
from carbonlens.units import J_PER_KWH  # noqa: E402

from .conftest import POWER_W  # noqa: E402

STEPS = 4
"""Batches per epoch: 64 samples of 16."""


class Clocked(keras.callbacks.Callback):
    """Moves the fake clock one second per training batch (registered before ours)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.clock.advance(1.0)


def _fit(callback: Any, clock: FakeClock, epochs: int = 2) -> Any:
    keras.utils.set_random_seed(0)
    x = keras.random.normal((STEPS * 16, 4), seed=1)
    y = keras.ops.sum(x, axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=epochs,
        validation_data=(x, y),
        callbacks=[Clocked(clock), callback],
        verbose=0,
    )
    return model


def test_fit_is_one_run_with_a_window_per_epoch_and_its_logs(
    tracker_options: dict[str, Any],
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    callback = CarbonLensCallback(model_card=tmp_path / "card", **tracker_options)
    assert isinstance(callback, keras.callbacks.Callback)
    progress: list[tuple[int, int]] = []
    monkeypatch.setattr(callback.tracker, "progress", lambda *step: progress.append(step))
    _fit(callback, clock)
    assert progress == [(step, 2 * STEPS) for step in range(1, 2 * STEPS + 1)]
    report = callback.report
    assert report is not None and report.info.status is RunStatus.FINISHED
    assert [(w.name, w.it_energy_j) for w in report.windows] == [
        ("epoch-0", pytest.approx(STEPS * POWER_W)),
        ("epoch-1", pytest.approx(STEPS * POWER_W)),
    ]
    store = SqliteStore(tracker_options["store"])
    try:
        points = store.metrics(callback.tracker.run_id)
    finally:
        store.close()
    assert {(p.name, p.step) for p in points} >= {
        (name, epoch) for name in ("loss", "mae", "val_loss", "val_mae") for epoch in (0, 1)
    }
    assert "co2_eq_emissions:" in (tmp_path / "card" / "README.md").read_text()


def test_budget_with_action_raise_stops_fit_cleanly(
    tracker_options: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    limit_kwh = 30.0 / J_PER_KWH  # the first epoch spends 40 J
    callback = CarbonLensCallback(budget_kwh=limit_kwh, budget_action="raise", **tracker_options)
    model = _fit(callback, clock, epochs=5)
    report = callback.report
    assert report is not None and report.info.status is RunStatus.INTERRUPTED
    assert len(model.history.epoch) < 5


def test_model_card_needs_a_directory(tracker_options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="no output directory"):
        CarbonLensCallback(model_card=True, **tracker_options)


class Raising(keras.callbacks.Callback):
    """Raises at the end of the third batch, as a failing training step would."""

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if batch == 2:
            raise RuntimeError("batch 3 failed")


def test_fit_that_raises_inside_guard_is_stored_as_failed(
    tracker_options: dict[str, Any], clock: FakeClock
) -> None:
    callback = CarbonLensCallback(**tracker_options)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = keras.random.normal((STEPS * 16, 4), seed=1)
    with pytest.raises(RuntimeError, match="batch 3 failed"), callback.guard():
        callbacks = [Clocked(clock), callback, Raising()]
        model.fit(x, x[:, :1], batch_size=16, epochs=2, callbacks=callbacks, verbose=0)
    report = callback.report
    assert report is not None and report.info.status is RunStatus.FAILED
    # three one-second batches at 10 W ran (Clocked moves the clock before Raising raises)
    assert [(w.name, w.it_energy_j) for w in report.windows] == [("epoch-0", pytest.approx(30.0))]


def test_guard_leaves_a_finished_run_finished(
    tracker_options: dict[str, Any], clock: FakeClock
) -> None:
    callback = CarbonLensCallback(**tracker_options)
    with pytest.raises(ValueError, match="after"), callback.guard():
        _fit(callback, clock, epochs=1)
        raise ValueError("raised after fit ended")
    report = callback.report
    assert report is not None and report.info.status is RunStatus.FINISHED
