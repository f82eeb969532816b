"""The exception tree of carbonlens.

::

    CarbonLensError
    ├── ConfigError                 bad file, environment variable or argument
    ├── SensorError
    │   ├── SensorUnavailable       a back-end cannot be used here (reason, hint)
    │   │   └── SensorPermissionError   ... because a file or device is not readable
    │   └── SensorReadError         a read failed while sampling
    ├── LocationError               unknown country, zone or cloud region (suggestions)
    ├── IntensityUnavailable        a live provider gave no usable answer (source, zone,
    │   │                           reason; defined in carbonlens.intensity.base)
    │   └── IntensityAuthError      ... because its key is missing or refused (variable)
    ├── EstimateError
    │   └── UnknownHardware         a device name that matches nothing (candidates)
    └── StoreError                  the run store cannot be opened or written
        └── UnpricedRun             a stored run whose settings cannot be priced

Every class carries structured attributes besides its message, so callers can act
on them without parsing text.
"""

from __future__ import annotations

from collections.abc import Sequence


class CarbonLensError(Exception):
    """Base class of every error raised by carbonlens."""


class ConfigError(CarbonLensError):
    """A setting has a bad value; the message names the setting and what is allowed."""

    def __init__(self, message: str, *, setting: str = "", source: str = "") -> None:
        super().__init__(message)
        self.setting = setting
        self.source = source


class SensorError(CarbonLensError):
    """Base class of sensor errors."""


class SensorUnavailable(SensorError):
    """A sensor back-end cannot be used on this machine."""

    def __init__(self, sensor: str, reason: str, hint: str = "") -> None:
        super().__init__(f"{sensor}: {reason}" + (f" ({hint})" if hint else ""))
        self.sensor = sensor
        self.reason = reason
        self.hint = hint


class SensorPermissionError(SensorUnavailable):
    """A sensor's file or device exists but this user may not read it."""

    def __init__(self, sensor: str, path: str, hint: str = "") -> None:
        super().__init__(sensor, f"permission denied: {path}", hint)
        self.path = path


class SensorReadError(SensorError):
    """Reading a sensor failed during sampling (becomes a gap, never reaches user code)."""

    def __init__(
        self, sensor: str, device: str, detail: str, vendor_code: int | None = None
    ) -> None:
        super().__init__(f"{sensor}/{device}: {detail}")
        self.sensor = sensor
        self.device = device
        self.detail = detail
        self.vendor_code = vendor_code


class LocationError(CarbonLensError):
    """A location (country, zone, cloud region) is not in the bundled tables."""

    def __init__(self, location: str, suggestions: Sequence[str] = (), origin: str = "") -> None:
        """`origin`: where the location was set ("environment variable
        CARBONLENS_COUNTRY", a config file), put before the message."""
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            (f"{origin}: " if origin else "") + f"unknown location {location!r}{hint} "
            "(use an ISO country code such as 'FR', a zone such as 'US-CAL-CISO', "
            "or a cloud region such as 'aws:us-east-1'; docs/data.md lists the tables)"
        )
        self.location = location
        self.suggestions = tuple(suggestions)
        self.origin = origin


class EstimateError(CarbonLensError):
    """An estimate cannot be made from the given inputs."""


class UnknownHardware(EstimateError):
    """A hardware name matches no row of the bundled tables."""

    def __init__(self, model: str, candidates: Sequence[str] = ()) -> None:
        hint = f"; close matches: {', '.join(candidates)}" if candidates else ""
        super().__init__(f"unknown hardware {model!r}{hint}")
        self.model = model
        self.candidates = tuple(candidates)


class StoreError(CarbonLensError):
    """The run store cannot be opened, read or written."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class UnpricedRun(StoreError, ValueError):
    """A stored run whose settings cannot be priced: written by another tool, or damaged.

    Also a ValueError, as the settings are bad values.
    """

    def __init__(self, run_id: str, detail: str) -> None:
        super().__init__(
            f"run {run_id} cannot be priced: its stored settings are not carbonlens's "
            f"({detail}); it was written by another tool or is damaged"
        )
        self.run_id = run_id
        self.detail = detail


for _cls in (
    CarbonLensError,
    ConfigError,
    SensorError,
    SensorUnavailable,
    SensorPermissionError,
    SensorReadError,
    LocationError,
    EstimateError,
    UnknownHardware,
    StoreError,
    UnpricedRun,
):
    _cls.__module__ = "carbonlens"
