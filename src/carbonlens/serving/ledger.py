"""The request ledger: which requests were in flight when, and the energy they used.

Handlers open requests (`with ledger.request(...)`, `@ledger.track(...)`, or the
ASGI middleware); the tracker's sampler thread hands each interval's samples to
`Ledger.on_samples`, which shares them among the requests once every request
that overlaps them has ended (`attribution.Settler`). The request path takes a
lock for a set insertion or removal and does no I/O; the arithmetic runs on the
sampler thread.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final, ParamSpec, Protocol, Self, TypeVar, cast

from carbonlens._frozen import frozen
from carbonlens.errors import ConfigError
from carbonlens.records import IntensityValue, PueValue, RunInfo, Sample
from carbonlens.serving.attribution import Settler
from carbonlens.serving.request import _CURRENT, ServedRequest, check_tokens
from carbonlens.serving.summary import Aggregator, RequestRecord, ServingSummary
from carbonlens.units import emissions_g

__all__ = [
    "DEFAULT_MAX_WAIT_S",
    "DEFAULT_TIMEOUT_S",
    "Ledger",
    "SampleSource",
    "ServedRun",
    "Settlement",
    "track_calls",
]

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_TIMEOUT_S: Final = 600.0
"""A request still open this many seconds after it started is cut there and flagged."""
DEFAULT_MAX_WAIT_S: Final = 30.0
"""An interval waits at most this many seconds for its requests to end."""
OTHER_ROUTE: Final = "(other)"
"""The route label of requests beyond `max_routes` distinct routes."""


class SampleSource(Protocol):
    """A run that hands each sampling interval's samples to listeners (`Tracker`)."""

    def add_listener(self, listener: Callable[[list[Sample]], None]) -> None: ...


class ServedRun(SampleSource, Protocol):
    """A started tracker: its samples, its clock (`elapsed_s`) and its pricing (`info`)."""

    def elapsed_s(self) -> float: ...

    @property
    def info(self) -> RunInfo | None: ...


@frozen
class Settlement:
    """What one settlement of intervals produced, from `start_t_s` to `end_t_s`.

    `records` are the requests that ended in the period; idle energy and its
    emissions (None when the ledger has no grid intensity) are the period's.
    """

    start_t_s: float
    end_t_s: float
    idle_energy_j: float
    idle_emissions_g: float | None
    records: tuple[RequestRecord, ...]


