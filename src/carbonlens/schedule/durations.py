"""Durations and times as people type them, UTC inside and local time on display.

Durations: a number and a unit (`90m`, `1.5h`, `5400s`, `2d`, `1w`), several of
them together (`1h30m`), a bare number of seconds (`5400`), or ISO 8601
(`PT1H30M`, `P1DT12H`, `P2W`). Years and months are refused (their length
varies), and so is anything negative (`-1h`).

Times: ISO 8601 (`2023-06-01T12:00Z`, `2023-06-01 13:00+01:00`); a time without
an offset is read in the display zone (`tz`, the system zone by default);
`now`; or a duration counted from a base time (`12h` = base + 12 h).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carbonlens.errors import ConfigError

__all__ = [
    "MAX_DURATION_S",
    "format_duration",
    "format_local",
    "local_zone",
    "parse_duration",
    "parse_time",
    "parse_when",
    "zone_from_name",
]

_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_ALIASES = {
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "week": "w",
    "weeks": "w",
}
_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+)\s*")
_ISO = re.compile(
    r"P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)
_HELP = "e.g. 90m, 1.5h, 5400s, 2d, 1h30m or ISO 8601 PT1H30M"
_YEAR_S = 365 * 86400.0
MAX_DURATION_S = 100 * _YEAR_S
"""The longest duration accepted, in seconds (100 years of 365 days)."""


def parse_duration(text: str, *, allow_zero: bool = False, name: str = "duration") -> float:
    """Seconds in a duration written by a person.

    Args:
        text: `90m`, `1.5h`, `5400s`, `2d`, `1h30m`, `5400`, `PT1H30M`, `P1DT2H`...
        allow_zero: accept a zero duration (e.g. a resume cost of `0s`).
        name: what the value is, for error messages (`--duration`).

    Returns:
        The duration in seconds (float, > 0 unless `allow_zero`).

    Raises:
        ConfigError: not a duration, negative, zero when not allowed, longer
            than `MAX_DURATION_S`, or in years/months.
    """
    seconds = _seconds(text, name)
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(f"{name} must be longer than zero, got {text!r}", setting=name)
    if not seconds <= MAX_DURATION_S:  # also refuses inf (e.g. 400 digits) and NaN
        raise ConfigError(
            f"{name}: {text!r} is longer than {MAX_DURATION_S / _YEAR_S:g} years ({_HELP})",
            setting=name,
        )
    return seconds


def _seconds(text: str, name: str) -> float:
    """Seconds in `text` read as a duration, unchecked (may be 0 or inf)."""
    raw = text.strip()
    lowered = raw.lower()
    if lowered.startswith(("-", "+-")):
        raise ConfigError(f"{name} must not be negative, got {text!r}", setting=name)
    if lowered.startswith("p"):
        return _iso_duration(raw.upper(), name)
    if re.fullmatch(r"\d+(?:\.\d*)?", lowered):
        return float(lowered)
    return _unit_duration(lowered, text, name)


def _unit_duration(lowered: str, text: str, name: str) -> float:
    """Seconds in `1h30m`-style text (already lower case)."""
    total, pos = 0.0, 0
    for match in _PART.finditer(lowered):
        if match.start() != pos:
            break
        unit = _ALIASES.get(match.group(2), match.group(2))
        if unit not in _UNIT_S:
            raise ConfigError(f"{name}: unknown unit in {text!r} ({_HELP})", setting=name)
        total += float(match.group(1)) * _UNIT_S[unit]
        pos = match.end()
    if pos != len(lowered) or not lowered:
        raise ConfigError(f"{name}: {text!r} is not a duration ({_HELP})", setting=name)
    return total


def _iso_duration(upper: str, name: str) -> float:
    """Seconds in an ISO 8601 duration; years and months are refused."""
    date_part = upper[1:].split("T", 1)[0]
    if "Y" in date_part or "M" in date_part:
        raise ConfigError(
            f"{name}: {upper!r} uses years or months, whose length varies; use days or weeks",
            setting=name,
        )
    match = _ISO.fullmatch(upper)
    if match is None or upper in ("P", "PT") or upper.endswith("T"):
        raise ConfigError(f"{name}: {upper!r} is not an ISO 8601 duration", setting=name)
    parts = {unit: float(value) for unit, value in match.groupdict().items() if value}
    return sum(value * _UNIT_S[unit] for unit, value in parts.items())


def zone_from_name(name: str | None) -> tzinfo:
    """The time zone called `name` (IANA, e.g. "Europe/London", or "UTC"); None: the system's.

    Raises:
        ConfigError: unknown zone name.
    """
    if name is None:
        return local_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/London)", setting="tz"
        ) from None


def local_zone() -> tzinfo:
    """The system's local time zone (UTC when it cannot be told)."""
    return datetime.now().astimezone().tzinfo or UTC


