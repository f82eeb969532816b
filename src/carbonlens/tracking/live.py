"""The intensity series of a run's own hours, from a live provider, at the end of a run.

The provider is asked through a `FallbackChain`, so a failure (no key, network,
bad answer) leaves the run priced at the bundled annual average, with the reason
in its notes. Keys come from the environment and never reach the run's record.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from typing import Any

from carbonlens._frozen import frozen
from carbonlens.accounting import series_settings
from carbonlens.intensity._http import HttpOptions
from carbonlens.intensity.base import IntensityUnavailable
from carbonlens.intensity.table import LocationKind, ResolvedLocation, watttime_region


@frozen
class LiveSeries:
    """What the provider gave for a run: settings to store and notes to show."""

    settings: Mapping[str, Any] | None
    notes: tuple[str, ...] = field(default_factory=tuple)


def provider_location(provider: str, location: ResolvedLocation) -> str:
    """How `provider` names the run's location.

    Raises:
        IntensityUnavailable: the provider has no data for this kind of location.
    """
    if provider == "electricitymaps":
        return location.code if location.kind != LocationKind.CLOUD_REGION else location.zone
    if provider == "watttime":
        region = watttime_region(location)
        if region is None:
            raise IntensityUnavailable(
                provider, location.code, "WattTime regions are mapped for cloud regions only"
            )
        return region
    if provider == "uk-grid":
        if location.country_iso3 != "GBR" and location.code != "GB":
            raise IntensityUnavailable(provider, location.code, "the UK API covers Great Britain")
        return "GB"
    return location.code.partition(":")[2] or location.code  # Carbon Aware SDK: region name


STOP_DEADLINE_S = 10.0
"""Longest a run's end waits for the provider, retries included, in seconds."""


def check_provider(provider: str, env: Mapping[str, str] | None = None) -> None:
    """Fail now, not at the end of the run, when the provider's key is missing.

    Raises:
        IntensityAuthError: the message names the environment variable to set.
    """
    from carbonlens.intensity.providers import provider_from_env

    provider_from_env(provider, os.environ if env is None else env).close()


def fetch_series(
    provider: str,
    location: ResolvedLocation | None,
    started_at: datetime,
    ended_at: datetime,
    env: Mapping[str, str] | None = None,
    http: HttpOptions | None = None,
) -> LiveSeries:
    """Ask `provider` for the intensity of [started_at, ended_at] at `location`.

    `http` defaults to the standard timeouts and disk cache with a deadline of
    `STOP_DEADLINE_S`. That deadline also bounds the whole fetch, however many
    requests it takes (a long run's history comes in chunks): past it, the run is
    priced at the annual average and the fetch is left to finish on its own thread.
    """
    from carbonlens.intensity.cache import DiskCache, default_cache_dir
    from carbonlens.intensity.chain import FallbackChain
    from carbonlens.intensity.providers import provider_from_env

    environ = os.environ if env is None else env
    if http is None:
        http = HttpOptions(deadline_s=STOP_DEADLINE_S, cache=DiskCache(default_cache_dir(environ)))
    if location is None:
        return LiveSeries(None, (f"{provider}: no location set, so no live series was asked",))
    try:
        where = provider_location(provider, location)
        source = provider_from_env(provider, environ, http=http)
    except IntensityUnavailable as exc:
        return LiveSeries(None, (f"{provider}: {exc.reason}; annual average used",))
    chain = FallbackChain([source], fallback=None)
    answer: list[LiveSeries] = []

    def fetch() -> None:
        try:
            resolved = chain.history(where, started_at, ended_at)
        except IntensityUnavailable as exc:
            answer.append(LiveSeries(None, (f"{provider}: {exc}; annual average used",)))
            return
        except Exception as exc:  # noqa: BLE001 - the run's end must not fail on a provider
            failure = f"{provider}: failed ({type(exc).__name__}: {exc}); annual average used"
            answer.append(LiveSeries(None, (failure,)))
            return
        finally:
            chain.close()
        notes = [f"{record.source}: {record.reason}" for record in resolved.fallbacks]
        notes += list(resolved.notes)
        answer.append(LiveSeries(series_settings(resolved.value), tuple(notes)))

    worker = threading.Thread(target=fetch, name="carbonlens-live-series", daemon=True)
    worker.start()
    worker.join(http.deadline_s)
    if not answer:
        reason = f"no answer within {http.deadline_s:g} s; annual average used"
        return LiveSeries(None, (f"{provider}: {reason}",))
    return answer[0]
