"""Inference at scale: energy and emissions per query, per day, per year, break-even day.

One replica is `count` devices holding the model. A query's replica-time is
prefill plus its share of the decode steps::

    prefill_s = FLOPs(prompt) / (count × peak × MFU)                 compute-bound
    step_s    = max(weights_bytes / (count × bandwidth × MBU),        memory-bound
                    batch × FLOPs(token) / (count × peak × MFU))      compute-bound
    query_s   = prefill_s + output_tokens × step_s / batch

This is the roofline model: at small batches a decode step is bound by reading
every weight once, so utilisation rises with batch size (batch × FLOPs per
byte read) until the step becomes compute-bound, and energy per query falls
accordingly. Energy = replica busy time × devices × power (× PUE); the fleet is
assumed sized to the load (no idle capacity), KV-cache reads are not counted,
and embodied emissions follow device busy time. FLOPs per token follow
`flops.query_flop` (2·N, plus the attention term when the architecture is given).

The break-even day is the day cumulative inference emissions pass a given
training footprint: training gCO2e / inference gCO2e per day.
"""

from __future__ import annotations

from typing import Final

from carbonlens.estimate.flops import Precision, query_flop
from carbonlens.estimate.hardware import DeviceSpec, power_assumptions
from carbonlens.estimate.model import (
    GIVEN,
    Estimate,
    Figures,
    Grid,
    Host,
    build,
    fleet,
    mfu_assumption,
    on_fleet,
    precision_assumptions,
)
from carbonlens.estimate.quantities import (
    Assumption,
    Values,
    assumed,
    central,
    non_negative,
    positive,
    whole,
)
from carbonlens.units import S_PER_YEAR

__all__ = ["DEFAULT_MBU_RATIO", "MBU_RANGE_RATIO", "inference"]

DEFAULT_MBU_RATIO: Final = 0.7
"""Default memory-bandwidth utilisation (0-1) of decoding: the achieved share of
peak memory bandwidth. An assumption (a rule of thumb for optimised serving stacks
such as vLLM or TensorRT-LLM), not a published constant; hence the wide range."""

MBU_RANGE_RATIO: Final = (0.5, 0.85)
"""Low and high memory-bandwidth utilisation (0-1)."""

MBU_SOURCE: Final = (
    "memory-bandwidth utilisation 0.7, range 0.5-0.85: assumed share of peak memory "
    "bandwidth a serving stack reaches when decoding (rule of thumb, not a published constant)"
)

_S_PER_DAY: Final = 86_400.0


