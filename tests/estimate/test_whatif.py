"""What-if comparisons: ranked options with savings against a baseline."""

from __future__ import annotations

import pytest

from carbonlens.errors import EstimateError
from carbonlens.estimate.flops import Precision, Training
from carbonlens.estimate.hardware import resolve_device
from carbonlens.estimate.modes import Grid, compute, hardware_time
from carbonlens.estimate.whatif import across, compare

A100 = resolve_device("A100").spec


def _at(intensity: float) -> float:
    e = hardware_time(
        device=A100, count=1, hours=10, power_w=400, grid=Grid.fixed(intensity), embodied=False
    )
    return e.total_g


def test_regions_are_ranked_with_savings() -> None:
    # 4 kWh at 40, 400 and 700 g/kWh: 160, 1,600, 2,800 g
    grids = {"FR": Grid.fixed(40), "US": Grid.fixed(400), "IN": Grid.fixed(700)}
    rows = across(
        lambda g: hardware_time(
            device=A100, count=1, hours=10, power_w=400, grid=g, embodied=False
        ),
        grids,
        baseline="US",
    )
    assert [(r.rank, r.label) for r in rows] == [(1, "FR"), (2, "US"), (3, "IN")]
    fr, us, india = rows
    assert fr.saving_g == pytest.approx(1440.0) and fr.saving_ratio == pytest.approx(0.9)
    assert us.baseline and us.saving_g == 0
    assert india.saving_g == pytest.approx(-1200.0) and india.saving_ratio == pytest.approx(-0.75)
    assert _at(40) == pytest.approx(fr.estimate.total_g)


def test_devices_precisions_and_training_kinds() -> None:
    def job(device_name: str, precision: Precision | None, training: Training) -> float:
        return compute(
            device=resolve_device(device_name).spec,
            count=8,
            params=7e9,
            tokens=1e11,
            precision=precision,
            training=training,
            grid=Grid.fixed(300),
        ).total_g

    devices = across(
        lambda name: compute(
            device=resolve_device(name).spec, count=8, params=7e9, tokens=1e11, grid=Grid.fixed(300)
        ),
        {"A100": "A100", "H100": "H100"},
        baseline="A100",
    )
    assert {r.label for r in devices} == {"A100", "H100"}
    fp8 = across(
        lambda p: compute(
            device=resolve_device("H100").spec,
            count=8,
            params=7e9,
            tokens=1e11,
            precision=p,
            grid=Grid.fixed(300),
        ),
        {"bf16": Precision.BF16, "fp8": Precision.FP8},
        baseline="bf16",
    )
    assert fp8[0].label == "fp8" and fp8[0].saving_ratio > 0
    assert job("H100", None, Training.PEFT) < job("H100", None, Training.FULL)


def test_the_baseline_must_be_an_option() -> None:
    e = hardware_time(device=A100, count=1, hours=1, grid=Grid.fixed(1))
    with pytest.raises(EstimateError, match="baseline"):
        compare({"a": e}, baseline="b")
    with pytest.raises(EstimateError, match="baseline"):
        across(lambda g: e, {"a": 1}, baseline="b")


def test_a_failing_option_is_named() -> None:
    with pytest.raises(EstimateError, match="A100: .*no fp8 peak"):
        across(
            lambda name: compute(
                device=resolve_device(name).spec,
                count=1,
                flop=1e18,
                precision=Precision.FP8,
                grid=Grid.fixed(1),
            ),
            {"H100": "H100", "A100": "A100"},
            baseline="H100",
        )


def test_a_zero_baseline_gives_zero_ratios() -> None:
    zero = hardware_time(device=A100, count=1, hours=1, grid=Grid.fixed(0), embodied=False)
    some = hardware_time(device=A100, count=1, hours=1, grid=Grid.fixed(10), embodied=False)
    rows = compare({"zero": zero, "some": some}, baseline="zero")
    assert [r.saving_ratio for r in rows] == [0.0, 0.0]
