"""`carbonlens schedule` and `schedule evaluate` through click, registered in a test group."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from carbonlens.cli_schedule import schedule_group
from carbonlens.records import Channel, Component, Method, RunInfo, RunStatus, Sample
from carbonlens.schedule import Job, best_window, read_series_csv, to_grid
from carbonlens.store import SqliteStore
from carbonlens.testing.intensity_server import IntensityServer, LoggedRequest, Reply

DATA = Path(__file__).resolve().parents[1] / "data" / "hourly"
GB = str(DATA / "GB_2023_em_2023-06-01_7d.csv")
DE = str(DATA / "DE_2023_em_2023-06-01_7d.csv")
NESO = str(DATA / "GB_2023_neso_2023-10-19_6d.csv")
DAY = ["--earliest", "2023-06-02T00:00Z", "--deadline", "24h", "--tz", "UTC"]


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No config file, no provider, no cache outside tmp_path."""
    monkeypatch.chdir(tmp_path)
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.delenv("CARBONLENS_INTENSITY_PROVIDER", raising=False)
    monkeypatch.delenv("CARBONLENS_STORE", raising=False)


def carbonlens(*args: str, env: dict[str, str] | None = None) -> Result:
    main = click.Group("carbonlens")
    main.add_command(schedule_group)
    return CliRunner().invoke(main, ["schedule", *args], env=env)


