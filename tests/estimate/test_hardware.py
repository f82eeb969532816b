"""The hardware table, name resolution as people write names, and the power model."""

from __future__ import annotations

import csv

import pytest

from carbonlens.data import data_path
from carbonlens.errors import EstimateError, UnknownHardware
from carbonlens.estimate.flops import Precision
from carbonlens.estimate.hardware import (
    DEFAULT_LOAD_RATIO,
    LOAD_RANGE_RATIO,
    list_devices,
    power_assumptions,
    resolve_device,
    tokens,
)
from carbonlens.estimate.quantities import Assumption


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("TPUv3", "TPU v3 (per chip)"),
        ("tpu v3", "TPU v3 (per chip)"),
        ("TPU-v4", "TPU v4 (per chip)"),
        ("h100 sxm", "H100 SXM5 80GB"),
        ("NVIDIA H100 80GB HBM3", "H100 SXM5 80GB"),  # as NVML names it
        ("NVIDIA A100-SXM4-80GB", "A100 SXM4 80GB"),
        ("Tesla V100-PCIE-32GB", "Tesla V100 PCIe 16/32GB"),
        ("a100 40g pcie", "A100 PCIe 40GB"),
        ("L40", "L40 48GB"),  # exact beats the L40S
        ("L40S", "L40S 48GB"),
        ("A10", "A10 24GB"),  # not an A100
        ("mi300", "Instinct MI300X"),  # one letter completes the model
        ("K80", "Tesla K80 (dual GPU board)"),
        ("P40", "Tesla P40"),
        ("TPU v2", "TPU v2 (per chip)"),
        ("nvidia-a100-pcie-40gb", "A100 PCIe 40GB"),
    ],
)
def test_names_as_people_write_them(name: str, expected: str) -> None:
    found = resolve_device(name)
    assert found.spec.name == expected
    assert found.alternatives == ()
    assert found.note == ""


@pytest.mark.parametrize(
    ("name", "expected", "also"),
    [
        ("A100", "A100 SXM4 80GB", {"A100 SXM4 40GB", "A100 PCIe 40GB", "A100 PCIe 80GB"}),
        ("A100-80GB", "A100 SXM4 80GB", {"A100 PCIe 80GB"}),
        ("H100", "H100 SXM5 80GB", {"H100 PCIe 80GB", "H100 NVL 94GB"}),
        ("V100", "Tesla V100 SXM2 32GB", {"Tesla V100 SXM2 16GB", "Tesla V100 PCIe 16/32GB"}),
        ("P100", "Tesla P100 SXM2 16GB", {"Tesla P100 PCIe 16GB"}),
        ("Apple M1", "M1 (8-core GPU)", {"M1 Max (32-core GPU)"}),  # fewest extra words
    ],
)
def test_ambiguous_names_pick_the_flagship_and_name_the_others(
    name: str, expected: str, also: set[str]
) -> None:
    found = resolve_device(name)
    assert found.spec.name == expected
    assert set(found.alternatives) == also
    assert expected in found.note and all(other in found.note for other in also)


def test_cpus_resolve_through_the_cpu_table() -> None:
    found = resolve_device("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz")
    assert (found.spec.kind, found.spec.tdp_w) == ("cpu", 150.0)
    assert found.spec.peak_flop_per_s == {}


def test_unknown_names_suggest_close_ones() -> None:
    with pytest.raises(UnknownHardware) as caught:
        resolve_device("H1000")
    assert "H100 SXM5 80GB" in caught.value.candidates
    assert "close matches" in str(caught.value)
    with pytest.raises(UnknownHardware):
        resolve_device("P4")  # the Tesla P4 is not in the table, and is not a P40


def test_tokens_split_glued_names() -> None:
    assert tokens("TPUv5e") == ("tpu", "v5e")
    assert tokens("h100sxm 80G") == ("h100", "sxm", "80gb")
    assert tokens("Tesla V100 PCIe 16/32GB") == ("v100", "pcie", "16gb", "32gb")


def test_table_rows_carry_figures_in_si_units() -> None:
    a100 = resolve_device("A100 SXM4 80GB").spec
    assert a100.tdp_w == 400.0
    assert a100.peak(Precision.BF16) == 312e12  # 312 TFLOP/s dense
    assert a100.peak(Precision.FP32) == 19.5e12
    assert a100.memory_bytes == 80e9
    assert a100.memory_bandwidth_bytes_per_s == 2039e9
    assert a100.embodied_g == 150_000.0  # BLOOM's 150 kgCO2e per GPU
    assert "datasheet" in a100.source
    tpu = resolve_device("TPU v3").spec
    assert tpu.devices_per_host == 4  # "TPU board (4 chips)"


def test_precisions_follow_the_table() -> None:
    v100 = resolve_device("V100").spec
    assert not v100.supports(Precision.BF16)  # "FP16 tensor (no BF16 support)"
    assert v100.default_precision() is Precision.FP16
    assert resolve_device("H100").spec.default_precision() is Precision.BF16
    with pytest.raises(EstimateError, match="no bf16 peak"):
        v100.peak(Precision.BF16)
    with pytest.raises(EstimateError, match="no fp8 peak"):
        resolve_device("A100").spec.peak(Precision.FP8)
    assert resolve_device("H100").spec.peak(Precision.FP8) == pytest.approx(1978.9e12)


def test_every_row_has_a_source_and_a_licence() -> None:
    with data_path("hardware.csv").open(encoding="utf-8", newline="") as table:
        rows = list(csv.DictReader(table))
    assert rows and all(row["spec_source"] and row["license"] for row in rows)
    assert len({row["id"] for row in rows}) == len(rows) == len(list_devices())


def test_older_devices_of_published_footprints_are_present() -> None:
    names = {d.name for d in list_devices()}
    for needed in ("Tesla P100 SXM2 16GB", "Tesla V100 SXM2 16GB", "Tesla K80 (dual GPU board)"):
        assert needed in names
    assert {"TPU v2 (per chip)", "TPU v3 (per chip)", "Tesla P40"} <= names


def test_power_is_tdp_times_load_with_its_range() -> None:
    inputs, watts = power_assumptions(resolve_device("H100").spec, None, None)
    assert inputs["tdp_w"].value == 700.0
    load = inputs["load_ratio"]
    assert (load.value, (load.low, load.high)) == (DEFAULT_LOAD_RATIO, LOAD_RANGE_RATIO)
    assert watts({"tdp_w": 700.0, "load_ratio": 0.5}) == 350.0


def test_given_power_replaces_the_tdp() -> None:
    inputs, watts = power_assumptions(resolve_device("H100").spec, 550.0, None)
    assert inputs == {"power_w": Assumption(550.0, "given by the user")}
    assert watts({"power_w": 550.0}) == 550.0
    ranged = Assumption(550.0, "measured", 500.0, 600.0)
    assert power_assumptions(resolve_device("H100").spec, ranged, None)[0]["power_w"] is ranged


def test_devices_without_tdp_need_a_power() -> None:
    with pytest.raises(EstimateError, match="no published TDP"):
        power_assumptions(resolve_device("M2 Ultra").spec, None, None)
    with pytest.raises(EstimateError, match="≤ 1"):
        power_assumptions(resolve_device("H100").spec, None, 1.2)
