"""Counts and sizes as written, checked values, and the propagation of ranges."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from carbonlens.errors import EstimateError
from carbonlens.estimate.quantities import (
    Assumption,
    assumed,
    bounds,
    non_negative,
    parse_bytes,
    parse_count,
    positive,
    whole,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7B", 7e9),
        ("70b", 70e9),
        ("2T", 2e12),
        ("1.5e12", 1.5e12),
        ("175M", 175e6),
        ("125m", 125e6),  # OPT-125m: m is million for a count
        ("13k", 13e3),
        ("7 billion", 7e9),
        ("1.5bn", 1.5e9),
        ("2 trillion", 2e12),
        ("1,000,000", 1e6),
        ("7_000_000_000", 7e9),
        ("300", 300.0),
        (" 6.7B ", 6.7e9),
    ],
)
def test_counts_as_people_write_them(text: str, expected: float) -> None:
    assert parse_count(text) == pytest.approx(expected, rel=1e-12)


def test_numbers_pass_through() -> None:
    assert parse_count(7e9) == 7e9
    assert parse_count(42) == 42.0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("7Gi", "binary prefix"),
        ("7Mi", "binary prefix"),
        ("7G", "not a count scale"),
        ("1,5B", "ambiguous"),
        ("1.000.000", "ambiguous"),
        ("1e9B", "exponent and a suffix"),
        ("7bb", "unknown suffix"),
        ("-7B", "negative"),
        ("0", "> 0"),
        ("B", "cannot read"),
        ("seven", "cannot read"),
        ("1e999", "not a finite number"),
    ],
)
def test_ambiguous_or_wrong_forms_are_rejected(text: str, fragment: str) -> None:
    with pytest.raises(EstimateError, match=fragment):
        parse_count(text, what="--params")


def test_a_missing_suffix_is_caught_by_the_plausible_minimum() -> None:
    with pytest.raises(EstimateError, match="did you mean 7B"):
        parse_count("7", what="--params", minimum=1e3)
    assert parse_count("7k", what="--params", minimum=1e3) == 7e3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10MB", 10e6),
        ("1.5GB", 1.5e9),
        ("2kB", 2e3),
        ("1MiB", 1024.0**2),
        ("1GiB", 1024.0**3),
        ("512", 512.0),
        ("0", 0.0),
    ],
)
def test_sizes_in_bytes(text: str, expected: float) -> None:
    assert parse_bytes(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["10Mb", "10mb", "1gb", "3kb"])
def test_bits_or_bytes_is_ambiguous(text: str) -> None:
    with pytest.raises(EstimateError, match="bits or bytes"):
        parse_bytes(text)


def test_unknown_byte_unit_and_negative_size() -> None:
    with pytest.raises(EstimateError, match="unknown unit"):
        parse_bytes("10XB")
    with pytest.raises(EstimateError, match="negative"):
        parse_bytes("-1MB")


def test_checks_name_the_input() -> None:
    assert positive("hours", 2) == 2.0
    assert non_negative("host power", 0.0) == 0.0
    assert whole("count", 3) == 3
    with pytest.raises(EstimateError, match="hours must be a finite number > 0"):
        positive("hours", 0)
    with pytest.raises(EstimateError, match="≤ 1"):
        positive("load", 1.5, maximum=1.0)
    with pytest.raises(EstimateError, match="≥ 0"):
        non_negative("x", float("nan"))
    for bad in (0, -1, True, 2.5):
        with pytest.raises(EstimateError, match="whole number"):
            whole("count", bad)


def test_an_assumption_range_must_hold_its_value() -> None:
    Assumption(0.35, "default", 0.2, 0.5)
    with pytest.raises(EstimateError, match="hold its value"):
        Assumption(0.6, "x", 0.2, 0.5)
    with pytest.raises(EstimateError, match="both low and high"):
        Assumption(0.3, "x", 0.2)


def test_assumed_takes_numbers_as_exact_and_falls_back_to_the_default() -> None:
    default = Assumption(1.0, "default", 0.5, 1.0)
    assert assumed("load", None, default) is default
    assert assumed("load", 0.8, default) == Assumption(0.8, "given by the user")
    ranged = Assumption(300.0, "measured", 250.0, 350.0)
    assert assumed("power", ranged) is ranged
    with pytest.raises(EstimateError, match="missing input: power"):
        assumed("power", None)
    with pytest.raises(EstimateError, match="≤ 1"):
        assumed("load", 1.2, default, maximum=1.0)


def test_bounds_evaluate_every_corner() -> None:
    # total = a × b / c, a in [1, 3], b in [2, 4], c fixed at 2: corners 1, 2, 3, 6
    inputs = {
        "a": Assumption(2.0, "x", 1.0, 3.0),
        "b": Assumption(3.0, "x", 2.0, 4.0),
        "c": Assumption(2.0, "x"),
        "label": Assumption("text", "x"),
    }
    seen: list[dict[str, float]] = []

    def model(v: Mapping[str, float]) -> float:
        seen.append(dict(v))
        return v["a"] * v["b"] / v["c"]

    assert bounds(model, inputs) == (1.0, 6.0)
    assert len(seen) == 4 and all(v["c"] == 2.0 for v in seen)


def test_bounds_of_exact_inputs_collapse_to_the_value() -> None:
    assert bounds(lambda v: v["a"] * 2, {"a": Assumption(5.0, "x")}) == (10.0, 10.0)
