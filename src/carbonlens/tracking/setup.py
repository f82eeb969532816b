"""What `Tracker` decides when it is built, started and stopped, as functions that
return values.

Settings checks, sensor discovery, the run's settings record, the store, the
sampling interval, the budget monitor and the settings stored at the end: each
returns what it chose and the notes that explain it, so the tracker only wires
them together.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carbonlens.accounting import RunReport, build_report, pricing_settings, quality_settings
from carbonlens.config import Settings
from carbonlens.errors import ConfigError, StoreError
from carbonlens.estimate.embodied import amortised_g
from carbonlens.records import Component, RunInfo, RunStatus
from carbonlens.sensors import Discovery, Host, Sensor, discover, registry
from carbonlens.store import (
    default_fallback_dir,
    default_store_target,
    is_database_url,
    local_store_path,
    open_store,
    store_path,
)
from carbonlens.store.base import Store
from carbonlens.tracking.pricing import Pricing

if TYPE_CHECKING:
    from carbonlens.tracking.budget import BudgetMonitor
    from carbonlens.tracking.budget_limits import Limit
    from carbonlens.tracking.sampler import Sampler

log = logging.getLogger(__name__)


def split_sensors(
    sensors: str | Sequence[str] | Sequence[Sensor] | None,
) -> tuple[str | Sequence[str] | None, list[Sensor]]:
    """The names (None: the setting's), and the sensor objects, of `sensors`.

    Raises:
        ConfigError: names and objects are mixed (the names would be ignored).
    """
    if sensors is None or isinstance(sensors, str):  # "rapl,nvml" as in the setting
        return sensors, []
    names = [s for s in sensors if isinstance(s, str)]
    objects = [s for s in sensors if not isinstance(s, str)]
    if names and objects:
        raise ConfigError(
            "argument: sensors: give sensor names or sensor objects, not both", setting="sensors"
        )
    return names or None, objects


def forked_report(info: RunInfo, status: RunStatus, ended_at: datetime) -> RunReport:
    """The report of `stop()` in a process forked from the one that runs `info`: no
    figures, and the run left to its own process."""
    note = (
        f"stopped in process {os.getpid()}, a fork of process {info.pid} that runs "
        "this run: nothing was measured or stored here, and the run is left to it"
    )
    child = replace(
        info,
        pid=os.getpid(),
        status=status,
        ended_at=ended_at,
        duration_s=0.0,
        settings={**info.settings, "notes": [*info.settings["notes"], note]},
    )
    return build_report(child, [])


_STORE_METHODS = ("create_run", "append_samples", "save_window", "finish_run", "samples", "windows")
"""What the tracker calls on a `Store` it is given."""


def check_arguments(
    name: object, tags: object, kind: object, root_pid: object, store: object
) -> None:
    """Fail at construction for `Tracker` arguments of the wrong kind, which would
    otherwise be stored as they are (a string as tags: one tag per character) or
    fail at `start()` (a store that is neither a path nor a `Store`).

    Raises:
        ConfigError: naming the argument and what it must be.
    """
    for key, value in (("name", name), ("kind", kind)):
        if not isinstance(value, str):
            raise ConfigError(f"argument: {key} must be a string, got {value!r}", setting=key)
    if not isinstance(tags, list | tuple) or not all(isinstance(tag, str) for tag in tags):
        raise ConfigError(f"argument: tags must be a list of strings, got {tags!r}", setting="tags")
    if root_pid is not None and (
        not isinstance(root_pid, int) or isinstance(root_pid, bool) or root_pid <= 0
    ):
        raise ConfigError(
            f"argument: root_pid must be a process id (an integer > 0), got {root_pid!r}",
            setting="root_pid",
        )
    missing = [m for m in _STORE_METHODS if not callable(getattr(store, m, None))]
    if store is not None and not isinstance(store, str | Path) and missing:
        raise ConfigError(
            f"argument: store must be a path, a URL or a carbonlens Store, got {store!r} "
            f"(no {', '.join(missing)})",
            setting="store",
        )


def check_settings(settings: Settings) -> None:
    """Fail at construction for what would otherwise fail mid-run or at `start()`.

    Raises:
        StoreError: The store URL is of a kind carbonlens cannot write.
        ConfigError: Both market-based settings, an unknown live provider, or an
            unknown sensor name.
    """
    for name in settings.sensors or ():
        registry.load(name)
    if settings.store is not None and not is_database_url(settings.store):
        store_path(settings.store)
    if settings.intensity_provider is not None:
        from carbonlens.tracking.live import check_provider

        check_provider(settings.intensity_provider)
    if None not in (settings.contractual_intensity_g_per_kwh, settings.cfe_ratio):
        raise ConfigError(
            "set either contractual_intensity_g_per_kwh or cfe_ratio for the market-based "
            "figure, not both",
            setting="cfe_ratio",
        )


def sensor_options(settings: Settings) -> dict[str, dict[str, Any]]:
    """Options of the modelled sensors from settings (unset ones left out)."""
    cpu = {"tdp_w": settings.cpu_tdp_w, "power_w": settings.cpu_power_w}
    ram = {"w_per_gb": settings.ram_w_per_gb}
    return {
        "cpu-tdp": {k: v for k, v in cpu.items() if v is not None},
        "ram-model": {k: v for k, v in ram.items() if v is not None},
    }


def discover_sensors(settings: Settings, host: Host, given: Sequence[Sensor]) -> Discovery:
    """The sensors given, else those discovery finds (a fixed CPU power forces models)."""
    if given:
        return Discovery(sensors=list(given))
    forced = {}
    if settings.cpu_power_w is not None:
        forced = {Component.CPU: "cpu-tdp", Component.RAM: "ram-model"}
    return discover(host, names=settings.sensors, options=sensor_options(settings), forced=forced)


def settings_record(settings: Settings, discovery: Discovery, price: Pricing) -> dict[str, Any]:
    """The run's settings as stored at start: pricing, sensors and probes."""
    sensors = {s.name: s.assumptions() for s in discovery.sensors}
    probes = [
        {"sensor": p.sensor, "available": p.available, "reason": p.reason, "hint": p.hint}
        for p in discovery.probes
    ]
    market = {
        key: value
        for key, value in (
            ("contractual_g_per_kwh", settings.contractual_intensity_g_per_kwh),
            ("cfe_ratio", settings.cfe_ratio),
        )
        if value is not None
    }
    return {
        **pricing_settings(price.intensity, price.pue, price.embodied, price.notes),
        "market": market or None,
        "interval_s": settings.interval_s,
        "location": settings.region or settings.country,
        "sensors": sensors,
        "probes": probes,
    }


def open_run_store(settings: Settings) -> tuple[Store | None, str | None]:
    """The store of the settings, or a fallback, or none; and a note if not the first.

    Raises:
        StoreError: A PostgreSQL store cannot be opened and `store_fallback` is
            `error`: a central store was asked for, so the run must not start.
    """
    target = settings.store or default_store_target(os.environ)
    local = local_store_path(os.environ) if settings.store_fallback == "local" else None
    try:
        store, message = open_store(
            target, fallback_dir=default_fallback_dir(os.environ), local_fallback=local
        )
    except StoreError as exc:
        if is_database_url(target):
            raise
        log.warning("carbonlens: run not stored: %s", exc)
        return None, f"run not stored: {exc}"
    if message:
        log.warning("carbonlens: %s", message)
    return store, message


def sampling_interval(settings: Settings, sensors: Sequence[Sensor]) -> tuple[float, str | None]:
    """The requested interval (s), shortened when a counter would wrap twice in it."""
    limits = [getattr(sensor, "max_poll_interval_s", math.inf) for sensor in sensors]
    interval_s = min([settings.interval_s, *limits])
    if interval_s < settings.interval_s:
        return interval_s, (
            f"sampling every {interval_s:.1f} s, not {settings.interval_s:g} s: "
            "an energy counter could wrap more than once in the longer interval"
        )
    return interval_s, None


def budget_monitor(
    settings: Settings, price: Pricing, store: Store | None, run_id: str, now: datetime
) -> tuple[BudgetMonitor | None, str | None]:
    """The monitor of the run's budgets (its own, and its project's from `store`),
    priced like the report, or None when there is no budget; and a note if the
    project's budgets could not be read."""
    note = None
    try:
        project_budgets = bool(store is not None and store.budgets(settings.project))
    except StoreError as exc:
        project_budgets = False
        note = f"project budget not checked: {exc}"
        log.warning("carbonlens: %s", note)
    if not project_budgets and settings.budget_kgco2e is None and settings.budget_kwh is None:
        return None, note
    from carbonlens.tracking.budget_limits import project_limits, run_limits

    limits = run_limits(settings)
    if store is not None and project_budgets:
        try:
            limits += project_limits(store, settings.project, now, exclude_run_id=run_id)
        except StoreError as exc:
            note = f"project budget not checked: {exc}"
            log.warning("carbonlens: %s", note)
    return new_monitor(settings, price, limits), note


def new_monitor(settings: Settings, price: Pricing, limits: Sequence[Limit]) -> BudgetMonitor:
    """A monitor of `limits` (none: prediction only), priced like the report."""
    from carbonlens.tracking.budget import BudgetMonitor  # lazy: most runs have no budget

    return BudgetMonitor(
        limits,
        action=settings.budget_action,
        warn_ratio=settings.budget_warn_ratio,
        pue_ratio=price.pue.pue_ratio,
        intensity_g_per_kwh=price.intensity.intensity_g_per_kwh,
        embodied_g_per_s=sum(amortised_g(share, 1.0) for share in price.embodied),
        warmup_ratio=settings.prediction_warmup_ratio,
    )


def final_settings(
    started: Mapping[str, Any],
    added: Mapping[str, Any],
    monitor: BudgetMonitor | None,
    sampler: Sampler,
    notes: Sequence[str],
) -> dict[str, Any]:
    """The run's settings at `stop()`: those stored at start, then `added` (live
    intensity series, annotations, metrics), the budget record, the quality flags,
    and every note: the start's, `notes`, the monitor's, and one per sensor whose
    reads failed."""
    settings = {**started, **added}
    if monitor is not None:
        settings |= monitor.record()
    settings["quality_flags"] = quality_settings(sampler.quality_flags)
    settings["notes"] = [
        *settings["notes"],
        *notes,
        *([] if monitor is None else monitor.notes),
        *(f"{name}: {n} failed read(s), left as gaps" for name, n in sampler.read_errors.items()),
    ]
    return settings
