"""Wrap-around arithmetic for hardware energy counters, in integer native units.

Pure functions only: sensors keep raw counters as ``int`` in the device's own
unit (RAPL microjoules, NVML millijoules), take differences here, and convert
only the resulting delta to float joules.
"""

from __future__ import annotations


def counter_delta(now: int, last: int, max_range: int) -> int:
    """Increase of a wrapping counter between two reads, in the counter's own unit.

    The counter is taken to count up from 0 to ``max_range`` inclusive and then
    restart at 0, like an unsigned register whose largest value is ``max_range``
    (the modulus is ``max_range + 1``). If ``now >= last`` the counter did not
    wrap and the delta is ``now - last``. If ``now < last`` it wrapped once, and
    the delta is the distance to the top, plus the step back to 0, plus ``now``:
    ``(max_range - last) + 1 + now``.

    Only one wrap per interval can be detected: two reads cannot tell a counter
    that wrapped twice from one that wrapped once, so callers must read at least
    once per wrap period (see ``RaplSensor.max_poll_interval_s``). A counter that
    was reset (driver reload) looks like a wrap and is counted as one.

    Linux powercap: ``energy_uj`` runs from 0 to ``max_energy_range_uj``, both in
    microjoules. The kernel computes both from a 32-bit register scaled by the
    energy status unit (ESU, 15.3 or 61 µJ), so the true modulus is
    ``max_energy_range_uj + ESU``; ``+ 1`` undercounts by under one ESU (< 61 µJ)
    per wrap, which is far below the counter's own resolution over a wrap period
    (tens of kilojoules).

    Args:
        now: Counter value just read, in native units (e.g. µJ); 0 <= now <= max_range.
        last: Counter value at the previous read, same unit; 0 <= last <= max_range.
        max_range: Largest value the counter takes before restarting at 0, same
            unit; must be > 0.

    Returns:
        The increase since ``last``, in the same native unit, never negative.

    Raises:
        ValueError: If ``max_range`` is not positive or a value lies outside
            ``[0, max_range]`` (the counter does not behave as declared).
    """
    if max_range <= 0:
        raise ValueError(f"max_range must be > 0, got {max_range}")
    for label, value in (("now", now), ("last", last)):
        if not 0 <= value <= max_range:
            raise ValueError(f"{label}={value} outside the counter range [0, {max_range}]")
    if now >= last:
        return now - last
    return (max_range - last) + 1 + now
