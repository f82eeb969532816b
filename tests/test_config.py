"""Settings: precedence, validation and the messages a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonlens.config import Settings, load_settings, setting_origin
from carbonlens.config_table import SETTINGS_TABLE
from carbonlens.errors import ConfigError, LocationError
from carbonlens.tracking.tracker import Tracker


def test_precedence_files_then_environment_then_arguments(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text('project = "from-user"\ninterval_s = 5\ncountry = "DE"\n')
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n[tool.carbonlens]\ncountry = "FR"\npue = 1.3\n')
    settings = load_settings(
        env={"CARBONLENS_INTERVAL_S": "2", "CARBONLENS_PUE": "1.1", "OTHER": "ignored"},
        paths=[user, pyproject],
        overrides={"pue": 1.5, "region": None},
    )
    assert settings.project == "from-user"  # only the user file sets it
    assert settings.country == "FR"  # project file beats user file
    assert settings.interval_s == 2.0  # environment beats files
    assert settings.pue == 1.5  # arguments beat environment
    assert settings.region is None  # None overrides are ignored


def test_defaults_without_any_source() -> None:
    assert load_settings(env={}, paths=[]) == Settings()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CARBONLENS_INTERVAL_S": "0"}, "'interval_s' must be a positive finite number"),
        ({"CARBONLENS_INTERVAL_S": "-1"}, "'interval_s' must be a positive finite number"),
        ({"CARBONLENS_INTERVAL_S": "fast"}, "'interval_s' must be a number"),
        ({"CARBONLENS_PUE": "0.8"}, "must be >= 1.0"),
        ({"CARBONLENS_EMBODIED": "maybe"}, "must be one of true/false"),
        ({"CARBONLENS_LOG_LEVEL": "loud"}, "must be one of DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_bad_values_name_the_setting_and_what_is_allowed(
    env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected) as info:
        load_settings(env=env, paths=[])
    assert "environment" in str(info.value)


def test_unknown_key_in_file_suggests_the_setting_and_lists_them_all(tmp_path: Path) -> None:
    path = tmp_path / "carbonlens.toml"
    path.write_text("intervall_s = 3\n")
    with pytest.raises(
        ConfigError,
        match=r"unknown setting 'intervall_s' \(did you mean 'interval_s'\?\); "
        r"known settings: .*interval_s",
    ):
        load_settings(env={}, paths=[path])


def test_malformed_file_gives_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "carbonlens.toml"
    path.write_text('project = "ok"\ncountry = \n')
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, paths=[path])
    assert str(path) in str(info.value)
    assert "line 2" in str(info.value)


def test_sensors_from_comma_separated_environment() -> None:
    settings = load_settings(env={"CARBONLENS_SENSORS": "rapl, nvml"}, paths=[])
    assert settings.sensors == ("rapl", "nvml")


def test_every_setting_is_documented() -> None:
    assert {row.name for row in SETTINGS_TABLE} == set(Settings.__dataclass_fields__)


def test_provider_names_match_the_providers_module() -> None:
    from carbonlens.config import PROVIDERS
    from carbonlens.intensity.providers import PROVIDERS as BUILT

    assert tuple(sorted(PROVIDERS)) == tuple(BUILT)


def test_misspelled_environment_variable_is_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = {
        "CARBONLENS_INTERVALL_S": "3",  # a typo: warned about, not applied
        "CARBONLENS_ELECTRICITYMAPS_TOKEN": "secret",  # a provider key: not a setting, no warning
    }
    with caplog.at_level("WARNING", logger="carbonlens.config"):
        settings = load_settings(env=env, paths=[])
    assert settings.interval_s == 1.0
    assert [r.getMessage() for r in caplog.records] == [
        "CARBONLENS_INTERVALL_S is not a carbonlens setting and is ignored "
        "(did you mean CARBONLENS_INTERVAL_S?)"
    ]


def test_empty_environment_variable_counts_as_unset(tmp_path: Path) -> None:
    path = tmp_path / "carbonlens.toml"
    path.write_text('country = "DE"\n')
    env = {"CARBONLENS_COUNTRY": "", "CARBONLENS_PUE": " ", "CARBONLENS_SENSORS": ""}
    settings = load_settings(env=env, paths=[path])
    assert (settings.country, settings.pue, settings.sensors) == ("DE", None, None)


@pytest.mark.parametrize("content", ["sensors = []\n", 'sensors = ",,"\n'])
def test_an_empty_sensor_list_is_refused(tmp_path: Path, content: str) -> None:
    # sensors=() turned discovery off and opened no back-end: a run of 0 Wh, no warning
    path = tmp_path / "carbonlens.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match="'sensors' must name at least one back-end"):
        load_settings(env={}, paths=[path])


@pytest.mark.parametrize("content", ["pue = true\n", "interval_s = false\n"])
def test_booleans_are_not_numbers(tmp_path: Path, content: str) -> None:
    # float(True) == 1.0: `pue = true` used to give PUE 1.0 and `interval_s = false` 0.0
    path = tmp_path / "carbonlens.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match="must be a number, got (True|False)"):
        load_settings(env={}, paths=[path])


@pytest.mark.parametrize("content", ["[tool]\ncarbonlens = 1\n", 'tool = "carbonlens"\n'])
def test_pyproject_tool_carbonlens_that_is_not_a_table(tmp_path: Path, content: str) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=r"pyproject.toml: tool.carbonlens must be a table"):
        load_settings(env={}, paths=[path])


def test_numbers_in_scientific_notation() -> None:
    settings = load_settings(env={"CARBONLENS_INTERVAL_S": "1e-3"}, paths=[])
    assert settings.interval_s == 0.001


def test_setting_origin_names_the_variable_or_the_last_file_that_sets_it(tmp_path: Path) -> None:
    user, project = tmp_path / "user.toml", tmp_path / "carbonlens.toml"
    user.write_text('country = "DE"\n')
    project.write_text("interval_s = 2\n")
    paths = [user, project]
    # the environment wins over files; an empty variable counts as unset
    env = {"CARBONLENS_COUNTRY": "XX"}
    assert (
        setting_origin("country", env=env, paths=paths) == "environment variable CARBONLENS_COUNTRY"
    )
    assert setting_origin("country", env={"CARBONLENS_COUNTRY": " "}, paths=paths) == (
        f"{user}: setting 'country'"
    )
    project.write_text('interval_s = 2\ncountry = "Frnace"\n')  # the later file wins
    assert setting_origin("country", env={}, paths=paths) == f"{project}: setting 'country'"
    assert setting_origin("region", env={}, paths=paths) == ""


def test_an_unknown_location_says_where_it_was_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    monkeypatch.setenv("CARBONLENS_COUNTRY", "Frnace")
    with pytest.raises(LocationError, match="^environment variable CARBONLENS_COUNTRY: unknown"):
        Tracker(store=str(tmp_path / "runs.db"))
    with pytest.raises(LocationError, match="^argument region: unknown location 'nowhere'"):
        Tracker(region="nowhere", store=str(tmp_path / "runs.db"))
    monkeypatch.delenv("CARBONLENS_COUNTRY")
    (tmp_path / "carbonlens.toml").write_text('country = "Frnace"\n')
    with pytest.raises(LocationError) as caught:
        Tracker(store=str(tmp_path / "runs.db"))
    assert str(caught.value).startswith(f"{tmp_path / 'carbonlens.toml'}: setting 'country': ")
    assert caught.value.suggestions == ("FR",)


def test_a_tool_table_outside_pyproject_says_where_it_belongs(tmp_path: Path) -> None:
    path = tmp_path / "carbonlens.toml"
    path.write_text('[tool.carbonlens]\ncountry = "FR"\n')
    with pytest.raises(ConfigError, match=r"unknown setting 'tool' \(this file holds the settings"):
        load_settings(env={}, paths=[path])
