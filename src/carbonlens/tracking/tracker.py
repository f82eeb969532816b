"""Tracker: wires sensors, pricing, store and sampler together for one run.

Setup errors that the user asked for explicitly (an unknown country, a sensor
named but unavailable, a bad setting) raise at construction or `start()`; once
running, nothing raises into the user's program: a failing sensor is a gap, a
failing store switches to a fallback file, and `stop()` always returns a report.
The one exception is opt-in: a budget with action `raise` raises `BudgetExceeded`
at the next `checkpoint()` or `progress()` call, in the user's thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, Self, TypeVar

from carbonlens.accounting import RunReport, build_report
from carbonlens.config import Settings, load_settings, with_overrides
from carbonlens.errors import ConfigError, StoreError
from carbonlens.records import RunInfo, RunStatus, Sample, Window
from carbonlens.sensors import Discovery, Host, Sensor
from carbonlens.store import this_host
from carbonlens.store.base import Store
from carbonlens.tracking import pricing, setup
from carbonlens.tracking.attribution import Attribution
from carbonlens.tracking.clock import Clock, SystemClock
from carbonlens.tracking.fanout import SampleFanout
from carbonlens.tracking.metrics import MetricLog
from carbonlens.tracking.sampler import Sampler, ShareSource
from carbonlens.tracking.writer import RunWriter

if TYPE_CHECKING:
    from carbonlens.serving.ledger import Ledger
    from carbonlens.serving.request import ServedRequest
    from carbonlens.serving.run import TrackerServing
    from carbonlens.tracking.budget import ExceededHandler

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_OWN_KEYS = frozenset(
    {"notes", "intensity_series", "budget", "prediction", "stop_reason", "quality_flags"}
)
"""Run settings that `stop()` writes (besides `metrics`)."""


def _started(value: T | None) -> T:
    if value is None:
        raise RuntimeError("tracker not started")
    return value


class Tracker:
    """Measures one run: `with Tracker(project="x") as t: ...` then `t.report`."""

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        tags: tuple[str, ...] | list[str] = (),
        *,
        interval_s: float | None = None,
        country: str | None = None,
        region: str | None = None,
        pue: float | None = None,
        store: str | Path | Store | None = None,
        sensors: str | Sequence[str] | Sequence[Sensor] | None = None,
        settings: Settings | None = None,
        host: Host | None = None,
        clock: Clock | None = None,
        root_pid: int | None = None,
        shares: ShareSource | None = None,
        kind: str = "run",
        budget_kgco2e: float | None = None,
        budget_kwh: float | None = None,
        budget_action: str | None = None,
    ) -> None:
        """Configure a run; nothing is measured before `start()`.

        Keyword arguments override `settings` (default: `load_settings()`, i.e. config
        files and `CARBONLENS_*` variables). `store` is a path, a `sqlite:///` URL or a
        `Store`. `host`, `clock` and `shares` are for tests. `budget_kgco2e` (kgCO2e,
        total emissions) and `budget_kwh` (kWh, facility energy) limit this run;
        `budget_action` (`warn`, `raise`, `terminate`) says what happens at 100 %
        of it or of the project's budget (docs/evaluate.md#budgets).

        Raises:
            ConfigError: a setting or argument has a bad value, or `sensors` mixes
                names and sensor objects.
            LocationError: the country or region is unknown (with suggestions).
            StoreError: the store URL is of a kind carbonlens cannot write.
        """
        names, self._given_sensors = setup.split_sensors(sensors)
        overrides: Mapping[str, object] = {
            "project": project,
            "interval_s": interval_s,
            "country": country,
            "region": region,
            "pue": pue,
            "sensors": names,
            "store": None if store is None or not isinstance(store, str | Path) else str(store),
            "budget_kgco2e": budget_kgco2e,
            "budget_kwh": budget_kwh,
            "budget_action": budget_action,
        }
        self.settings = with_overrides(settings or load_settings(), overrides)
        setup.check_arguments(name or "", tags, kind, root_pid, store)
        self.name = name or ""
        self.tags = tuple(tags)
        self.kind = kind
        self.run_id = os.urandom(16).hex()
        given = (region or country) is not None
        self._location = pricing.resolve(self.settings, given=given)
        setup.check_settings(self.settings)
        self._store_arg = store if store is not None and not isinstance(store, str | Path) else None
        self._host = host or Host()
        self._clock = clock or SystemClock()
        self._root_pid = root_pid
        self._shares = shares
        self._sampler: Sampler | None = None
        self._writer: RunWriter | None = None
        self._discovery = Discovery()
        self._info: RunInfo | None = None
        self._notes: list[str] = []
        self._fanout = SampleFanout()
        self._price: pricing.Pricing | None = None
        self._metrics = MetricLog()
        self._annotations: dict[str, Any] = {}
        self._serving: TrackerServing | None = None
        self._serving_lock = threading.Lock()
        self._lock = threading.Lock()
        """Serialises `stop()` with window edges: a window open at `stop()` ends with
        the run, and none is measured after it."""
        self._open_windows: dict[int, Window] = {}
        self._warned: set[str] = set()
        self.report: RunReport | None = None

    def _note(self, note: str | None) -> None:
        if note:
            self._notes.append(note)

    def start(self) -> Self:
        """Discover sensors, open the store and start sampling (again: a no-op).

        Raises:
            RuntimeError: the tracker was stopped: a `Tracker` measures one run.
            StoreError: the PostgreSQL store cannot be reached and the
                `store_fallback` setting is `error` (nothing was started).
        """
        if self.report is not None:
            raise RuntimeError(
                f"tracker {self.run_id[:12]} stopped: a Tracker measures one run; make a new one"
            )
        if self._sampler is not None:
            log.warning("carbonlens: tracker %s already started", self.run_id[:12])
            return self
        from carbonlens.sensors.cpu_host import host_share_ratio

        self._discovery = setup.discover_sensors(self.settings, self._host, self._given_sensors)
        channels = [(c.component, c.device) for s in self._discovery.sensors for c in s.channels()]
        price = pricing.choose(
            self.settings,
            self._location,
            pricing.gpu_devices(channels),
            self.settings.host_share_ratio or host_share_ratio(self._host),
        )
        self._info = RunInfo(
            run_id=self.run_id,
            project=self.settings.project,
            name=self.name,
            started_at=self._clock.now(),
            host=this_host(),
            pid=os.getpid(),
            tags=self.tags,
            kind=self.kind,
            settings=setup.settings_record(self.settings, self._discovery, price),
        )
        store, note = self._store_arg, None
        if store is None:
            try:
                store, note = setup.open_run_store(self.settings)
            except StoreError:  # a central store that cannot be reached: nothing starts
                for sensor in self._discovery.sensors:
                    with contextlib.suppress(Exception):
                        sensor.close()
                raise
        self._note(note)
        self._price = price
        monitor, note = setup.budget_monitor(
            self.settings, price, store, self.run_id, self._info.started_at
        )
        self._note(note)
        if monitor is not None:
            self._fanout.monitor_with(lambda: monitor)
        self._writer = RunWriter(store, self._info, self._clock, background=True)
        interval_s, note = setup.sampling_interval(self.settings, self._discovery.sensors)
        self._note(note)
        shares = self._shares or Attribution(self._root_pid)
        self._sampler = Sampler(
            self._discovery.sensors,
            self._clock,
            self._on_samples,
            shares=shares,
            interval_s=interval_s,
            read_timeout_s=self.settings.sensor_timeout_s,
        )
        self._sampler.start()
        return self

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Log a value of a named metric (`accuracy`, `loss`), stored with the run.

        Args:
            name: The metric's name.
            value: A finite number, in the metric's own unit.
            step: Integer >= 0; None means the metric's next step (0, 1, 2, ...).
                Logging a step again replaces its value.

        Raises:
            ConfigError: A bad name, value or step.
        """
        point = self._metrics.point(name, value, step, _started(self._sampler).elapsed_s())
        if self._measuring("metrics"):
            _started(self._writer).add_metrics([point])

    def progress(self, step: int, total_steps: int) -> None:
        """Report that `step` of `total_steps` is done; also a `checkpoint()`.

        From these reports the tracker predicts the run's total energy and emissions
        (stored with the run, with its error at the end) and warns when the
        prediction exceeds a budget (docs/evaluate.md#prediction).

        Raises:
            ConfigError: Not integers with 0 <= step <= total_steps and total_steps > 0.
            BudgetExceeded: See `checkpoint()`.
        """
        elapsed_s = _started(self._sampler).elapsed_s()
        price = _started(self._price)
        # without budgets the first progress report makes the monitor (prediction only)
        monitor = self._fanout.monitor_with(lambda: setup.new_monitor(self.settings, price, []))
        monitor.progress(step, total_steps, elapsed_s)
        self.checkpoint()

    def checkpoint(self) -> None:
        """A safe point to stop: raises `BudgetExceeded` here, once, if a budget with
        action `raise` was exceeded since; otherwise returns at once.

        Call it between steps (a framework callback does); the sampler's thread
        never raises into the program.
        """
        if (monitor := self._fanout.monitor) is not None:
            monitor.checkpoint()

    def on_budget_exceeded(self, handler: ExceededHandler) -> None:
        """With action `terminate`, run `handler(error)` in its own thread when the run
        exceeds a budget (at once if it already has); `carbonlens run` passes
        `lambda error: budget.terminate_child(child, grace_s)`."""
        _started(self._info)
        if (monitor := self._fanout.monitor) is not None:  # no budget at start: none exceeded
            monitor.on_exceeded(handler)

    @property
    def stop_reason(self) -> str | None:
        """Why the budget stopped the run (raised or terminated), None if it did not."""
        monitor = self._fanout.monitor
        return None if monitor is None else monitor.stop_reason

    def elapsed_s(self) -> float:
        """Seconds since the run started on the tracker's monotonic clock.

        This is the time base of `Sample.t_s`; serving attribution stamps
        requests with it.
        """
        if self._sampler is None:
            raise RuntimeError("tracker not started")
        return self._sampler.elapsed_s()

    def request(
        self,
        route: str = "",
        model: str = "",
        tokens_in: int | None = None,
        tokens_out: int | None = None,
    ) -> AbstractContextManager[ServedRequest]:
        """One served request: `with tracker.request(route="/chat", model="m") as req:`.

        The run's energy is shared among its requests (docs/serving.md); an
        exception in the block marks the request failed and propagates.

        Raises:
            ConfigError: a token count is negative or not a whole number.
            RuntimeError: the tracker is not running.
        """
        return self.serving_ledger().request(route, model, tokens_in, tokens_out)

    def handler(
        self, route: str | None = None, *, model: str = ""
    ) -> Callable[[Callable[P, T]], Callable[P, T]]:
        """Decorator: each call of a sync or async handler is one `request` (route:
        the function's name by default); it may decorate before `start()`."""
        from carbonlens.serving.ledger import track_calls

        return track_calls(self.serving_ledger, route, model)

    def serving_ledger(self) -> Ledger:
        """The run's serving ledger, made on first use, stored with the run, closed
        by `stop()`; `CarbonMiddleware(app, tracker=tracker)` uses it too."""
        with self._serving_lock:
            if self.report is not None:
                raise RuntimeError("tracker stopped: no more requests can be served in its run")
            if self._serving is None:
                from carbonlens.serving.run import TrackerServing

                self._serving = TrackerServing(self, _started(self._writer).add_metrics)
            return self._serving.ledger

    def annotate(self, key: str, value: Any) -> None:
        """Store a JSON-compatible `value` in the run's settings under `key` at `stop()`.

        Raises:
            ConfigError: `key` is one the tracker writes itself.
        """
        if key in _started(self._info).settings or key in _OWN_KEYS | {"metrics"}:
            raise ConfigError(f"run setting {key!r} is written by the tracker", setting=key)
        self._annotations[key] = value

    @property
    def info(self) -> RunInfo:
        """The started run: its id, project and settings (intensity, PUE, sensors)."""
        return _started(self._info)

    def add_listener(self, listener: Callable[[list[Sample]], None]) -> None:
        """Call `listener` with each sampling interval's samples, as they come.

        It runs on the sampler thread and must return quickly; an exception it
        raises is logged once and never reaches the user's program. Serving
        attribution, exporters and budgets read the run this way.
        """
        self._fanout.add_listener(listener)

    def _on_samples(self, samples: list[Sample]) -> None:
        _started(self._writer).append(samples)
        self._fanout(samples)

    def _measuring(self, what: str) -> bool:
        """Whether the run is measured here and now; if not (stopped, or a process
        forked from the one that runs it), warn once per process and `what`."""
        info = _started(self._info)
        forked = os.getpid() != info.pid
        if not forked and self.report is None:
            return True
        if (key := f"{os.getpid()}:{what}") not in self._warned:
            self._warned.add(key)
            why = (
                f"process {os.getpid()} is a fork of process {info.pid}, which runs it"
                if forked
                else "it was stopped"
            )
            log.warning("carbonlens: run %s: %s not recorded: %s", self.run_id[:12], what, why)
        return False

    @contextlib.contextmanager
    def window(self, name: str) -> Iterator[Window]:
        """Measure a named part of the run: `with tracker.window("epoch-3"): ...`.

        A window still open at `stop()` ends with the run; one opened after it (or
        in a forked child process) is not measured, with a warning.
        """
        sampler = self._sampler
        if sampler is None:
            raise RuntimeError("start the tracker before opening a window")
        start = Window(name, sampler.last_tick_t_s)
        if self._measuring("windows"):  # checked first: a child must not take the lock
            with self._lock:
                if self._measuring("windows"):
                    sampler.tick()
                    start = Window(name, sampler.last_tick_t_s)
                    self._open_windows[id(start)] = start
        try:
            yield start
        finally:
            if id(start) in self._open_windows and self._measuring("windows"):
                with self._lock:
                    if self._open_windows.pop(id(start), None) is not None:
                        sampler.tick()
                        self._save_window(start, sampler.last_tick_t_s)

    def _save_window(self, start: Window, end_t_s: float) -> None:
        _started(self._writer).save_window(Window(start.name, start.start_t_s, end_t_s))

    def stop(self, status: RunStatus = RunStatus.FINISHED) -> RunReport:
        """Stop sampling, finalise the stored run and return its report (again: the
        same report).

        In a process forked from the one that runs it, this leaves the run alone and
        returns a report without figures that says so.

        Raises:
            ConfigError: `status` is `RUNNING` (a stopped run is not running).
        """
        if status is RunStatus.RUNNING:
            raise ConfigError(
                "stop status must be finished, failed or interrupted, not running",
                setting="status",
            )
        info = _started(self._info)
        if os.getpid() != info.pid:
            self._measuring("end")  # the warning
            return self.report or setup.forked_report(info, status, self._clock.now())
        with self._lock:
            return self.report or self._stop(info, status)

    def _stop(self, info: RunInfo, status: RunStatus) -> RunReport:
        writer = _started(self._writer)
        sampler = _started(self._sampler)
        sampler.stop()
        for start in self._open_windows.values():  # they end with the run
            self._save_window(start, sampler.last_tick_t_s)
            self._notes.append(f"window {start.name!r} was still open at the end of the run")
        self._open_windows.clear()
        if self._serving is not None:  # after the last interval, before the run is written
            self._serving.close()
        hung = sampler.hung_sensors
        for sensor in self._discovery.sensors:
            if sensor.name in hung:  # its read is stuck: closing it could block too
                continue
            with contextlib.suppress(Exception):
                sensor.close()
        ended_at = self._clock.now()
        added = self._live_settings(info.started_at, ended_at) | self._annotations
        added["metrics"] = self._metrics.summary()
        settings = setup.final_settings(
            info.settings, added, self._fanout.monitor, sampler, self._notes
        )
        final = dataclasses.replace(
            info,
            status=status,
            ended_at=ended_at,
            duration_s=sampler.last_tick_t_s,
            settings=settings,
        )
        writer.finish(status, final)
        samples, windows, location = writer.read_back()
        if writer.notes:
            settings["notes"] = [*settings["notes"], *writer.notes]
        self.report = build_report(final, samples, windows, store_location=location)
        return self.report

    def _live_settings(self, started_at: datetime, ended_at: datetime) -> dict[str, Any]:
        """The series of the run's hours from the live provider, if one is set."""
        provider = self.settings.intensity_provider
        if provider is None:
            return {}
        from carbonlens.tracking.live import fetch_series

        live = fetch_series(provider, self._location, started_at, ended_at)
        self._notes.extend(live.notes)
        return {"intensity_series": live.settings} if live.settings else {}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.stop(RunStatus.FINISHED)
        else:  # stopped by its budget on purpose: interrupted, not failed
            from carbonlens.tracking.budget import BudgetExceeded

            budget = issubclass(exc_type, BudgetExceeded)
            self.stop(RunStatus.INTERRUPTED if budget else RunStatus.FAILED)
