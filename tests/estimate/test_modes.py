"""The estimation modes against hand-computed figures, ranges and bad input."""

from __future__ import annotations

import pytest

from carbonlens.errors import EstimateError
from carbonlens.estimate.flops import Training
from carbonlens.estimate.hardware import resolve_device
from carbonlens.estimate.modes import (
    NETWORK_J_PER_BYTE,
    Assumption,
    Estimate,
    Grid,
    Host,
    compute,
    federated,
    hardware_time,
    hyperparameter_search,
    inference,
)
from carbonlens.records import IntensityValue, PueValue

KWH = 3.6e6
FOUR_YEARS_S = 126_230_400.0  # embodied.DEFAULT_LIFETIME_S
H100 = resolve_device("H100 SXM5").spec  # 700 W, 989.4 TFLOP/s bf16, 3.35 TB/s
A100 = resolve_device("A100 SXM4 80GB").spec  # 400 W, 312 TFLOP/s, 150 kg embodied


def test_hardware_time_by_hand() -> None:
    # 8 × 700 W × 10 h = 56 kWh; × PUE 1.2 = 67.2 kWh; × 100 g/kWh = 6,720 g
    e = hardware_time(device=H100, count=8, hours=10, grid=Grid.fixed(100, 1.2))
    assert e.it_energy_j == pytest.approx(56 * KWH)
    assert e.facility_energy_j == pytest.approx(67.2 * KWH)
    assert e.operational_g == pytest.approx(6720.0)
    # embodied: 8 cards × 150 kg + 1 server × 1,000 kg, for 36,000 s of 4 years
    embodied_g = (8 * 150_000 + 1_000_000) * 36_000 / FOUR_YEARS_S
    assert e.embodied_g == pytest.approx(embodied_g)
    assert e.total_g == pytest.approx(6720.0 + embodied_g)
    assert (e.device_hours, e.wall_hours, e.pue_ratio) == pytest.approx((80, 10, 1.2))
    # only the load factor is uncertain here: 0.5-1.0 of TDP
    assert e.low_g == pytest.approx(3360.0 + embodied_g)
    assert e.high_g == pytest.approx(e.total_g)
    assert e.assumptions["load_ratio"].low == 0.5
    assert [p.name for p in e.parts] == ["gpu"]


def test_device_hours_and_host_power() -> None:
    # 160 device-hours on 16 devices = 10 h; 2 servers × 1,000 W × 10 h = 20 kWh
    e = hardware_time(
        device=H100,
        count=16,
        device_hours=160,
        power_w=500,
        host=Host(power_w=1000, source="measured"),
        grid=Grid.fixed(0, 1.0),
        embodied=False,
    )
    assert e.wall_hours == pytest.approx(10)
    assert {p.name: p.it_energy_j / KWH for p in e.parts} == pytest.approx(
        {"gpu": 80.0, "host": 20.0}
    )
    assert e.embodied_g == 0 and "embodied emissions left out" in e.notes


def test_a_given_power_and_an_exact_grid_give_no_range() -> None:
    e = hardware_time(device=A100, count=1, hours=1, power_w=300, grid=Grid.fixed(50))
    assert e.low_g == e.high_g == pytest.approx(e.total_g)
    assert e.embodied[0].embodied_total_g == 150_000.0  # the table's A100 figure


def test_grid_ranges_widen_the_total() -> None:
    grid = Grid(
        IntensityValue(200.0, "XX", "test"),
        PueValue(1.0, "default"),
        intensity_low_g_per_kwh=100.0,
        intensity_high_g_per_kwh=400.0,
        pue_low_ratio=1.0,
        pue_high_ratio=1.5,
    )
    e = hardware_time(device=A100, count=1, hours=1, power_w=400, grid=grid, embodied=False)
    # 0.4 kWh: central 80 g; low 0.4 × 100 = 40 g; high 0.4 × 1.5 × 400 = 240 g
    assert (e.low_g, e.total_g, e.high_g) == pytest.approx((40.0, 80.0, 240.0))


def test_compute_mode_by_hand() -> None:
    # 6 × 1e9 × 1e10 = 6e19 FLOP; 1 A100 at 312e12 × 0.5 → 384,615.4 s; × 400 W
    e = compute(device=A100, count=1, params=1e9, tokens=1e10, mfu_ratio=0.5, grid=Grid.fixed(100))
    seconds = 6e19 / (312e12 * 0.5)
    assert e.flop == pytest.approx(6e19)
    assert e.wall_hours == pytest.approx(seconds / 3600)
    assert e.it_energy_j == pytest.approx(400 * seconds)
    assert e.assumptions["precision"].value == "bf16"
    assert e.assumptions["peak_flop_per_s"].value == 312e12