def parse_time(text: str, *, tz: tzinfo | None = None, now: datetime | None = None) -> datetime:
    """A moment in UTC from ISO 8601 text or `now`.

    Args:
        text: `2023-06-01T12:00Z`, `2023-06-01T13:00+01:00`, `2023-06-01 12:00` (read
            in `tz`), `2023-06-01` (midnight in `tz`) or `now`.
        tz: the zone of times written without an offset (default: the system zone).
        now: the current time, for `now` (default: the system clock).

    Raises:
        ConfigError: not a time.
    """
    raw = text.strip()
    if raw.lower() == "now":
        return (now or datetime.now(UTC)).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise ConfigError(
            f"{text!r} is neither a time (ISO 8601, e.g. 2023-06-01T12:00Z) nor a duration "
            f"({_HELP})",
            setting="time",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz or local_zone())
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ConfigError(f"{text!r} is out of range once in UTC", setting="time") from None


def parse_when(
    text: str, *, base: datetime, tz: tzinfo | None = None, name: str = "time"
) -> datetime:
    """A moment in UTC: a duration counted from `base`, or a time (see `parse_time`).

    Args:
        text: `24h`, `PT12H`, `now` or an ISO 8601 time.
        base: what a duration is counted from (now, or the earliest start).
        tz: the zone of times written without an offset.
        name: the option, for error messages.

    Raises:
        ConfigError: neither a duration nor a time, a negative duration, or a
            moment after year 9999.
    """
    if text.strip().startswith("-"):
        raise ConfigError(f"{name} must not be negative, got {text!r}", setting=name)
    try:
        _seconds(text, name)
    except ConfigError:
        return parse_time(text, tz=tz, now=base)
    seconds = parse_duration(text, allow_zero=True, name=name)  # a duration: check its range
    try:
        return base + timedelta(seconds=seconds)
    except OverflowError:
        raise ConfigError(
            f"{name}: {text!r} from {base} is after year 9999", setting=name
        ) from None


def format_local(moment: datetime, tz: tzinfo | None = None, *, utc_too: bool = True) -> str:
    """`moment` in local time with its zone, and the UTC time beside it.

    Example: "2023-06-01 13:00 BST (12:00 UTC)"; "2023-06-01 12:00 UTC" when the
    zone is UTC.
    """
    local = moment.astimezone(tz or local_zone())
    text = f"{local:%Y-%m-%d %H:%M} {local.tzname() or local.strftime('%z')}"
    if utc_too and local.utcoffset() != timedelta(0):
        text += f" ({moment.astimezone(UTC):%H:%M} UTC)"
    return text


def format_duration(seconds: float) -> str:
    """A short duration for people: "6 h", "1 h 30 min", "45 min", "2 d 3 h", "20 s"."""
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{value} {unit}"
        for value, unit in ((days, "d"), (hours, "h"), (minutes, "min"), (secs, "s"))
        if value
    ]
    return " ".join(parts) or "0 s"
