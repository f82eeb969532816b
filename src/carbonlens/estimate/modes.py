"""Estimation modes: the footprint of a planned or published job, without measuring it.

Each mode is a pure function returning one `Estimate`, priced with the model of
DESIGN.md and the tracker's constants (embodied figures and lifetime from
`estimate.embodied`)::

    IT energy        E_it  = devices × power × time (+ servers × host power × time)
    facility energy  E     = E_it × PUE
    operational      C_op  = E × I                (I: grid intensity, gCO2e/kWh)
    embodied         C_emb = Σ embodied × time / lifetime
    total            C     = C_op + C_emb

* `hardware_time`: devices × hours (or device-hours) at a known or TDP-based power;
* `compute`: FLOPs (6·N·D, 4·N·D for PEFT, 6·N_active·D for sparse/MoE) → time →
  energy (`estimate.flops`);
* `hyperparameter_search`: trials × one trial, with early stopping;
* `federated`: client compute plus communication over the rounds;
* `inference` (in `estimate.inference`, re-exported here): serving at scale.

Power per device is the user's average or TDP × load factor (`estimate.hardware`).
Every uncertain input (load factor, MFU, memory-bandwidth utilisation, PUE, grid
intensity, a user's wattage given as an `Assumption`) carries a low and a high
value; `low_g`/`high_g` bound the total over those ranges (`quantities.bounds`:
every low/high corner evaluated), never a fixed ±%.

The grid comes in as a `Grid` (intensity and PUE with their ranges), built by the
caller from the bundled tables (the CLI) or from known values (`Grid.fixed`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from carbonlens.errors import EstimateError
from carbonlens.estimate.embodied import gpu_embodied
from carbonlens.estimate.flops import (
    FLOP_PER_PARAM_TOKEN,
    Precision,
    Training,
    compute_time_s,
    training_flop,
)
from carbonlens.estimate.hardware import DeviceSpec, power_assumptions
from carbonlens.estimate.inference import inference
from carbonlens.estimate.model import (
    GIVEN,
    Estimate,
    Figures,
    Fleet,
    Grid,
    Host,
    Part,
    build,
    fleet,
    mfu_assumption,
    on_fleet,
    precision_assumptions,
)
from carbonlens.estimate.quantities import Assumption, Values, non_negative, positive, whole
from carbonlens.units import BYTES_PER_GB, J_PER_KWH

__all__ = [
    "NETWORK_J_PER_BYTE",
    "Assumption",
    "Estimate",
    "Grid",
    "Host",
    "Part",
    "compute",
    "federated",
    "hardware_time",
    "hyperparameter_search",
    "inference",
]

NETWORK_J_PER_BYTE: Final = 0.059 * J_PER_KWH / BYTES_PER_GB
"""Operational energy of moving one byte over the internet: 0.059 kWh per GB (10**9
bytes), the network segment of the Sustainable Web Design model v4 (2024), as
shipped in The Green Web Foundation's co2.js (``SWDV4.OPERATIONAL_KWH_PER_GB_NETWORK``)."""

_S_PER_H: Final = 3600.0


def hardware_time(
    *,
    device: DeviceSpec,
    count: int,
    grid: Grid,
    hours: float | None = None,
    device_hours: float | None = None,
    power_w: float | Assumption | None = None,
    load_ratio: float | Assumption | None = None,
    host: Host | None = None,
    embodied: bool = True,
    lifetime_s: float | None = None,
) -> Estimate:
    """The footprint of `count` devices running for a known time.

    Args:
        device: the device (see `hardware.resolve_device`).
        count: number of devices (≥ 1).
        grid: grid intensity and PUE.
        hours: wall-clock hours; give this or `device_hours`.
        device_hours: device-hours (count × hours), as papers report GPU-hours.
        power_w: average power per device in watts, all-in (a number is exact, an
            `Assumption` carries its range); default TDP × load factor.
        load_ratio: fraction of TDP drawn on average (0-1); default 1.0, range 0.5-1.0.
        host: server power and size; default: host power not included.
        embodied: whether to include embodied emissions.
        lifetime_s: hardware lifetime in seconds; default 4 years (`estimate.embodied`).

    Returns:
        The estimate.

    Raises:
        EstimateError: a missing, negative or absurd input.
    """
    if (hours is None) == (device_hours is None):
        raise EstimateError("give either hours or device_hours (not both)")
    jobs = fleet(device, count, host, embodied=embodied, lifetime_s=lifetime_s)
    if hours is not None:
        wall_s = positive("hours", hours) * _S_PER_H
    else:
        wall_s = positive("device_hours", device_hours or 0.0) * _S_PER_H / count
    power, watts = power_assumptions(device, power_w, load_ratio)
    assumptions = {**power, **jobs.assumptions, **grid.assumptions()}
    return build("hardware", jobs, assumptions, lambda v: on_fleet(jobs, watts(v), v, wall_s))


