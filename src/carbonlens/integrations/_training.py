"""What the training-framework callbacks share: one run, windows, progress, metrics.

A callback translates its framework's hooks into the calls of `TrainingRun`:

* `begin` at the start of training: the run starts (unless the user's tracker
  was already running, in which case the user starts and stops it);
* `open_window` / `close_window` around each epoch, named `epoch-<n>` (n from 0);
* `progress` after each step: the tracker predicts the total from it, and a budget
  with action `raise` becomes a clean stop of the framework (`True` is returned);
* `log_metrics` with the framework's own metrics (loss, accuracy) beside energy;
* `end` when training ends: the run is stopped (finished, or interrupted by its
  budget) and, when asked, the model-card block is merged into the output
  directory's README.md; or when it raised: the run is stored as failed (as
  interrupted for Ctrl-C), without a model card. Lightning reports an exception
  to its callbacks; Transformers and Keras do not, so their training is wrapped
  in `callback.guard()`, which ends the run as failed and re-raises.

With `sync=True`, pending CUDA work of PyTorch is waited for at each window edge
(`torch.cuda.synchronize()`), so asynchronous kernels count in their own epoch.
Nothing here raises into training once it has started: bad metric values are
skipped, and a README that cannot be written is a warning.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, SupportsFloat

from carbonlens.accounting import RunReport
from carbonlens.errors import ConfigError
from carbonlens.integrations._support import framework_class
from carbonlens.records import RunStatus
from carbonlens.report.model_card import card_emissions, merge_into_readme, yaml_block
from carbonlens.tracking.budget import BudgetExceeded
from carbonlens.tracking.tracker import Tracker

log = logging.getLogger(__name__)

ModelCard = bool | str | os.PathLike[str]
"""False: no model card; True: the framework's output directory; a path: that directory."""


def synchronize() -> None:
    """Wait for queued CUDA work when the program uses PyTorch with a GPU; else nothing."""
    torch = sys.modules.get("torch")  # never import torch for a program that does not use it
    if torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()


def as_number(value: object) -> float | None:
    """A finite float from a scalar (int, float, 0-d tensor or array), else None."""
    if isinstance(value, bool) or not isinstance(value, SupportsFloat):
        return None
    try:
        number = float(value)  # a tensor or array of several values raises
    except (TypeError, ValueError, RuntimeError):
        return None
    return number if math.isfinite(number) else None


def _is_started(tracker: Tracker) -> bool:
    try:
        _ = tracker.info
    except RuntimeError:
        return False
    return True


