"""Floating-point operations of training and inference, and the time they take. Pure.

Training (dense transformer, N parameters, D tokens; Kaplan et al. 2020,
"Scaling Laws for Neural Language Models", §2.1 and Table 1; Hoffmann et al.
2022 use the same count)::

    C_train ≈ 6·N·D          forward 2·N·D + backward 4·N·D

* full fine-tuning: the same 6·N·D over the fine-tuning tokens;
* parameter-efficient fine-tuning (LoRA, adapters): ≈ 4·N·D. The backward pass
  costs 2·N per token for the activation gradients plus 2·N for the weight
  gradients (Kaplan's 4·N); frozen weights need no weight gradients, which
  leaves forward 2·N + activation gradients 2·N. This is an assumption derived
  from that split (the adapters' own few parameters are neglected); Hu et al.
  2021 (LoRA, §4.2) report the resulting throughput gain on GPT-3 175B;
* sparse training and mixture-of-experts: 6·N_active·D, with N_active the
  parameters used per token (Patterson et al. 2021 count Switch and GShard this
  way; Fedus et al. 2021);
* optional attention term when the layer count, context length and attention
  width are known: + 6·n_layer·n_ctx·d_attn per token (3 × Kaplan's forward term;
  ×2 instead of ×3 for parameter-efficient fine-tuning).

Inference: 2·N per token, plus 2·n_layer·n_ctx·d_attn when the context is
given (Kaplan Table 1). A query of T = T_in + T_out tokens where token i
attends to the i tokens before it costs 2·N·T + n_layer·d_attn·T·(T + 1).

Time on hardware (model FLOPs utilisation, MFU: PaLM, Chowdhery et al. 2022,
§4.1): ``wall_s = C / (devices × peak FLOP/s × MFU)``. Work spent on activation
recomputation is not counted in C, so it shows up as a lower MFU.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Final

from carbonlens.errors import EstimateError

__all__ = [
    "DEFAULT_MFU_RATIO",
    "FLOP_PER_PARAM_TOKEN",
    "INFERENCE_FLOP_PER_PARAM_TOKEN",
    "MFU_RANGE_RATIO",
    "MFU_SOURCE",
    "Precision",
    "Training",
    "compute_time_s",
    "forward_flop_per_token",
    "query_flop",
    "training_flop",
]


class Precision(StrEnum):
    """Numeric format of the matrix multiplications."""

    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8 = "fp8"

    @property
    def bytes_per_param(self) -> float:
        """Bytes to store one weight in this format."""
        return {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0}[self.value]


class Training(StrEnum):
    """Kind of training run."""

    FULL = "full"
    FINETUNE = "finetune"
    PEFT = "peft"
    SPARSE = "sparse"


FLOP_PER_PARAM_TOKEN: Final = {
    Training.FULL: 6.0,
    Training.FINETUNE: 6.0,
    Training.PEFT: 4.0,
    Training.SPARSE: 6.0,
}
"""FLOPs per (active) parameter per token for each training kind (see the module docstring)."""

INFERENCE_FLOP_PER_PARAM_TOKEN: Final = 2.0
"""Forward-pass FLOPs per parameter per token (Kaplan et al. 2020, Table 1)."""


DEFAULT_MFU_RATIO: Final = 0.35
"""Default model FLOPs utilisation (0-1) of a training run: the middle of `MFU_RANGE_RATIO`."""

MFU_RANGE_RATIO: Final = (0.2, 0.5)
"""Low and high MFU (0-1): published large-scale training runs span 19.7 % (GPT-3 on
V100, Patterson et al. 2021 Table 4) to 46.2 % (PaLM 540B on TPU v4, Chowdhery et al.
2022 Table 3), rounded outward; LLaMA-65B's stated GPU-hours imply about 48 %."""

MFU_SOURCE: Final = (
    "default MFU 0.35, range 0.2-0.5: published training runs span 19.7 % (GPT-3, "
    "Patterson et al. 2021 Table 4) to 46.2 % (PaLM, Chowdhery et al. 2022 Table 3)"
)