def compute(
    *,
    device: DeviceSpec,
    count: int,
    grid: Grid,
    params: float | None = None,
    tokens: float | None = None,
    flop: float | None = None,
    training: Training = Training.FULL,
    active_params: float | None = None,
    precision: Precision | None = None,
    mfu_ratio: float | Assumption | None = None,
    power_w: float | Assumption | None = None,
    load_ratio: float | Assumption | None = None,
    host: Host | None = None,
    embodied: bool = True,
    lifetime_s: float | None = None,
    layers: int | None = None,
    context_tokens: float | None = None,
    d_model: int | None = None,
) -> Estimate:
    """The footprint of a training run from its compute: FLOPs → time → energy.

    Args:
        device: the device; count: number of devices; grid: intensity and PUE.
        params: parameters N (all experts for a mixture-of-experts).
        tokens: training tokens D.
        flop: model FLOPs, instead of `params` and `tokens`.
        training: full, finetune (both 6·N·D), peft (4·N·D) or sparse (6·N_active·D).
        active_params: parameters used per token (mixture-of-experts, sparse).
        precision: format of the matrix multiplications; default bf16 (fp16 without bf16).
        mfu_ratio: model FLOPs utilisation (0-1); default 0.35, range 0.2-0.5.
        power_w, load_ratio, host, embodied, lifetime_s: as in `hardware_time`.
        layers, context_tokens, d_model: optional attention term (`flops.training_flop`).

    Returns:
        The estimate, with `flop`, device-hours and wall-clock hours.
    """
    if flop is None:
        missing = [name for name, v in (("params", params), ("tokens", tokens)) if v is None]
        if missing:
            raise EstimateError(f"missing input: {', '.join(missing)} (or give flop)")
        flop = training_flop(
            params or 0.0,
            tokens or 0.0,
            training,
            active_params=active_params,
            layers=layers,
            context_tokens=context_tokens,
            d_model=d_model,
        )
        k = FLOP_PER_PARAM_TOKEN[training]
        formula = f"{k:g}·N·D for {training.value} training (Kaplan et al. 2020; flops.py)"
    else:
        formula = GIVEN
    jobs = fleet(device, count, host, embodied=embodied, lifetime_s=lifetime_s)
    power, watts = power_assumptions(device, power_w, load_ratio)
    assumptions = {
        "flop": Assumption(positive("flop", flop), formula),
        **precision_assumptions(device, precision)[1],
        "mfu_ratio": mfu_assumption(mfu_ratio),
        **power,
        **jobs.assumptions,
        **grid.assumptions(),
    }

    def run(v: Values) -> Figures:
        wall_s = compute_time_s(v["flop"], count, v["peak_flop_per_s"], v["mfu_ratio"])
        return on_fleet(jobs, watts(v), v, wall_s)

    return build("compute", jobs, assumptions, run, flop=flop)