class Ledger:
    """Thread-safe registry of requests, and the attribution of measured energy to them."""

    def __init__(
        self,
        time_s: Callable[[], float],
        *,
        intensity_g_per_kwh: float | None = None,
        pue_ratio: float = 1.0,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        max_routes: int = 1000,
        max_latencies: int = 10_000,
    ) -> None:
        """Keep requests on the run's time base.

        Args:
            time_s: Seconds since the run started on the tracker's monotonic clock
                (the time base of `Sample.t_s`), e.g. `tracker.elapsed_s`.
            intensity_g_per_kwh: Grid intensity for emissions, gCO2e/kWh; None
                leaves emissions out.
            pue_ratio: Facility energy / IT energy, applied to emissions only.
            timeout_s: Seconds after which an open request is cut and flagged.
            max_wait_s: Longest an interval waits, after its end, for the requests
                in it to end (seconds); then it is shared with those still open
                weighed by overlap, so memory stays bounded behind a long request.
            max_routes: Distinct route labels kept; later ones count as "(other)".
            max_latencies: Latest latencies kept per route and model for p50/p95.

        Raises:
            ConfigError: `timeout_s` or `max_wait_s` is not positive, or `pue_ratio`
                is below 1.
        """
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0, not {timeout_s!r}", setting="timeout_s")
        if max_wait_s <= 0:
            raise ConfigError(f"max_wait_s must be > 0, not {max_wait_s!r}", setting="max_wait_s")
        if pue_ratio < 1.0:
            raise ConfigError(f"pue_ratio must be >= 1, not {pue_ratio!r}", setting="pue_ratio")
        self.time_s = time_s
        self._g_per_j = (
            None if intensity_g_per_kwh is None else emissions_g(pue_ratio, intensity_g_per_kwh)
        )
        self._timeout_s = timeout_s
        self._max_wait_s = max_wait_s
        self._max_routes = max_routes
        self._lock = threading.Lock()  # the request path: active set and ended list only
        self._active: set[ServedRequest] = set()
        self._ended: list[ServedRequest] = []
        self._settle_lock = threading.Lock()  # the sampler thread and close()
        self._settler: Settler[ServedRequest] = Settler()
        self._routes: set[str] = set()
        self._stats_lock = threading.Lock()
        self._totals = Aggregator(
            priced=intensity_g_per_kwh is not None, max_latencies=max_latencies
        )
        self._listeners: list[Callable[[Settlement], None]] = []
        self._failed_listeners: set[int] = set()

    @classmethod
    def for_tracker(cls, tracker: ServedRun, **options: Any) -> Self:
        """A ledger on a started tracker's clock, priced like its run, receiving its samples.

        `options` are those of `Ledger` other than the clock and pricing.

        Raises:
            RuntimeError: the tracker has not started.
            ConfigError: an option has a bad value.
        """
        info = tracker.info
        if info is None:
            raise RuntimeError("start the tracker before attaching a ledger")
        intensity = IntensityValue(**info.settings["intensity"])
        pue = PueValue(**info.settings["pue"])
        ledger = cls(
            tracker.elapsed_s,
            intensity_g_per_kwh=intensity.intensity_g_per_kwh,
            pue_ratio=pue.pue_ratio,
            **options,
        )
        return ledger.attach(tracker)

    def attach(self, run: SampleSource) -> Self:
        """Receive `run`'s samples (a started `Tracker`); returns the ledger."""
        run.add_listener(self.on_samples)
        return self

    def add_listener(self, listener: Callable[[Settlement], None]) -> None:
        """Call `listener(settlement)` on the sampler thread after each settlement."""
        self._listeners.append(listener)

    @property
    def priced(self) -> bool:
        """Whether requests get emissions (the ledger has a grid intensity)."""
        return self._g_per_j is not None

    @property
    def in_flight(self) -> int:
        """Requests open now."""
        return len(self._active)

    def begin(self, route: str = "", model: str = "") -> ServedRequest:
        """Open a request now; end it with `end`. Prefer `request` or `track`."""
        request = ServedRequest(self.time_s, route, model)
        with self._lock:
            request.start_t_s = self.time_s()
            self._active.add(request)
        return request

    def end(self, request: ServedRequest, *, failed: bool = False) -> None:
        """End `request` now (a second call, or one after a cut, changes nothing)."""
        with self._lock:
            if request.end_t_s is not None:
                return
            request.end_t_s = self.time_s()
            request.failed = request.failed or failed
            self._active.discard(request)
            self._ended.append(request)

    @contextlib.contextmanager
    def request(
        self,
        route: str = "",
        model: str = "",
        tokens_in: int | None = None,
        tokens_out: int | None = None,
    ) -> Iterator[ServedRequest]:
        """`with ledger.request(route="/chat", model="llama") as req:` serve one request.

        Tokens may be given here or reported on `req` before the block ends. An
        exception in the block marks the request failed and propagates.

        Raises:
            ConfigError: a token count is negative or not a whole number.
        """
        check_tokens("tokens_in", tokens_in)
        check_tokens("tokens_out", tokens_out)
        served = self.begin(route, model)
        served.tokens_in, served.tokens_out = tokens_in, tokens_out
        token = _CURRENT.set(served)
        failed = True
        try:
            yield served
            failed = False
        finally:
            _CURRENT.reset(token)
            self.end(served, failed=failed)

    def track(
        self, route: str | None = None, *, model: str = ""
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorator: each call of the handler (sync or async) is one request.

        The route defaults to the function's qualified name. For a streaming
        generator, open `ledger.request()` inside it instead.

        Raises:
            ConfigError: the function is a generator.
        """
        return track_calls(lambda: self, route, model)

    def on_samples(self, samples: list[Sample]) -> None:
        """The tracker listener: queue one interval's samples and settle what can be."""
        self._settle(samples, close=False)

    def close(self) -> None:
        """Cut the requests still open (now, flagged), settle and finish every request.

        Call it after `tracker.stop()`, whose last interval it settles too.
        """
        self._settle([], close=True)

    def summary(self) -> ServingSummary:
        """Aggregates of every finished request so far (latencies: the latest ones)."""
        settler = self._settler
        with self._stats_lock:
            return self._totals.summary(settler.first_t_s or 0.0, settler.settled_t_s or 0.0)

    def _settle(self, samples: list[Sample], *, close: bool) -> None:
        with self._settle_lock:
            now_s = self.time_s() if close else max((s.t_s for s in samples), default=-math.inf)
            with self._lock:
                for request in [
                    r for r in self._active if close or r.start_t_s + self._timeout_s <= now_s
                ]:
                    request.end_t_s = now_s if close else request.start_t_s + self._timeout_s
                    request.cut = True
                    self._active.discard(request)
                    self._ended.append(request)
                ended, self._ended = self._ended, []
                still_open = list(self._active)
            open_since_s = min((r.start_t_s for r in still_open), default=math.inf)
            settler = self._settler
            start_t_s = settler.settled_t_s
            settler.add(samples, ended)
            idle_j = settler.settle(open_since_s, now_s - self._max_wait_s, still_open)
            if settler.settled_t_s is None:
                return
            finished = settler.finish(math.inf if close else settler.settled_t_s)
            records = [self._record(r) for r in finished]
            self._publish(start_t_s, idle_j, records)

    def _emissions_g(self, energy_j: float) -> float | None:
        return None if self._g_per_j is None else energy_j * self._g_per_j

    def _route(self, route: str) -> str:
        if route in self._routes:
            return route
        if len(self._routes) >= self._max_routes:
            return OTHER_ROUTE
        self._routes.add(route)
        return route

    def _record(self, r: ServedRequest) -> RequestRecord:
        split = r.first_token_t_s is not None
        return RequestRecord(
            route=self._route(r.route),
            model=r.model,
            start_t_s=r.start_t_s,
            end_t_s=r.stop_t_s,
            energy_j=r.energy_j,
            emissions_g=self._emissions_g(r.energy_j),
            tokens_in=r.tokens_in,
            tokens_out=r.tokens_out,
            prefill_energy_j=r.prefill_energy_j if split else None,
            decode_energy_j=r.decode_energy_j if split else None,
            mean_in_flight=r.mean_in_flight,
            failed=r.failed,
            cut=r.cut,
            status_code=r.status_code,
        )

    def _publish(
        self, start_t_s: float | None, idle_j: float, records: list[RequestRecord]
    ) -> None:
        end_t_s = self._settler.settled_t_s or 0.0
        idle_g = self._emissions_g(idle_j)
        with self._stats_lock:
            for record in records:
                self._totals.add(record)
            self._totals.add_idle(idle_j, idle_g)
        first_t_s = self._settler.first_t_s or 0.0
        settlement = Settlement(
            first_t_s if start_t_s is None else start_t_s, end_t_s, idle_j, idle_g, tuple(records)
        )
        for listener in self._listeners:
            try:
                listener(settlement)
            except Exception as exc:  # noqa: BLE001 - an exporter must not break serving
                if id(listener) not in self._failed_listeners:
                    self._failed_listeners.add(id(listener))
                    log.warning("carbonlens: serving listener %r failed: %s", listener, exc)


def track_calls(
    ledger_of: Callable[[], Ledger], route: str | None, model: str
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: each call of a sync or async handler is one request of `ledger_of()`.

    The ledger is looked up at each call, so a handler can be decorated before
    the run that owns the ledger has started (`Tracker.handler`). The route
    defaults to the function's qualified name.

    Raises:
        ConfigError: the function is a generator (open a request inside it instead).
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise ConfigError(f"{fn.__qualname__} is a generator: open a request inside it")
        name = route or fn.__qualname__
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                with ledger_of().request(name, model):
                    return await cast(Any, fn)(*args, **kwargs)

            return cast(Callable[P, R], run_async)

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with ledger_of().request(name, model):
                return fn(*args, **kwargs)

        return run

    return decorate
