"""`carbonlens estimate hardware|compute|hpo|federated|inference`.

The estimator on the command line (docs/estimate.md). Every estimate prints a
table (breakdown, range, assumptions) or, with `--json`, one JSON document with
units in its keys. Grid intensity and PUE come from the bundled tables, as for a
tracked run: `--location` resolves a country, zone or cloud region; the range of
the intensity is the spread of the bundled datasets for that place (world: the
10th-90th percentile of countries); the PUE is the cloud region's, else the
tracker's default (1.0, IT energy only) with the industry average (1.56) as the
high end. Bad input (unknown device, absurd values, missing inputs) exits with
status 2 and a message saying what to give.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from carbonlens._cli_common import CliFailure, carbonlens_errors, print_json
from carbonlens._frozen import frozen
from carbonlens.cli_estimate_options import (
    ACTIVE,
    ARCH,
    COMPARE_MORE,
    DEVICE,
    HOURS,
    MFU,
    OUT,
    PARAMS,
    POWER,
    PRECISION,
    PUE,
    TRAINING,
    WHERE,
    BytesParam,
    CountParam,
)
from carbonlens.errors import EstimateError
from carbonlens.estimate.flops import Precision, Training

if TYPE_CHECKING:
    from carbonlens.estimate.hardware import DeviceSpec
    from carbonlens.estimate.model import Estimate, Grid
    from carbonlens.estimate.whatif import Scenario

__all__ = ["estimate_group", "resolve_grid"]


@frozen
class _Setting:
    """What a comparison varies: the grid, device, precision and training kind."""

    grid: Grid
    device: DeviceSpec | None
    precision: Precision | None
    training: Training = Training.FULL


def _require(mode: str, given: dict[str, Any], *needed: tuple[str, ...]) -> None:
    """Fail listing every missing input; each entry names one or more alternative flags."""
    missing = [
        " or ".join(flags)
        for flags in needed
        if all(given.get(f.lstrip("-").replace("-", "_")) is None for f in flags)
    ]
    if missing:
        raise CliFailure(f"missing for `estimate {mode}`: {', '.join(missing)}")


def _device(name: str | None, notes: list[str]) -> DeviceSpec | None:
    from carbonlens.estimate.hardware import resolve_device

    if name is None:
        return None
    found = resolve_device(name)
    if found.note:
        notes.append(found.note)
    return found.spec


def _common(o: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of a mode from the power, host and embodied options."""
    from carbonlens.accounting import METHOD_RANGE
    from carbonlens.estimate.model import Host
    from carbonlens.estimate.quantities import Assumption
    from carbonlens.records import Method
    from carbonlens.units import S_PER_YEAR

    watts: float | None = o["power_w"]
    power: float | Assumption | None = watts
    if watts is not None and watts > 0:  # a bad wattage is left for the mode to reject
        low, high = METHOD_RANGE[Method.CONSTANT]  # the tracker's range for a user's wattage
        source = f"given by the user (average per device, all-in); range ×{low:g}-×{high:g}"
        power = Assumption(watts, source, watts * low, watts * high)
    source = "given by the user" if o["host_power_w"] else Host().source
    lifetime = o["lifetime_years"]
    return {
        "power_w": power,
        "load_ratio": o["load"],
        "host": Host(o["host_power_w"], o["devices_per_node"], source),
        "embodied": not o["no_embodied"],
        "lifetime_s": None if lifetime is None else lifetime * S_PER_YEAR,
    }


