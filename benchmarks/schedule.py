"""Planner speed: a year of hourly data for 500 locations, one job of 1-72 h.

The target (issue 5) is under 1 s to plan one job over all of it: the best
location × start time for the whole year, pure Python. Grids are built before
timing (reading files is not planning); each figure is the best of `--repeats`.

    python benchmarks/schedule.py [--locations 500] [--repeats 3]

It also times one location alone, and pause-and-resume on one location over a
week and over the year, whose dynamic programme is O(slots × job slots).
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from carbonlens.schedule import Grid, Job, best_location, best_window, pause_resume

HOURS = 8760
START = datetime(2023, 1, 1, tzinfo=UTC)
END = START + timedelta(hours=HOURS)
LENGTHS_H = (1, 2, 2.5, 4, 8, 12, 24, 48, 72)


def synthetic_grid(index: int, rng: random.Random) -> Grid:
    """A year of hourly values with a daily and a seasonal swing plus noise, gCO2e/kWh."""
    base = rng.uniform(30, 700)
    daily = rng.uniform(0.05, 0.4) * base
    phase = rng.uniform(0, 24)
    values = tuple(
        max(
            1.0,
            base
            + daily * math.sin(2 * math.pi * (h + phase) / 24)
            + 0.2 * base * math.sin(2 * math.pi * h / HOURS)
            + rng.gauss(0, 0.05 * base),
        )
        for h in range(HOURS)
    )
    return Grid(f"zone-{index:03d}", START, 3600.0, values, "synthetic")


def best_of(repeats: int, call: Callable[[], object]) -> float:
    """The fastest of `repeats` runs of `call`, in seconds."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    """Print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(5)
    t = time.perf_counter()
    grids = [synthetic_grid(i, rng) for i in range(args.locations)]
    print(f"Python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    print(
        f"built {len(grids)} grids × {HOURS} hourly slots in {time.perf_counter() - t:.1f} s "
        "(not timed below)\n"
    )
    print(f"{'job':>6} {'all locations × year':>22} {'one location':>13}")
    worst = 0.0
    for hours in LENGTHS_H:
        job = Job.flat(hours * 3600)
        spatial = best_of(args.repeats, lambda j=job: best_location(grids, j, START, END))
        single = best_of(args.repeats, lambda j=job: best_window(grids[0], j, START, END))
        worst = max(worst, spatial)
        print(f"{hours:>5}h {spatial:>20.3f} s {single * 1000:>10.2f} ms")
    verdict = "meets" if worst < 1.0 else "MISSES"
    print(f"\nslowest: {worst:.3f} s for {len(grids)} locations: {verdict} the 1 s target\n")
    week = START + timedelta(days=7)
    cases = (("week", week, 8), ("week", week, 24), ("year", END, 8), ("year", END, 72))
    for label, end, hours in cases:
        job = Job.flat(hours * 3600)
        seconds = best_of(1, lambda j=job, e=end: pause_resume(grids[0], j, START, e))
        print(f"pause-and-resume, one location, a {label}, {hours} h job: {seconds:.3f} s")


if __name__ == "__main__":
    main()