def inference(
    *,
    device: DeviceSpec,
    count: int,
    grid: Grid,
    params: float,
    input_tokens: float,
    output_tokens: float,
    queries_per_day: float,
    days: float,
    batch_size: int = 1,
    active_params: float | None = None,
    precision: Precision | None = None,
    mfu_ratio: float | Assumption | None = None,
    mbu_ratio: float | Assumption | None = None,
    power_w: float | Assumption | None = None,
    load_ratio: float | Assumption | None = None,
    host: Host | None = None,
    embodied: bool = True,
    lifetime_s: float | None = None,
    training_g: float | None = None,
    layers: int | None = None,
    d_model: int | None = None,
) -> Estimate:
    """Serving a model at scale: energy and emissions per query, per day, per year.

    One replica is `count` devices holding the model. A query's replica-time is
    prefill (compute-bound: FLOPs / (peak × MFU)) plus `output_tokens` decode steps
    shared by the `batch_size` queries decoded together. A decode step takes the
    longer of reading the weights once (bytes / (bandwidth × MBU)) and computing
    the batch's tokens (batch × FLOPs / (peak × MFU)): the roofline model, in which
    utilisation rises with batch size until compute-bound, so energy per query
    falls with batch size. KV-cache reads and idle capacity are not included; the
    fleet is assumed sized to the load. Embodied emissions follow device busy time.

    Args:
        device, count, grid: the replica's devices and where they run.
        params: parameters N; active_params: used per token (mixture-of-experts).
        input_tokens, output_tokens: tokens per query in and out.
        queries_per_day: queries per day (daily users × queries each).
        days: days of service.
        batch_size: queries decoded together (≥ 1).
        precision: weight and compute format; default bf16 (fp16 without bf16).
        mfu_ratio: compute utilisation; default 0.35, range 0.2-0.5.
        mbu_ratio: memory-bandwidth utilisation; default 0.7, range 0.5-0.85.
        power_w, load_ratio, host, embodied, lifetime_s: as in `hardware_time`.
        training_g: the training footprint (gCO2e) for the break-even day.
        layers, d_model: optional attention term (`flops.query_flop`).

    Returns:
        The estimate over `days`; `details` holds per-query, per-day and per-year
        figures and, with `training_g`, the day inference emissions pass training.
    """
    total = positive("params", params)
    n = total if active_params is None else positive("active params", active_params)
    batch = whole("batch size", batch_size)
    per_day, total_days = positive("queries per day", queries_per_day), positive("days", days)
    training = None if training_g is None else non_negative("training footprint", training_g)
    prefill = query_flop(n, input_tokens, 0, layers=layers, d_model=d_model) if input_tokens else 0
    whole_query = query_flop(n, input_tokens, output_tokens, layers=layers, d_model=d_model)
    decode_token = (whole_query - prefill) / output_tokens if output_tokens else 0.0
    jobs = fleet(device, count, host, embodied=embodied, lifetime_s=lifetime_s)
    power, watts = power_assumptions(device, power_w, load_ratio)
    chosen, compute_inputs = precision_assumptions(device, precision)
    weight_bytes = total * chosen.bytes_per_param
    bandwidth = device.memory_bandwidth_bytes_per_s
    mbu = Assumption(DEFAULT_MBU_RATIO, MBU_SOURCE, *MBU_RANGE_RATIO)
    assumptions = {
        "query_flop": Assumption(whole_query, "2·N per token (+ attention), flops.query_flop"),
        "weight_bytes": Assumption(weight_bytes, f"params × {chosen.bytes_per_param:g} bytes"),
        **compute_inputs,
        "mfu_ratio": mfu_assumption(mfu_ratio),
        **({"mbu_ratio": assumed("mbu_ratio", mbu_ratio, mbu, maximum=1.0)} if bandwidth else {}),
        "batch_size": Assumption(batch, GIVEN),
        "queries_per_day": Assumption(per_day, GIVEN),
        **power,
        **jobs.assumptions,
        **grid.assumptions(),
    }
    notes: tuple[str, ...] = ()
    if not bandwidth:
        notes = (
            f"{device.name}: no memory bandwidth in the table; decode treated as "
            "compute-bound, so batch size has no effect",
        )

    def step_s(v: Values) -> tuple[float, float]:
        compute_s = batch * decode_token / (count * v["peak_flop_per_s"] * v["mfu_ratio"])
        memory_s = weight_bytes / (count * bandwidth * v["mbu_ratio"]) if bandwidth else 0.0
        return max(compute_s, memory_s), compute_s

    def query_s(v: Values) -> float:
        prefill_s = prefill / (count * v["peak_flop_per_s"] * v["mfu_ratio"])
        return prefill_s + output_tokens * step_s(v)[0] / batch

    def run(v: Values) -> Figures:
        return on_fleet(jobs, watts(v), v, query_s(v) * per_day * total_days)

    def details(f: Figures) -> dict[str, float]:
        queries = per_day * total_days
        day_g = f.total_g / total_days
        values = central(assumptions)
        step, compute_s = step_s(values)
        mfu = values["mfu_ratio"]
        found = {
            "queries_per_day": per_day,
            "days": total_days,
            "energy_per_query_j": f.facility_energy_j / queries,
            "total_per_query_g": f.total_g / queries,
            "energy_per_day_j": f.facility_energy_j / total_days,
            "total_per_day_g": day_g,
            "total_per_year_g": day_g * S_PER_YEAR / _S_PER_DAY,
            "busy_replicas": f.wall_s / (total_days * _S_PER_DAY),
            "decode_utilisation_ratio": compute_s / step * mfu if step else 0.0,
        }
        if training is not None:
            found["training_g"] = training
            found["breakeven_day"] = training / day_g
        return found

    return build("inference", jobs, assumptions, run, notes=notes, details=details)