def test_plan_prints_the_window_the_plan_a_chart_and_the_saving() -> None:
    result = carbonlens(
        "--duration", "6h", "--location", "GB", "--series", GB, "--power", "700", *DAY
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "6 h job in GB (flexible-start" in out
    assert "run       2023-06-02 10:00 UTC to 2023-06-02 16:00 UTC  103.5 g/kWh" in out
    assert "expected  103.5 gCO2e per kWh of job" in out
    assert "run now   176.1 gCO2e per kWh of job (at 2023-06-02 00:00 UTC)" in out
    assert "saving    72.7 g per kWh (41.3 %)" in out
    assert "for 4.20 kWh" in out
    marker_row = next(line for line in out.splitlines() if "▲" in line)
    assert marker_row.count("▲") == 6 * 3  # 24 hourly columns, 3 characters each
    assert "▲ = planned to run" in out


def test_json_has_slots_in_utc_and_the_figures_of_the_api() -> None:
    result = carbonlens("--duration", "6h", "--location", "GB", "--series", GB, "--json", *DAY)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    start = datetime(2023, 6, 2, tzinfo=UTC)
    grid = to_grid(read_series_csv(GB, location="GB"), start, start + timedelta(hours=24))
    plan = best_window(grid, Job.flat(6 * 3600), start, start + timedelta(hours=24))
    assert doc["slots"] == [
        {
            "start": "2023-06-02T10:00:00Z",
            "end": "2023-06-02T16:00:00Z",
            "resume_s": 0.0,
            "energy_ratio": 1.0,
            "intensity_g_per_kwh": pytest.approx(plan.plan_g_per_kwh),
        }
    ]
    assert doc["plan_g_per_kwh"] == pytest.approx(plan.plan_g_per_kwh)
    assert doc["run_now"] == {
        "location": "GB",
        "start": "2023-06-02T00:00:00Z",
        "g_per_kwh": pytest.approx(plan.run_now_g_per_kwh),
    }
    assert doc["saving_pct"] == pytest.approx(plan.saving_pct)
    assert doc["plan_g"] is None and doc["energy_j"] is None


def test_pause_resume_from_the_command_line() -> None:
    args = ["--duration", "6h", "--location", "GB", "--series", GB, "--json"]
    window = ["--earliest", "2023-06-03T00:00Z", "--deadline", "2023-06-05T00:00Z"]
    one = json.loads(carbonlens(*args, *window).output)
    paused = carbonlens(
        *args, *window, "--pause-resume", "--min-chunk", "1h", "--resume-cost", "5m"
    )
    doc = json.loads(paused.output)
    assert doc["strategy"] == "pause-resume"
    assert doc["plan_g_per_kwh"] <= one["plan_g_per_kwh"]
    assert len(doc["slots"]) == doc["resumes"] + 1
    energy = carbonlens(*args, *window, "--pause-resume", "--resume-cost", "50Wh")
    assert energy.exit_code == 2 and "energy" in energy.output


def test_locations_pick_the_cleanest_place_and_time() -> None:
    result = carbonlens(
        "--duration",
        "4h",
        "--location",
        "DE",
        "--locations",
        "GB",
        "--series",
        DE,
        "--series",
        f"GB={GB}",
        "--json",
        *DAY,
    )
    doc = json.loads(result.output)
    assert doc["strategy"] == "best-location-time" and doc["location"] == "GB"
    assert doc["run_now"]["location"] == "DE"
    assert [a["location"] for a in doc["alternatives"]] == ["GB", "DE"]
    now_only = carbonlens(
        "--duration",
        "4h",
        "--location",
        "DE",
        "--locations",
        "GB",
        "--series",
        DE,
        "--series",
        f"GB={GB}",
        "--start-now",
        *DAY,
    )
    assert "best-location;" in now_only.output and "run now" in now_only.output


def test_without_a_series_or_provider_it_explains_what_is_needed() -> None:
    result = carbonlens("--duration", "6h", "--deadline", "24h", "--location", "GB")
    assert result.exit_code == 2
    assert "needs an intensity series" in result.output
    assert "intensity_provider" in result.output and "--series FILE.csv" in result.output
    assert "annual averages are flat" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "-1h"], "must not be negative"),
        (["--duration", "30h"], "shorter than the job"),
        (["--duration", "1h", "--deadline", "2023-06-09T00:00Z"], "missing 2023-06-08T00:00:00Z"),
        (["--duration", "1h", "--series", f"FR={GB}"], "--series for FR"),
        (["--duration", "1h", "--tz", "Mars/Olympus"], "unknown time zone"),
        (["--deadline", "24h"], "give --duration"),
        (["--duration", "1h", "--pause-resume", "--locations", "DE"], "one location"),
        (["--duration", "1h", "--min-chunk", "1h"], "go with --pause-resume"),
    ],
)
def test_bad_input_exits_2_with_a_reason(args: list[str], message: str) -> None:
    base = ["--location", "GB", "--series", GB, *DAY]
    result = carbonlens(*base, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_series_with_a_gap_names_the_missing_part() -> None:
    result = carbonlens(
        "--duration",
        "2h",
        "--location",
        "GB",
        "--series",
        NESO,
        "--earliest",
        "2023-10-20T12:00Z",
        "--deadline",
        "12h",
    )
    assert result.exit_code == 2
    assert "missing 2023-10-20T22:00:00Z to 2023-10-21T00:00:00Z" in result.output


def test_plan_on_a_live_forecast(monkeypatch: pytest.MonkeyPatch) -> None:
    def forecast(request: LoggedRequest) -> Reply:
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        rows = [
            {
                "carbonIntensity": 300 - 20 * i if i < 6 else 200 + i,
                "datetime": f"{hour + timedelta(hours=i):%Y-%m-%dT%H:%MZ}",
            }
            for i in range(int(request.param("horizonHours", "24")) + 1)
        ]
        return Reply(json={"zone": "DE", "forecast": rows, "updatedAt": rows[0]["datetime"]})

    with IntensityServer() as server:
        server.route("/v3/carbon-intensity/forecast", forecast)
        env = {
            "CARBONLENS_INTENSITY_PROVIDER": "electricitymaps",
            "CARBONLENS_ELECTRICITYMAPS_TOKEN": server.em_token,
            "CARBONLENS_ELECTRICITYMAPS_URL": server.url,
        }
        result = carbonlens(
            "--duration", "1h", "--deadline", "12h", "--location", "DE", "--json", env=env
        )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["plan_g_per_kwh"] == pytest.approx(200.0)  # the 05:00-ish hour: 300 - 100
    assert doc["source"] == "electricitymaps"


def test_profile_of_a_stored_run(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "runs.db")
    gpu = Channel("nvml", Component.GPU, "gpu0", Method.MEASURED)
    info = RunInfo("run-1", "p", "train", datetime(2023, 1, 1, tzinfo=UTC), "h", 1)
    store.create_run(info)
    store.append_samples(
        "run-1", [Sample(gpu, 3600.0, 3600.0, 1e6), Sample(gpu, 7200.0, 3600.0, 3e6)]
    )
    store.finish_run("run-1", RunStatus.FINISHED, datetime(2023, 1, 1, 2, tzinfo=UTC), 7200.0)
    store.close()
    result = carbonlens(
        "--profile-run",
        "run-1",
        "--store",
        str(tmp_path / "runs.db"),
        "--location",
        "GB",
        "--series",
        GB,
        "--json",
        *DAY,
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["duration_s"] == 7200 and doc["energy_j"] == pytest.approx(4e6)
    missing = carbonlens(
        "--profile-run",
        "nope",
        "--store",
        str(tmp_path / "runs.db"),
        "--location",
        "GB",
        "--series",
        GB,
        *DAY,
    )
    assert missing.exit_code == 2 and "no run 'nope'" in missing.output


def test_evaluate_replays_the_series_day_by_day() -> None:
    result = carbonlens("evaluate", "--series", NESO, "--duration", "4h", "--window", "24h")
    assert result.exit_code == 0, result.output
    assert "3 days" in result.output and "skipped 3 day(s)" in result.output
    assert "2023-10-20, 2023-10-21, 2023-10-22" in result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines() if line}
    assert {"run", "flexible-start", "pause-resume"} <= set(lines)
    doc = json.loads(carbonlens("evaluate", "--series", NESO, "--duration", "4h", "--json").output)
    assert doc["days"] == 3 and doc["window_s"] == 86400
    flexible, paused = doc["strategies"]
    assert paused["saving_pct"] >= flexible["saving_pct"] > 0


def test_evaluate_bad_input() -> None:
    mixed = carbonlens("--duration", "4h", "evaluate", "--series", NESO, "--duration", "4h")
    assert mixed.exit_code == 2 and "drop them" in mixed.output
    bad = carbonlens("evaluate", "--series", NESO, "--duration", "4h", "--submit-at", "25:00")
    assert bad.exit_code == 2 and "HH:MM" in bad.output
    none = carbonlens(
        "evaluate",
        "--series",
        NESO,
        "--duration",
        "4h",
        "--from",
        "2023-10-21",
        "--to",
        "2023-10-21",
    )
    assert none.exit_code == 2 and "no day" in none.output
