"""Copying runs between stores: a fallback file into the store, one store into another.

`copy_runs` works through the `Store` protocol only, so any pair of stores will do.
It is idempotent by run id and by content: a run missing from the target is
created with everything it has; a run the target already has gets only what it
lacks (samples not already there, new windows and metric values, a final status
the target does not know yet); a run with nothing new is skipped. This also joins
a run that a store failure split between the store (its first part) and a
fallback file (the rest), and a copy stopped half-way resumes where it stopped
when run again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from enum import StrEnum
from typing import Any

from carbonlens._frozen import frozen
from carbonlens.errors import StoreError
from carbonlens.records import RunInfo, RunStatus, Sample, Window
from carbonlens.store.base import MetricPoint, Store

SAMPLES_PER_WRITE = 5_000
"""Samples appended per `append_samples` call (one transaction each)."""


class CopyAction(StrEnum):
    """What `copy_runs` did (or would do) with one run."""

    COPIED = "copied"
    """The target did not have the run: created with everything the source has."""
    MERGED = "merged"
    """The target had the run: what it lacked was added."""
    SKIPPED = "skipped"
    """The target already had everything the source has of the run."""


@frozen
class RunCopy:
    """One run's copy: what was (or would be) added to the target.

    `samples`, `windows` and `metrics` count the entries added; `status` is the
    run's status in the source.
    """

    run_id: str
    action: CopyAction
    samples: int
    windows: int
    metrics: int
    status: RunStatus

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible fields (docs/json.md, `sync --json`)."""
        return {
            "run_id": self.run_id,
            "action": self.action.value,
            "samples": self.samples,
            "windows": self.windows,
            "metrics": self.metrics,
            "status": self.status.value,
        }


@frozen
class CopyResult:
    """What `copy_runs` did: one entry per run of the source that was considered."""

    source: str
    target: str
    runs: tuple[RunCopy, ...]
    dry_run: bool = False

    def count(self, action: CopyAction) -> int:
        """How many runs had this action."""
        return sum(1 for run in self.runs if run.action is action)

    @property
    def samples(self) -> int:
        """Samples added to the target, over all runs."""
        return sum(run.samples for run in self.runs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible fields (docs/json.md, `sync --json`)."""
        return {
            "source": self.source,
            "target": self.target,
            "dry_run": self.dry_run,
            "copied": self.count(CopyAction.COPIED),
            "merged": self.count(CopyAction.MERGED),
            "skipped": self.count(CopyAction.SKIPPED),
            "samples": self.samples,
            "runs": [run.to_dict() for run in self.runs],
        }


@frozen
class _Plan:
    """What the target lacks of one run."""

    info: RunInfo
    create: bool
    samples: list[Sample]
    windows: list[Window]
    metrics: list[MetricPoint]
    finish: bool

    def outcome(self) -> RunCopy:
        if self.create:
            action = CopyAction.COPIED
        elif self.samples or self.windows or self.metrics or self.finish:
            action = CopyAction.MERGED
        else:
            action = CopyAction.SKIPPED
        counts = (len(self.samples), len(self.windows), len(self.metrics))
        return RunCopy(self.info.run_id, action, *counts, self.info.status)


def copy_runs(
    source: Store,
    target: Store,
    run_ids: Iterable[str] | None = None,
    *,
    dry_run: bool = False,
) -> CopyResult:
    """Copy runs, with their samples, windows, metrics and final status, to `target`.

    Args:
        source: The store to read (reading marks its abandoned runs `interrupted`,
            as every reader does).
        target: The store to write.
        run_ids: The runs to copy (full ids or unique prefixes); None: every run.
        dry_run: Only say what would be copied; write nothing.

    Returns:
        One `RunCopy` per run, oldest first.

    Raises:
        StoreError: A run id is not in `source`, or a store cannot be read or
            written. Runs copied before the error stay copied; running it again
            copies the rest.
    """
    if run_ids is None:
        infos = source.list_runs()
    else:
        infos = [_source_run(source, run_id) for run_id in run_ids]
    infos.sort(key=lambda info: (info.started_at, info.run_id))
    outcomes = []
    for info in infos:
        plan = _plan(source, target, info)
        if not dry_run:
            _apply(target, plan)
        outcomes.append(plan.outcome())
    return CopyResult(source.location, target.location, tuple(outcomes), dry_run)


def _source_run(source: Store, run_id: str) -> RunInfo:
    info = source.get_run(run_id)
    if info is None:
        raise StoreError(f"no run {run_id!r} in {source.location}", path=source.location)
    return info


def _plan(source: Store, target: Store, info: RunInfo) -> _Plan:
    """What `target` lacks of the source run `info`."""
    run_id = info.run_id
    samples = source.samples(run_id)
    windows = source.windows(run_id)
    metrics = source.metrics(run_id)
    final = info.status is not RunStatus.RUNNING and None not in (info.ended_at, info.duration_s)
    existing = target.get_run(run_id)
    if existing is None or existing.run_id != run_id:
        return _Plan(info, True, samples, windows, metrics, final)
    known_windows = set(target.windows(run_id))
    known_metrics = set(target.metrics(run_id))
    return _Plan(
        info,
        False,
        missing_samples(samples, target.samples(run_id)),
        [window for window in windows if window not in known_windows],
        [point for point in metrics if point not in known_metrics],
        final and _improves(info, existing),
    )


def missing_samples(source: Sequence[Sample], target: Sequence[Sample]) -> list[Sample]:
    """The samples of `source` that `target` does not have, in source order.

    Samples are compared whole (channel, time, duration, energies); a sample that
    appears twice in `source` and once in `target` is missing once.
    """
    available = Counter(target)
    missing = []
    for sample in source:
        if available[sample] > 0:
            available[sample] -= 1
        else:
            missing.append(sample)
    return missing


_RANK = {
    RunStatus.RUNNING: 0,
    RunStatus.INTERRUPTED: 1,
    RunStatus.FINISHED: 2,
    RunStatus.FAILED: 2,
}
"""How final a status is: a copy never replaces a status by a less final one."""


def _improves(source: RunInfo, target: RunInfo) -> bool:
    """Whether the source's end (status, time, duration) should replace the target's."""
    if _RANK[source.status] != _RANK[target.status]:
        return _RANK[source.status] > _RANK[target.status]
    if source.status is RunStatus.INTERRUPTED:  # the later interruption covers more
        return (source.duration_s or 0.0) > (target.duration_s or 0.0)
    return False


def _apply(target: Store, plan: _Plan) -> None:
    info = plan.info
    if plan.create:
        target.create_run(replace(info, status=RunStatus.RUNNING, ended_at=None, duration_s=None))
    for start in range(0, len(plan.samples), SAMPLES_PER_WRITE):
        target.append_samples(info.run_id, plan.samples[start : start + SAMPLES_PER_WRITE])
    for window in plan.windows:
        target.save_window(info.run_id, window)
    if plan.metrics:
        target.log_metrics(info.run_id, plan.metrics)
    if plan.finish and info.ended_at is not None and info.duration_s is not None:
        target.finish_run(info.run_id, info.status, info.ended_at, info.duration_s, info.settings)
