"""Settings and where they come from: the only module that reads environment and files.

Precedence, lowest first: defaults < user config (`~/.config/carbonlens/config.toml`)
< project config (`./carbonlens.toml`, or `[tool.carbonlens]` in `./pyproject.toml`)
< environment (`CARBONLENS_<NAME>`) < keyword arguments and CLI flags.
`config_table.SETTINGS_TABLE` documents every setting; `docs/configuration.md` renders it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from carbonlens._frozen import frozen
from carbonlens.errors import ConfigError

ENV_PREFIX = "CARBONLENS_"

_log = logging.getLogger(__name__)


@frozen
class Settings:
    """Every setting of a tracked run. Build it with `load_settings()`."""

    project: str = "default"
    interval_s: float = 1.0
    sensor_timeout_s: float = 2.0
    country: str | None = None
    region: str | None = None
    pue: float | None = None
    store: str | None = None
    store_fallback: str = "error"
    sensors: tuple[str, ...] | None = None
    cpu_tdp_w: float | None = None
    cpu_power_w: float | None = None
    ram_w_per_gb: float | None = None
    embodied: bool = True
    lifetime_years: float | None = None
    gpu_embodied_kgco2e: float | None = None
    host_embodied_kgco2e: float | None = None
    host_share_ratio: float | None = None
    intensity_provider: str | None = None
    contractual_intensity_g_per_kwh: float | None = None
    cfe_ratio: float | None = None
    log_level: str = "WARNING"
    budget_kgco2e: float | None = None
    budget_kwh: float | None = None
    budget_action: str = "warn"
    budget_warn_ratio: float = 0.8
    budget_grace_s: float = 10.0
    prediction_warmup_ratio: float = 0.1


def _number(name: str, value: object) -> float:
    if isinstance(value, bool):  # float(True) is 1.0: `pue = true` is a mistake, not a number
        raise ConfigError(f"setting {name!r} must be a number, got {value!r}", setting=name)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # OverflowError: a 400-digit integer
        raise ConfigError(
            f"setting {name!r} must be a number, got {value!r}", setting=name
        ) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"setting {name!r} must be a finite number, got {value!r}", setting=name)
    return number


def _positive_float(name: str, value: object) -> float:
    number = _number(name, value)
    if number <= 0:
        raise ConfigError(
            f"setting {name!r} must be a positive finite number, got {value!r}", setting=name
        )
    return number


def _non_negative_float(name: str, value: object) -> float:
    number = _number(name, value)
    if number < 0:
        raise ConfigError(f"setting {name!r} must be >= 0, got {value!r}", setting=name)
    return number


def _pue(name: str, value: object) -> float:
    number = _positive_float(name, value)
    if number < 1.0:
        raise ConfigError(
            f"setting {name!r} (power usage effectiveness) must be >= 1.0, got {value!r}",
            setting=name,
        )
    return number


def _one_of(choices: tuple[str, ...], *, upper: bool = False) -> Callable[[str, object], str]:
    """A parser accepting one of `choices` (matched in their case, spaces stripped)."""

    def parse(name: str, value: object) -> str:
        text = str(value).strip()
        text = text.upper() if upper else text.lower()
        if text not in choices:
            raise ConfigError(
                f"setting {name!r} must be one of {', '.join(choices)}, got {value!r}",
                setting=name,
            )
        return text

    return parse


PROVIDERS = ("carbon-aware-sdk", "electricitymaps", "uk-grid", "watttime")
"""Live intensity providers that `intensity_provider` may name."""


def _share(name: str, value: object) -> float:
    number = _number(name, value)
    if not 0.0 <= number <= 1.0:
        raise ConfigError(
            f"setting {name!r} must be a share between 0 and 1, got {value!r}", setting=name
        )
    return number


def _ratio(name: str, value: object) -> float:
    number = _positive_float(name, value)
    if number > 1.0:
        raise ConfigError(
            f"setting {name!r} must be a share between 0 (excluded) and 1, got {value!r}",
            setting=name,
        )
    return number


def _text(name: str, value: object) -> str:
    text = str(value).strip()
    if not text:
        raise ConfigError(f"setting {name!r} must not be empty", setting=name)
    return text


def _names(name: str, value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ConfigError(
            f"setting {name!r} must be a list of names or a comma-separated string",
            setting=name,
        )
    names = tuple(str(i).strip() for i in items if str(i).strip())
    if not names:  # an empty list would open no sensor and report 0 Wh
        raise ConfigError(
            f"setting {name!r} must name at least one back-end (leave it unset to discover them)",
            setting=name,
        )
    return names


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ConfigError(
        f"setting {name!r} must be one of true/false/1/0/yes/no/on/off, got {value!r}", setting=name
    )


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


STORE_FALLBACKS = ("error", "local")
"""What a run does when its PostgreSQL store cannot be reached (docs/tracking.md)."""

BUDGET_ACTIONS = ("warn", "raise", "terminate")
"""What a run does when it reaches its budget (docs/evaluate.md#budgets)."""


def _open_ratio(name: str, value: object) -> float:
    number = _number(name, value)
    if not 0.0 < number < 1.0:
        raise ConfigError(
            f"setting {name!r} must be between 0 and 1 (both excluded), got {value!r}",
            setting=name,
        )
    return number


def _warmup_ratio(name: str, value: object) -> float:
    number = _number(name, value)
    if not 0.0 <= number < 1.0:
        raise ConfigError(f"setting {name!r} must be >= 0 and < 1, got {value!r}", setting=name)
    return number


_PARSERS: Mapping[str, Callable[[str, object], Any]] = {
    "project": _text,
    "interval_s": _positive_float,
    "sensor_timeout_s": _positive_float,
    "country": _text,
    "region": _text,
    "pue": _pue,
    "store": _text,
    "store_fallback": _one_of(STORE_FALLBACKS),
    "sensors": _names,
    "cpu_tdp_w": _positive_float,
    "cpu_power_w": _positive_float,
    "ram_w_per_gb": _positive_float,
    "embodied": _bool,
    "lifetime_years": _positive_float,
    "gpu_embodied_kgco2e": _non_negative_float,
    "host_embodied_kgco2e": _non_negative_float,
    "host_share_ratio": _ratio,
    "intensity_provider": _one_of(PROVIDERS),
    "contractual_intensity_g_per_kwh": _non_negative_float,
    "cfe_ratio": _share,
    "log_level": _one_of(_LEVELS, upper=True),
    "budget_kgco2e": _positive_float,
    "budget_kwh": _positive_float,
    "budget_action": _one_of(BUDGET_ACTIONS),
    "budget_warn_ratio": _open_ratio,
    "budget_grace_s": _non_negative_float,
    "prediction_warmup_ratio": _warmup_ratio,
}


def _close_setting(name: str) -> str | None:
    """The setting spelled closest to `name` ("interval_s" for "intervall_s"), if any."""
    import difflib  # lazy: only a name that is not a setting gets here

    close = difflib.get_close_matches(name, _PARSERS, n=1)
    return close[0] if close else None


def _apply(base: Settings, values: Mapping[str, object], source: str) -> Settings:
    changes: dict[str, Any] = {}
    for key, raw in values.items():
        name = key.replace("-", "_").lower()
        if name not in _PARSERS:
            close = _close_setting(name)
            hint = f" (did you mean {close!r}?)" if close else ""
            if name == "tool":  # `[tool.carbonlens]` outside pyproject.toml
                hint = (
                    " (this file holds the settings at its top level, without a table; "
                    "[tool.carbonlens] is for pyproject.toml)"
                )
            known = ", ".join(sorted(_PARSERS))
            raise ConfigError(
                f"{source}: unknown setting {key!r}{hint}; known settings: {known}",
                setting=key,
                source=source,
            )
        try:
            changes[name] = _PARSERS[name](name, raw)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}", setting=name, source=source) from None
    return dataclasses.replace(base, **changes)


