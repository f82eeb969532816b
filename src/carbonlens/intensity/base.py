"""The contract of a grid-intensity source, and the errors sources raise.

Every live provider (Electricity Maps, WattTime, UK NESO, Carbon Aware SDK)
implements `IntensitySource`; `FallbackChain` tries sources in order and falls
back to the bundled annual average. Intensities are always gCO2e/kWh and
datetimes timezone-aware UTC.

::

    CarbonLensError
    └── IntensityUnavailable       a source cannot give a value (source, zone, reason)
        └── IntensityAuthError     ... because a key is missing, refused or expired
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from carbonlens.errors import CarbonLensError
from carbonlens.records import IntensitySeries, IntensityValue

__all__ = ["IntensityAuthError", "IntensitySource", "IntensityUnavailable"]


class IntensityUnavailable(CarbonLensError):
    """A source cannot give an intensity for a location right now.

    The message never contains an API key or token: HTTP errors are redacted
    before they are raised.

    Attributes:
        source: the source's name ("electricitymaps", "watttime", ...).
        zone: the location as the caller gave it ("" when not location-specific).
        reason: why, in words ("HTTP 500 after 4 attempts", "empty series").
    """

    def __init__(self, source: str, zone: str, reason: str) -> None:
        """Build the error; the message is ``"<source> (<zone>): <reason>"``."""
        where = f" ({zone})" if zone else ""
        super().__init__(f"{source}{where}: {reason}")
        self.source = source
        self.zone = zone
        self.reason = reason


class IntensityAuthError(IntensityUnavailable):
    """A source's credentials are missing, refused or expired.

    Attributes:
        variable: the environment variable(s) to set, when the key is missing or
            refused (e.g. "CARBONLENS_ELECTRICITYMAPS_TOKEN"); never its value.
    """

    def __init__(self, source: str, zone: str, reason: str, *, variable: str = "") -> None:
        """Build the error; `variable` is appended to the message as a hint."""
        hint = f" (set {variable})" if variable and variable not in reason else ""
        super().__init__(source, zone, reason + hint)
        self.variable = variable


for _cls in (IntensityUnavailable, IntensityAuthError):
    _cls.__module__ = "carbonlens"


@runtime_checkable
class IntensitySource(Protocol):
    """A provider of grid carbon intensity (gCO2e/kWh) for a location.

    `location` is written the way the provider names places (a zone key "DE",
    a WattTime region "CAISO_NORTH", "lat,lon", a UK region "regionid:3"...);
    each implementation documents what it accepts.
    """

    @property
    def name(self) -> str:
        """Short registry name of the source ("electricitymaps")."""
        ...

    def latest(self, location: str) -> IntensityValue:
        """The most recent intensity of `location`.

        Raises:
            IntensityUnavailable: the provider failed or has no value.
        """
        ...

    def history(self, location: str, start: datetime, end: datetime) -> IntensitySeries:
        """Observed intensity from `start` to `end` (UTC); empty when there is no data.

        Raises:
            IntensityUnavailable: the provider failed.
        """
        ...

    def forecast(self, location: str, hours: float) -> IntensitySeries:
        """Predicted intensity from now for `hours` hours (may be shorter than asked).

        Raises:
            IntensityUnavailable: the provider failed or offers no forecast.
        """
        ...

    def close(self) -> None:
        """Release the HTTP connections the source opened."""
        ...
