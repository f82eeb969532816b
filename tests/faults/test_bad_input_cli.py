"""Command lines with random option values: a result or a one-line error, exit 0/1/2.

Each example runs one read-only command through click's runner against a real
(empty) store; whatever the values, the command ends with a `SystemExit` status
and never with another exception (which would be a traceback for the user).
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonlens.cli import main
from carbonlens.store.sqlite import SqliteStore

SERIES = Path(__file__).resolve().parents[1] / "data" / "hourly" / "GB_2023_em_2023-06-01_7d.csv"
VALUES = st.sampled_from(
    ["", "-1", "0", "1", "1.5", "nan", "inf", "-inf", "1e400", "9" * 40, "x", "\x00", "é"]
    + ["2h", "-1h", "P1Y", "PT0S", "now", "2023-06-01T00:00Z", "9999-12-31T23:59-01:00", "FR"]
    + ["<script>", "'; DROP TABLE runs; --", "../../etc/passwd", "aws:us-east-1", "A100"]
) | st.text(max_size=12)
COMMANDS = [
    ("runs", "--since"),
    ("runs", "--limit"),
    ("runs", "--project"),
    ("show",),
    ("report", "--since"),
    ("report", "--sci-unit"),
    ("export", "--since"),
    ("intensity", "show"),
    ("estimate", "hardware", "--device", "A100", "--hours"),
    ("estimate", "hardware", "--device"),
    ("estimate", "hardware", "--device", "A100", "--hours", "1", "--pue"),
    ("estimate", "hardware", "--device", "A100", "--hours", "1", "--location"),
    ("schedule", "--location", "GB", "--series", str(SERIES), "--deadline", "24h", "--duration"),
    ("schedule", "--location", "GB", "--series", str(SERIES), "--duration", "2h", "--deadline"),
    ("schedule", "--location", "GB", "--series", str(SERIES), "--duration", "1h", "--earliest"),
    ("schedule", "--location", "GB", "--series", str(SERIES), "--duration", "1h", "--tz"),
]


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(command=st.sampled_from(COMMANDS), value=VALUES)
def test_any_option_value_ends_in_an_exit_status(
    tmp_path: Path, command: tuple[str, ...], value: str
) -> None:
    store = tmp_path / "runs.db"
    if not store.exists():
        SqliteStore(store).close()
    env = {"CARBONLENS_STORE": str(store), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    result = CliRunner().invoke(main, [*command, value], env=env)
    assert isinstance(result.exception, SystemExit | None), (command, value, result.output)
    assert result.exit_code in (0, 1, 2), (command, value, result.output)
    assert "Traceback" not in result.output
