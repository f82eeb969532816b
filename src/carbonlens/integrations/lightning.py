"""PyTorch Lightning: measure `trainer.fit` as one run, a window per epoch.

    from carbonlens.integrations.lightning import CarbonLensCallback

    callback = CarbonLensCallback(project="mnist", country="FR", model_card=True)
    trainer = lightning.pytorch.Trainer(max_epochs=3, callbacks=[callback])
    trainer.fit(model, data)
    print(callback.report.summary())

The run starts with `fit` and stops at its end (stored as `failed` if fit raised,
`interrupted` after Ctrl-C or if a budget stopped it); each training epoch, with its validation,
is a window `epoch-<n>`; each optimizer step reports progress
(`trainer.global_step` of `trainer.estimated_stepping_batches`) for the budget
prediction, and a budget with action `raise` sets `trainer.should_stop`; at each
epoch's end the scalar `trainer.callback_metrics` are logged with the run at
step = epoch. The model card goes to `trainer.default_root_dir`. Works with
`lightning` (preferred) or `pytorch-lightning`, versions 2.x.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Final

from carbonlens.integrations._support import import_framework
from carbonlens.integrations._training import TrainingCallback
from carbonlens.records import RunStatus

__all__ = ["SUPPORTED", "CarbonLensCallback"]

SUPPORTED: Final = ("2.0", "3")
"""Supported Lightning versions: at least the first, below the second."""


class CarbonLensCallback(TrainingCallback):
    """A Lightning `Callback` that measures the fit; options as `TrainingCallback`."""

    _total_steps: float | None = None

    @classmethod
    def framework_base(cls) -> type[Any]:
        """`lightning.pytorch.Callback`, or `pytorch_lightning.Callback` without `lightning`."""
        try:
            module = import_framework("lightning.pytorch", "lightning", SUPPORTED)
        except ModuleNotFoundError:
            if importlib.util.find_spec("pytorch_lightning") is None:
                raise
            module = import_framework("pytorch_lightning", "pytorch-lightning", SUPPORTED)
        base: type[Any] = module.Callback
        return base

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """Start the run."""
        self.run.begin()

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        """Read the number of optimizer steps the fit will take (for progress)."""
        self._total_steps = float(trainer.estimated_stepping_batches)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        """Open the epoch's window."""
        self.run.open_window(f"epoch-{trainer.current_epoch}")

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Report progress; a budget that asks to stop sets `trainer.should_stop`."""
        if self.run.progress(int(trainer.global_step), self._total_steps):
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Log the epoch's metrics and close its window."""
        if self.log_metrics:
            self.run.log_metrics(trainer.callback_metrics, step=int(trainer.current_epoch))
        self.run.close_window()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        """Stop the run as failed (as interrupted for Ctrl-C)."""
        ctrl_c = isinstance(exception, KeyboardInterrupt)
        self.run.end(raised=RunStatus.INTERRUPTED if ctrl_c else RunStatus.FAILED)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        """Stop the run and write the model card when asked."""
        self.run.end(output_dir=trainer.default_root_dir)
