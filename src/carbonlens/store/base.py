"""The store contract: runs, their samples and windows, written as a run goes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from carbonlens.records import RunInfo, RunStatus, Sample, Window


class Store(Protocol):
    """Where runs are kept. Every write is durable when the call returns.

    A run left `running` by a process that no longer exists (killed) is reported
    as `interrupted` by `get_run` and `list_runs`, and marked so in the store.
    `finish_run` may replace the run's settings (what was learnt at the end, such
    as the intensity series of the run's hours). `channel_sums` gives one sample
    per channel summing all of a run's samples (latest `t_s`, summed durations and
    energies; process energy summed over the samples that have one, None if none
    has), for listings that need totals only.
    """

    location: str

    def create_run(self, info: RunInfo) -> None: ...

    def append_samples(self, run_id: str, samples: Sequence[Sample]) -> None: ...

    def save_window(self, run_id: str, window: Window) -> None: ...

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        ended_at: datetime,
        duration_s: float,
        settings: Mapping[str, Any] | None = None,
    ) -> None: ...

    def get_run(self, run_id: str) -> RunInfo | None: ...

    def list_runs(
        self,
        *,
        project: str | None = None,
        since: datetime | None = None,
        status: RunStatus | None = None,
        limit: int | None = None,
    ) -> list[RunInfo]: ...

    def samples(self, run_id: str) -> list[Sample]: ...

    def channel_sums(self, run_id: str) -> list[Sample]: ...

    def windows(self, run_id: str) -> list[Window]: ...

    def close(self) -> None: ...
