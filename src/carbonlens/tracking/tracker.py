"""Tracker: wires sensors, pricing, store and sampler together for one run.

Setup errors that the user asked for explicitly (an unknown country, a sensor
named but unavailable, a bad setting) raise at construction or `start()`; once
running, nothing raises into the user's program: a failing sensor is a gap, a
failing store switches to a fallback file, and `stop()` always returns a report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from carbonlens.accounting import RunReport, build_report, pricing_settings
from carbonlens.config import Settings, load_settings, with_overrides
from carbonlens.errors import ConfigError, StoreError
from carbonlens.records import Component, RunInfo, RunStatus, Sample, Window
from carbonlens.sensors import Discovery, Host, Sensor, discover
from carbonlens.store import (
    default_fallback_dir,
    default_store_path,
    open_store,
    store_path,
    this_host,
)
from carbonlens.store.base import Store
from carbonlens.tracking import pricing
from carbonlens.tracking.attribution import Attribution
from carbonlens.tracking.clock import Clock, SystemClock
from carbonlens.tracking.sampler import Sampler, ShareSource
from carbonlens.tracking.writer import RunWriter

log = logging.getLogger(__name__)


def _sensor_options(settings: Settings) -> dict[str, dict[str, Any]]:
    cpu = {"tdp_w": settings.cpu_tdp_w, "power_w": settings.cpu_power_w}
    ram = {"w_per_gb": settings.ram_w_per_gb}
    return {
        "cpu-tdp": {k: v for k, v in cpu.items() if v is not None},
        "ram-model": {k: v for k, v in ram.items() if v is not None},
    }


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
        sensors: Sequence[str] | Sequence[Sensor] | None = None,
        settings: Settings | None = None,
        host: Host | None = None,
        clock: Clock | None = None,
        root_pid: int | None = None,
        shares: ShareSource | None = None,
        kind: str = "run",
    ) -> None:
        """Configure a run; nothing is measured before `start()`.

        Keyword arguments override `settings` (default: `load_settings()`, i.e. config
        files and `CARBONLENS_*` variables). `store` is a path, a `sqlite:///` URL or a
        `Store`. `host`, `clock` and `shares` are for tests.

        Raises:
            ConfigError: a setting has a bad value.
            LocationError: the country or region is unknown (with suggestions).
            StoreError: the store URL is of a kind carbonlens cannot write.
        """
        overrides: Mapping[str, object] = {
            "project": project,
            "interval_s": interval_s,
            "country": country,
            "region": region,
            "pue": pue,
            "sensors": [s for s in sensors or () if isinstance(s, str)] or None,
            "store": None if store is None or not isinstance(store, str | Path) else str(store),
        }
        self.settings = with_overrides(settings or load_settings(), overrides)
        self.name = name or ""
        self.tags = tuple(tags)
        self.kind = kind
        self.run_id = os.urandom(16).hex()
        self._location = pricing.resolve(self.settings)
        if self.settings.store is not None:
            store_path(self.settings.store)  # an unsupported URL fails here, not mid-run
        if self.settings.intensity_provider is not None:
            from carbonlens.tracking.live import check_provider

            check_provider(self.settings.intensity_provider)
        if None not in (self.settings.contractual_intensity_g_per_kwh, self.settings.cfe_ratio):
            raise ConfigError(
                "set either contractual_intensity_g_per_kwh or cfe_ratio for the market-based "
                "figure, not both",
                setting="cfe_ratio",
            )
        self._given_sensors = [s for s in sensors or () if not isinstance(s, str)]
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
        self._listeners: list[Callable[[list[Sample]], None]] = []
        self._failed_listeners: set[int] = set()
        self.report: RunReport | None = None

    def _open_store(self) -> Store | None:
        if self._store_arg is not None:
            return self._store_arg
        path = self.settings.store or str(default_store_path(os.environ))
        try:
            store, message = open_store(path, fallback_dir=default_fallback_dir(os.environ))
        except StoreError as exc:
            log.warning("carbonlens: run not stored: %s", exc)
            self._notes.append(f"run not stored: {exc}")
            return None
        if message:
            log.warning("carbonlens: %s", message)
            self._notes.append(message)
        return store

    def _discover(self) -> Discovery:
        if self._given_sensors:
            return Discovery(sensors=list(self._given_sensors))
        forced = {}
        if self.settings.cpu_power_w is not None:
            forced = {Component.CPU: "cpu-tdp", Component.RAM: "ram-model"}
        return discover(
            self._host,
            names=self.settings.sensors,
            options=_sensor_options(self.settings),
            forced=forced,
        )

    def _settings_record(self, price: pricing.Pricing) -> dict[str, Any]:
        sensors = {s.name: s.assumptions() for s in self._discovery.sensors}
        probes = [
            {"sensor": p.sensor, "available": p.available, "reason": p.reason, "hint": p.hint}
            for p in self._discovery.probes
        ]
        market = {
            key: value
            for key, value in (
                ("contractual_g_per_kwh", self.settings.contractual_intensity_g_per_kwh),
                ("cfe_ratio", self.settings.cfe_ratio),
            )
            if value is not None
        }
        return {
            **pricing_settings(price.intensity, price.pue, price.embodied, price.notes),
            "market": market or None,
            "interval_s": self.settings.interval_s,
            "location": self.settings.region or self.settings.country,
            "sensors": sensors,
            "probes": probes,
        }

    def start(self) -> Self:
        """Discover sensors, open the store and start sampling (again: a no-op)."""
        if self._sampler is not None:
            log.warning("carbonlens: tracker %s already started", self.run_id[:12])
            return self
        from carbonlens.sensors.cpu_tdp import host_share_ratio

        self._discovery = self._discover()
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
            settings=self._settings_record(price),
        )
        self._writer = RunWriter(self._open_store(), self._info, self._clock)
        shares = self._shares or Attribution(self._root_pid)
        self._sampler = Sampler(
            self._discovery.sensors,
            self._clock,
            self._on_samples,
            shares=shares,
            interval_s=self._interval_s(),
        )
        self._sampler.start()
        return self

    def add_listener(self, listener: Callable[[list[Sample]], None]) -> None:
        """Call `listener` with each sampling interval's samples, as they come.

        It runs on the sampler thread and must return quickly; an exception it
        raises is logged once and never reaches the user's program. Serving
        attribution, exporters and budgets read the run this way.
        """
        self._listeners.append(listener)

    def _on_samples(self, samples: list[Sample]) -> None:
        self._require_writer().append(samples)
        for listener in self._listeners:
            try:
                listener(samples)
            except Exception as exc:  # noqa: BLE001 - a listener must not break the run
                if id(listener) not in self._failed_listeners:
                    self._failed_listeners.add(id(listener))
                    log.warning("carbonlens: listener %r failed: %s", listener, exc)

    def _interval_s(self) -> float:
        """The requested interval, shortened when a counter would wrap twice in it."""
        limits = [
            getattr(sensor, "max_poll_interval_s", math.inf) for sensor in self._discovery.sensors
        ]
        interval_s = min([self.settings.interval_s, *limits])
        if interval_s < self.settings.interval_s:
            self._notes.append(
                f"sampling every {interval_s:.1f} s, not {self.settings.interval_s:g} s: "
                "an energy counter could wrap more than once in the longer interval"
            )
        return interval_s

    def _require_info(self) -> RunInfo:
        if self._info is None:
            raise RuntimeError("tracker not started")
        return self._info

    @contextlib.contextmanager
    def window(self, name: str) -> Iterator[Window]:
        """Measure a named part of the run: `with tracker.window("epoch-3"): ...`."""
        sampler = self._sampler
        if sampler is None:
            raise RuntimeError("start the tracker before opening a window")
        sampler.tick()
        start = Window(name, sampler.last_tick_t_s)
        try:
            yield start
        finally:
            sampler.tick()
            self._require_writer().save_window(Window(name, start.start_t_s, sampler.last_tick_t_s))

    def stop(self, status: RunStatus = RunStatus.FINISHED) -> RunReport:
        """Stop sampling, finalise the stored run and return its report."""
        if self.report is not None:
            return self.report
        info = self._require_info()
        writer = self._require_writer()
        sampler = self._sampler
        if sampler is None:
            raise RuntimeError("tracker not started")
        sampler.stop()
        for sensor in self._discovery.sensors:
            with contextlib.suppress(Exception):
                sensor.close()
        ended_at = self._clock.now()
        settings = {**info.settings, **self._live_settings(info.started_at, ended_at)}
        errors = sampler.read_errors.items()
        settings["notes"] = [
            *settings["notes"],
            *self._notes,
            *(f"{name}: {n} failed read(s), left as gaps" for name, n in errors),
        ]
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

    def _require_writer(self) -> RunWriter:
        if self._writer is None:
            raise RuntimeError("tracker not started")
        return self._writer

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self.stop(RunStatus.FINISHED if exc_type is None else RunStatus.FAILED)