class TrainingRun:
    """The run of one training job, driven by a framework callback.

    Args:
        tracker: A tracker to use. Not started yet: the callback starts and stops it.
            Already started: the callback adds windows, progress and metrics, and
            the user stops it. None: a new `Tracker(**tracker_options)`.
        sync: Call `torch.cuda.synchronize()` at each window edge (when CUDA is there).
        model_card: Merge the Hugging Face `co2_eq_emissions` block into README.md of
            the framework's output directory (True) or of the directory given.
        training_type: `pre-training` or `fine-tuning` for the model card; None leaves
            it out.
        tracker_options: `Tracker` keyword arguments (`project`, `country`, ...).

    Raises:
        ConfigError: Both a tracker and tracker options, or a model card asked of a
            run the user stops (the callback would never see its report).
    """

    def __init__(
        self,
        tracker: Tracker | None,
        *,
        sync: bool,
        model_card: ModelCard,
        training_type: str | None,
        tracker_options: Mapping[str, Any],
    ) -> None:
        if tracker is not None and tracker_options:
            raise ConfigError(
                f"give either a tracker or Tracker options, not both ({sorted(tracker_options)})",
                setting="tracker",
            )
        self.tracker = tracker if tracker is not None else Tracker(**tracker_options)
        self.owns = not _is_started(self.tracker)
        if model_card is not False and not self.owns:
            raise ConfigError(
                "model_card needs a tracker the callback starts and stops: "
                "pass one that is not started yet, or none",
                setting="model_card",
            )
        self._sync = sync
        self._model_card = model_card
        self._training_type = training_type
        self._window: contextlib.ExitStack | None = None
        self.budget_stop: BudgetExceeded | None = None
        """The budget error that stopped training, if one did."""

    @property
    def report(self) -> RunReport | None:
        """The run's report once it is stopped."""
        return self.tracker.report

    def _live(self) -> bool:
        return self.tracker.report is None and _is_started(self.tracker)

    def begin(self) -> None:
        """Start the run (a no-op when it is the user's, or already started).

        A callback measures one run: after its end, training again is not measured.
        """
        if self.tracker.report is not None:
            log.warning("carbonlens: this callback's run has ended; use a new callback")
        elif self.owns and not _is_started(self.tracker):
            self.tracker.start()

    def open_window(self, name: str) -> None:
        """Close the open window, if any, and open `name`."""
        self.close_window()
        if not self._live():
            return
        if self._sync:
            synchronize()
        stack = contextlib.ExitStack()
        stack.enter_context(self.tracker.window(name))
        self._window = stack

    def close_window(self) -> None:
        """Close the open window (after waiting for the GPU when `sync`)."""
        if self._window is None:
            return
        if self._sync:
            synchronize()
        stack, self._window = self._window, None
        stack.close()

    def progress(self, step: int, total_steps: float | None) -> bool:
        """Report `step` of `total_steps`; True when a budget asks training to stop.

        A total that is unknown (None, 0, infinite) only checks the budget.
        """
        if not self._live():
            return False
        try:
            if total_steps is None or not math.isfinite(total_steps) or total_steps < 1:
                self.tracker.checkpoint()
            else:
                total = int(total_steps)
                self.tracker.progress(max(0, min(step, total)), total)
        except BudgetExceeded as exc:
            log.warning("carbonlens: %s; stopping training", exc)
            self.budget_stop = exc
            return True
        return False

    def log_metrics(self, metrics: Mapping[str, object], step: int) -> None:
        """Log each scalar metric at `step`; other values (text, NaN, arrays) are skipped."""
        if not self._live():
            return
        for name, value in metrics.items():
            number = as_number(value)
            if number is None:
                continue
            try:
                self.tracker.log_metric(str(name), number, step=max(0, int(step)))
            except ConfigError as exc:
                log.debug("carbonlens: metric %r skipped: %s", name, exc)

    def end(
        self,
        *,
        raised: RunStatus | None = None,
        output_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """Close the window; stop the run if the callback owns it; write the model card.

        Args:
            raised: Training raised: the status to store (`FAILED`, or `INTERRUPTED`
                for Ctrl-C); no model card then. None: training ended, and the run is
                `FINISHED`, or `INTERRUPTED` when a budget stopped it.
            output_dir: The framework's output directory, used when `model_card` is True.
        """
        self.close_window()
        if not self.owns or not self._live():
            return
        if self._sync:
            synchronize()
        if raised is not None:
            self.tracker.stop(raised)
            return
        budget = self.budget_stop is not None or self.tracker.stop_reason is not None
        self.tracker.stop(RunStatus.INTERRUPTED if budget else RunStatus.FINISHED)
        directory = output_dir if self._model_card is True else self._model_card
        if directory is False or directory is None:
            return
        try:
            self.write_model_card(directory)
        except OSError as exc:
            log.warning("carbonlens: model card not written to %s: %s", directory, exc)

    def fail(self, exception: BaseException) -> None:
        """End the run after training raised `exception`: stored as failed, or as
        interrupted for Ctrl-C (`KeyboardInterrupt`); a no-op once the run has ended."""
        ctrl_c = isinstance(exception, KeyboardInterrupt)
        self.end(raised=RunStatus.INTERRUPTED if ctrl_c else RunStatus.FAILED)

    def write_model_card(self, directory: str | os.PathLike[str]) -> Path:
        """Merge the run's `co2_eq_emissions` block into `directory`/README.md.

        The rest of the README is kept byte for byte (`merge_into_readme`); the file
        and the directory are created when missing.

        Returns:
            The README's path.

        Raises:
            RuntimeError: The run is not stopped yet.
            OSError: The file cannot be read or written.
        """
        report = self.tracker.report
        if report is None:
            raise RuntimeError("the run has no report yet: write the model card after training")
        readme = Path(directory) / "README.md"
        readme.parent.mkdir(parents=True, exist_ok=True)
        text = ""
        if readme.exists():
            with readme.open(encoding="utf-8", newline="") as file:  # keep its line endings
                text = file.read()
        block = yaml_block(card_emissions([report], training_type=self._training_type))
        readme.write_text(merge_into_readme(text, block), encoding="utf-8", newline="")
        return readme


class TrainingCallback:
    """What the framework callbacks share: their options, `tracker`, `report`, the card.

    A subclass names its framework's callback class in `framework_base`; creating
    an instance imports the framework then, and the instance derives from both.

    Args:
        tracker: A tracker to use (see `TrainingRun`); None creates one from
            `tracker_options`.
        sync: Wait for CUDA work (`torch.cuda.synchronize()`) at each epoch's edges.
        model_card: Merge the `co2_eq_emissions` block into README.md of the
            framework's output directory (True) or of the directory given.
        training_type: `pre-training` or `fine-tuning`, for the model card.
        log_metrics: Log the framework's scalar metrics with the run.
        **tracker_options: `Tracker` keyword arguments (`project`, `country`, ...).

    Raises:
        ModuleNotFoundError: The framework is not installed.
        ConfigError: An unsupported framework version, or a bad option.
    """

    has_output_dir: ClassVar[bool] = True
    """Whether the framework has an output directory for `model_card=True`."""

    @classmethod
    def framework_base(cls) -> type[Any]:
        """The framework's callback class (imported here, not before)."""
        raise NotImplementedError

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        """An instance of this class combined with the framework's callback class."""
        return object.__new__(framework_class(cls, cls.framework_base()))

    def __init__(
        self,
        tracker: Tracker | None = None,
        *,
        sync: bool = False,
        model_card: ModelCard = False,
        training_type: str | None = None,
        log_metrics: bool = True,
        **tracker_options: Any,
    ) -> None:
        super().__init__()
        if model_card is True and not self.has_output_dir:
            raise ConfigError(
                f"{type(self).__name__} has no output directory: "
                "pass model_card=<directory> instead of True",
                setting="model_card",
            )
        self.run = TrainingRun(
            tracker,
            sync=sync,
            model_card=model_card,
            training_type=training_type,
            tracker_options=tracker_options,
        )
        self.log_metrics = log_metrics

    @property
    def tracker(self) -> Tracker:
        """The run's tracker."""
        return self.run.tracker

    @property
    def report(self) -> RunReport | None:
        """The run's report once training has ended (None before, or for the user's tracker)."""
        return self.run.report

    @contextlib.contextmanager
    def guard(self) -> Iterator[Self]:
        """Store the run as failed when the block raises, then re-raise.

        Transformers and Keras call no callback when training raises, so their run
        would stay `running` until the process ends; wrap training instead:
        `with callback.guard(): trainer.train()`. Ctrl-C stores it as interrupted;
        after a run that ended normally the guard does nothing.
        """
        try:
            yield self
        except BaseException as exc:
            self.run.fail(exc)
            raise

    def write_model_card(self, directory: str | os.PathLike[str]) -> Path:
        """Merge the run's `co2_eq_emissions` block into `directory`/README.md (after
        training; e.g. again after a framework rewrote the README)."""
        return self.run.write_model_card(directory)
