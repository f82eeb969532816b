"""Quantities a user gives: counts and sizes as written, checked values, uncertain values.

Counts and sizes as people write them: ``7B``, ``70b``, ``2T``, ``1.5e12``, ``10MB``.

`parse_count` reads a count (parameters, tokens, queries): a plain or scientific
number (``1.5e12``, ``7_000_000``, ``1,000,000``) or a number with one scale
suffix, case-insensitive::

    k, thousand            1e3
    m, mn, million         1e6    (``125m`` is 125 million, as in "OPT-125m")
    b, bn, billion         1e9
    t, tn, trillion        1e12

Ambiguous or wrong-scale forms are rejected with a message that says why and
what to write instead:

* binary prefixes (``7Gi``, ``7Mi``): 2**30 or 10**9?
* SI letters that are not count scales (``7G``, ``7P``): write ``7B``, ``7000T``;
* a decimal comma or dotted thousands (``1,5B``, ``1.000.000``);
* an exponent together with a suffix (``1e9B``);
* a value below the quantity's plausible minimum, e.g. ``--params 7``
  (seven parameters) is reported as "did you mean 7B?".

`Assumption` is an input of an estimate with its source and, when uncertain, its
low and high values; `bounds` propagates those ranges through a model (see its
docstring). `positive`, `non_negative` and `whole` check values the same way
everywhere, raising `EstimateError` with the input's name.

`parse_bytes` reads a size in bytes with SI (``kB``, ``MB``, ``GB``, ``TB``: powers
of 1000) or IEC (``KiB``, ``MiB``, ``GiB``, ``TiB``: powers of 1024) units. A lower-case
``b`` (``10Mb``, ``10mb``) is rejected: bits or bytes?
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping
from typing import Final

from carbonlens._frozen import frozen
from carbonlens.errors import EstimateError
from carbonlens.units import BYTES_PER_GB, BYTES_PER_GIB

__all__ = [
    "Assumption",
    "assumed",
    "bounds",
    "non_negative",
    "parse_bytes",
    "parse_count",
    "positive",
    "whole",
]

_SCALES: Final = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "t": 1e12,
    "tn": 1e12,
    "trillion": 1e12,
}
_BYTE_UNITS: Final = {
    "B": 1.0,
    "kB": BYTES_PER_GB / 1e6,
    "KB": BYTES_PER_GB / 1e6,
    "MB": BYTES_PER_GB / 1e3,
    "GB": BYTES_PER_GB,
    "TB": BYTES_PER_GB * 1e3,
    "KiB": BYTES_PER_GIB / 1024**2,
    "MiB": BYTES_PER_GIB / 1024,
    "GiB": BYTES_PER_GIB,
    "TiB": BYTES_PER_GIB * 1024,
}
_NUMBER: Final = r"(?P<number>\d[\d_,]*(?:\.\d+)?(?:[eE][+-]?\d+)?)"
_FORM: Final = re.compile(rf"{_NUMBER}\s*(?P<suffix>[A-Za-z]*)")
_GROUPED: Final = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_BINARY: Final = re.compile(r"[kmgtp]i", re.IGNORECASE)


def _number(text: str, original: str, what: str) -> float:
    """The value of a digits part (underscores, grouped thousands), or EstimateError."""
    if "," in text and not _GROUPED.fullmatch(text):
        raise EstimateError(
            f"{what}: {original!r} is ambiguous: a comma here is not a thousands separator "
            "(write 1.5B for one and a half billion, or 1,000,000 grouped by three)"
        )
    value = float(text.replace(",", "").replace("_", ""))
    if not math.isfinite(value):
        raise EstimateError(f"{what}: {original!r} is not a finite number")
    return value


def _split(text: str, what: str) -> tuple[str, str]:
    """The digits and the suffix of `text`, or EstimateError for an unreadable form."""
    stripped = text.strip()
    if stripped.startswith("-"):
        raise EstimateError(f"{what}: {text!r} is negative; it must be > 0")
    if re.fullmatch(r"\d{1,3}(?:\.\d{3}){2,}", stripped):
        raise EstimateError(
            f"{what}: {text!r} is ambiguous (dots as thousands separators?); write 1000000 or 1M"
        )
    match = _FORM.fullmatch(stripped)
    if match is None:
        raise EstimateError(
            f"{what}: cannot read {text!r}; write a number such as 7B, 70b, 2T, 1.5e12 or 13k"
        )
    return match.group("number"), match.group("suffix")


def parse_count(text: str | float, *, what: str = "count", minimum: float = 1.0) -> float:
    """A count (parameters, tokens, queries) from text such as ``7B`` or ``1.5e12``.

    Args:
        text: what the user wrote, or a number already parsed.
        what: the name used in error messages, e.g. ``"--params"``.
        minimum: the smallest plausible value; below it the form is rejected as a
            likely missing suffix ("did you mean 7B?").

    Returns:
        The count as a float (dimensionless).

    Raises:
        EstimateError: unreadable, ambiguous, negative, zero, or implausibly small.
    """
    if isinstance(text, int | float):
        value = float(text)
        suffix, digits = "", repr(text)
    else:
        digits, suffix = _split(text, what)
        key = suffix.lower()
        if suffix and key not in _SCALES:
            raise EstimateError(_bad_suffix(text, suffix, what))
        if suffix and re.search(r"[eE]", digits):
            raise EstimateError(
                f"{what}: {text!r} mixes an exponent and a suffix; write {digits} or drop the "
                "exponent (1e9B could mean 1e9 or 1e18)"
            )
        value = _number(digits, text, what) * _SCALES.get(key, 1.0)
    if not (math.isfinite(value) and value > 0):
        raise EstimateError(f"{what} must be a finite number > 0, got {text!r}")
    if value < minimum:
        hint = f"; did you mean {digits}B?" if not suffix and minimum >= 1e3 else ""
        raise EstimateError(f"{what}: {text!r} is below the plausible minimum {minimum:g}{hint}")
    return value


def _bad_suffix(text: str, suffix: str, what: str) -> str:
    """The message for an unknown or ambiguous count suffix."""
    if _BINARY.fullmatch(suffix):
        return (
            f"{what}: {text!r} uses a binary prefix ({suffix}: a power of 1024) that is "
            "ambiguous for a count; write B (1e9), M (1e6) or k (1e3)"
        )
    if suffix.lower() in {"g", "p", "e"}:
        return (
            f"{what}: {text!r}: {suffix!r} is not a count scale here; "
            "use k (1e3), M (1e6), B (1e9) or T (1e12)"
        )
    return f"{what}: unknown suffix {suffix!r} in {text!r}; use k, M, B or T (e.g. 7B, 2T)"


def parse_bytes(text: str | float, *, what: str = "size") -> float:
    """A size in bytes from text such as ``10MB``, ``1.5GiB`` or ``1e6`` (bytes).

    Args:
        text: what the user wrote, or a number of bytes.
        what: the name used in error messages.

    Returns:
        The size in bytes (≥ 0).

    Raises:
        EstimateError: unreadable, negative, or an ambiguous unit such as ``Mb``.
    """
    if isinstance(text, int | float):
        value = float(text)
    else:
        digits, unit = _split(text, what)
        if unit and unit not in _BYTE_UNITS:
            if unit.endswith("b") or unit.lower() in {"mb", "gb", "kb", "tb"}:
                raise EstimateError(
                    f"{what}: {text!r} is ambiguous (bits or bytes?); write MB or GB for bytes, "
                    "MiB or GiB for powers of 1024"
                )
            raise EstimateError(f"{what}: unknown unit {unit!r} in {text!r}; use B, kB, MB, GB")
        value = _number(digits, text, what) * _BYTE_UNITS.get(unit, 1.0)
    if not (math.isfinite(value) and value >= 0):
        raise EstimateError(f"{what} must be a finite number ≥ 0, got {text!r}")
    return value


def positive(name: str, value: float, *, maximum: float = math.inf) -> float:
    """`value` if finite, > 0 and ≤ `maximum`, else EstimateError naming `name`."""
    if isinstance(value, bool) or not (math.isfinite(value) and 0 < value <= maximum):
        bound = f" and ≤ {maximum:g}" if maximum < math.inf else ""
        raise EstimateError(f"{name} must be a finite number > 0{bound}, got {value!r}")
    return float(value)


def non_negative(name: str, value: float) -> float:
    """`value` if finite and ≥ 0, else EstimateError naming `name`."""
    if isinstance(value, bool) or not (math.isfinite(value) and value >= 0):
        raise EstimateError(f"{name} must be a finite number ≥ 0, got {value!r}")
    return float(value)


def whole(name: str, value: int) -> int:
    """`value` if it is a whole number ≥ 1 (zero devices or trials are rejected)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EstimateError(f"{name} must be a whole number ≥ 1, got {value!r}")
    return value


