"""Pricing of a run from its settings: location, PUE and embodied shares, hand-computed."""

from __future__ import annotations

import pytest

from carbonlens.config import load_settings
from carbonlens.estimate.embodied import amortised_g
from carbonlens.tracking import pricing

# 4 y = 4 × 365.25 d × 86,400 s = 126,230,400 s
FOUR_YEARS_S = 126_230_400.0
ONE_HOUR_S = 3_600.0


def test_default_embodied_shares_for_one_gpu_and_an_eighth_of_a_server() -> None:
    price = pricing.choose(load_settings(env={}, paths=[]), None, ["gpu0"], 0.125)
    gpu, host = price.embodied
    # GPU: 150,000 g × 3,600 s / 126,230,400 s = 6250/1461 = 4.2779 g
    assert amortised_g(gpu, ONE_HOUR_S) == pytest.approx(6250 / 1461, rel=1e-12)
    # server: 1,000,000 g × 3,600 s / 126,230,400 s × 0.125 = 125000/4383 / 8 = 15625/4383
    # = 3.5649 g (126,230,400 s = 1461 × 86,400 s)
    assert amortised_g(host, ONE_HOUR_S) == pytest.approx(15_625 / 4_383, rel=1e-12)


def test_embodied_settings_override_the_table_figures() -> None:
    settings = load_settings(
        env={
            "CARBONLENS_GPU_EMBODIED_KGCO2E": "318",
            "CARBONLENS_HOST_EMBODIED_KGCO2E": "2500",
            "CARBONLENS_LIFETIME_YEARS": "6",
        },
        paths=[],
    )
    gpu, host = pricing.choose(settings, None, ["gpu0"], 1.0).embodied
    six_years_s = 6 * 31_557_600.0  # 189,345,600 s
    assert (gpu.embodied_total_g, gpu.lifetime_s) == (318_000.0, six_years_s)
    assert (host.embodied_total_g, host.lifetime_s) == (2_500_000.0, six_years_s)
    assert "given by caller" in gpu.source and "gpu_card_generic" not in gpu.source
    # 318,000 g × 3,600 s / 189,345,600 s = 6.0461 g; 2,500,000 g × 3,600 / 189,345,600 = 47.532 g
    assert amortised_g(gpu, ONE_HOUR_S) == pytest.approx(1_144_800_000 / 189_345_600)
    assert amortised_g(host, ONE_HOUR_S) == pytest.approx(9_000_000_000 / 189_345_600)


def test_pue_user_setting_then_cloud_region_then_one() -> None:
    region = pricing.resolve(load_settings(env={}, paths=[], overrides={"region": "aws:us-east-1"}))
    # cloud_regions.csv aws,us-east-1: pue 1.15 (GSF real-time-cloud, 2024)
    unset = load_settings(env={}, paths=[])
    assert pricing.choose(unset, region, [], 1.0).pue.pue_ratio == 1.15
    user = load_settings(env={}, paths=[], overrides={"pue": 1.3})
    assert pricing.choose(user, region, [], 1.0).pue == pricing.PueValue(1.3, "user setting")
    assert pricing.choose(unset, None, [], 1.0).pue is pricing.DEFAULT_PUE
