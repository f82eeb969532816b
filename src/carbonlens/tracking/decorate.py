"""`@track`: each call of a function is a tracked run."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, overload

from carbonlens.tracking.tracker import Tracker

P = ParamSpec("P")
R = TypeVar("R")


@overload
def track(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def track(
    func: None = None, /, **tracker_kwargs: Any
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def track(func: Callable[P, R] | None = None, /, **tracker_kwargs: Any) -> Any:
    """Decorator: each call of the function is a tracked run.

    `@track` or `@track(project="x", country="FR")`; the keyword arguments are those
    of `Tracker`. The last report is kept on the wrapper as `.last_report`.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            tracker = Tracker(**{"name": fn.__qualname__, **tracker_kwargs})
            try:
                with tracker:
                    return fn(*args, **kwargs)
            finally:
                wrapper.last_report = tracker.report  # type: ignore[attr-defined]

        return wrapper

    return decorate(func) if func is not None else decorate
