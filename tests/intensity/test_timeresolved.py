"""Time-resolved and market-based emissions, checked against integrals computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonlens.intensity.timeresolved import (
    CFE_FORMULA,
    CONTRACTUAL_FORMULA,
    market_based_emissions,
    time_resolved_emissions,
)
from carbonlens.records import (
    Channel,
    Component,
    IntensityPoint,
    IntensitySeries,
    Method,
    Sample,
)
from carbonlens.units import J_PER_KWH

GPU = Channel("nvml", Component.GPU, "gpu0", Method.MEASURED)
CPU = Channel("rapl", Component.CPU, "package-0", Method.MEASURED)
HOUR_S = 3600.0


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 2, hour, minute, tzinfo=UTC)


def series(*points: tuple[datetime, float, float], signal: str = "average") -> IntensitySeries:
    """A series from (start, duration_s, g/kWh) triples."""
    return IntensitySeries(
        location="GB",
        source="test provider",
        points=tuple(IntensityPoint(start, d, i) for start, d, i in points),
        signal=signal,
    )


def sample(end_s: float, duration_s: float, energy_kwh: float, channel: Channel = GPU) -> Sample:
    return Sample(channel, end_s, duration_s, energy_kwh * J_PER_KWH)


HOURLY = series((at(10), HOUR_S, 200.0), (at(11), HOUR_S, 400.0))


def test_energy_across_an_hour_boundary_is_split_by_overlap() -> None:
    # 1 kWh from 10:50 to 11:10, 200 g/kWh until 11:00 and 400 after:
    # 0.5 kWh × 200 + 0.5 kWh × 400 = 100 + 200 = 300 g.
    result = time_resolved_emissions([sample(1200, 1200, 1.0)], at(10, 50), HOURLY, 999.0)
    assert result.operational_g == pytest.approx(300.0)
    assert result.covered_energy_j == pytest.approx(J_PER_KWH)
    assert result.fallback_energy_j == pytest.approx(0.0)
    assert (result.source, result.signal) == ("test provider", "average")
    assert result.covered_ratio == pytest.approx(1.0)


def test_uneven_overlap() -> None:
    # 1 kWh from 10:55 to 11:15: 5 of 20 minutes at 200, 15 of 20 at 400:
    # 0.25 × 200 + 0.75 × 400 = 50 + 300 = 350 g.
    result = time_resolved_emissions([sample(1200, 1200, 1.0)], at(10, 55), HOURLY, 999.0)
    assert result.operational_g == pytest.approx(350.0)


def test_many_short_samples_give_the_same_integral() -> None:
    # The same 1 kWh over 10:55-11:15 as 20 one-minute samples of 0.05 kWh: 5 at 200, 15 at 400.
    samples = [sample(60.0 * (k + 1), 60.0, 0.05) for k in range(20)]
    result = time_resolved_emissions(samples, at(10, 55), HOURLY, 999.0)
    assert result.operational_g == pytest.approx(5 * 0.05 * 200 + 15 * 0.05 * 400)  # 350 g


def test_samples_of_several_channels_add_up() -> None:
    # GPU 1 kWh and CPU 0.2 kWh, both over 10:50-11:10: (1 + 0.2) × 300 g/kWh mean = 360 g.
    samples = [sample(1200, 1200, 1.0), sample(1200, 1200, 0.2, CPU)]
    result = time_resolved_emissions(samples, at(10, 50), HOURLY, 999.0)
    assert result.operational_g == pytest.approx(360.0)
    assert result.energy_j == pytest.approx(1.2 * J_PER_KWH)


def test_gap_in_the_series_uses_the_fallback() -> None:
    # Periods 10:00-11:00 at 200 and 11:30-12:30 at 400; nothing for 11:00-11:30.
    # 1 kWh from 10:45 to 11:45 (uniform, 1/60 kWh per minute):
    #   15 min at 200  -> 0.25 kWh × 200 =  50 g
    #   30 min gap     -> 0.50 kWh × 500 = 250 g (fallback)
    #   15 min at 400  -> 0.25 kWh × 400 = 100 g
    gappy = series((at(10), HOUR_S, 200.0), (at(11, 30), HOUR_S, 400.0))
    result = time_resolved_emissions([sample(3600, 3600, 1.0)], at(10, 45), gappy, 500.0)
    assert result.operational_g == pytest.approx(400.0)
    assert result.covered_energy_j == pytest.approx(0.5 * J_PER_KWH)
    assert result.fallback_energy_j == pytest.approx(0.5 * J_PER_KWH)
    assert result.covered_ratio == pytest.approx(0.5)


def test_energy_before_and_after_the_series_uses_the_fallback() -> None:
    # Series only 11:00-12:00 at 400. 1 kWh from 10:30 to 12:30: 0.25 kWh before (fallback 100),
    # 0.5 kWh inside (× 400 = 200 g), 0.25 kWh after (fallback 100):
    # 0.25 × 100 + 200 + 0.25 × 100 = 250 g.
    one = series((at(11), HOUR_S, 400.0))
    result = time_resolved_emissions([sample(7200, 7200, 1.0)], at(10, 30), one, 100.0)
    assert result.operational_g == pytest.approx(250.0)
    assert result.fallback_energy_j == pytest.approx(0.5 * J_PER_KWH)


def test_run_entirely_outside_the_series_is_all_fallback() -> None:
    # 2 kWh from 08:00 to 09:00, series starts at 10:00: 2 × 450 = 900 g.
    result = time_resolved_emissions([sample(3600, 3600, 2.0)], at(8), HOURLY, 450.0)
    assert result.operational_g == pytest.approx(900.0)
    assert result.covered_energy_j == 0.0
    assert result.covered_ratio == 0.0


def test_empty_series_and_no_samples() -> None:
    empty = series()
    result = time_resolved_emissions([sample(60, 60, 1.0)], at(10), empty, 300.0)
    assert result.operational_g == pytest.approx(300.0)
    nothing = time_resolved_emissions([], at(10), HOURLY, 300.0)
    assert (nothing.operational_g, nothing.energy_j, nothing.covered_ratio) == (0.0, 0.0, 0.0)


def test_half_hour_periods_with_a_run_starting_mid_period() -> None:
    # Half-hourly periods (as the UK API gives) 10:00 at 100, 10:30 at 300, 11:00 at 500.
    # Run starts 10:20; samples of 1 kWh each: 10:20-10:40 (10 min at 100, 10 min at 300),
    # 10:40-11:10 (20 min at 300, 10 min at 500):
    # (0.5 × 100 + 0.5 × 300) + (2/3 × 300 + 1/3 × 500) = 200 + 366.67 = 566.67 g.
    half = series((at(10), 1800.0, 100.0), (at(10, 30), 1800.0, 300.0), (at(11), 1800.0, 500.0))
    samples = [sample(1200, 1200, 1.0), sample(3000, 1800, 1.0)]
    result = time_resolved_emissions(samples, at(10, 20), half, 999.0)
    assert result.operational_g == pytest.approx(200.0 + 200.0 + 500.0 / 3)


def test_instant_sample_is_priced_in_the_period_holding_it() -> None:
    # A 0-second sample of 1 kWh at 11:00 exactly belongs to the period starting 11:00 (400 g).
    at_boundary = time_resolved_emissions([sample(600, 0, 1.0)], at(10, 50), HOURLY, 999.0)
    assert at_boundary.operational_g == pytest.approx(400.0)
    # At 12:30 no period holds it: fallback 999 g.
    outside = time_resolved_emissions([sample(600, 0, 1.0)], at(12, 20), HOURLY, 999.0)
    assert outside.operational_g == pytest.approx(999.0)


def test_pue_scales_the_energy_priced() -> None:
    # 1 kWh IT × PUE 1.5 = 1.5 kWh facility over 10:50-11:10: 1.5 × 300 = 450 g.
    result = time_resolved_emissions(
        [sample(1200, 1200, 1.0)], at(10, 50), HOURLY, 999.0, pue_ratio=1.5
    )
    assert result.operational_g == pytest.approx(450.0)
    assert result.energy_j == pytest.approx(1.5 * J_PER_KWH)


def test_marginal_signal_is_carried() -> None:
    marginal = series((at(10), HOUR_S, 800.0), signal="marginal")
    result = time_resolved_emissions([sample(600, 600, 1.0)], at(10), marginal, 400.0)
    assert result.signal == "marginal"
    assert result.operational_g == pytest.approx(800.0)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        time_resolved_emissions([], datetime(2026, 3, 2, 10), HOURLY, 1.0)
    naive = series((datetime(2026, 3, 2, 10), HOUR_S, 1.0))
    with pytest.raises(ValueError, match="naive"):
        time_resolved_emissions([], at(10), naive, 1.0)


def test_overlapping_or_unordered_periods_are_refused() -> None:
    overlapping = series((at(10), HOUR_S, 1.0), (at(10, 30), HOUR_S, 2.0))
    with pytest.raises(ValueError, match="overlaps"):
        time_resolved_emissions([], at(10), overlapping, 1.0)
    backwards = series((at(11), HOUR_S, 1.0), (at(10), HOUR_S, 2.0))
    with pytest.raises(ValueError, match="out of order"):
        time_resolved_emissions([], at(10), backwards, 1.0)
    negative = series((at(10), -1.0, 1.0))
    with pytest.raises(ValueError, match="negative"):
        time_resolved_emissions([], at(10), negative, 1.0)


@given(
    durations=st.lists(st.floats(1.0, 5000.0), min_size=1, max_size=20),
    energies=st.lists(st.floats(0.0, 1e7), min_size=20, max_size=20),
    offset_s=st.floats(-7200.0, 7200.0),
)
def test_a_constant_series_gives_energy_times_intensity(
    durations: list[float], energies: list[float], offset_s: float
) -> None:
    # A series at 250 g/kWh over the whole day, and fallback 250 too: the integral is
    # total energy × 250 whatever the sample boundaries; energy is conserved.
    day = series((at(0), 24 * HOUR_S, 250.0))
    end_s = 0.0
    samples = []
    for duration_s, energy_j in zip(durations, energies, strict=False):
        end_s += duration_s
        samples.append(Sample(GPU, end_s, duration_s, energy_j))
    start = at(12) + timedelta(seconds=offset_s)
    result = time_resolved_emissions(samples, start, day, 250.0)
    total_j = sum(s.energy_j for s in samples)
    assert result.energy_j == pytest.approx(total_j)
    assert result.operational_g == pytest.approx(total_j / J_PER_KWH * 250.0)


def test_market_based_from_a_contractual_intensity() -> None:
    # 2 kWh × 50 g/kWh contracted = 100 g, whatever the location-based figure.
    result = market_based_emissions(
        energy_j=2 * J_PER_KWH, location_g=800.0, contractual_g_per_kwh=50.0
    )
    assert result.operational_g == pytest.approx(100.0)
    assert (result.method, result.formula) == ("contractual intensity", CONTRACTUAL_FORMULA)
    assert (result.contractual_g_per_kwh, result.cfe_ratio) == (50.0, None)


def test_market_based_from_a_carbon_free_energy_share() -> None:
    # Location-based 300 g with 87 % carbon-free energy: 300 × (1 − 0.87) = 39 g.
    result = market_based_emissions(energy_j=J_PER_KWH, location_g=300.0, cfe_ratio=0.87)
    assert result.operational_g == pytest.approx(39.0)
    assert (result.method, result.formula) == ("carbon-free energy share", CFE_FORMULA)
    assert result.cfe_ratio == 0.87
    none_free = market_based_emissions(energy_j=J_PER_KWH, location_g=300.0, cfe_ratio=0.0)
    all_free = market_based_emissions(energy_j=J_PER_KWH, location_g=300.0, cfe_ratio=1.0)
    assert (none_free.operational_g, all_free.operational_g) == (300.0, 0.0)


@pytest.mark.parametrize(
    ("contractual", "cfe", "message"),
    [
        (None, None, "exactly one"),
        (50.0, 0.5, "exactly one"),
        (-1.0, None, ">= 0"),
        (None, 1.2, "between 0 and 1"),
        (None, -0.1, "between 0 and 1"),
    ],
)
def test_market_based_bad_input(contractual: float | None, cfe: float | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        market_based_emissions(
            energy_j=J_PER_KWH, location_g=1.0, contractual_g_per_kwh=contractual, cfe_ratio=cfe
        )