def hyperparameter_search(
    trial: Estimate,
    *,
    trials: int,
    early_stopped_ratio: float = 0.0,
    stopped_at_ratio: float | None = None,
    parallel_trials: int = 1,
) -> Estimate:
    """A hyperparameter search: `trials` runs like `trial`, some stopped early.

    Cost = trials × (1 - s + s × p) × one trial, with s the share of trials stopped
    early and p the share of the full budget a stopped trial used (successive
    halving and ASHA stop most trials after a small share of the budget).

    Args:
        trial: the estimate of one full trial (any mode).
        trials: number of trials (≥ 1).
        early_stopped_ratio: share of trials stopped early, 0-1.
        stopped_at_ratio: share of the budget a stopped trial used, 0-1; required
            when `early_stopped_ratio` > 0.
        parallel_trials: trials run at once (divides the wall-clock time only).

    Returns:
        The search's estimate: energies, emissions, ranges and device-hours scale
        linearly with the trial equivalents.
    """
    whole("trials", trials)
    whole("parallel trials", parallel_trials)
    s = early_stopped_ratio
    if not 0 <= s <= 1:
        raise EstimateError(f"the early-stopped share must be in [0, 1], got {s!r}")
    if s > 0 and stopped_at_ratio is None:
        raise EstimateError("missing input: stopped_at (share of the budget a stopped trial used)")
    p = 1.0 if stopped_at_ratio is None else positive("stopped_at", stopped_at_ratio, maximum=1.0)
    factor = trials * (1 - s + s * p)
    return replace(
        trial,
        mode=f"hpo ({trial.mode} trials)",
        it_energy_j=trial.it_energy_j * factor,
        facility_energy_j=trial.facility_energy_j * factor,
        operational_g=trial.operational_g * factor,
        embodied_g=trial.embodied_g * factor,
        low_g=trial.low_g * factor,
        high_g=trial.high_g * factor,
        device_hours=trial.device_hours * factor,
        wall_hours=trial.wall_hours * factor / parallel_trials,
        flop=None if trial.flop is None else trial.flop * factor,
        parts=tuple(replace(x, it_energy_j=x.it_energy_j * factor) for x in trial.parts),
        assumptions={
            **trial.assumptions,
            "trials": Assumption(trials, GIVEN),
            "early_stopped_ratio": Assumption(s, GIVEN),
            "stopped_at_ratio": Assumption(p, GIVEN if stopped_at_ratio else "no early stopping"),
            "parallel_trials": Assumption(parallel_trials, GIVEN),
        },
        details={**trial.details, "trial_equivalents": factor},
    )


