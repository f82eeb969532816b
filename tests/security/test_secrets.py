"""Planted secrets never come out: not in output, logs, stored runs, reports or errors.

The secrets are an Electricity Maps token, a WattTime password and the password of
a PostgreSQL store URL. Each command runs as a user would run it (a subprocess
with DEBUG logging, or click's runner), against a fake provider on 127.0.0.1 that
answers an error which echoes the token back, or a good answer; every byte the
commands write (stdout, stderr, the store file, report files, the cache) is
searched for each secret.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from carbonlens.cli import main
from carbonlens.intensity.base import IntensityUnavailable
from carbonlens.intensity.electricitymaps import TOKEN_VARIABLE, ElectricityMapsIntensity
from carbonlens.intensity.watttime import PASSWORD_VARIABLE, USERNAME_VARIABLE, WattTimeIntensity
from carbonlens.testing.intensity_server import IntensityServer, Reply

EM_TOKEN = "PLANTED-SECRET-em-7c2f"
WT_PASSWORD = "PLANTED-SECRET-wt-91d0"
DB_PASSWORD = "PLANTED-SECRET-db-55aa"
SECRETS = (EM_TOKEN, WT_PASSWORD, DB_PASSWORD)
STORE_URL = f"postgresql://ada:{DB_PASSWORD}@127.0.0.1:9/runs"


def _assert_clean(*texts: str | bytes) -> None:
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret} leaked: {data[:300]!r}"


def _files(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def server() -> Iterator[IntensityServer]:
    with IntensityServer(em_token=EM_TOKEN, watttime_password=WT_PASSWORD) as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, server: IntensityServer) -> dict[str, str]:
    """A user's environment: planted keys, local provider URLs, DEBUG logs, a private home."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "CARBONLENS_STORE": str(tmp_path / "runs.db"),
        "CARBONLENS_LOG_LEVEL": "DEBUG",
        "CARBONLENS_SENSORS": "cpu-tdp",
        "CARBONLENS_CPU_TDP_W": "65",
        TOKEN_VARIABLE: EM_TOKEN,
        "CARBONLENS_ELECTRICITYMAPS_URL": server.url,
        USERNAME_VARIABLE: "wt-user",
        PASSWORD_VARIABLE: WT_PASSWORD,
        "CARBONLENS_WATTTIME_URL": server.url,
    }


def _carbonlens(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "carbonlens", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        timeout=120,
        check=False,
    )


def _echo_token(request: object) -> Reply:
    """A provider error whose body repeats the credentials it was sent."""
    headers = getattr(request, "headers", {})
    return Reply(400, {"error": f"bad token {headers.get('auth-token')}", "h": dict(headers)})


@pytest.mark.parametrize("answer", ["error", "ok", "refused"])
def test_run_with_a_live_provider_leaks_no_key(
    tmp_path: Path, env: dict[str, str], server: IntensityServer, answer: str
) -> None:
    if answer == "error":
        server.route("/v3/carbon-intensity/*", _echo_token)
    elif answer == "refused":
        server.route("/v3/carbon-intensity/*", lambda r: Reply(401, {"token": EM_TOKEN}))
    args = ["run", "--country", "DE", "--intensity-provider", "electricitymaps", "--json"]
    result = _carbonlens([*args, "--", sys.executable, "-c", "pass"], env, tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert server.requests_to("/v3/carbon-intensity/*")  # the provider was really asked
    if answer != "ok":  # the failure is told, without the token the body repeated
        assert "***" in json.dumps(report) + result.stderr.decode()
    shown = _carbonlens(["show", report["run_id"], "--json"], env, tmp_path)
    listed = _carbonlens(["runs", "--json"], env, tmp_path)
    assert shown.returncode == listed.returncode == 0
    _assert_clean(result.stdout, result.stderr, shown.stdout, shown.stderr, listed.stdout)
    for path in _files(tmp_path):  # the store, the cache, anything written
        _assert_clean(path.read_bytes())


def test_reports_of_a_run_leak_no_key(
    tmp_path: Path, env: dict[str, str], server: IntensityServer
) -> None:
    server.route("/v3/carbon-intensity/*", _echo_token)
    args = ["run", "--country", "DE", "--intensity-provider", "electricitymaps"]
    assert _carbonlens([*args, "--", sys.executable, "-c", "pass"], env, tmp_path).returncode == 0
    runner = CliRunner()
    outputs = []
    for fmt, name in (
        ("html", "r.html"),
        ("json", "r.json"),
        ("md", "r.md"),
        ("model-card", "README.md"),
    ):
        result = runner.invoke(
            main, ["report", "--since", "1d", "--format", fmt, "-o", str(tmp_path / name)], env=env
        )
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    export = runner.invoke(main, ["export", "--samples", "--format", "json"], env=env)
    assert export.exit_code == 0 and json.loads(export.output)
    _assert_clean(*outputs, export.output)
    for path in _files(tmp_path):
        _assert_clean(path.read_bytes())


def test_doctor_names_variables_never_values(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "CARBONLENS_STORE": STORE_URL}
    for args in (["doctor"], ["doctor", "--json"]):
        result = _carbonlens(args, env, tmp_path)
        _assert_clean(result.stdout, result.stderr)
        assert b"Traceback" not in result.stderr
    document = json.loads(_carbonlens(["doctor", "--json"], env, tmp_path).stdout)
    configured = {p["provider"]: p["configured"] for p in document["intensity_providers"]}
    assert configured["electricitymaps"] and configured["watttime"]


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "--store", STORE_URL],
        ["runs", "--json"],
        ["show", "abc", "--store", STORE_URL],
        ["report", "--since", "1d", "--store", STORE_URL],
        ["export", "--store", STORE_URL],
        ["run", "--store", STORE_URL, "--json", "--", sys.executable, "-c", "pass"],
    ],
)
def test_a_database_password_never_shows(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    result = _carbonlens(args, {**env, "CARBONLENS_STORE": STORE_URL}, tmp_path)
    assert b"Traceback" not in result.stderr
    _assert_clean(result.stdout, result.stderr)
    for path in _files(tmp_path):
        _assert_clean(path.read_bytes())


def test_provider_errors_and_debug_logs_are_redacted(
    server: IntensityServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/v3/carbon-intensity/*", _echo_token)
    server.route("/login", lambda r: Reply(403, {"echo": r.headers.get("authorization")}))
    caplog.set_level(logging.DEBUG)
    failures: list[BaseException] = []
    em = ElectricityMapsIntensity(EM_TOKEN, base_url=server.url)
    wt = WattTimeIntensity("wt-user", WT_PASSWORD, base_url=server.url)
    for source, location in ((em, "DE"), (wt, "CAISO_NORTH")):
        with source, pytest.raises(IntensityUnavailable) as caught:
            source.latest(location)
        failures.append(caught.value)
        _assert_clean(repr(source), repr(source._http))
    # the error bodies repeated the token and the Basic credentials: both are masked
    assert "***" in str(failures[0]) and "***" in str(failures[1])
    records = [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    _assert_clean(*map(str, failures), *map(repr, failures), *records)