def test_compute_range_follows_mfu_and_load() -> None:
    e = compute(device=A100, count=1, params=1e9, tokens=1e10, grid=Grid.fixed(100), embodied=False)
    joules_at = 6e19 / 312e12 * 400  # at MFU 1 and full TDP
    assert e.total_g == pytest.approx(joules_at / 0.35 / KWH * 100)  # default MFU 0.35
    assert e.low_g == pytest.approx(joules_at / 0.5 * 0.5 / KWH * 100)  # MFU 0.5, load 0.5
    assert e.high_g == pytest.approx(joules_at / 0.2 / KWH * 100)  # MFU 0.2, load 1


def test_training_kinds() -> None:
    base = {"device": A100, "count": 8, "params": 7e9, "tokens": 1e9, "grid": Grid.fixed(100)}
    full = compute(**base)
    peft = compute(**base, training=Training.PEFT)
    assert peft.flop == pytest.approx(full.flop * 4 / 6)
    assert peft.total_g == pytest.approx(full.total_g * 4 / 6)
    given = compute(device=A100, count=8, flop=4.2e19, grid=Grid.fixed(100))
    assert given.total_g == pytest.approx(full.total_g)


def test_v100_defaults_to_fp16() -> None:
    e = compute(device=resolve_device("V100").spec, count=1, flop=1e18, grid=Grid.fixed(1))
    assert e.assumptions["precision"].value == "fp16"
    assert e.assumptions["peak_flop_per_s"].value == 125e12


def test_tpus_sit_four_to_a_board_and_get_the_generic_card_figure() -> None:
    e = hardware_time(device=resolve_device("TPU v3").spec, count=8, hours=1, grid=Grid.fixed(1))
    assert e.assumptions["devices_per_node"].value == 4
    assert e.embodied[1].device == "2 x host"
    assert any("generic GPU-card figure" in note for note in e.notes)


def test_cpus_count_one_server_per_socket() -> None:
    # 2 × 280 W × 1 h = 0.56 kWh
    e = hardware_time(device=resolve_device("EPYC 7763").spec, count=2, hours=1, grid=Grid.fixed(1))
    assert e.it_energy_j == pytest.approx(0.56 * KWH)
    assert [s.device for s in e.embodied] == ["2 x host"]


def test_socs_need_a_power_and_have_no_embodied_figure() -> None:
    m1 = resolve_device("M1").spec
    with pytest.raises(EstimateError, match="no published TDP"):
        hardware_time(device=m1, count=1, hours=1, grid=Grid.fixed(1))
    e = hardware_time(device=m1, count=1, hours=1, power_w=20, grid=Grid.fixed(1))
    assert e.embodied == () and e.embodied_g == 0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"hours": 1, "device_hours": 8}, "either hours or device_hours"),
        ({}, "either hours or device_hours"),
        ({"hours": -1}, "hours must be"),
        ({"hours": 1, "count": 0}, "whole number ≥ 1"),
        ({"hours": 1, "power_w": 0}, "power_w must be"),
        ({"hours": 1, "load_ratio": 1.5}, "≤ 1"),
        ({"hours": 1, "host": Host(power_w=-5)}, "host power"),
    ],
)
def test_bad_hardware_input(kwargs: dict[str, object], fragment: str) -> None:
    args: dict[str, object] = {"device": H100, "count": 1, "grid": Grid.fixed(1)} | kwargs
    with pytest.raises(EstimateError, match=fragment):
        hardware_time(**args)


def test_compute_lists_missing_inputs() -> None:
    with pytest.raises(EstimateError, match="missing input: params, tokens"):
        compute(device=A100, count=1, grid=Grid.fixed(1))


def test_grid_checks() -> None:
    with pytest.raises(EstimateError, match="PUE must be ≥ 1"):
        Grid.fixed(100, 0.9)
    with pytest.raises(EstimateError, match="intensity"):
        Grid.fixed(-1)
    with pytest.raises(EstimateError, match="hold its value"):
        Grid(IntensityValue(100, "", ""), PueValue(1.0, ""), 150.0, 200.0)


def test_hyperparameter_search_scales_a_trial() -> None:
    trial = hardware_time(device=A100, count=1, hours=2, grid=Grid.fixed(100))
    # 10 trials, 80 % stopped at 25 % of the budget: 10 × (0.2 + 0.8 × 0.25) = 4 trials
    search = hyperparameter_search(
        trial, trials=10, early_stopped_ratio=0.8, stopped_at_ratio=0.25, parallel_trials=2
    )
    assert search.details["trial_equivalents"] == pytest.approx(4.0)
    for name in ("it_energy_j", "operational_g", "embodied_g", "low_g", "high_g", "device_hours"):
        assert getattr(search, name) == pytest.approx(4 * getattr(trial, name))
    assert search.wall_hours == pytest.approx(4 * 2 / 2)
    with pytest.raises(EstimateError, match="stopped_at"):
        hyperparameter_search(trial, trials=10, early_stopped_ratio=0.5)
    with pytest.raises(EstimateError, match="whole number"):
        hyperparameter_search(trial, trials=0)


