"""FLOPs of training and inference, and time on hardware, hand-computed."""

from __future__ import annotations

import pytest

from carbonlens.errors import EstimateError
from carbonlens.estimate.flops import (
    DEFAULT_MFU_RATIO,
    MFU_RANGE_RATIO,
    Precision,
    Training,
    compute_time_s,
    forward_flop_per_token,
    query_flop,
    training_flop,
)


def test_full_training_is_6nd() -> None:
    # GPT-3: 6 × 175e9 × 300e9 = 3.15e23 (Patterson et al. 2021 Table 4 list 3.14e23)
    assert training_flop(175e9, 300e9) == pytest.approx(3.15e23)


def test_full_finetuning_is_6nd_over_the_finetuning_tokens() -> None:
    assert training_flop(7e9, 1e9, Training.FINETUNE) == pytest.approx(4.2e19)


def test_peft_is_4nd() -> None:
    # forward 2N + activation gradients 2N, no weight gradients: 4 × 7e9 × 1e9
    assert training_flop(7e9, 1e9, Training.PEFT) == pytest.approx(2.8e19)


def test_sparse_and_moe_use_active_parameters() -> None:
    # Mixtral-like: 46.7B total, 12.9B active: 6 × 12.9e9 × 1e12
    assert training_flop(46.7e9, 1e12, Training.SPARSE, active_params=12.9e9) == pytest.approx(
        7.74e22
    )
    assert training_flop(46.7e9, 1e12, active_params=12.9e9) == pytest.approx(7.74e22)
    with pytest.raises(EstimateError, match="active parameters"):
        training_flop(46.7e9, 1e12, Training.SPARSE)
    with pytest.raises(EstimateError, match="exceed"):
        training_flop(1e9, 1e12, active_params=2e9)


def test_attention_term_is_three_forward_passes() -> None:
    # GPT-3 175B: 96 layers, d_model 12288, n_ctx 2048.
    # per token 6N + 6 · 96 · 2048 · 12288 = 1.05e12 + 1.4496e10
    attention = 6 * 96 * 2048 * 12288
    assert training_flop(175e9, 1.0, layers=96, context_tokens=2048, d_model=12288) == (
        pytest.approx(6 * 175e9 + attention)
    )
    # PEFT: two passes of the attention term
    assert training_flop(
        175e9, 1.0, Training.PEFT, layers=96, context_tokens=2048, d_model=12288
    ) == pytest.approx(4 * 175e9 + attention * 2 / 3)


def test_attention_needs_all_three() -> None:
    with pytest.raises(EstimateError, match="together"):
        training_flop(1e9, 1e9, layers=12)


def test_forward_flop_per_token() -> None:
    assert forward_flop_per_token(7e9) == 1.4e10
    # + 2 · 32 layers · 1000 tokens · 4096 = 262,144,000
    assert forward_flop_per_token(
        7e9, layers=32, context_tokens=1000, d_model=4096
    ) == pytest.approx(1.4e10 + 262_144_000)


def test_query_flop_counts_causal_attention() -> None:
    # 2N·T with T = 500 + 200
    assert query_flop(7e9, 500, 200) == pytest.approx(2 * 7e9 * 700)
    # + n_layer · d · T(T+1) = 32 · 4096 · 700 · 701
    assert query_flop(7e9, 500, 200, layers=32, d_model=4096) == pytest.approx(
        2 * 7e9 * 700 + 32 * 4096 * 700 * 701
    )
    with pytest.raises(EstimateError, match="tokens"):
        query_flop(7e9, 0, 0)


def test_time_is_flop_over_devices_peak_and_mfu() -> None:
    # 3.15e23 / (1024 × 312e12 × 0.4) = 2,464,637 s
    assert compute_time_s(3.15e23, 1024, 312e12, 0.4) == pytest.approx(
        3.15e23 / (1024 * 312e12 * 0.4)
    )


@pytest.mark.parametrize(("devices", "mfu"), [(0, 0.4), (8, 0.0), (8, 1.5)])
def test_time_rejects_absurd_inputs(devices: int, mfu: float) -> None:
    with pytest.raises(EstimateError):
        compute_time_s(1e20, devices, 312e12, mfu)


def test_defaults_and_precision_sizes() -> None:
    low, high = MFU_RANGE_RATIO
    assert low < DEFAULT_MFU_RATIO < high
    assert [p.bytes_per_param for p in Precision] == [4.0, 2.0, 2.0, 1.0]
