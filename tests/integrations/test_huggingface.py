"""The Transformers callback on a tiny CPU model: one run, epochs with their evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from carbonlens.integrations.huggingface import CarbonLensCallback  # noqa: E402
from carbonlens.records import RunStatus  # noqa: E402
from carbonlens.store import SqliteStore  # noqa: E402
from carbonlens.testing import FakeClock  # noqa: E402
from carbonlens.units import J_PER_KWH  # noqa: E402

from .conftest import POWER_W  # noqa: E402

STEPS = 4
"""Optimizer steps per epoch: 64 examples in batches of 16."""
EVAL_S = 0.5
"""Fake seconds per evaluation batch (4 per evaluation)."""


class Tiny(torch.nn.Module):
    """Linear regression that returns a loss as `Trainer` expects, and moves the clock:
    one second per training batch, half a second per evaluation batch."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.clock = clock

    def forward(self, x: Any, labels: Any) -> dict[str, Any]:
        self.clock.advance(1.0 if self.training else EVAL_S)
        out = self.layer(x)
        return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}


class Data(torch.utils.data.Dataset):
    def __init__(self) -> None:
        self.x = torch.randn(STEPS * 16, 4, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"x": self.x[i], "labels": self.x[i].sum(dim=0, keepdim=True)}


def _train(callback: Any, output_dir: Path, clock: FakeClock, epochs: int = 2) -> Any:
    args = transformers.TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=epochs,
        per_device_train_batch_size=16,
        per_device_eval_batch_size=16,
        logging_steps=2,
        eval_strategy="epoch",
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = transformers.Trainer(
        model=Tiny(clock),
        args=args,
        train_dataset=Data(),
        eval_dataset=Data(),
        callbacks=[callback],
    )
    trainer.train()
    return trainer


def test_train_is_one_run_with_each_epochs_evaluation_in_its_window(
    tracker_options: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    callback = CarbonLensCallback(**tracker_options)
    assert isinstance(callback, transformers.TrainerCallback)
    _train(callback, tmp_path / "out", clock)
    report = callback.report
    assert report is not None and report.info.status is RunStatus.FINISHED
    epoch_j = (STEPS * 1.0 + STEPS * EVAL_S) * POWER_W  # 4 steps, then 4 evaluation batches
    assert [(w.name, w.it_energy_j) for w in report.windows] == [
        ("epoch-0", pytest.approx(epoch_j)),
        ("epoch-1", pytest.approx(epoch_j)),
    ]
    assert report.it_energy_j == pytest.approx(2 * epoch_j)
    store = SqliteStore(tracker_options["store"])
    try:
        points = store.metrics(callback.tracker.run_id)
    finally:
        store.close()
    steps = {(p.name, p.step) for p in points}
    logged = {("loss", 2), ("loss", 4), ("eval_loss", 4), ("eval_loss", 8), ("train_loss", 8)}
    assert logged <= steps
    assert "epoch" not in {name for name, _ in steps}


def test_model_card_goes_to_the_output_dir_and_can_be_written_again(
    tracker_options: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    output_dir = tmp_path / "out"
    callback = CarbonLensCallback(model_card=True, training_type="fine-tuning", **tracker_options)
    _train(callback, output_dir, clock)
    readme = output_dir / "README.md"
    text = readme.read_text()
    assert text.startswith("---\nco2_eq_emissions:\n  emissions: ")
    assert 'training_type: "fine-tuning"' in text
    readme.write_text("---\nlicense: apache-2.0\n---\n# tiny\n")  # as create_model_card does
    assert callback.write_model_card(output_dir) == readme
    assert readme.read_text() == "---\nlicense: apache-2.0\n" + text.removeprefix("---\n") + (
        "# tiny\n"
    )


def test_budget_with_action_raise_stops_training_cleanly(
    tracker_options: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    limit_kwh = 30.0 / J_PER_KWH  # the first epoch spends 60 J
    callback = CarbonLensCallback(budget_kwh=limit_kwh, budget_action="raise", **tracker_options)
    trainer = _train(callback, tmp_path / "out", clock, epochs=5)
    report = callback.report
    assert report is not None and report.info.status is RunStatus.INTERRUPTED
    assert trainer.state.global_step < 5 * STEPS
    assert callback.run.budget_stop is not None


def test_a_second_train_is_not_measured(
    tracker_options: dict[str, Any], clock: FakeClock, tmp_path: Path, caplog: Any
) -> None:
    callback = CarbonLensCallback(**tracker_options)
    trainer = _train(callback, tmp_path / "out", clock, epochs=1)
    report = callback.report
    trainer.train()
    assert callback.report is report
    assert "run has ended" in caplog.text


class Failing(Tiny):
    """Raises at the third training batch, after two one-second steps."""

    batches = 0

    def forward(self, x: Any, labels: Any) -> dict[str, Any]:
        self.batches += 1
        if self.batches == 3:
            raise RuntimeError("step 3 failed")
        return super().forward(x, labels)


def test_training_that_raises_inside_guard_is_stored_as_failed(
    tracker_options: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    callback = CarbonLensCallback(**tracker_options)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True, disable_tqdm=True
    )
    trainer = transformers.Trainer(
        model=Failing(clock), args=args, train_dataset=Data(), callbacks=[callback]
    )
    with pytest.raises(RuntimeError, match="step 3 failed"), callback.guard():
        trainer.train()
    report = callback.report
    assert report is not None and report.info.status is RunStatus.FAILED
    # two one-second steps ran at 10 W before the third raised
    assert [(w.name, w.it_energy_j) for w in report.windows] == [("epoch-0", pytest.approx(20.0))]
    store = SqliteStore(tracker_options["store"])
    try:
        stored = store.get_run(report.info.run_id)
    finally:
        store.close()
    assert stored is not None and stored.status is RunStatus.FAILED