@frozen
class Assumption:
    """One input of an estimate: its value, where it comes from, and its range.

    Attributes:
        value: the value used, in the unit its key states (``tdp_w``, ``mfu_ratio``),
            or a label (``precision``: ``"bf16"``).
        source: "given by the user" or the default's source.
        low: lowest plausible value, when the input is uncertain (else None).
        high: highest plausible value, when the input is uncertain (else None).
    """

    value: float | str
    source: str
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        """Check that a range is complete and holds the value."""
        if (self.low is None) != (self.high is None):
            raise EstimateError(f"an assumption needs both low and high, or neither: {self}")
        if (
            self.low is not None
            and self.high is not None
            and (isinstance(self.value, str) or not self.low <= self.value <= self.high)
        ):
            raise EstimateError(f"an assumption's range must hold its value: {self}")


Values = Mapping[str, float]
"""Input values by assumption name, as a model function reads them."""


def central(assumptions: Mapping[str, Assumption]) -> dict[str, float]:
    """The value of every numeric assumption, by name."""
    return {k: float(a.value) for k, a in assumptions.items() if not isinstance(a.value, str)}


def bounds(
    model: Callable[[Values], float], assumptions: Mapping[str, Assumption]
) -> tuple[float, float]:
    """The lowest and highest output of `model` over the ranges of the assumptions.

    The model is evaluated at every combination of low and high values of the
    ranged assumptions (2**k corners for k ranged inputs), the others at their
    values. For a model monotonic in each input, as every estimate is (products
    and quotients of positive inputs), the extremes over the whole box of ranges
    lie at corners, so these are the exact bounds (interval arithmetic, without
    assuming the errors are independent or cancel).

    Args:
        model: output (e.g. total gCO2e) from input values by name.
        assumptions: the model's inputs.

    Returns:
        (low, high) of the output.
    """
    values = central(assumptions)
    ranged = [
        (name, (a.low, a.high))
        for name, a in assumptions.items()
        if a.low is not None and a.high is not None and a.low != a.high
    ]
    names = [name for name, _ in ranged]
    outputs = [
        model({**values, **dict(zip(names, corner, strict=True))})
        for corner in itertools.product(*(pair for _, pair in ranged))
    ]
    return min(outputs), max(outputs)


def assumed(
    name: str,
    value: float | Assumption | None,
    default: Assumption | None = None,
    *,
    maximum: float = math.inf,
) -> Assumption:
    """An input as given (a number: exact; an `Assumption`: with its range), else `default`.

    Raises:
        EstimateError: the value (or its range) is not finite, > 0 and ≤ `maximum`,
            or it is missing and has no default.
    """
    if value is None:
        if default is None:
            raise EstimateError(f"missing input: {name}")
        return default
    if isinstance(value, Assumption):
        for bound in (value.value, value.low, value.high):
            if bound is not None and not isinstance(bound, str):
                positive(name, bound, maximum=maximum)
        return value
    return Assumption(positive(name, value, maximum=maximum), "given by the user")
