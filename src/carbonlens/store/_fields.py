"""How both stores write records down and find them again.

Runs and samples become flat dicts of JSON-compatible fields (`run_fields`,
`sample_fields`): the JSON-lines store writes them as they are, the SQLite store
binds them as named parameters. Datetimes are fixed-width ISO-8601 UTC text,
which sorts chronologically. Run ids may be given by a unique prefix, like git
short hashes (`pick_run_id`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from carbonlens.errors import StoreError
from carbonlens.records import Channel, Component, Method, RunInfo, RunStatus, Sample
from carbonlens.store.base import Budget, BudgetKind, BudgetPeriod, MetricPoint

_AMBIGUOUS_SHOWN = 10


class FieldSource(Protocol):
    """Anything indexed by field name: a dict, or an `sqlite3.Row`."""

    def __getitem__(self, key: str, /) -> Any: ...


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_utc_text(value: datetime) -> str:
    """Format a datetime as fixed-width ISO-8601 UTC text, e.g. `2024-05-01T12:00:00.000000+00:00`.

    Raises:
        ValueError: If `value` is naive (its time zone would be a guess).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: carbonlens stores timezone-aware UTC times")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def from_utc_text(text: str) -> datetime:
    """Parse text written by `to_utc_text` into a timezone-aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


def run_fields(info: RunInfo) -> dict[str, Any]:
    """The fields of a run; `tags` is a list and `settings` a dict."""
    return {
        "run_id": info.run_id,
        "project": info.project,
        "name": info.name,
        "kind": info.kind,
        "tags": list(info.tags),
        "host": info.host,
        "pid": info.pid,
        "started_at": to_utc_text(info.started_at),
        "ended_at": None if info.ended_at is None else to_utc_text(info.ended_at),
        "duration_s": info.duration_s,
        "status": info.status.value,
        "settings": dict(info.settings),
    }


def run_from_fields(fields: FieldSource, tags: Iterable[str], settings: dict[str, Any]) -> RunInfo:
    """Rebuild a run from `run_fields` output (tags and settings already decoded)."""
    ended_at = fields["ended_at"]
    return RunInfo(
        run_id=fields["run_id"],
        project=fields["project"],
        name=fields["name"],
        started_at=from_utc_text(fields["started_at"]),
        host=fields["host"],
        pid=fields["pid"],
        tags=tuple(tags),
        status=RunStatus(fields["status"]),
        ended_at=None if ended_at is None else from_utc_text(ended_at),
        duration_s=fields["duration_s"],
        kind=fields["kind"],
        settings=settings,
    )


def sample_fields(sample: Sample) -> dict[str, Any]:
    """The fields of a sample, its channel flattened."""
    return {
        "t_s": sample.t_s,
        "duration_s": sample.duration_s,
        "sensor": sample.channel.sensor,
        "component": sample.channel.component.value,
        "device": sample.channel.device,
        "method": sample.channel.method.value,
        "energy_j": sample.energy_j,
        "process_energy_j": sample.process_energy_j,
    }


def sample_from_fields(fields: FieldSource) -> Sample:
    """Rebuild a sample from `sample_fields` output."""
    return Sample(
        channel=Channel(
            fields["sensor"],
            Component(fields["component"]),
            fields["device"],
            Method(fields["method"]),
        ),
        t_s=fields["t_s"],
        duration_s=fields["duration_s"],
        energy_j=fields["energy_j"],
        process_energy_j=fields["process_energy_j"],
    )


def metric_fields(point: MetricPoint) -> dict[str, Any]:
    """The fields of a metric point (without its run id)."""
    return {"name": point.name, "step": point.step, "value": point.value, "t_s": point.t_s}


def metric_from_fields(fields: FieldSource) -> MetricPoint:
    """Rebuild a metric point from `metric_fields` output."""
    return MetricPoint(fields["name"], fields["step"], fields["value"], fields["t_s"])


def budget_fields(budget: Budget) -> dict[str, Any]:
    """The fields of a budget; the kind and period as their text values."""
    return {
        "project": budget.project,
        "kind": budget.kind.value,
        "amount": budget.amount,
        "period": budget.period.value,
    }


def budget_from_fields(fields: FieldSource) -> Budget:
    """Rebuild a budget from `budget_fields` output."""
    return Budget(
        fields["project"],
        BudgetKind(fields["kind"]),
        fields["amount"],
        BudgetPeriod(fields["period"]),
    )


def pick_run_id(prefix: str, run_ids: Iterable[str], location: str) -> str | None:
    """Resolve a run id, or a unique prefix of one.

    Args:
        prefix: A full run id or its first characters.
        run_ids: Candidate ids (ids that do not start with `prefix` are ignored).
        location: The store, named in the error message.

    Returns:
        The exact id if present, else the only id starting with `prefix`, else None
        (also for an empty prefix).

    Raises:
        StoreError: If several ids start with `prefix`; the message lists them.
    """
    if not prefix:
        return None
    matches = sorted({run_id for run_id in run_ids if run_id.startswith(prefix)})
    if prefix in matches:
        return prefix
    if len(matches) <= 1:
        return matches[0] if matches else None
    shown = ", ".join(matches[:_AMBIGUOUS_SHOWN])
    if len(matches) > _AMBIGUOUS_SHOWN:
        shown += f" and {len(matches) - _AMBIGUOUS_SHOWN} more"
    raise StoreError(
        f"run id prefix {prefix!r} is ambiguous in {location}: it matches {shown}; "
        "give more characters",
        path=location,
    )


def sum_by_channel(samples: Iterable[Sample]) -> list[Sample]:
    """One sample per channel summing `samples` (the `Store.channel_sums` rule)."""
    sums: dict[Channel, Sample] = {}
    for s in samples:
        old = sums.get(s.channel)
        if old is None:
            sums[s.channel] = s
            continue
        parts = [p for p in (old.process_energy_j, s.process_energy_j) if p is not None]
        sums[s.channel] = Sample(
            channel=s.channel,
            t_s=max(old.t_s, s.t_s),
            duration_s=old.duration_s + s.duration_s,
            energy_j=old.energy_j + s.energy_j,
            process_energy_j=sum(parts) if parts else None,
        )
    return list(sums.values())