def _positive(name: str, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise EstimateError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def _attention_flop(layers: int | None, context_tokens: float | None, d_model: int | None) -> float:
    """2·n_layer·n_ctx·d_attn (Kaplan's forward attention term), 0 when not all are given."""
    if layers is None and context_tokens is None and d_model is None:
        return 0.0
    if layers is None or context_tokens is None or d_model is None:
        raise EstimateError(
            "the attention term needs layers, context tokens and d_model together; "
            "give all three or none"
        )
    width = _positive("layers", layers) * _positive("d_model", d_model)
    return 2.0 * width * _positive("context tokens", context_tokens)


def training_flop(
    params: float,
    tokens: float,
    training: Training = Training.FULL,
    *,
    active_params: float | None = None,
    layers: int | None = None,
    context_tokens: float | None = None,
    d_model: int | None = None,
) -> float:
    """Model FLOPs of a training run.

    Args:
        params: parameters N of the model (all experts for a mixture-of-experts).
        tokens: training tokens D (or samples × tokens per sample).
        training: full training, full fine-tuning, PEFT or sparse training.
        active_params: parameters used per token (mixture-of-experts, sparse); required
            for `Training.SPARSE`, used in place of `params` whenever given.
        layers: transformer layers, for the optional attention term.
        context_tokens: sequence length n_ctx, for the optional attention term.
        d_model: attention width d_attn, for the optional attention term.

    Returns:
        FLOPs (floating-point operations, not per second).

    Raises:
        EstimateError: a value ≤ 0, sparse training without `active_params`, more
            active than total parameters, or a partial attention specification.
    """
    _positive("params", params)
    _positive("tokens", tokens)
    if training is Training.SPARSE and active_params is None:
        raise EstimateError("sparse training needs the active parameters per token")
    n = params if active_params is None else _positive("active params", active_params)
    if n > params:
        raise EstimateError(f"active params ({n:g}) exceed total params ({params:g})")
    per_token = FLOP_PER_PARAM_TOKEN[training] * n
    passes = FLOP_PER_PARAM_TOKEN[training] / INFERENCE_FLOP_PER_PARAM_TOKEN
    per_token += passes * _attention_flop(layers, context_tokens, d_model)
    return per_token * tokens


def forward_flop_per_token(
    params: float,
    *,
    layers: int | None = None,
    context_tokens: float | None = None,
    d_model: int | None = None,
) -> float:
    """Forward-pass FLOPs for one token: 2·N (+ 2·n_layer·n_ctx·d_attn with a context).

    Args:
        params: parameters used per token (active parameters for mixture-of-experts).
        layers: transformer layers (optional, with the two below).
        context_tokens: tokens attended to.
        d_model: attention width.

    Returns:
        FLOPs per token.
    """
    attention = _attention_flop(layers, context_tokens, d_model)
    return INFERENCE_FLOP_PER_PARAM_TOKEN * _positive("params", params) + attention


def query_flop(
    params: float,
    input_tokens: float,
    output_tokens: float,
    *,
    layers: int | None = None,
    d_model: int | None = None,
) -> float:
    """Forward FLOPs of one query: 2·N·T (+ n_layer·d_attn·T·(T + 1) with the architecture).

    Each of the T = input + output tokens attends to the tokens before it (causal
    attention), so the mean context is (T + 1) / 2.

    Args:
        params: parameters used per token.
        input_tokens: prompt tokens (≥ 0).
        output_tokens: generated tokens (≥ 0).
        layers: transformer layers, for the attention term (with `d_model`).
        d_model: attention width.

    Returns:
        FLOPs per query.
    """
    total = input_tokens + output_tokens
    if not (math.isfinite(total) and min(input_tokens, output_tokens) >= 0 and total > 0):
        raise EstimateError("a query needs ≥ 0 input and output tokens, > 0 in total")
    attention = 0.0
    if layers is not None or d_model is not None:
        attention = _attention_flop(layers, (total + 1) / 2, d_model) * total
    return INFERENCE_FLOP_PER_PARAM_TOKEN * _positive("params", params) * total + attention


def compute_time_s(flop: float, devices: int, peak_flop_per_s: float, mfu_ratio: float) -> float:
    """Wall-clock seconds to execute `flop` on `devices` devices at a given MFU.

    Args:
        flop: model FLOPs of the job.
        devices: number of devices working in parallel (≥ 1).
        peak_flop_per_s: dense peak FLOP/s of one device at the job's precision.
        mfu_ratio: model FLOPs utilisation, 0 < MFU ≤ 1.

    Returns:
        Seconds.
    """
    if devices < 1:
        raise EstimateError(f"device count must be ≥ 1, got {devices}")
    if not 0 < mfu_ratio <= 1:
        raise EstimateError(f"utilisation (MFU) must be in (0, 1], got {mfu_ratio!r}")
    return _positive("flop", flop) / (
        devices * _positive("peak FLOP/s", peak_flop_per_s) * mfu_ratio
    )