def _read_toml(path: Path) -> dict[str, Any]:
    """The settings table of a config file: the whole file, or ``[tool.carbonlens]``."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}", source=str(path)) from None
    pyproject = path.name == "pyproject.toml"
    if pyproject and b"carbonlens" not in raw:
        return {}  # the project's file has no carbonlens table: not ours to parse
    import tomllib  # lazy: most runs have no config file

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}", source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}): save it as UTF-8 TOML",
            source=str(path),
        ) from None
    if not pyproject:
        return data
    tool = data.get("tool", {})
    table = tool.get("carbonlens", {}) if isinstance(tool, dict) else tool
    if not isinstance(table, dict):  # `[tool]` then `carbonlens = 1`
        raise ConfigError(
            f"{path}: tool.carbonlens must be a table ([tool.carbonlens]), got {table!r}",
            source=str(path),
        )
    return table


def default_config_paths(env: Mapping[str, str], cwd: Path) -> list[Path]:
    """Config files in precedence order (lowest first) that exist."""
    config_home = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    candidates = [config_home / "carbonlens" / "config.toml"]
    project_file = cwd / "carbonlens.toml"
    candidates.append(project_file if project_file.exists() else cwd / "pyproject.toml")
    return [p for p in candidates if p.is_file()]


def setting_origin(
    name: str, *, env: Mapping[str, str] | None = None, paths: Sequence[Path] | None = None
) -> str:
    """Where setting `name` gets its value, below explicit arguments, for messages
    about a value checked after loading: "environment variable CARBONLENS_NAME",
    else "FILE: setting 'name'" for the last config file that sets it (`paths` as
    in `load_settings`); "" when neither does (a default, or the caller's
    `Settings`)."""
    environ = os.environ if env is None else env
    variable = ENV_PREFIX + name.upper()
    if environ.get(variable, "").strip():
        return f"environment variable {variable}"
    for path in reversed(default_config_paths(environ, Path.cwd()) if paths is None else paths):
        with contextlib.suppress(ConfigError):
            if name in {key.replace("-", "_").lower() for key in _read_toml(path)}:
                return f"{path}: setting {name!r}"
    return ""


def load_settings(
    *,
    env: Mapping[str, str] | None = None,
    paths: Sequence[Path] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Build settings from files, environment and explicit overrides.

    Args:
        env: environment to read `CARBONLENS_*` from (default `os.environ`).
        paths: config files, lowest precedence first (default: user config, then
            `./carbonlens.toml` or `[tool.carbonlens]` in `./pyproject.toml`).
        overrides: explicit values (keyword arguments, CLI flags); None values are ignored.

    Raises:
        ConfigError: naming the file or variable, the setting and what is allowed.
    """
    environ = os.environ if env is None else env
    settings = Settings()
    for path in default_config_paths(environ, Path.cwd()) if paths is None else paths:
        settings = _apply(settings, _read_toml(path), str(path))
    settings = _apply(settings, _from_env(environ), "environment (CARBONLENS_*)")
    return with_overrides(settings, overrides or {})


def _from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings among `CARBONLENS_*` variables; an empty one counts as unset.

    Other `CARBONLENS_*` variables (provider keys and URLs) are not settings; one
    spelled like a setting (`CARBONLENS_INTERVALL_S`) gets a warning.
    """
    values: dict[str, str] = {}
    for key, value in environ.items():
        name = key[len(ENV_PREFIX) :].lower()
        if not key.startswith(ENV_PREFIX) or not value.strip():
            continue
        if name in _PARSERS:
            values[name] = value
        elif close := _close_setting(name):
            _log.warning(
                "%s is not a carbonlens setting and is ignored (did you mean %s%s?)",
                key,
                ENV_PREFIX,
                close.upper(),
            )
    return values


def with_overrides(settings: Settings, overrides: Mapping[str, object]) -> Settings:
    """`settings` with explicit values applied and validated; None values are ignored."""
    explicit = {k: v for k, v in overrides.items() if v is not None}
    return _apply(settings, explicit, "argument")
