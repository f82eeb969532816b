"""What every integration needs: importing its framework, subclassing its base class.

A callback must subclass its framework's `Callback` class, yet carbonlens may not
import the framework before the callback is used. `framework_class` builds, on
first use, a subclass of both the carbonlens class and the framework's base, so
`isinstance(callback, lightning.pytorch.Callback)` holds and nothing is imported
at `import carbonlens.integrations.lightning`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from types import ModuleType
from typing import Any, TypeVar

from carbonlens.errors import ConfigError

T = TypeVar("T")

_VERSION = re.compile(r"(\d+)(?:\.(\d+))?")


def _version_tuple(text: str) -> tuple[int, int]:
    match = _VERSION.match(text)
    if match is None:
        return (0, 0)
    return (int(match.group(1)), int(match.group(2) or 0))


def check_version(dist: str, version: str, supported: tuple[str, str]) -> None:
    """Refuse a framework version outside `supported` (minimum, first unsupported).

    Raises:
        ConfigError: `version` is below the minimum or at or above the limit; the
            message names the supported range and the install command.
    """
    low, high = supported
    if not _version_tuple(low) <= _version_tuple(version) < _version_tuple(high):
        raise ConfigError(
            f"carbonlens supports {dist} >={low},<{high}; {version} is installed "
            f"(pip install '{dist}>={low},<{high}')",
            setting="integration",
            source=dist,
        )


def import_framework(module: str, dist: str, supported: tuple[str, str]) -> ModuleType:
    """Import `module` of distribution `dist`, checking its version is supported.

    Args:
        module: The module to import, e.g. `lightning.pytorch`.
        dist: The distribution that provides it, e.g. `lightning`.
        supported: Minimum version and first unsupported version, e.g. ("2.0", "3").

    Raises:
        ModuleNotFoundError: `dist` is not installed (the message says how to install it).
        ConfigError: Its version is outside `supported`.
    """
    low, high = supported
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"this carbonlens integration needs {dist}: pip install '{dist}>={low},<{high}'",
            name=exc.name,
        ) from exc
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        top = importlib.import_module(module.partition(".")[0])  # e.g. mlflow-skinny
        version = str(getattr(top, "__version__", "0"))
    check_version(dist, version, supported)
    return imported


_COMBINED: dict[tuple[type[Any], type[Any]], type[Any]] = {}
"""Combined classes already built, by (carbonlens class, framework base)."""


def framework_class(cls: type[T], base: type[Any]) -> type[T]:
    """`cls` with the framework's `base` class added (built once per pair).

    `cls`'s methods come first in the method order, so they override the base's
    hooks; `cls` itself is returned when it already derives from `base` (a copy
    of a callback, a user's subclass of the combined class).
    """
    if issubclass(cls, base):
        return cls
    combined: type[T] | None = _COMBINED.get((cls, base))
    if combined is None:
        namespace = {"__module__": cls.__module__, "__doc__": cls.__doc__}
        combined = _COMBINED[cls, base] = type(cls.__name__, (cls, base), namespace)
    return combined
