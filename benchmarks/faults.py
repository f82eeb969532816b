"""What a SIGKILL at a random point costs a tracked run: samples lost, seconds lost.

    python benchmarks/faults.py [--kills 50] [--mode both] [--interval-s 0.05]
                                [--parallel 6] [--seed 1] [--keep DIR] [--json]

Each kill starts a victim in its own directory (own store, own fallback directory):

* `tracker`: a Python process hosting `carbonlens.Tracker` with a fake 10 W sensor;
* `cli`: `carbonlens run -- sleep 60` (the default sensors, here the CPU and RAM
  models), its `Tracker` hooked from outside before the command starts.

Either way a listener, added before the tracker starts, appends the `t_s` of
every sample to `sampled.txt` as each tick is handed to the store writer (one
line per tick, flushed), and a line `t0 <monotonic seconds of the run's start>`
once started. The victim is killed with SIGKILL a seeded random 0.1-1.6 s after
that line appears (kills run `--parallel` at a time); then its store is opened
as a reader would (which marks the run `interrupted`) and compared with
`sampled.txt`:

* samples lost: samples the victim had produced but the store lacks;
* seconds lost: `t_s` of the last sample produced minus that of the last stored
  (what was sampled but not kept);
* seconds unstored: kill time minus `t_s` of the last stored sample (adds the
  interval the kill fell in, which was never sampled).

It prints the summary: kills, runs found, runs marked interrupted, max and
median samples lost, max seconds lost and unstored; with `--json`, one JSON
document with every kill and the summary. Exit status 1 when a run is missing or not
marked interrupted. `--victim` is the internal entry point of the victims.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SIDE_FILE = "sampled.txt"
STORE_FILE = "runs.db"
DELAY_RANGE_S = (0.1, 1.6)
START_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Kill:
    """One kill and what the store kept of the victim's run."""

    mode: str
    workdir: str
    delay_s: float
    run_found: bool
    status: str | None
    produced: int
    stored: int
    samples_lost: int
    seconds_lost_s: float
    seconds_unstored_s: float | None


def read_side_file(path: Path) -> tuple[float, list[float]]:
    """The run's start (monotonic seconds) and the `t_s` of every sample produced.

    The `t0` line comes after the first tick's line if that tick was quick; a torn
    last line (the kill hit mid-write) is dropped.
    """
    text = path.read_text()
    lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
    [t0_s] = [float(line.split()[1]) for line in lines if line.startswith("t0 ")]
    ticks = [line for line in lines if not line.startswith("t0 ")]
    return t0_s, [float(value) for line in ticks for value in line.split()]


def compare(produced: Sequence[float], stored: Sequence[float]) -> tuple[int, float]:
    """Samples produced but not stored, and the seconds they span past the last stored.

    Compared as multisets of `t_s` (a tick's samples share it).
    """
    missing = Counter(produced) - Counter(stored)
    lost = sum(missing.values())
    if not lost:
        return 0, 0.0
    last_stored_s = max(stored, default=0.0)
    return lost, max(missing) - last_stored_s


def examine(mode: str, workdir: Path, delay_s: float, kill_t_s: float | None) -> Kill:
    """Read a killed victim's store and side file (see the module docstring)."""
    from carbonlens.store import SqliteStore

    _, produced = read_side_file(workdir / SIDE_FILE)
    store = SqliteStore(workdir / STORE_FILE)
    try:
        runs = store.list_runs()
        samples = store.samples(runs[0].run_id) if runs else []
    finally:
        store.close()
    stored = [sample.t_s for sample in samples]
    lost, lost_s = compare(produced, stored)
    unstored_s = None if kill_t_s is None else kill_t_s - max(stored, default=0.0)
    status = runs[0].status.value if runs else None
    return Kill(
        mode, str(workdir), delay_s, bool(runs), status, len(produced), len(stored), lost,
        lost_s, unstored_s,
    )  # fmt: skip


