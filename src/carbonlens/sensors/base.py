"""The sensor contract: every back-end returns `Reading`s for its `Channel`s.

A sensor knows nothing about carbon, stores or the tracker. It is given a `Host`
(where to look: sysfs, procfs, environment) so that tests point it at a fake tree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

from carbonlens._frozen import frozen
from carbonlens.errors import SensorReadError
from carbonlens.records import Channel, Component, Method, Reading

ReadItem = Reading | SensorReadError
"""What `Sensor.read` gives per channel: the reading, or why that device failed."""


def _environ() -> dict[str, str]:
    return dict(os.environ)


@frozen
class Host:
    """Where a sensor looks. Tests point these at `tmp_path`."""

    sysfs: Path = Path("/sys")
    procfs: Path = Path("/proc")
    env: Mapping[str, str] = field(default_factory=_environ)


@frozen
class Probe:
    """Whether a back-end can be used on this machine, and if not why and how to fix it."""

    sensor: str
    available: bool
    reason: str = ""
    hint: str = ""


class Sensor(Protocol):
    """One hardware (or model) back-end.

    `probe` never raises and has no side effects; `open` raises
    `SensorUnavailable` with a reason. `read` returns one item per channel: its
    `Reading`, or the `SensorReadError` of a device that failed while the others
    were read (one lost GPU leaves a gap on its own channel only); it raises
    `SensorReadError` when nothing could be read. `read` is given the sampler's
    monotonic time and the process ids of the tracked process tree (for sensors
    that can attribute per process).
    `assumptions` lists the constants and sources a modelled figure rests on
    (empty for measured sensors), as JSON-compatible values.
    """

    name: ClassVar[str]
    components: ClassVar[frozenset[Component]]
    method: ClassVar[Method]

    @classmethod
    def probe(cls, host: Host) -> Probe: ...

    @classmethod
    def open(cls, host: Host, **options: Any) -> Self: ...

    def channels(self) -> Sequence[Channel]: ...

    def read(self, t_s: float, pids: frozenset[int] = frozenset()) -> Sequence[ReadItem]: ...

    def assumptions(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