def resolve_grid(
    location: str | None, intensity: float | None, pue: float | None
) -> tuple[Grid, str]:
    """The grid of a location (or a given intensity, or the world), with its label."""
    import statistics

    from carbonlens.estimate.model import AVERAGE_PUE_RATIO, GIVEN, Grid
    from carbonlens.intensity.alternatives import alternatives
    from carbonlens.intensity.table import (
        LocationKind,
        annual_intensity,
        cloud_pue,
        list_locations,
        resolve_location,
        world_average,
    )
    from carbonlens.records import IntensityValue, PueValue
    from carbonlens.tracking.pricing import DEFAULT_PUE

    if intensity is not None and location is not None:
        raise EstimateError("give --intensity or --location, not both")
    cloud = None
    if intensity is not None:
        value, low, high, label = IntensityValue(intensity, "", GIVEN), None, None, "given"
    elif location is not None:
        place = resolve_location(location)
        value, cloud, label = annual_intensity(place), cloud_pue(place), place.code
        spread = [value.intensity_g_per_kwh] + [
            a.intensity_g_per_kwh
            for a in alternatives(place)
            if a.area == place.code and a.signal == "average"
        ]
        low, high = min(spread), max(spread)
        why = f"range: {len(spread)} bundled datasets/years for {place.code}"
        value = replace(value, reason=f"{value.reason}; {why}")
    else:
        countries = [
            annual_intensity(p).intensity_g_per_kwh
            for p in list_locations()
            if p.kind is LocationKind.COUNTRY
        ]
        deciles = statistics.quantiles(countries, n=10)
        value, low, high, label = world_average(), deciles[0], deciles[-1], "world"
        value = replace(value, reason=f"{value.reason}; range: 10th-90th percentile of countries")
    if pue is not None:
        pue_value, pue_low, pue_high = PueValue(pue, GIVEN), None, None
    elif cloud is not None:
        pue_value, pue_low, pue_high = cloud, None, None
    else:
        pue_value, pue_low, pue_high = DEFAULT_PUE, DEFAULT_PUE.pue_ratio, AVERAGE_PUE_RATIO
    ranged = low is not None and high is not None and low < high
    return Grid(
        value,
        pue_value,
        low if ranged else None,
        high if ranged else None,
        pue_low,
        pue_high,
    ), label


def _run(o: dict[str, Any], job: Callable[[_Setting], Estimate]) -> None:
    """Estimate the job in the setting the options give, compare as asked, and print."""
    from carbonlens.estimate.whatif import across

    notes: list[str] = []
    grid, label = resolve_grid(o["location"], o["intensity"], o["pue"])
    device = _device(o.get("device"), notes)
    precision = Precision(o["precision"]) if o.get("precision") else None
    setting = _Setting(grid, device, precision, Training(o.get("training") or "full"))
    estimate = job(setting)
    estimate = replace(estimate, notes=(*notes, *estimate.notes))
    comparisons: dict[str, tuple[Scenario, ...]] = {}
    if o.get("compare_regions"):
        grids = {label: setting.grid}
        for code in _names(o["compare_regions"]):
            grid, name = resolve_grid(code, None, o["pue"])
            grids.setdefault(name, grid)
        comparisons["regions"] = across(
            lambda g: job(replace(setting, grid=g)), grids, baseline=label
        )
    varied: tuple[tuple[str, str, Callable[[str], Any], object], ...] = (
        ("devices", "device", _device_option, o.get("device")),
        ("precisions", "precision", Precision, setting.precision or "default"),
        ("training", "training", Training, setting.training.value),
    )
    for key, field, parse, start in varied:
        if o.get(f"compare_{key}"):
            options: dict[str, Any] = {str(start): None}
            options.update({name: parse(name) for name in _names(o[f"compare_{key}"])})

            def vary(value: Any, field: str = field) -> Estimate:
                return job(setting if value is None else replace(setting, **{field: value}))

            comparisons[key] = across(vary, options, baseline=str(start))
    from carbonlens.report.estimate import estimate_to_dict, print_estimate

    if o["as_json"]:
        print_json(estimate_to_dict(estimate, comparisons))
    else:
        print_estimate(estimate, comparisons)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _device_option(name: str) -> DeviceSpec:
    from carbonlens.estimate.hardware import resolve_device

    return resolve_device(name).spec


def _known(device: DeviceSpec | None) -> DeviceSpec:
    if device is None:
        raise CliFailure("missing: --device")
    return device


