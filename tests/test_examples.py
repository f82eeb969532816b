"""The examples folder runs as documented."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(script: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CARBONLENS_STORE": str(tmp_path / "runs.db")}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_tiny_train_learns(tmp_path: Path) -> None:
    result = _run("tiny_train.py", tmp_path, "2")
    assert result.returncode == 0, result.stderr
    assert "epoch 2/2 accuracy" in result.stdout


def test_estimate_published_reproduces_bloom(tmp_path: Path) -> None:
    result = _run("estimate_published.py", tmp_path)
    assert result.returncode == 0, result.stderr
    # 1,082,990 GPU-h x 0.4 kW x 57 g/kWh = 24.69 t
    assert "24.69 t CO2e" in result.stdout and "ratio 1.000" in result.stdout


def test_track_torch_cpu(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    result = _run("track_torch_cpu.py", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" J, ") == 3  # one line per epoch window
    assert "cpu modelled" in result.stdout or "cpu measured" in result.stdout


def test_plan_job_finds_the_clean_afternoon(tmp_path: Path) -> None:
    result = _run("plan_job.py", tmp_path)
    assert result.returncode == 0, result.stderr
    # DE 2023-06-02 (Electricity Maps): 285.1 g/kWh at midnight, 157.0 g/kWh 10:00-14:00
    assert "flexible start   157.0 gCO2e/kWh  saving  44.9 %" in result.stdout
    assert "--begin=2023-06-02T10:00:00" in result.stdout


def test_model_card_keeps_the_readme_and_adds_the_block(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    out = tmp_path / "model"
    out.mkdir()
    (out / "README.md").write_text("---\nlicense: mit\n---\n\n# my-model\n")
    result = _run("model_card.py", tmp_path, str(out))
    assert result.returncode == 0, result.stderr
    text = (out / "README.md").read_text()
    front = yaml.safe_load(text.split("---")[1])
    assert front["license"] == "mit"
    assert front["co2_eq_emissions"]["emissions"] > 0
    assert front["co2_eq_emissions"]["geographical_location"] == "France"
    assert text.rstrip().endswith("# my-model")
