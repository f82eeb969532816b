"""Build a live intensity source by name, with its keys from environment or config.

=================  ===========================================================
name               variables (keys are never logged or stored)
=================  ===========================================================
electricitymaps    CARBONLENS_ELECTRICITYMAPS_TOKEN (required),
                   CARBONLENS_ELECTRICITYMAPS_URL
watttime           CARBONLENS_WATTTIME_USERNAME, CARBONLENS_WATTTIME_PASSWORD
                   (required), CARBONLENS_WATTTIME_URL
uk-grid            CARBONLENS_UK_GRID_URL (no key)
carbon-aware-sdk   CARBONLENS_CARBON_AWARE_URL (required: the SDK is self-hosted)
=================  ===========================================================

`*_URL` variables override the provider's public base URL (a proxy, a mirror, a
local test server).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from carbonlens.errors import ConfigError
from carbonlens.intensity import electricitymaps, uk_grid, watttime
from carbonlens.intensity._http import HttpOptions
from carbonlens.intensity.base import IntensitySource
from carbonlens.intensity.cache import DiskCache, default_cache_dir
from carbonlens.intensity.carbon_aware import URL_VARIABLE, CarbonAwareSdkIntensity
from carbonlens.intensity.electricitymaps import ElectricityMapsIntensity
from carbonlens.intensity.uk_grid import UkGridIntensity
from carbonlens.intensity.watttime import WattTimeIntensity

__all__ = ["ENV_VARIABLES", "PROVIDERS", "REQUIRED_VARIABLES", "provider_from_env"]

_Builder = Callable[[Mapping[str, str], HttpOptions], IntensitySource]

ENV_VARIABLES: Mapping[str, tuple[str, ...]] = {
    "carbon-aware-sdk": (URL_VARIABLE,),
    "electricitymaps": (electricitymaps.TOKEN_VARIABLE, "CARBONLENS_ELECTRICITYMAPS_URL"),
    "uk-grid": ("CARBONLENS_UK_GRID_URL",),
    "watttime": (
        watttime.USERNAME_VARIABLE,
        watttime.PASSWORD_VARIABLE,
        "CARBONLENS_WATTTIME_URL",
    ),
}
"""The environment variables each provider reads."""

REQUIRED_VARIABLES: Mapping[str, tuple[str, ...]] = {
    "carbon-aware-sdk": (URL_VARIABLE,),
    "electricitymaps": (electricitymaps.TOKEN_VARIABLE,),
    "uk-grid": (),
    "watttime": (watttime.USERNAME_VARIABLE, watttime.PASSWORD_VARIABLE),
}
"""The variables each provider cannot work without (the others have defaults)."""

_BUILDERS: Mapping[str, _Builder] = {
    "carbon-aware-sdk": lambda env, http: CarbonAwareSdkIntensity(
        env.get(URL_VARIABLE, ""), http=http
    ),
    "electricitymaps": lambda env, http: ElectricityMapsIntensity(
        env.get(electricitymaps.TOKEN_VARIABLE, ""),
        base_url=env.get("CARBONLENS_ELECTRICITYMAPS_URL") or electricitymaps.DEFAULT_URL,
        http=http,
    ),
    "uk-grid": lambda env, http: UkGridIntensity(
        base_url=env.get("CARBONLENS_UK_GRID_URL") or uk_grid.DEFAULT_URL, http=http
    ),
    "watttime": lambda env, http: WattTimeIntensity(
        env.get(watttime.USERNAME_VARIABLE, ""),
        env.get(watttime.PASSWORD_VARIABLE, ""),
        base_url=env.get("CARBONLENS_WATTTIME_URL") or watttime.DEFAULT_URL,
        http=http,
    ),
}

PROVIDERS = tuple(sorted(_BUILDERS))
"""Names `provider_from_env` accepts."""


def provider_from_env(
    name: str, env: Mapping[str, str], *, http: HttpOptions | None = None
) -> IntensitySource:
    """The live source `name`, configured from `env`.

    Args:
        name: one of `PROVIDERS` (case-insensitive).
        env: environment variables or config values (`os.environ`, or settings
            merged by the caller).
        http: timeouts, retries, cache and test hooks (default: standard
            timeouts and a disk cache under `default_cache_dir(env)`).

    Returns:
        The source; no request is made yet.

    Raises:
        ConfigError: unknown provider name.
        IntensityAuthError: the provider's key is missing; the message names the
            variable to set (never a value).
        IntensityUnavailable: the Carbon Aware SDK URL is missing.
    """
    builder = _BUILDERS.get(name.strip().lower())
    if builder is None:
        raise ConfigError(
            f"unknown intensity provider {name!r}; choose one of {', '.join(PROVIDERS)}",
            setting="intensity_provider",
        )
    if http is None:
        http = HttpOptions(cache=DiskCache(default_cache_dir(env)))
    return builder(env, http)
