"""What this machine charges for work done right after a thread wakes.

A sampler does a little work after each sleep, so its cost is that work's cost
*after an idle period*, not back to back. On some virtual machines the two
differ by one or two orders of magnitude (caches, TLBs and host state go cold
while the thread sleeps), which sets a floor under any sampler's CPU share that
no change to its code removes. This prints, for three pieces of work, the
median thread CPU time back to back and after sleeping 0.1, 1 and 2 s:

- an empty call (what the platform charges a thread for waking, whatever it does);
- a pure-Python loop of 1,000 additions;
- one tracker tick on this machine's sensors (CPU model, RAM model, process
  attribution), what carbonlens's sampler thread does each interval;
- one append of two samples to a SQLite run store, what its writer thread does.

Last, the steal time the kernel reported over the run (``/proc/stat``, Linux):
on a host that reports none, time the hypervisor took from a running thread is
charged to that thread.

    python benchmarks/wake_cost.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

import carbonlens
from carbonlens.config import load_settings
from carbonlens.records import Sample
from carbonlens.sensors import Host
from carbonlens.store.sqlite import SqliteStore
from carbonlens.tracking.attribution import Attribution
from carbonlens.tracking.clock import SystemClock
from carbonlens.tracking.sampler import Sampler
from carbonlens.tracking.setup import discover_sensors

IDLE_S = (0.0, 0.1, 1.0, 2.0)


def loop() -> int:
    """The same small piece of pure Python each time."""
    total = 0
    for i in range(1000):
        total += i
    return total


def steal_s() -> float | None:
    """Steal time of all CPUs since boot, in seconds, where ``/proc/stat`` says."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else None


def cost_ms(work: Callable[[], object], idle_s: float, repeats: int) -> float:
    """Median thread CPU of `work`, in ms, each call after sleeping `idle_s`."""
    spent = []
    for _ in range(repeats):
        if idle_s:
            time.sleep(idle_s)
        started = time.thread_time()
        work()
        spent.append(time.thread_time() - started)
    return statistics.median(spent) * 1000


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    steal_before_s = steal_s()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "runs.db")
        with carbonlens.Tracker(project="bench", country="FR", store=path) as tracker:
            pass
        run_id = tracker.info.run_id
        store = SqliteStore(path)
        two: list[Sample] = store.samples(run_id)[:2]
        discovery = discover_sensors(load_settings(paths=()), Host(), [])
        sampler = Sampler(discovery.sensors, SystemClock(), lambda _: None, shares=Attribution())
        works: dict[str, Callable[[], object]] = {
            "empty call": lambda: None,
            "python loop (1,000 additions)": loop,
            "tracker tick (sensors + attribution)": sampler.tick,
            "SQLite append (2 samples)": lambda: store.append_samples(run_id, two),
        }
        print(f"{'thread CPU, ms (median)':40}" + "".join(f"{f'idle {s:g} s':>12}" for s in IDLE_S))
        for name, work in works.items():
            work()
            row = [cost_ms(work, idle_s, args.repeats) for idle_s in IDLE_S]
            print(f"{name:40}" + "".join(f"{ms:12.3f}" for ms in row))
        store.close()
        for sensor in discovery.sensors:
            sensor.close()
    steal_after_s = steal_s()
    if steal_before_s is not None and steal_after_s is not None:
        print(f"steal time the kernel reported meanwhile: {steal_after_s - steal_before_s:.2f} s")


if __name__ == "__main__":
    main()
