"""`@track`: each call of a function is a tracked run."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar, overload

from carbonlens.tracking.tracker import Tracker

P = ParamSpec("P")
R = TypeVar("R")

_ACTIVE: ContextVar[frozenset[int]] = ContextVar("carbonlens_track_active", default=frozenset())
"""Ids of the decorated functions whose run is in progress in this context (thread
or task): a call made inside one of them (recursion) is part of that run."""


@overload
def track(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def track(
    func: None = None, /, **tracker_kwargs: Any
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def track(func: Callable[P, R] | None = None, /, **tracker_kwargs: Any) -> Any:
    """Decorator: each call of the function is a tracked run.

    `@track` or `@track(project="x", country="FR")`; the keyword arguments are those
    of `Tracker` (an unknown one is a `TypeError` here). The report of the last call
    that returned is kept on the wrapper as `.last_report` (None before). A call
    made while the function's own run is in progress in the same thread or task
    (recursion) is part of that run, except for generator functions. An async
    function's run lasts until its coroutine is done, a generator function's (async
    too) from the first item asked for until it is exhausted or closed.

    Raises:
        TypeError: a keyword argument that `Tracker` does not take.
    """
    inspect.signature(Tracker).bind_partial(**tracker_kwargs)

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        key = id(fn)

        def tracker() -> Tracker:
            return Tracker(**{"name": fn.__qualname__, **tracker_kwargs})

        def keep(report: object) -> None:
            chosen.last_report = report  # type: ignore[attr-defined]

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            active = _ACTIVE.get()
            if key in active:
                return fn(*args, **kwargs)
            token = _ACTIVE.set(active | {key})
            try:
                with tracker() as run:
                    result = fn(*args, **kwargs)
            finally:
                _ACTIVE.reset(token)
            keep(run.report)
            return result

        @functools.wraps(fn)
        async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            active = _ACTIVE.get()
            if key in active:
                return await fn(*args, **kwargs)  # type: ignore[misc]
            token = _ACTIVE.set(active | {key})
            try:
                with tracker() as run:
                    result = await fn(*args, **kwargs)  # type: ignore[misc]
            finally:
                _ACTIVE.reset(token)
            keep(run.report)
            return result

        @functools.wraps(fn)
        def generator_wrapper(*args: P.args, **kwargs: P.kwargs) -> Generator[Any, Any, Any]:
            with tracker() as run:
                result = yield from fn(*args, **kwargs)  # type: ignore[misc]
            keep(run.report)
            return result

        @functools.wraps(fn)
        async def async_generator_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            items: AsyncGenerator[Any, None] = fn(*args, **kwargs)  # type: ignore[assignment]
            with tracker() as run:
                async with contextlib.aclosing(items):
                    async for item in items:
                        yield item
            keep(run.report)

        if inspect.iscoroutinefunction(fn):
            chosen: Callable[..., Any] = async_wrapper
        elif inspect.isasyncgenfunction(fn):
            chosen = async_generator_wrapper
        elif inspect.isgeneratorfunction(fn):
            chosen = generator_wrapper
        else:
            chosen = wrapper
        chosen.last_report = None  # type: ignore[attr-defined]
        return chosen

    return decorate(func) if func is not None else decorate