def test_federated_by_hand() -> None:
    # clients: 100 × 50 rounds × 60 s × 5 W = 1.5 MJ
    # network: 100 × 50 × 20 MB × 0.059 kWh/GB = 5.9 kWh = 21.24 MJ
    e = federated(
        grid=Grid.fixed(400, 1.3),
        clients_per_round=100,
        rounds=50,
        client_power_w=5,
        client_seconds_per_round=60,
        bytes_per_round=20e6,
    )
    assert pytest.approx(0.059 * 3.6e6 / 1e9) == NETWORK_J_PER_BYTE  # 2.124e-4 J per byte
    parts = {p.name: p.it_energy_j for p in e.parts}
    assert parts == pytest.approx({"clients": 1.5e6, "network": 100 * 50 * 20e6 * 2.124e-4})
    assert e.pue_ratio == 1.0  # not applied to clients
    assert e.total_g == pytest.approx((1.5e6 + 21.24e6) / KWH * 400)
    assert any("client_embodied_g" in note for note in e.notes)


def test_federated_on_a_known_device_from_flops() -> None:
    # T4: 65 TFLOP/s fp16, 70 W; 1e15 FLOP at MFU 0.5 → 30.77 s per round
    t4 = resolve_device("T4").spec
    e = federated(
        grid=Grid.fixed(100),
        clients_per_round=10,
        rounds=4,
        client_device=t4,
        client_flop_per_round=1e15,
        mfu_ratio=0.5,
        load_ratio=1.0,
    )
    seconds = 1e15 / (65e12 * 0.5)
    assert e.it_energy_j == pytest.approx(10 * 4 * seconds * 70)
    assert e.embodied_g == pytest.approx(10 * 150_000 * 4 * seconds / FOUR_YEARS_S)


def test_federated_lists_missing_inputs() -> None:
    with pytest.raises(EstimateError, match="client power.*client seconds"):
        federated(grid=Grid.fixed(1), clients_per_round=1, rounds=1)


def _serve(batch: int, **extra: float) -> Estimate:
    return inference(
        device=H100,
        count=1,
        grid=Grid.fixed(100),
        params=7e9,
        input_tokens=500,
        output_tokens=200,
        queries_per_day=1000,
        days=10,
        batch_size=batch,
        mfu_ratio=0.5,
        mbu_ratio=0.8,
        load_ratio=1.0,
        embodied=False,
        **extra,
    )


def test_inference_by_hand_memory_bound_at_batch_one() -> None:
    prefill_s = 2 * 7e9 * 500 / (989.4e12 * 0.5)
    step_s = 7e9 * 2 / (3.35e12 * 0.8)  # bf16 weights read once per step
    query_j = 700 * (prefill_s + 200 * step_s)
    e = _serve(1, training_g=1e6)
    assert e.details["energy_per_query_j"] == pytest.approx(query_j)
    assert e.total_g == pytest.approx(query_j * 10_000 / KWH * 100)
    per_day_g = e.details["total_per_day_g"]
    assert e.details["breakeven_day"] == pytest.approx(1e6 / per_day_g)
    compute_s = 2 * 7e9 / (989.4e12 * 0.5)
    assert e.details["decode_utilisation_ratio"] == pytest.approx(compute_s / step_s * 0.5)


def test_batching_lowers_energy_per_query_until_compute_bound() -> None:
    per_query = [_serve(b).details["energy_per_query_j"] for b in (1, 8, 64, 512, 2048)]
    assert per_query == sorted(per_query, reverse=True)
    # at batch 2048 the step is compute-bound: decode ≈ 2N per token at MFU 0.5
    decode_j = 700 * 200 * 2 * 7e9 / (989.4e12 * 0.5)
    prefill_j = 700 * 2 * 7e9 * 500 / (989.4e12 * 0.5)
    assert per_query[-1] == pytest.approx(prefill_j + decode_j)


def test_inference_without_bandwidth_in_the_table_says_so() -> None:
    e = inference(
        device=resolve_device("TPU v2").spec,
        count=1,
        grid=Grid.fixed(1),
        params=1e9,
        input_tokens=10,
        output_tokens=10,
        queries_per_day=1,
        days=1,
    )
    assert any("no memory bandwidth" in note for note in e.notes)


def test_an_assumption_with_a_range_can_replace_any_default() -> None:
    power = Assumption(600.0, "measured with nvidia-smi", 550.0, 650.0)
    e = hardware_time(device=H100, count=1, hours=1, power_w=power, grid=Grid.fixed(100))
    assert e.assumptions["power_w"] is power
    assert e.operational_g == pytest.approx(60.0)
    assert e.high_g - e.embodied_g == pytest.approx(65.0)
