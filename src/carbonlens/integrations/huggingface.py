"""Hugging Face Transformers: measure `Trainer.train` as one run, a window per epoch.

    from carbonlens.integrations.huggingface import CarbonLensCallback

    callback = CarbonLensCallback(project="bert-ft", country="FR", model_card=True,
                                  training_type="fine-tuning")
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data,
                                   callbacks=[callback])
    with callback.guard():              # a run whose training raises is stored as failed
        trainer.train()
    print(callback.report.summary())

The run starts with `train` and stops at its end (`interrupted` if a budget
stopped it). Each epoch is a window `epoch-<n>`, from its first step to the start
of the next epoch (or the end of training), so the evaluation and checkpoint that
`Trainer` runs after an epoch count in it. Each optimizer step reports progress
(`state.global_step` of `state.max_steps`), and a budget with action `raise` sets
`control.should_training_stop`; every scalar of `Trainer`'s logs (`loss`,
`eval_loss`, `learning_rate`, ..., not `epoch`) is logged with the run at
step = `state.global_step`. The model card goes to `args.output_dir`; call
`callback.write_model_card(args.output_dir)` again after `trainer.create_model_card()`
or `push_to_hub()`, which rewrite README.md. `Trainer` calls no callback when
training raises: wrap it in `with callback.guard(): trainer.train()` to store the
run as `failed` (the exception is re-raised); unwrapped, such a run stays
`running` until the process ends, then the store reports it `interrupted`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from carbonlens.integrations._support import import_framework
from carbonlens.integrations._training import TrainingCallback

__all__ = ["SUPPORTED", "CarbonLensCallback"]

SUPPORTED: Final = ("4.30", "6")
"""Supported Transformers versions: at least the first, below the second."""


class CarbonLensCallback(TrainingCallback):
    """A `transformers.TrainerCallback` that measures training; options as
    `TrainingCallback` (`model_card=True` writes to `args.output_dir`)."""

    @classmethod
    def framework_base(cls) -> type[Any]:
        """`transformers.TrainerCallback`."""
        base: type[Any] = import_framework(
            "transformers", "transformers", SUPPORTED
        ).TrainerCallback
        return base

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Start the run."""
        self.run.begin()

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Close the previous epoch's window (with its evaluation) and open this one's."""
        self.run.open_window(f"epoch-{math.floor(state.epoch or 0)}")

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Report progress; a budget that asks to stop sets `should_training_stop`."""
        if self.run.progress(int(state.global_step), state.max_steps):
            control.should_training_stop = True

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Log the scalars of `Trainer`'s logs at the current step."""
        if self.log_metrics and logs:
            metrics = {k: v for k, v in logs.items() if k != "epoch"}
            self.run.log_metrics(metrics, step=int(state.global_step))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Stop the run and write the model card when asked."""
        self.run.end(output_dir=args.output_dir)
