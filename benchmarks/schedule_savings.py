"""What carbon-aware scheduling would have saved, per region, on real hourly series.

For every series in the shared data directory (`<zone>_<year>_<source>.csv`, see its
README), a job of 1, 4 and 8 h is submitted every day of the file's calendar year
with 24 h to finish, and priced three ways with `carbonlens.schedule.evaluate`:
run at once, flexible start, pause-and-resume (chunks of at least one slot, no
resume cost). The series is used as a perfect forecast, so the savings are upper
bounds. Prints a Markdown table of the savings in % of the run-at-once emissions.

    python benchmarks/schedule_savings.py [--data ../shared/data/hourly]
        [--submit-at 00:00] [--every-hour]

`--every-hour` averages over the 24 submission hours instead of using one.
NESO's forecast file is skipped (it is a forecast of the same periods as the
actual one).
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

from carbonlens.schedule import evaluate, read_series_csv

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hourly"
DURATIONS_H = (1, 4, 8)
REGIONS = {
    "AU-NSW": "New South Wales",
    "AU-VIC": "Victoria (AU)",
    "BR-CS": "Brazil Central-South",
    "CA-ON": "Ontario",
    "DE": "Germany",
    "ES": "Spain",
    "FR": "France",
    "GB": "Great Britain",
    "NO-NO2": "Norway NO2",
    "PL": "Poland",
    "SE-SE3": "Sweden SE3",
    "SG": "Singapore",
    "US-CAL-CISO": "California ISO",
    "US-MIDA-PJM": "PJM",
    "US-NY-NYIS": "New York ISO",
    "US-TEX-ERCO": "ERCOT Texas",
}
BASIS = {"lwa": "lifecycle", "em": "lifecycle", "sukprasert": "lifecycle", "neso": "direct"}


def savings(path: Path, hours: float, submit_hours: list[int]) -> tuple[float, float, int]:
    """(flexible %, pause-resume %, days planned) over the file's calendar year."""
    series = read_series_csv(path)
    year = int(path.stem.split("_")[1])
    plan: dict[str, float] = {"flexible-start": 0.0, "pause-resume": 0.0}
    now, days = 0.0, 0
    for hour in submit_hours:
        result = evaluate(
            series,
            duration_s=hours * 3600,
            window_s=24 * 3600,
            submit_at_s=hour * 3600,
            start=date(year, 1, 1),
            end=date(year, 12, 31),
        )
        for strategy in result.strategies:
            plan[strategy.strategy] += strategy.plan_mean_g_per_kwh * result.days
        now += result.strategies[0].run_now_mean_g_per_kwh * result.days
        days += result.days
    flexible, paused = (100 * (1 - plan[name] / now) for name in plan)
    return flexible, paused, days // len(submit_hours)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--submit-at", default="00:00", help="UTC HH:MM (whole hours)")
    parser.add_argument("--every-hour", action="store_true")
    args = parser.parse_args()
    hours = list(range(24)) if args.every_hour else [int(args.submit_at.split(":")[0])]
    files = sorted(p for p in args.data.glob("*.csv") if not p.stem.endswith("-forecast"))
    files.sort(key=lambda p: (p.stem.split("_")[0], p.stem.split("_")[1], p.stem))
    when = "every hour, averaged" if args.every_hour else f"{args.submit_at} UTC"
    print(f"Daily job, 24 h window, submitted at {when}; saving in % of running at once")
    print("(FS: flexible start, PR: pause-and-resume, chunks ≥ 1 slot, no resume cost)\n")
    header = "| region | file | basis | days |"
    header += "".join(f" FS {h} h | PR {h} h |" for h in DURATIONS_H)
    print(header)
    print("|---|---|---|---:|" + "---:|---:|" * len(DURATIONS_H))
    started = time.perf_counter()
    for path in files:
        zone, _, source = path.stem.split("_", 2)
        cells, days = [], 0
        for h in DURATIONS_H:
            flexible, paused, days = savings(path, h, hours)
            cells += [f"{flexible:.1f}", f"{paused:.1f}"]
        print(
            f"| {REGIONS.get(zone, zone)} | `{path.name}` | {BASIS.get(source, source)} | "
            f"{days} | " + " | ".join(cells) + " |"
        )
    print(f"\n{len(files)} files in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
