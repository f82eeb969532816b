"""SCI = (E x I + M) / R from stored runs, with every term shown."""

from __future__ import annotations

from datetime import timedelta

import pytest

from carbonlens.accounting import series_settings
from carbonlens.records import IntensityPoint, IntensitySeries
from carbonlens.report.sci import FORMULA, sci, sci_text, sci_to_dict

from .conftest import EMBODIED_G, START, TOTAL_G, StoredRuns, known_settings


def test_terms_of_the_known_run(runs: StoredRuns) -> None:
    runs.add()
    score = sci([runs.report("known0001")], "token", 1.2e9)
    doc = sci_to_dict(score)
    assert doc["E_energy_kwh"] == pytest.approx(0.36)  # facility energy
    assert doc["I_intensity_g_per_kwh"] == pytest.approx(100.0)
    assert doc["E_times_I_gco2e"] == pytest.approx(36.0)
    assert doc["M_embodied_gco2e"] == pytest.approx(EMBODIED_G)
    assert doc["R_units"] == 1.2e9 and doc["functional_unit"] == "token"
    assert doc["sci_gco2e_per_unit"] == pytest.approx(TOTAL_G / 1.2e9)
    assert doc["formula"] == FORMULA and doc["run_ids"] == ["known0001"]


def test_text_shows_e_i_m_r(runs: StoredRuns) -> None:
    runs.add()
    text = sci_text(sci([runs.report("known0001")], "epoch", 3))
    lines = text.splitlines()
    assert lines[0].startswith("SCI = (E × I + M) / R")
    assert lines[1].startswith("E = 0.36 kWh")
    assert lines[2].startswith("I = 100 gCO2e/kWh")
    assert lines[3].startswith(f"M = {EMBODIED_G:.6g} gCO2e")
    assert lines[4] == "R = 3 epoch"
    assert f"= {TOTAL_G / 3:.4g} gCO2e per epoch" in lines[5]


def test_time_resolved_intensity_is_the_effective_one(runs: StoredRuns) -> None:
    points = (
        IntensityPoint(START, 1800.0, 50.0),
        IntensityPoint(START + timedelta(seconds=1800), 1800.0, 150.0),
    )
    series = IntensitySeries("FR", "Electricity Maps", points)
    runs.add(settings=known_settings(intensity_series=series_settings(series)))
    score = sci([runs.report("known0001")], "inference", 1000)
    # half the energy at 50 and half at 150: 100 g/kWh on average
    assert score.intensity_g_per_kwh == pytest.approx(100.0)
    assert score.operational_g == pytest.approx(36.0)


def test_several_runs_are_summed(runs: StoredRuns) -> None:
    runs.add("known0001")
    runs.add("known0002")
    score = sci([runs.report("known0001"), runs.report("known0002")], "run", 2)
    assert score.sci_g == pytest.approx(TOTAL_G)
    assert score.energy_j == pytest.approx(2 * 0.36 * 3.6e6)


@pytest.mark.parametrize("units", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_functional_units_are_refused(runs: StoredRuns, units: float) -> None:
    runs.add()
    with pytest.raises(ValueError, match="functional units"):
        sci([runs.report("known0001")], "token", units)


def test_no_runs_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one run"):
        sci([], "token", 1.0)
