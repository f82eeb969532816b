"""Energy from power readings and counters: pure functions."""

from __future__ import annotations


def trapezoid_j(power0_w: float, power1_w: float, duration_s: float) -> float:
    """Energy between two power readings `duration_s` apart (trapezoid rule)."""
    return (power0_w + power1_w) / 2.0 * duration_s


def counter_interval_j(previous_j: float, current_j: float) -> float | None:
    """Energy between two cumulative readings, or None if the counter went backwards.

    Sensors already handle hardware wrap-around; a decrease here means a reset or
    garbage, which becomes a gap rather than negative energy.
    """
    delta_j = current_j - previous_j
    return delta_j if delta_j >= 0 else None
