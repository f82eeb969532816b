"""Config files and CARBONLENS_* variables: any input gives settings or a `ConfigError`.

The error names the file (or the environment) and the setting; nothing else escapes.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonlens.cli import main
from carbonlens.config import Settings, load_settings
from carbonlens.config_table import SETTINGS_TABLE
from carbonlens.errors import ConfigError

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
NAMES = [doc.name for doc in SETTINGS_TABLE]
# TOML values of every type, including ones no setting accepts
TOML_VALUES = st.sampled_from(
    [
        "nan",
        "inf",
        "-inf",
        "1e400",
        "-1",
        "0",
        "1" + "0" * 400,
        '""',
        '"  "',
        '"\\u0000"',
        "true",
        "[]",
        "[1, [2]]",
        "{a = 1}",
        "1979-05-27T07:32:00Z",
        '"DEBUG"',
        '"warn"',
        "0.5",
        "1.5",
        '"rapl,nvml"',
    ]
)


def _load(tmp_path: Path, content: bytes) -> Settings | None:
    path = tmp_path / "carbonlens.toml"
    path.write_bytes(content)
    try:
        return load_settings(env={}, paths=[path])
    except ConfigError as exc:
        assert str(path) in str(exc)  # the message names the file
        return None


@FUZZ
@given(content=st.binary(max_size=200))
def test_random_bytes_give_settings_or_a_config_error(tmp_path: Path, content: bytes) -> None:
    result = _load(tmp_path, content)
    assert result is None or isinstance(result, Settings)


@FUZZ
@given(
    pairs=st.dictionaries(
        st.sampled_from([*NAMES, "unknown_key", "Interval-S", "projet"]), TOML_VALUES, max_size=5
    )
)
def test_structured_toml_gives_valid_settings_or_names_the_setting(
    tmp_path: Path, pairs: dict[str, str]
) -> None:
    content = "\n".join(f"{key} = {value}" for key, value in pairs.items())
    path = tmp_path / "carbonlens.toml"
    path.write_text(content, encoding="utf-8")
    try:
        result = load_settings(env={}, paths=[path])
    except ConfigError as exc:
        assert exc.setting and exc.setting.replace("-", "_").lower() in str(exc).lower()
        return
    for name in NAMES:  # accepted numbers are always finite
        value = getattr(result, name)
        if isinstance(value, float):
            assert math.isfinite(value)


@FUZZ
@given(name=st.sampled_from(NAMES), value=st.text(max_size=30))
def test_environment_values_give_settings_or_name_the_variable(name: str, value: str) -> None:
    try:
        load_settings(env={f"CARBONLENS_{name.upper()}": value}, paths=[])
    except ConfigError as exc:
        assert "CARBONLENS_" in str(exc) and name in str(exc)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"interval_s = nan", "'interval_s' must be a finite number"),
        (b"interval_s = 1e400", "'interval_s' must be a finite number"),  # TOML reads inf
        (b"pue = 0.5", "'pue' (power usage effectiveness) must be >= 1.0"),
        (b"colour = 'blue'", "unknown setting 'colour'"),
        (b"sensors = 3", "'sensors' must be a list of names"),
        (b"interval_s = [1]", "'interval_s' must be a number"),
        (b"interval_s = 1" + b"0" * 400, "'interval_s' must be a number"),
        (b"\xff\xfeinterval_s = 1", "not UTF-8 text (byte 0)"),
        (b"interval_s = = 1", "malformed TOML"),
    ],
)
def test_malformed_files_say_what_and_where(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "carbonlens.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, paths=[path])
    assert str(caught.value).startswith(str(path)) and expected in str(caught.value)


def test_cli_with_a_bad_config_file_exits_2_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "carbonlens.toml").write_bytes(b"interval_s = -1")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["runs"], env={"XDG_CONFIG_HOME": str(tmp_path / "no")})
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "carbonlens.toml: setting 'interval_s' must be a positive" in result.output
