"""The `carbonlens` command end to end, on this machine, with a real SQLite store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PY = sys.executable


def carbonlens(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "carbonlens", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CARBONLENS_STORE": str(tmp_path / "runs.db"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }


BUSY = "import time\nt = time.time()\nwhile time.time() - t < 1.2: pass\nprint('done')"


def test_run_measures_stores_and_passes_exit_code_through(
    env: dict[str, str], tmp_path: Path
) -> None:
    code = BUSY + "\nraise SystemExit(3)"
    result = carbonlens(
        "run",
        "--country",
        "FR",
        "--project",
        "e2e",
        "--tag",
        "a",
        "--tag",
        "b",
        "--interval",
        "0.2",
        "--json",
        "--",
        PY,
        "-c",
        code,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith("done\n")
    doc = json.loads(result.stdout[len("done\n") :])
    assert doc["status"] == "failed"  # non-zero exit
    assert doc["project"] == "e2e" and doc["tags"] == ["a", "b"]
    cpu = doc["totals_by_component"]["cpu"]
    # no RAPL here: CPU energy is modelled, never a silent zero
    assert cpu["methods"] == ["modelled"] and cpu["energy_kwh"] > 0
    assert cpu["energy_low_kwh"] < cpu["energy_kwh"] < cpu["energy_high_kwh"]
    assert doc["intensity"]["intensity_g_per_kwh"] == pytest.approx(41.44)
    assert doc["intensity"]["year"] == 2025 and "Ember" in doc["intensity"]["source"]
    assert doc["pue"]["pue_ratio"] == 1.0 and "default" in doc["pue"]["source"]
    assert doc["operational_gco2e"] > 0 and doc["embodied_gco2e"] > 0
    assert doc["total_gco2e"] == pytest.approx(doc["operational_gco2e"] + doc["embodied_gco2e"])
    assert doc["duration_s"] >= 1.2
    assert doc["store"] == env["CARBONLENS_STORE"]
    # the model's constants are kept with the run
    cpu_model = doc["sensors"]["cpu-tdp"]
    assert cpu_model["idle_ratio"] == pytest.approx(0.74 / 3.5, abs=1e-3)
    assert cpu_model["max_power_w"] > 0

    listed = json.loads(carbonlens("runs", "--json", env=env).stdout)
    assert [r["run_id"] for r in listed["runs"]] == [doc["run_id"]]
    shown = json.loads(carbonlens("show", doc["run_id"][:8], "--json", env=env).stdout)
    assert shown["energy_kwh"] == pytest.approx(doc["energy_kwh"])
    assert shown["components"][0]["method"] == "modelled"


def test_json_file_keeps_stdout_for_the_command(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    code = "print('the command speaks'); raise SystemExit(4)"
    result = carbonlens(
        "run", "--country", "FR", "--json-file", str(out), "--", PY, "-c", code, env=env
    )
    assert result.returncode == 4
    assert result.stdout == "the command speaks\n"  # nothing of carbonlens's on stdout
    assert "carbonlens run" in result.stderr  # the table, on stderr as without --json-file
    doc = json.loads(out.read_text())
    assert doc["status"] == "failed" and doc["intensity"]["location"] == "FR"
    listed = json.loads(carbonlens("runs", "--json", env=env).stdout)["runs"]
    assert [r["run_id"] for r in listed] == [doc["run_id"]]


@pytest.mark.parametrize("target", ["/dev/stdout", "-"])
def test_json_file_to_stdout_keeps_what_the_command_wrote_there(
    env: dict[str, str], tmp_path: Path, target: str
) -> None:
    # stdout redirected to a file, as `> log.txt` does: the report was renamed over
    # the file /dev/stdout resolves to, losing the command's output
    log = tmp_path / "log.txt"
    code = "print('the command speaks')"
    with log.open("w") as out:
        result = subprocess.run(
            [PY, "-m", "carbonlens", "run", "--country", "FR", "--json-file", target]
            + ["--", PY, "-c", code],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    text = log.read_text()
    assert text.startswith("the command speaks\n")
    assert json.loads(text[len("the command speaks\n") :])["status"] == "finished"
    assert not (tmp_path / "-").exists()


def test_json_file_in_a_missing_directory_is_refused_before_running(
    env: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()"
    missing = tmp_path / "no" / "report.json"
    result = carbonlens("run", "--json-file", str(missing), "--", PY, "-c", code, env=env)
    assert result.returncode == 2 and not marker.exists()
    assert f"--json-file {missing}: no directory {missing.parent}" in result.stderr


def test_human_table_names_methods_sources_and_store(env: dict[str, str]) -> None:
    result = carbonlens("run", "--region", "aws:us-east-1", "--", PY, "-c", "pass", env=env)
    assert result.returncode == 0
    table = result.stderr
    for expected in (
        "energy cpu",
        "modelled",
        "PUE",
        "1.15",
        "418.0 g/kWh",
        "operational",
        "embodied",
        "stored in",
        "runs.db",
    ):
        assert expected in table, expected


def test_unsupported_store_url_is_refused_before_running(
    env: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    result = carbonlens(
        "run",
        "--store",
        "mysql://user:secret@db/runs",
        "--",
        PY,
        "-c",
        f"open({str(marker)!r}, 'w')",
        env=env,
    )
    assert result.returncode == 2
    assert "unsupported store URL mysql://" in result.stderr
    assert "secret" not in result.stderr
    assert not marker.exists()


def test_command_not_found_exits_127(env: dict[str, str]) -> None:
    result = carbonlens("run", "--", "no-such-command-xyz", env=env)
    assert result.returncode == 127
    assert "command not found: no-such-command-xyz" in result.stderr


def test_unknown_country_suggests_and_runs_nothing(env: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = carbonlens(
        "run", "--country", "Frnace", "--", PY, "-c", f"open({str(marker)!r}, 'w')", env=env
    )
    assert result.returncode == 2
    assert "unknown location 'Frnace'" in result.stderr and "FR" in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize("interval", ["0", "-1"])
def test_bad_interval_is_refused(env: dict[str, str], interval: str) -> None:
    result = carbonlens("run", "--interval", interval, "--", PY, "-c", "pass", env=env)
    assert result.returncode == 2
    assert "'interval_s' must be a positive finite number" in result.stderr


def test_malformed_config_names_file_and_line(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "carbonlens.toml").write_text('project = "x"\ninterval_s = = 2\n')
    result = carbonlens("run", "--", PY, "-c", "pass", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "carbonlens.toml" in result.stderr and "line 2" in result.stderr


def test_unwritable_store_still_runs_command_and_keeps_run(
    env: dict[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    env = {**env, "CARBONLENS_STORE": str(blocker / "runs.db")}
    result = carbonlens("run", "--json", "--", PY, "-c", "print('ran')", env=env)
    assert result.returncode == 0
    assert result.stdout.startswith("ran\n")
    doc = json.loads(result.stdout[len("ran\n") :])
    fallback = Path(doc["store"])
    assert fallback.suffix == ".jsonl" and fallback.exists()
    assert str(fallback) in result.stderr  # the message says where
    shown = json.loads(
        carbonlens("show", doc["run_id"], "--store", str(fallback), "--json", env=env).stdout
    )
    assert shown["status"] == "finished"


def _wait_for_samples(env: dict[str, str], timeout_s: float = 20.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = carbonlens("runs", "--json", env=env)
        if result.returncode == 0:
            runs = json.loads(result.stdout)["runs"]
            if runs and runs[0]["energy_kwh"] > 0 and runs[0]["duration_s"] >= 0.6:
                return dict(runs[0])
        time.sleep(0.2)
    raise AssertionError("no samples were stored in time")


@pytest.mark.slow
def test_sigkill_of_carbonlens_run_keeps_samples_and_shows_interrupted(
    env: dict[str, str], tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "carbonlens",
            "run",
            "--interval",
            "0.2",
            "--",
            PY,
            "-c",
            "import time; time.sleep(30)",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        before = _wait_for_samples(env)
        assert before["status"] == "running"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the orphaned child too
    after = json.loads(carbonlens("runs", "--json", env=env).stdout)["runs"][0]
    assert after["run_id"] == before["run_id"]
    assert after["status"] == "interrupted"
    assert after["energy_kwh"] >= before["energy_kwh"] > 0
    assert any("interrupted" in note for note in after["notes"])


@pytest.mark.slow
def test_sigkill_of_python_process_hosting_a_tracker(env: dict[str, str]) -> None:
    script = (
        "import time, carbonlens\n"
        "t = carbonlens.Tracker(project='host', interval_s=0.1).start()\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen([PY, "-c", script], env=env)
    try:
        before = _wait_for_samples(env)
        proc.kill()
        proc.wait(timeout=10)
    finally:
        proc.kill()
    after = json.loads(carbonlens("runs", "--status", "interrupted", "--json", env=env).stdout)
    [run] = after["runs"]
    assert run["run_id"] == before["run_id"] and run["project"] == "host"
    assert run["energy_kwh"] >= before["energy_kwh"] > 0


@pytest.mark.slow
def test_sigterm_is_forwarded_and_run_finalised(env: dict[str, str], tmp_path: Path) -> None:
    flag = tmp_path / "got-term"
    child = (
        "import signal, sys, time\n"
        f"def h(*a): open({str(flag)!r}, 'w').write('x'); sys.exit(7)\n"
        "signal.signal(signal.SIGTERM, h)\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen(
        [PY, "-m", "carbonlens", "run", "--interval", "0.2", "--json", "--", PY, "-c", child],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_samples(env)
    proc.send_signal(signal.SIGTERM)
    out, _err = proc.communicate(timeout=20)
    assert proc.returncode == 7  # the child's own exit status
    assert flag.exists()
    doc = json.loads(out)
    assert doc["status"] == "interrupted"
    assert doc["ended_at"] is not None and doc["energy_kwh"] > 0


def test_a_second_ctrl_c_while_the_run_is_finished_does_not_cut_it_short(
    env: dict[str, str], tmp_path: Path
) -> None:
    from carbonlens.testing.intensity_server import IntensityServer, Reply

    with IntensityServer() as server:
        server.route("/v3/*", Reply(delay_s=2.0, json={}))  # a slow provider
        live = {
            **env,
            "CARBONLENS_ELECTRICITYMAPS_TOKEN": server.em_token,
            "CARBONLENS_ELECTRICITYMAPS_URL": server.url,
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        }
        argv = ["run", "--country", "DE", "--intensity-provider", "electricitymaps", "--json"]
        proc = subprocess.Popen(
            [PY, "-m", "carbonlens", *argv, "--", PY, "-c", "print('done', flush=True)"],
            env=live,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline() == "done\n"
        deadline = time.monotonic() + 10
        while not server.requests_to("/v3/*") and time.monotonic() < deadline:
            time.sleep(0.05)  # the command has exited; the run's hours are being fetched
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err  # the command's status, not a KeyboardInterrupt
    assert "Traceback" not in err
    assert "the command has exited; finishing the run's record" in err
    doc = json.loads(out)
    assert doc["status"] == "finished" and doc["ended_at"] is not None


def test_runs_filters(env: dict[str, str]) -> None:
    for project in ("a", "b"):
        assert (
            carbonlens("run", "--project", project, "--", PY, "-c", "pass", env=env).returncode == 0
        )
    assert (
        carbonlens(
            "run", "--project", "a", "--", PY, "-c", "raise SystemExit(1)", env=env
        ).returncode
        == 1
    )

    def ids(*args: str) -> list[str]:
        result = carbonlens("runs", "--json", *args, env=env)
        assert result.returncode == 0, result.stderr
        return [r["project"] + ":" + r["status"] for r in json.loads(result.stdout)["runs"]]

    assert ids("--project", "a") == ["a:failed", "a:finished"]
    assert ids("--status", "finished") == ["b:finished", "a:finished"]
    assert len(ids("--since", "1h")) == 3
    assert ids("--since", "2999-01-01") == []
    bad = carbonlens("runs", "--since", "yesterday", env=env)
    assert bad.returncode == 2 and "30m, 12h, 7d" in bad.stderr


def test_show_unknown_run_and_missing_store(env: dict[str, str]) -> None:
    missing = carbonlens("runs", env=env)
    assert missing.returncode == 2 and "no run store at" in missing.stderr
    assert carbonlens("run", "--", PY, "-c", "pass", env=env).returncode == 0
    unknown = carbonlens("show", "ffffffff", env=env)
    assert unknown.returncode == 2 and "no run 'ffffffff'" in unknown.stderr


def test_doctor_lists_every_backend_with_reason(env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if not k.startswith("CARBONLENS_ELECTRICITYMAPS")}
    result = carbonlens("doctor", "--json", env=env)
    assert result.returncode == 0
    probes = {p["sensor"]: p for p in json.loads(result.stdout)["sensors"]}
    assert set(probes) == {"rapl", "nvml", "amdsmi", "powermetrics", "cpu-tdp", "ram-model"}
    assert probes["cpu-tdp"]["available"] is True
    for probe in probes.values():
        assert probe["available"] or probe["reason"]
    providers = {p["provider"]: p for p in json.loads(result.stdout)["intensity_providers"]}
    assert providers["electricitymaps"]["missing"] == ["CARBONLENS_ELECTRICITYMAPS_TOKEN"]
    configured = carbonlens(
        "doctor", "--json", env={**env, "CARBONLENS_ELECTRICITYMAPS_TOKEN": "s3cret-value"}
    )
    assert "s3cret-value" not in configured.stdout
    again = {p["provider"]: p for p in json.loads(configured.stdout)["intensity_providers"]}
    assert again["electricitymaps"]["configured"] is True


def test_intensity_commands_are_part_of_the_main_command(env: dict[str, str]) -> None:
    result = carbonlens("intensity", "show", "FR", "--json", env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    # grid_intensity_country.csv: FRA 2025, 41.44 g/kWh (Ember via OWID)
    assert doc["intensity_g_per_kwh"] == pytest.approx(41.44) and doc["year"] == 2025
    bad = carbonlens("intensity", "show", "Frnace", env=env)
    assert bad.returncode == 2 and "did you mean FR" in bad.stderr


@pytest.mark.slow
def test_budget_stops_the_command_and_says_why(env: dict[str, str]) -> None:
    # the modelled CPU + RAM of this machine draw several watts even idle: 36 J
    # (0.00001 kWh) is spent within seconds, then SIGTERM ends the sleeping child
    result = carbonlens(
        "run",
        "--budget",
        "0.00001kWh",
        "--interval",
        "0.2",
        "--json",
        "--",
        PY,
        "-c",
        "import time; time.sleep(60)",
        env={**env, "CARBONLENS_BUDGET_GRACE_S": "2"},
        timeout=60,
    )
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "interrupted"
    assert doc["stop_reason"] and "budget" in doc["stop_reason"]
    assert doc["facility_energy_kwh"] >= 0.00001


def test_zero_budget_is_refused(env: dict[str, str]) -> None:
    result = carbonlens("run", "--budget", "0kg", "--", PY, "-c", "pass", env=env)
    assert result.returncode == 2 and "budget" in result.stderr


def test_deadline_waits_for_the_planned_start_and_keeps_the_plan(env: dict[str, str]) -> None:
    from datetime import UTC, datetime, timedelta

    from carbonlens.testing.intensity_server import IntensityServer, LoggedRequest, Reply

    def rising(request: LoggedRequest) -> Reply:
        # cleanest now, dirtier every hour: the plan starts at once
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        rows = [
            {"carbonIntensity": 100 + 50 * i, "datetime": (start + timedelta(hours=i)).isoformat()}
            for i in range(int(request.param("horizonHours", "24")))
        ]
        return Reply(json={"zone": request.param("zone"), "forecast": rows})

    with IntensityServer() as server:
        server.route("/v3/carbon-intensity/forecast", rising)
        live = {
            **env,
            "CARBONLENS_ELECTRICITYMAPS_TOKEN": server.em_token,
            "CARBONLENS_ELECTRICITYMAPS_URL": server.url,
            "XDG_CACHE_HOME": env["XDG_STATE_HOME"],
        }
        result = carbonlens(
            "run",
            "--country",
            "DE",
            "--intensity-provider",
            "electricitymaps",
            "--deadline",
            "6h",
            "--expected-duration",
            "1h",
            "--json",
            "--",
            PY,
            "-c",
            "pass",
            env=live,
        )
    assert result.returncode == 0, result.stderr
    assert "planned" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["schedule"]["plan"]["resumes"] == 0
    assert doc["schedule"]["planned_g_per_kwh"] == pytest.approx(100.0, rel=0.5)


def test_deadline_without_a_forecast_is_explained(env: dict[str, str]) -> None:
    result = carbonlens(
        "run", "--deadline", "6h", "--expected-duration", "1h", "--", PY, "-c", "pass", env=env
    )
    assert result.returncode == 2 and "needs a forecast" in result.stderr
