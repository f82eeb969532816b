"""Ray Tune: the energy and emissions of each trial of a sweep, and of the whole sweep.

    from ray import tune
    from carbonlens.integrations.ray_tune import CarbonLensTuneCallback

    callback = CarbonLensTuneCallback(project="hpo", country="FR")
    tuner = tune.Tuner(train, param_space=space,
                       run_config=tune.RunConfig(name="lr-sweep", callbacks=[callback]))
    tuner.fit()
    print(callback.report.summary())                 # the whole sweep
    for trial_id, report in callback.trial_reports.items():
        print(trial_id, report.summary())

The callback runs in the Tune driver and measures its machine once, with one
tracker: the sweep's run (kind `sweep`, named after the experiment), from the
first trial's start to the experiment's end. It is the sweep's total, Ray's own
work and idle time included, each device counted once.

Each trial is a run too (kind `trial`, named `<experiment>/<trial id>`), stored
as it goes from its start to its end (`finished`, or `failed` when the trial
raised; a trial still running when the experiment ends is `interrupted`). Its
energy is its share of the machine's: each sampling interval's energy is split
equally among the trials running in it, and the sweep's run takes a sample at
each trial's start and end, so intervals never straddle one. The trials' runs
are tagged `group:<sweep id>` (the sweep's id, `<experiment>-<8 hex>`, also a
tag `sweep-id:` of the sweep's run), `trial:<trial id>`, `experiment:<name>`,
`rank:<n>` (n-th trial started) and `node:<host>`, so `carbonlens group <sweep
id>` lists them and adds them up: their energy and operational emissions sum to
the machine's while trials ran. Embodied emissions do not split: each trial's
report charges the server's share for its duration, as a standalone run does;
the sweep's run charges it once.

Only the driver's machine is measured: trials on other nodes of a multi-node
cluster are not (track those inside the trainable with
`carbonlens.integrations.distributed.rank_tracker`). A GPU's energy is split among
all running trials, not given to the trial Ray assigned it to.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Self

from carbonlens.accounting import RunReport, build_report
from carbonlens.errors import ConfigError
from carbonlens.integrations._support import framework_class, import_framework
from carbonlens.records import RunInfo, RunStatus, Sample
from carbonlens.tracking.clock import Clock, SystemClock
from carbonlens.tracking.setup import open_run_store
from carbonlens.tracking.tracker import Tracker
from carbonlens.tracking.writer import RunWriter

__all__ = ["SUPPORTED", "CarbonLensTuneCallback"]

SUPPORTED: Final = ("2.7", "3")
"""Supported Ray versions: at least the first, below the second."""

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Trial:
    """A running trial: its run's record and writer, where it started on the sweep's time."""

    info: RunInfo
    writer: RunWriter
    start_t_s: float
    window: contextlib.ExitStack


def _share(sample: Sample, trials: int, start_t_s: float) -> Sample:
    """`sample` split among `trials` running trials, on a trial's time (from `start_t_s`)."""
    process_j = sample.process_energy_j
    return Sample(
        channel=sample.channel,
        t_s=sample.t_s - start_t_s,
        duration_s=sample.duration_s,
        energy_j=sample.energy_j / trials,
        process_energy_j=None if process_j is None else process_j / trials,
    )