def _hardware_job(o: dict[str, Any]) -> Callable[[_Setting], Estimate]:
    from carbonlens.estimate.modes import hardware_time

    def job(s: _Setting) -> Estimate:
        hours, device_hours = o["hours"], o["device_hours"]
        return hardware_time(
            device=_known(s.device),
            count=o["count"],
            grid=s.grid,
            hours=hours,
            device_hours=device_hours,
            **_common(o),
        )

    return job


def _compute_job(o: dict[str, Any]) -> Callable[[_Setting], Estimate]:
    from carbonlens.estimate.modes import compute

    def job(s: _Setting) -> Estimate:
        return compute(
            device=_known(s.device),
            count=o["count"],
            grid=s.grid,
            params=o["params"],
            tokens=o["tokens"],
            flop=o["flop"],
            training=s.training,
            active_params=o["active_params"],
            precision=s.precision,
            mfu_ratio=o["utilization"],
            layers=o["layers"],
            context_tokens=o["context"],
            d_model=o["d_model"],
            **_common(o),
        )

    return job


@click.group("estimate", context_settings={"help_option_names": ["-h", "--help"]})
def estimate_group() -> None:
    """Estimate the footprint of a planned or published job, without measuring it."""


@estimate_group.command("hardware")
@DEVICE
@HOURS
@POWER
@WHERE
@PUE
@OUT
@carbonlens_errors
def hardware_command(**o: Any) -> None:
    """Devices × hours × power (TDP × load, or --power-w) × PUE × intensity, + embodied."""
    _require("hardware", o, ("--device",), ("--hours", "--device-hours"))
    _run(o, _hardware_job(o))


@estimate_group.command("compute")
@TRAINING
@DEVICE
@POWER
@WHERE
@PUE
@OUT
@COMPARE_MORE
@click.option("--compare-training", help="Same job as other training kinds: full,peft.")
@carbonlens_errors
def compute_command(**o: Any) -> None:
    """Training from its compute: FLOPs / (devices × peak × MFU) → time → energy."""
    _require("compute", o, ("--params", "--flop"), ("--tokens", "--flop"), ("--device",))
    _run(o, _compute_job(o))


@estimate_group.command("hpo")
@click.option("--trials", type=int, help="Number of trials.")
@click.option("--early-stopped", type=float, default=0.0, help="Share of trials stopped early.")
@click.option("--stopped-at", type=float, help="Share of the budget a stopped trial used.")
@click.option("--parallel", type=int, default=1, show_default=True, help="Trials at once.")
@TRAINING
@HOURS
@DEVICE
@POWER
@WHERE
@PUE
@OUT
@carbonlens_errors
def hpo_command(**o: Any) -> None:
    """A hyperparameter search: trials × one trial (by compute or by hours), early stopping."""
    from carbonlens.estimate.modes import hyperparameter_search

    per_trial = ("--params", "--flop", "--hours", "--device-hours")
    _require("hpo", o, ("--trials",), ("--device",), per_trial)
    by_compute = o["params"] is not None or o["flop"] is not None
    if by_compute:
        _require("hpo", o, ("--tokens", "--flop"))
    trial = _compute_job(o) if by_compute else _hardware_job(o)

    def job(s: _Setting) -> Estimate:
        return hyperparameter_search(
            trial(s),
            trials=o["trials"],
            early_stopped_ratio=o["early_stopped"],
            stopped_at_ratio=o["stopped_at"],
            parallel_trials=o["parallel"],
        )

    _run(o, job)