def federated(
    *,
    grid: Grid,
    clients_per_round: int,
    rounds: int,
    client_device: DeviceSpec | None = None,
    client_power_w: float | Assumption | None = None,
    client_seconds_per_round: float | None = None,
    client_flop_per_round: float | None = None,
    precision: Precision | None = None,
    mfu_ratio: float | Assumption | None = None,
    load_ratio: float | Assumption | None = None,
    bytes_per_round: float = 0.0,
    network_j_per_byte: float | None = None,
    embodied: bool = True,
    client_embodied_g: float | None = None,
    lifetime_s: float | None = None,
) -> Estimate:
    """Federated learning: client compute plus communication, over all rounds.

    Energy = clients × rounds × (client seconds × client power + bytes × network
    energy per byte). Client time is given, or client FLOPs / (peak × MFU) on the
    client device. PUE is not applied: clients are not in data centres, and the
    network figure covers the network's own overheads. Server-side aggregation is
    not included.

    Args:
        grid: grid intensity of the clients (its PUE is not used).
        clients_per_round: clients training in each round (≥ 1).
        rounds: federated rounds (≥ 1).
        client_device: the clients' device, for its TDP, peak FLOP/s and embodied figure.
        client_power_w: average client power in watts (default TDP × load factor).
        client_seconds_per_round: local training time per client per round, seconds.
        client_flop_per_round: local training FLOPs per client per round, instead.
        precision, mfu_ratio, load_ratio: as in `compute`, for the client device.
        bytes_per_round: bytes each client sends and receives per round.
        network_j_per_byte: network energy per byte; default `NETWORK_J_PER_BYTE`.
        embodied: whether to include the clients' embodied emissions.
        client_embodied_g: manufacturing emissions of one client device, gCO2e.
        lifetime_s: client lifetime in seconds; default 4 years.

    Returns:
        The estimate (parts: clients, network).
    """
    missing = []
    if client_device is None and client_power_w is None:
        missing.append("client power (or a client device with a TDP)")
    if client_seconds_per_round is None and client_flop_per_round is None:
        missing.append("client seconds per round (or client FLOPs per round)")
    if client_flop_per_round is not None and client_device is None:
        missing.append("client device (for its peak FLOP/s)")
    if missing:
        raise EstimateError(f"missing input: {'; '.join(missing)}")
    device = client_device or DeviceSpec("client", "client device", "", "client")
    clients, total_rounds = whole("clients per round", clients_per_round), whole("rounds", rounds)
    power, watts = power_assumptions(device, client_power_w, load_ratio)
    jobs = _clients(device, clients, embodied, client_embodied_g, lifetime_s)
    if network_j_per_byte is None:
        network, source = NETWORK_J_PER_BYTE, "0.059 kWh/GB, Sustainable Web Design v4 (co2.js)"
    else:
        network, source = non_negative("network energy per byte", network_j_per_byte), GIVEN
    timing: dict[str, Assumption] = {}
    if client_seconds_per_round is not None:
        seconds = positive("client seconds per round", client_seconds_per_round)
        timing["client_seconds_per_round"] = Assumption(seconds, GIVEN)
    else:
        flop = positive("client FLOPs per round", client_flop_per_round or 0.0)
        timing = {
            "client_flop_per_round": Assumption(flop, GIVEN),
            **precision_assumptions(device, precision)[1],
        }
        timing["mfu_ratio"] = mfu_assumption(mfu_ratio)
    assumptions = {
        "clients_per_round": Assumption(clients, GIVEN),
        "rounds": Assumption(total_rounds, GIVEN),
        **timing,
        **power,
        "bytes_per_round": Assumption(non_negative("bytes per round", bytes_per_round), GIVEN),
        "network_j_per_byte": Assumption(network, source),
        **jobs.assumptions,
        "intensity_g_per_kwh": grid.assumptions()["intensity_g_per_kwh"],
    }

    def run(v: Values) -> Figures:
        if "client_seconds_per_round" in v:
            seconds = v["client_seconds_per_round"]
        else:
            seconds = compute_time_s(
                v["client_flop_per_round"], 1, v["peak_flop_per_s"], v["mfu_ratio"]
            )
        busy_s = total_rounds * seconds
        client_j = clients * watts(v) * busy_s
        network_j = clients * total_rounds * v["bytes_per_round"] * v["network_j_per_byte"]
        parts = (Part("clients", client_j), Part("network", network_j))
        embodied_g = jobs.embodied_g(busy_s)
        return Figures(
            parts,
            client_j + network_j,
            v["intensity_g_per_kwh"],
            embodied_g,
            clients * busy_s,
            busy_s,
        )

    notes = ("PUE not applied: clients are outside data centres; server aggregation not included",)
    return build("federated", jobs, assumptions, run, notes=notes)


def _clients(
    device: DeviceSpec,
    clients: int,
    embodied: bool,
    client_embodied_g: float | None,
    lifetime_s: float | None,
) -> Fleet:
    """The client devices as a fleet without servers, with their embodied record."""
    if not embodied:
        return Fleet(device, clients, 0, 0.0, (), {}, ("embodied emissions left out",))
    if client_embodied_g is None and device.kind not in {"gpu", "tpu", "accelerator"}:
        note = f"no embodied figure for a {device.kind} client; give client_embodied_g"
        return Fleet(device, clients, 0, 0.0, (), {}, (note,))
    given = client_embodied_g is not None
    per_device = client_embodied_g if given else device.embodied_g
    share = gpu_embodied(
        device.name,
        clients,
        embodied_g_per_gpu=per_device,
        embodied_source="" if given else device.embodied_origin,
        lifetime_s=lifetime_s,
    )
    found = {"embodied_devices_g": Assumption(share.embodied_total_g, share.source)}
    return Fleet(device, clients, 0, 0.0, (share,), found, ())
