"""Keras 3: measure `model.fit` as one run, a window per epoch.

    from carbonlens.integrations.keras import CarbonLensCallback

    callback = CarbonLensCallback(project="cnn", country="FR", model_card="out/")
    with callback.guard():              # a run whose fit raises is stored as failed
        model.fit(x, y, epochs=3, callbacks=[callback])
    print(callback.report.summary())

The run starts with `fit` and stops at its end (`interrupted` if a budget stopped
it). Each epoch, with its validation, is a window `epoch-<n>`; each batch reports
progress (`epoch × steps + batch + 1` of `epochs × steps`; only a budget check when
the number of steps is unknown) and a budget with action `raise` sets
`model.stop_training`; the epoch's logs (`loss`, `val_loss`, ...) are logged with
the run at step = epoch. Keras has no output directory: give `model_card` a
directory. `sync=True` waits for CUDA with the PyTorch back-end
(`KERAS_BACKEND=torch`) and does nothing with the others. Keras calls no callback
when `fit` raises: wrap it in `with callback.guard(): model.fit(...)` to store the
run as `failed` (the exception is re-raised); unwrapped, such a run stays
`running` until the process ends, then the store reports it `interrupted`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

from carbonlens.integrations._support import import_framework
from carbonlens.integrations._training import TrainingCallback

__all__ = ["SUPPORTED", "CarbonLensCallback"]

SUPPORTED: Final = ("3.0", "4")
"""Supported Keras versions: at least the first, below the second."""


class CarbonLensCallback(TrainingCallback):
    """A `keras.callbacks.Callback` that measures `fit`; options as `TrainingCallback`
    (`model_card` must be a directory)."""

    has_output_dir: ClassVar[bool] = False
    params: Any  # set by Keras: {"epochs": ..., "steps": ..., "verbose": ...}
    model: Any  # set by Keras
    _epoch: int = 0

    @classmethod
    def framework_base(cls) -> type[Any]:
        """`keras.callbacks.Callback`."""
        base: type[Any] = import_framework("keras", "keras", SUPPORTED).callbacks.Callback
        return base

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        """Start the run."""
        self.run.begin()

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Open the epoch's window."""
        self.run.open_window(f"epoch-{epoch}")
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Report progress; a budget that asks to stop sets `model.stop_training`."""
        params = self.params or {}
        steps, epochs = params.get("steps"), params.get("epochs")
        total = steps * epochs if steps and epochs else None
        if self.run.progress(self._epoch * (steps or 0) + batch + 1, total):
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Log the epoch's logs (with validation) and close its window."""
        if self.log_metrics and logs:
            self.run.log_metrics(logs, step=epoch)
        self.run.close_window()

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        """Stop the run and write the model card when asked."""
        self.run.end()
