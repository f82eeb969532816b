"""CPU TDP table lookup: normalisation, matching rules, bundled data."""

from __future__ import annotations

import pytest

from carbonlens.estimate.cpu_specs import (
    MIN_SCORE,
    cpu_specs,
    default_tdp_per_core_w,
    match_cpu,
    normalise_cpu_name,
)


@pytest.mark.parametrize(
    ("brand", "normalised"),
    [
        ("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", "intel xeon gold 6148"),
        ("AMD EPYC 7763 64-Core Processor", "amd epyc 7763"),
        ("AMD Ryzen 9 5950X 16-Core Processor", "amd ryzen 9 5950x"),
        ("Apple M1", "apple m1"),
        ("12th Gen Intel(R) Core(TM) i9-12900K", "intel core i9-12900k"),
        ("AMD FX(tm)-8350 Eight-Core Processor", "amd fx-8350"),
        ("Intel(R) Core(TM)2 Duo CPU     E8400  @ 3.00GHz", "intel core 2 duo e8400"),
        ("AMD Ryzen 7 5800H with Radeon Graphics", "amd ryzen 7 5800h"),
        ("AMD Ryzen 9 5900 (OEM Only)", "amd ryzen 9 5900"),
    ],
)
def test_normalise_brand_strings(brand: str, normalised: str) -> None:
    assert normalise_cpu_name(brand) == normalised


def test_xeon_gold_6148_prefers_the_row_with_core_count() -> None:
    match = match_cpu("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz")
    assert match is not None
    # CodeCarbon "Intel Xeon Gold 6148" scores 1.0 but has no core count; the Green
    # Algorithms row "Xeon Gold 6148" {xeon, gold, 6148} vs the query's 4 tokens
    # scores 3/4 = 0.75 and wins because it gives n_cores.
    assert match.spec.name == "Xeon Gold 6148"
    assert (match.spec.tdp_w, match.spec.n_cores, match.spec.tdp_per_core_w) == (150.0, 20, 7.5)
    assert match.score == pytest.approx(0.75)
    assert match.query == "intel xeon gold 6148"
    assert match.spec.license == "CC-BY-4.0 (Green Algorithms)"


def test_epyc_7763_exact_with_cores() -> None:
    match = match_cpu("AMD EPYC 7763 64-Core Processor")
    assert match is not None
    assert (match.spec.name, match.spec.tdp_w, match.spec.n_cores) == ("AMD EPYC 7763", 280.0, 64)
    assert match.score == 1.0


@pytest.mark.parametrize(
    ("brand", "name", "tdp_w"),
    [
        ("AMD Ryzen 9 5950X 16-Core Processor", "AMD Ryzen 9 5950X", 105.0),
        ("Apple M1", "Apple M1", 10.0),
        ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "Intel Xeon E5-2686 v4", 145.0),
        ("Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", "Intel Xeon Platinum 8259CL", 210.0),
        ("Intel(R) Core(TM)2 Duo CPU     E8400  @ 3.00GHz", "Intel Core 2 Duo E8400", 65.0),
        # not the bare CodeCarbon row "6140" (an AMD Opteron, 115 W)
        ("Intel(R) Xeon(R) Gold 6140 CPU @ 2.30GHz", "Intel Xeon Gold 6140", 140.0),
        ("AMD Opteron(tm) Processor 6140", "AMD Opteron 6140", 115.0),
    ],
)
def test_codecarbon_rows_match_exactly(brand: str, name: str, tdp_w: float) -> None:
    match = match_cpu(brand)
    assert match is not None
    assert (match.spec.name, match.spec.tdp_w, match.score) == (name, tdp_w, 1.0)
    assert match.spec.n_cores is None


def test_glued_trademark_keeps_model_number() -> None:
    match = match_cpu("AMD FX(tm)-8350 Eight-Core Processor")
    assert match is not None
    # query {amd, fx-8350} vs Green Algorithms "FX-8350" {fx-8350}: 1/2 = MIN_SCORE
    assert (match.spec.name, match.spec.n_cores, match.score) == ("FX-8350", 8, MIN_SCORE)


@pytest.mark.parametrize(
    "brand",
    [
        "Intel(R) Xeon(R) Processor",
        "Intel(R) Xeon(R) CPU @ 2.20GHz",
        "AMD EPYC Processor",
        "QEMU Virtual CPU version 2.5+",
        "Common KVM processor",
        "",
    ],
)
def test_generic_names_match_nothing(brand: str) -> None:
    assert match_cpu(brand) is None


@pytest.mark.parametrize(
    "brand",
    [
        "Apple M1 Pro",  # "pro" is not a vendor/family word: not the 10 W M1
        "Intel(R) Xeon(R) Gold 6199 CPU",  # no such model number
        "Intel Ryzen 9 5950X",  # vendor contradicts the only 5950X row
        # bare "6176" (an Opteron) scores {6176}/{intel, xeon, 6176} = 1/3 < 0.5,
        # and "AMD Opteron 6176" contradicts the vendor
        "Intel(R) Xeon(R) 6176",
    ],
)
def test_model_number_and_vendor_must_agree(brand: str) -> None:
    assert match_cpu(brand) is None


def test_model_suffix_is_part_of_the_model_number() -> None:
    match = match_cpu("Intel(R) Xeon(R) Gold 6148F CPU @ 2.40GHz")
    assert match is not None
    assert (match.spec.name, match.spec.tdp_w) == ("Intel Xeon Gold 6148F", 160.0)


def test_table_skips_rows_without_usable_tdp() -> None:
    names = {spec.name for spec in cpu_specs()}
    assert "Any" not in names  # Green Algorithms' generic row, no TDP
    assert "Intel Celeron 1000A" not in names  # upstream TDP "27.29.5"
    assert "Intel Quark Microcontroller D1000" not in names  # upstream TDP 0 W
    assert all(spec.tdp_w > 0 for spec in cpu_specs())
    assert {"mlco2", "Green"} <= {spec.source.split()[0].split("/")[0] for spec in cpu_specs()}


def test_default_per_core_is_the_green_algorithms_median() -> None:
    # 94 Green Algorithms rows with a TDP; sorted, the 47th and 48th per-core values
    # are both 10.8 W (e.g. Core i5-10400: 65 W / 6 cores), so the median is 10.8 W.
    assert default_tdp_per_core_w() == pytest.approx(10.8)