def kill_one(mode: str, workdir: Path, delay_s: float, interval_s: float) -> Kill:
    """Start a victim in `workdir`, SIGKILL it `delay_s` after its run started, examine."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(workdir / "state"),
        "XDG_CONFIG_HOME": str(workdir / "config"),
        "CARBONLENS_STORE": str(workdir / STORE_FILE),
    }
    command = [sys.executable, __file__, "--victim", mode, str(workdir), str(interval_s)]
    victim = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    side = workdir / SIDE_FILE
    kill_t_s = None
    try:
        deadline_s = time.monotonic() + START_TIMEOUT_S
        while not (side.exists() and "t0 " in side.read_text()):
            if time.monotonic() > deadline_s or victim.poll() is not None:
                raise RuntimeError(f"victim in {workdir} did not start")
            time.sleep(0.01)
        time.sleep(delay_s)
        victim.send_signal(signal.SIGKILL)
        kill_mono_s = time.monotonic()
        victim.wait(timeout=10)
        t0_s, _ = read_side_file(side)
        kill_t_s = kill_mono_s - t0_s
    finally:
        with contextlib.suppress(ProcessLookupError):  # the orphaned `sleep` of `carbonlens run`
            os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
    return examine(mode, workdir, delay_s, kill_t_s)


def run_kills(
    kills: int, modes: Sequence[str], root: Path, *, seed: int, parallel: int, interval_s: float
) -> list[Kill]:
    """`kills` kills, alternating `modes`, `parallel` at a time, under `root`."""
    rng = random.Random(seed)
    jobs = [
        (modes[i % len(modes)], root / f"kill-{i:03d}", rng.uniform(*DELAY_RANGE_S))
        for i in range(kills)
    ]
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = [pool.submit(kill_one, m, d, delay, interval_s) for m, d, delay in jobs]
        return [future.result() for future in futures]


def summarize(results: Sequence[Kill]) -> dict[str, Any]:
    """The figures of docs/reliability.md."""
    lost = [kill.samples_lost for kill in results]
    unstored = [kill.seconds_unstored_s for kill in results if kill.seconds_unstored_s is not None]
    return {
        "kills": len(results),
        "runs_found": sum(kill.run_found for kill in results),
        "runs_interrupted": sum(kill.status == "interrupted" for kill in results),
        "samples_lost_max": max(lost, default=0),
        "samples_lost_median": statistics.median(lost) if lost else 0,
        "seconds_lost_max_s": max((kill.seconds_lost_s for kill in results), default=0.0),
        "seconds_unstored_max_s": max(unstored, default=0.0),
    }


# --- the victims ------------------------------------------------------------------


def _start_recording(workdir: Path, tracker: Any, start: Callable[[Any], Any]) -> None:
    """Start `tracker` (with `start`) with a listener that appends each tick's `t_s` to the side
    file (added before the start, so that no tick is missed), then write `t0`."""
    side = open(workdir / SIDE_FILE, "a")  # noqa: SIM115 - open until the process dies

    def record(samples: Sequence[Any]) -> None:
        side.write(" ".join(repr(sample.t_s) for sample in samples) + "\n")
        side.flush()

    tracker.add_listener(record)
    start(tracker)
    side.write(f"t0 {time.monotonic() - tracker.elapsed_s()!r}\n")
    side.flush()


def _victim(mode: str, workdir: Path, interval_s: float) -> None:
    from carbonlens.tracking.tracker import Tracker

    if mode == "tracker":
        from carbonlens.records import Channel, Component, Method
        from carbonlens.testing import FakeSensor

        sensor = FakeSensor(Channel("fake", Component.CPU, "cpu", Method.SAMPLED), power_w=[10.0])
        tracker = Tracker(project="faults", country="FR", interval_s=interval_s, sensors=[sensor])
        _start_recording(workdir, tracker, Tracker.start)
        while True:  # the user's job, until the kill
            time.sleep(1.0)
    start = Tracker.start

    def start_and_record(self: Tracker) -> Tracker:
        _start_recording(workdir, self, start)
        return self

    Tracker.start = start_and_record  # type: ignore[method-assign]
    from carbonlens.cli import main

    main(["run", "--country", "FR", "--interval", str(interval_s), "--", "sleep", "60"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--mode", choices=["tracker", "cli", "both"], default="both")
    parser.add_argument("--interval-s", type=float, default=0.05)
    parser.add_argument("--parallel", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="Keep the victims' directories here.")
    parser.add_argument("--json", action="store_true", help="Print every kill as JSON too.")
    parser.add_argument("--victim", nargs=3, metavar=("MODE", "DIR", "INTERVAL_S"))
    args = parser.parse_args(argv)
    if args.victim:
        _victim(args.victim[0], Path(args.victim[1]), float(args.victim[2]))
        return 0
    modes = ["tracker", "cli"] if args.mode == "both" else [args.mode]
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        started_s = time.monotonic()
        options = {"seed": args.seed, "parallel": args.parallel, "interval_s": args.interval_s}
        results = run_kills(args.kills, modes, root, **options)
        figures = summarize(results) | {"wall_s": round(time.monotonic() - started_s, 1)}
    if args.json:
        print(json.dumps({"kills": [asdict(kill) for kill in results], "summary": figures}))
    else:
        for key, value in figures.items():
            print(f"{key:24} {value:.3f}" if isinstance(value, float) else f"{key:24} {value}")
    return 0 if figures["runs_found"] == figures["runs_interrupted"] == figures["kills"] else 1


if __name__ == "__main__":
    sys.exit(main())
