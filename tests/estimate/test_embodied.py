"""Embodied-carbon defaults (from data/embodied_carbon.csv) and amortisation, hand-computed."""

from __future__ import annotations

from typing import Any

import pytest

from carbonlens.errors import ConfigError
from carbonlens.estimate.embodied import (
    DEFAULT_LIFETIME_S,
    amortised_g,
    gpu_embodied,
    host_embodied,
)
from carbonlens.records import Component

# 4 y = 4 × 365.25 d × 86,400 s = 126,230,400 s
FOUR_YEARS_S = 126_230_400.0
ONE_HOUR_S = 3_600.0


def test_default_gpu_is_150_kg_over_4_years() -> None:
    # embodied_carbon.csv: gpu_card_generic,150,kgCO2e per GPU card,...,
    # 4 y (CCF/Teads) / 6 y (BLOOM),...
    share = gpu_embodied("gpu0")
    assert share.embodied_total_g == 150_000.0
    assert share.lifetime_s == DEFAULT_LIFETIME_S == FOUR_YEARS_S
    assert (share.device, share.component, share.share_ratio) == ("gpu0", Component.GPU, 1.0)
    assert "gpu_card_generic" in share.source and "4 y" in share.source


def test_one_gpu_for_one_hour() -> None:
    # 150,000 g × 3,600 s / 126,230,400 s = 540,000,000 / 126,230,400 = 6250/1461 = 4.27789... g
    assert amortised_g(gpu_embodied(), ONE_HOUR_S) == pytest.approx(6250 / 1461, rel=1e-12)


def test_four_gpus_for_one_hour() -> None:
    # 4 × 6250/1461 = 25000/1461 = 17.1116 g
    share = gpu_embodied("H100", count=4)
    assert share.device == "4 x H100"
    assert share.embodied_total_g == 600_000.0
    assert amortised_g(share, ONE_HOUR_S) == pytest.approx(25_000 / 1461, rel=1e-12)


def test_host_share_for_two_of_64_threads() -> None:
    # embodied_carbon.csv: server_base_commodity,1000,kgCO2e per server,...,4 y,...
    # 1,000,000 g × 3,600 s / 126,230,400 s × 2/64 = 15625/17532 = 0.891227... g
    share = host_embodied(2 / 64)
    assert (share.embodied_total_g, share.component) == (1_000_000.0, Component.OTHER)
    assert "server_base_commodity" in share.source
    assert amortised_g(share, ONE_HOUR_S) == pytest.approx(15_625 / 17_532, rel=1e-12)


def test_overrides_replace_the_defaults() -> None:
    # Chien et al. 318 kg per A100 (incl. server share) over BLOOM's 6 years, for 1 h:
    # 318,000 × 3,600 / (6 × 31,557,600) = 1,144,800,000 / 189,345,600 = 6.04608... g
    six_years_s = 6 * 31_557_600.0
    share = gpu_embodied(embodied_g_per_gpu=318_000.0, lifetime_s=six_years_s)
    assert (share.embodied_total_g, share.lifetime_s) == (318_000.0, six_years_s)
    assert "given by caller" in share.source and "gpu_card_generic" not in share.source
    assert amortised_g(share, ONE_HOUR_S) == pytest.approx(1_144_800_000 / 189_345_600)
    host = host_embodied(1.0, embodied_g=2_500_000.0, lifetime_s=six_years_s)
    assert host.embodied_total_g == 2_500_000.0 and host.lifetime_s == six_years_s


def test_partial_gpu_share_scales_linearly() -> None:
    # half of one card for 1 h: 6250/1461 / 2 = 3125/1461 g
    assert amortised_g(gpu_embodied(share_ratio=0.5), ONE_HOUR_S) == pytest.approx(3125 / 1461)


def test_zero_duration_is_zero() -> None:
    assert amortised_g(host_embodied(1.0), 0.0) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"count": 0}, "count"),
        ({"share_ratio": 1.5}, "share_ratio"),
        ({"share_ratio": -0.1}, "share_ratio"),
        ({"share_ratio": float("nan")}, "share_ratio"),
        ({"lifetime_s": 0.0}, "lifetime_s"),
        ({"lifetime_s": float("inf")}, "lifetime_s"),
        ({"embodied_g_per_gpu": -1.0}, "embodied_g_per_gpu"),
    ],
)
def test_bad_gpu_arguments_raise_config_error(kwargs: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        gpu_embodied(**kwargs)
    assert caught.value.setting == setting


def test_bad_host_arguments_and_duration_raise_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        host_embodied(2.0)
    assert caught.value.setting == "share_ratio"
    with pytest.raises(ConfigError) as caught:
        host_embodied(0.5, embodied_g=float("nan"))
    assert caught.value.setting == "embodied_g"
    with pytest.raises(ConfigError) as caught:
        amortised_g(host_embodied(0.5), -1.0)
    assert caught.value.setting == "duration_s"


def test_a_per_card_figure_from_a_table_keeps_its_source() -> None:
    # the estimator passes hardware.csv's figure per card: it was labelled "given by
    # caller" although the user gave nothing
    from carbonlens.estimate.hardware import resolve_device

    a100 = resolve_device("A100").spec
    assert a100.embodied_g is not None and a100.embodied_source
    share = gpu_embodied(
        a100.name, 64, embodied_g_per_gpu=a100.embodied_g, embodied_source=a100.embodied_origin
    )
    assert share.source.startswith(f"150 kgCO2e (hardware.csv: {a100.embodied_source})")
    assert "given by caller" not in share.source
    assert "given by caller" in gpu_embodied(embodied_g_per_gpu=1000.0).source
