"""Plan a 4-hour job on a day of real German grid data, and compare strategies.

    python examples/plan_job.py [SERIES.csv]

The default series is a week of Electricity Maps hourly data for Germany (June
2023) kept for the tests, with its attribution in tests/data/hourly/.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from carbonlens.schedule import (
    Job,
    best_window,
    pause_resume,
    read_series_csv,
    run_now,
    slurm_begin,
    to_grid,
)

DEFAULT = Path(__file__).resolve().parents[1] / "tests/data/hourly/DE_2023_em_2023-06-01_7d.csv"


def main(path: Path) -> None:
    """Plan the job three ways and print what each would emit per kWh."""
    series = read_series_csv(path, location="DE")
    earliest = datetime(2023, 6, 2, tzinfo=UTC)
    deadline = datetime(2023, 6, 3, tzinfo=UTC)
    grid = to_grid(series, earliest, deadline)
    job = Job.flat(4 * 3600, power_w=700)
    now = run_now(grid, job, earliest, deadline)
    flexible = best_window(grid, job, earliest, deadline)
    paused = pause_resume(grid, job, earliest, deadline, min_chunk_s=3600)
    for name, plan in (("run now", now), ("flexible start", flexible), ("pause/resume", paused)):
        print(f"{name:15} {plan.plan_g_per_kwh:6.1f} gCO2e/kWh  saving {plan.saving_pct:5.1f} %")
    print(f"submit with: sbatch {slurm_begin(flexible)} job.sh")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