@estimate_group.command("federated")
@click.option("--clients", type=int, help="Clients training in each round.")
@click.option("--rounds", type=int, help="Federated rounds.")
@click.option("--client-device", help="Client device (for its TDP, peak, embodied figure).")
@click.option("--client-power-w", type=float, help="Average client power (W).")
@click.option("--client-seconds", type=float, help="Local training seconds per round.")
@click.option("--client-flop", type=CountParam(1), help="Local training FLOPs per round.")
@click.option("--bytes-per-round", type=BytesParam(), default="0", help="Per client: 10MB.")
@click.option("--network-kwh-per-gb", type=float, help="Default 0.059 (SWD v4).")
@click.option("--client-embodied-kg", type=float, help="Embodied kgCO2e of one client.")
@click.option("--load", type=float, help="Fraction of TDP drawn (default 1.0, range 0.5-1).")
@PRECISION
@MFU
@WHERE
@OUT
@carbonlens_errors
def federated_command(**o: Any) -> None:
    """Federated learning: clients × rounds × (client compute + bytes × network energy)."""
    from carbonlens.estimate.modes import federated
    from carbonlens.units import BYTES_PER_GB, G_PER_KG, J_PER_KWH, S_PER_YEAR

    _require(
        "federated",
        o,
        ("--clients",),
        ("--rounds",),
        ("--client-power-w", "--client-device"),
        ("--client-seconds", "--client-flop"),
    )
    per_gb, embodied_kg, years = (
        o["network_kwh_per_gb"],
        o["client_embodied_kg"],
        o["lifetime_years"],
    )

    def job(s: _Setting) -> Estimate:
        return federated(
            grid=s.grid,
            clients_per_round=o["clients"],
            rounds=o["rounds"],
            client_device=s.device,
            client_power_w=o["client_power_w"],
            client_seconds_per_round=o["client_seconds"],
            client_flop_per_round=o["client_flop"],
            precision=s.precision,
            mfu_ratio=o["utilization"],
            load_ratio=o["load"],
            bytes_per_round=o["bytes_per_round"],
            network_j_per_byte=None if per_gb is None else per_gb * J_PER_KWH / BYTES_PER_GB,
            embodied=not o["no_embodied"],
            client_embodied_g=None if embodied_kg is None else embodied_kg * G_PER_KG,
            lifetime_s=None if years is None else years * S_PER_YEAR,
        )

    _run(o | {"pue": None, "device": o["client_device"]}, job)


@estimate_group.command("inference")
@PARAMS
@ACTIVE
@click.option("--input-tokens", type=CountParam(1), help="Prompt tokens per query.")
@click.option("--output-tokens", type=CountParam(1), help="Generated tokens per query.")
@click.option("--queries-per-day", type=CountParam(1), help="Queries per day: 1M.")
@click.option("--users", type=CountParam(1), help="Daily active users (with --queries-per-user).")
@click.option("--queries-per-user", type=float, help="Queries per user per day.")
@click.option("--days", type=float, default=365.0, show_default=True, help="Days of service.")
@click.option("--batch-size", type=int, default=1, show_default=True, help="Queries batched.")
@click.option("--bandwidth-utilization", type=float, help="MBU 0-1 (default 0.7).")
@click.option("--training-kgco2e", type=float, help="Training footprint: break-even day.")
@PRECISION
@MFU
@ARCH
@DEVICE
@POWER
@WHERE
@PUE
@OUT
@COMPARE_MORE
@carbonlens_errors
def inference_command(**o: Any) -> None:
    """Serving at scale: energy per query (roofline, batch effect), per day, per year."""
    from carbonlens.estimate.inference import inference
    from carbonlens.units import G_PER_KG

    needed: list[tuple[str, ...]] = [("--params",), ("--device",), ("--input-tokens",)]
    needed += [("--output-tokens",), ("--queries-per-day", "--users")]
    if o["users"] is not None:
        needed.append(("--queries-per-user",))
    _require("inference", o, *needed)
    per_day = o["queries_per_day"] or o["users"] * o["queries_per_user"]
    training_kg = o["training_kgco2e"]

    def job(s: _Setting) -> Estimate:
        return inference(
            device=_known(s.device),
            count=o["count"],
            grid=s.grid,
            params=o["params"],
            active_params=o["active_params"],
            input_tokens=o["input_tokens"],
            output_tokens=o["output_tokens"],
            queries_per_day=per_day,
            days=o["days"],
            batch_size=o["batch_size"],
            precision=s.precision,
            mfu_ratio=o["utilization"],
            mbu_ratio=o["bandwidth_utilization"],
            training_g=None if training_kg is None else training_kg * G_PER_KG,
            layers=o["layers"],
            d_model=o["d_model"],
            **_common(o),
        )

    _run(o, job)