class CarbonLensTuneCallback:
    """A `ray.tune.Callback` that measures a sweep and each of its trials.

    Args:
        group_id: The trials' group id; None: `<experiment>-<8 random hex digits>`.
        **tracker_options: `Tracker` keyword arguments for the sweep's run
            (`project`, `country`, `store`, ...); the trials' runs share its
            project, store and pricing. `store` is a path or URL (every trial
            opens it), not a `Store`.

    Raises:
        ModuleNotFoundError: Ray is not installed.
        ConfigError: An unsupported Ray version, a `Store` object as `store`, or
            a bad `Tracker` option.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        """An instance of this class combined with `ray.tune.Callback`."""
        base: type[Any] = import_framework("ray.tune", "ray", SUPPORTED).Callback
        return object.__new__(framework_class(cls, base))

    def __init__(self, group_id: str | None = None, **tracker_options: Any) -> None:
        super().__init__()
        store = tracker_options.get("store")
        if store is not None and not isinstance(store, str | Path):
            raise ConfigError(
                "give the sweep's store as a path or URL: each trial's run opens it",
                setting="store",
            )
        self._tags = tuple(tracker_options.pop("tags", ()))
        Tracker(**tracker_options)  # a bad option raises here, not inside Tune
        self._options = tracker_options
        self._group_id = group_id
        self._clock: Clock = tracker_options.get("clock") or SystemClock()
        self._reset()

    def _reset(self) -> None:
        """No sweep measured yet."""
        self._lock = threading.Lock()
        self._running: dict[str, _Trial] = {}
        self._started = 0
        self.tracker: Tracker | None = None
        """The sweep's tracker, from the first trial's start."""
        self.trial_reports: dict[str, RunReport] = {}
        """Each ended trial's report, by Ray's trial id, in the order they ended."""

    def __getstate__(self) -> dict[str, Any]:
        """What Tune pickles with the experiment (to resume it): the options only."""
        return {k: self.__dict__[k] for k in ("_tags", "_options", "_group_id", "_clock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """The callback as pickled, with no sweep measured yet."""
        self.__dict__.update(state)
        self._reset()

    @property
    def report(self) -> RunReport | None:
        """The whole sweep's report, once the experiment has ended."""
        return None if self.tracker is None else self.tracker.report

    @property
    def group_id(self) -> str | None:
        """The trials' group id (None before the first trial starts)."""
        return self._group_id

    def _sweep(self, experiment: str) -> Tracker:
        """The sweep's tracker, started on first use."""
        if self.tracker is None:
            self._group_id = self._group_id or f"{experiment}-{os.urandom(4).hex()}"
            options = {**self._options, "name": self._options.get("name") or experiment}
            tags = (*self._tags, f"sweep-id:{self._group_id}", f"experiment:{experiment}")
            tracker = Tracker(**options, tags=tags, kind="sweep")
            tracker.add_listener(self._split)
            self.tracker = tracker.start()
        return self.tracker

    def _split(self, samples: list[Sample]) -> None:
        """Give each running trial its equal share of an interval's samples (listener)."""
        with self._lock:
            trials = list(self._running.values())
            for trial in trials:
                trial.writer.append([_share(s, len(trials), trial.start_t_s) for s in samples])

    def on_trial_start(
        self, iteration: int, trials: Sequence[Any], trial: Any, **info: Any
    ) -> None:
        """Start the trial's run (and the sweep's, at the first trial)."""
        experiment = str(trial.experiment_dir_name)
        sweep = self._sweep(experiment)
        window = contextlib.ExitStack()
        start_t_s = window.enter_context(sweep.window(f"trial-{trial.trial_id}")).start_t_s
        sweep_info = sweep.info
        tags = (
            *self._tags,
            f"group:{self._group_id}",
            f"trial:{trial.trial_id}",
            f"experiment:{experiment}",
            f"rank:{self._started}",
            f"node:{sweep_info.host}",
        )
        run = RunInfo(
            run_id=os.urandom(16).hex(),
            project=sweep_info.project,
            name=f"{experiment}/{trial.trial_id}",
            started_at=sweep_info.started_at + timedelta(seconds=start_t_s),
            host=sweep_info.host,
            pid=os.getpid(),
            tags=tags,
            kind="trial",
            settings=sweep_info.settings,
        )
        store, note = open_run_store(sweep.settings)
        writer = RunWriter(store, run, self._clock)
        if note:
            writer.notes.append(note)
        self._started += 1
        with self._lock:
            self._running[trial.trial_id] = _Trial(run, writer, start_t_s, window)

    def _end(self, trial_id: str, status: RunStatus) -> None:
        """Close the trial's window (a sample now), stop sharing with it, finish its run."""
        with self._lock:
            running = self._running.get(trial_id)
        if running is None or self.tracker is None:
            return
        running.window.close()
        end_t_s = self.tracker.elapsed_s()
        with self._lock:
            del self._running[trial_id]
        duration_s = end_t_s - running.start_t_s
        final = dataclasses.replace(
            running.info,
            status=status,
            ended_at=running.info.started_at + timedelta(seconds=duration_s),
            duration_s=duration_s,
        )
        running.writer.finish(status, final)
        samples, windows, location = running.writer.read_back()
        if running.writer.notes:
            notes = [*final.settings.get("notes", []), *running.writer.notes]
            final = dataclasses.replace(final, settings={**final.settings, "notes": notes})
        self.trial_reports[trial_id] = build_report(
            final, samples, windows, store_location=location
        )

    def on_trial_complete(
        self, iteration: int, trials: Sequence[Any], trial: Any, **info: Any
    ) -> None:
        """Stop the trial's run as finished."""
        self._end(trial.trial_id, RunStatus.FINISHED)

    def on_trial_error(
        self, iteration: int, trials: Sequence[Any], trial: Any, **info: Any
    ) -> None:
        """Stop the trial's run as failed."""
        self._end(trial.trial_id, RunStatus.FAILED)

    def on_experiment_end(self, trials: Sequence[Any], **info: Any) -> None:
        """Stop the trials still running (interrupted) and the sweep's run; log the total."""
        for trial_id in list(self._running):
            self._end(trial_id, RunStatus.INTERRUPTED)
        if self.tracker is None or self.tracker.report is not None:
            return
        report = self.tracker.stop()
        log.info(
            "carbonlens: sweep %s: %d trial(s): %s",
            self._group_id,
            len(self.trial_reports),
            report.summary(),
        )
