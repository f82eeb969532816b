"""`@track` on plain, recursive, raising, generator and async functions."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import carbonlens
from carbonlens.records import Channel, Component, Method, RunStatus
from carbonlens.store import SqliteStore
from carbonlens.testing.fakes import FakeClock, FakeSensor, FakeShares

CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)


def _options(tmp_path: Path, clock: FakeClock, sensor: FakeSensor) -> dict[str, Any]:
    return {
        "sensors": [sensor],
        "store": tmp_path / "runs.db",
        "clock": clock,
        "shares": FakeShares(),
        "country": "FR",
        "interval_s": 3600.0,
    }


def _stored(tmp_path: Path) -> list[tuple[str, RunStatus]]:
    store = SqliteStore(tmp_path / "runs.db")
    try:
        return [(run.name, run.status) for run in store.list_runs()]
    finally:
        store.close()


def _measured(decorated: object) -> tuple[float, float]:
    """Duration (s) and IT energy (J) of the decorated function's last run."""
    report = decorated.last_report  # type: ignore[attr-defined]
    return report.duration_s, report.it_energy_j


def test_a_generator_is_measured_while_it_is_iterated(tmp_path: Path) -> None:
    clock = FakeClock()
    sensor = FakeSensor(CPU, energy_j=[0.0, 6.0])

    @carbonlens.track(**_options(tmp_path, clock, sensor))
    def batches(n: int) -> Iterator[int]:
        """Yield n batches."""
        for i in range(n):
            clock.advance(1.0)
            yield i

    assert inspect.isgeneratorfunction(batches) and batches.__doc__ == "Yield n batches."
    assert list(batches(3)) == [0, 1, 2]
    assert _measured(batches) == (pytest.approx(3.0), pytest.approx(6.0))


def test_an_async_function_is_measured_until_it_is_done(tmp_path: Path) -> None:
    clock = FakeClock()
    sensor = FakeSensor(CPU, energy_j=[0.0, 5.0])

    @carbonlens.track(**_options(tmp_path, clock, sensor))
    async def answer() -> int:
        await asyncio.sleep(0)
        clock.advance(2.0)
        return 42

    assert inspect.iscoroutinefunction(answer)
    assert asyncio.run(answer()) == 42
    assert _measured(answer) == (pytest.approx(2.0), pytest.approx(5.0))


def test_an_async_generator_is_measured_while_it_is_iterated(tmp_path: Path) -> None:
    clock = FakeClock()
    sensor = FakeSensor(CPU, energy_j=[0.0, 9.0])

    @carbonlens.track(**_options(tmp_path, clock, sensor))
    async def tokens(n: int) -> AsyncIterator[int]:
        for i in range(n):
            await asyncio.sleep(0)
            clock.advance(1.5)
            yield i

    async def collect() -> list[int]:
        return [token async for token in tokens(2)]

    assert inspect.isasyncgenfunction(tokens)
    assert asyncio.run(collect()) == [0, 1]
    # it only measured its creation before (0 s, 0 J)
    assert _measured(tokens) == (pytest.approx(3.0), pytest.approx(9.0))


def test_a_raising_call_leaves_last_report_alone(tmp_path: Path) -> None:
    clock = FakeClock()

    @carbonlens.track(**_options(tmp_path, clock, FakeSensor(CPU, energy_j=[0.0, 1.0])))
    def flaky(fail: bool) -> None:
        clock.advance(1.0)
        if fail:
            raise ValueError("bad batch")

    assert flaky.last_report is None  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="bad batch"):
        flaky(True)
    assert flaky.last_report is None  # type: ignore[attr-defined]
    flaky(False)
    assert flaky.last_report.info.status == RunStatus.FINISHED  # type: ignore[attr-defined]
    assert sorted(status for _, status in _stored(tmp_path)) == [
        RunStatus.FAILED,
        RunStatus.FINISHED,
    ]


def test_recursive_calls_are_one_run(tmp_path: Path) -> None:
    clock = FakeClock()

    @carbonlens.track(**_options(tmp_path, clock, FakeSensor(CPU, energy_j=[0.0, 1.0])))
    def factorial(n: int) -> int:
        return 1 if n <= 1 else n * factorial(n - 1)

    assert factorial(5) == 120
    assert factorial(3) == 6  # the next call is a run again
    assert [name for name, _ in _stored(tmp_path)] == [
        factorial.__qualname__,
        factorial.__qualname__,
    ]


def test_an_unknown_keyword_fails_when_decorating() -> None:
    with pytest.raises(TypeError, match="projct"):
        carbonlens.track(projct="x")
