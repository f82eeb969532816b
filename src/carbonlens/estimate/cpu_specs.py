"""CPU thermal design power (TDP) lookup from the bundled ``data/cpu_tdp.csv``.

The table joins CodeCarbon's ``cpu_power.csv`` (names and TDP only, MIT) and Green
Algorithms' ``TDP_cpu.csv`` (also core counts, CC-BY-4.0); each row keeps its
``source`` and ``license``. It is read once, lazily, with the standard ``csv``
module.

`match_cpu` takes a brand string as ``/proc/cpuinfo`` prints it
(``"Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz"``) and finds its row. Names are
normalised (lower case; trade marks, clock speed, ``CPU``/``Processor``, ``N-Core``,
``Nth Gen``, ``with Radeon Graphics`` and anything in parentheses removed), then
split into tokens. A row is a candidate only when:

* its *model tokens* (those containing a digit: ``6148``, ``5950x``, ``e5-2686``,
  ``v4``, ``m1``) are exactly the query's, so ``6148`` never matches ``6148F``;
* every other token on which the two names differ is a vendor or family word
  (``intel``, ``xeon``, ``epyc``...), so ``Apple M1 Pro`` does not match
  ``Apple M1``; and the vendors (and families) do not contradict each other;
* its score, the Jaccard similarity of the two token sets, is at least
  `MIN_SCORE`.

A generic name with no model token (``Intel(R) Xeon(R) Processor``, ``QEMU Virtual
CPU``, ``Common KVM processor``) therefore matches nothing. Among candidates, a row
that gives the core count wins over one that does not, then the higher score.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable, Iterator
from typing import Final

from carbonlens._frozen import frozen
from carbonlens.data import data_path

MIN_SCORE: Final = 0.5
"""Lowest token similarity (0-1) `match_cpu` accepts; 1.0 is an exact match."""

GREEN_ALGORITHMS_SOURCE_PREFIX: Final = "Green Algorithms"
"""How the ``source`` column of every Green Algorithms row begins."""

_VENDORS: Final = frozenset({"intel", "amd", "apple"})
_FAMILIES: Final = frozenset(
    {"xeon", "core", "epyc", "ryzen", "opteron", "athlon", "pentium", "celeron", "atom"}
)
_GLUED_MARK_RE: Final = re.compile(r"(?:\((?:r|tm|c)\)|[®™©])(?=-)")  # "FX(tm)-8350"
_NOISE_RE: Final = re.compile(
    r"\((?:r|tm|c)\)|[®™©]"  # trade marks: "Core(TM)2 Duo" -> "core 2 duo"
    r"|\([^)]*\)"  # "(OEM Only)", "(9M Cache, up to 4.00 GHz)"
    r"|@?\s*\d+(?:\.\d+)?\s*[gm]hz\b"  # clock speed
    r"|\bwith radeon\b.*$"  # "with Radeon Graphics", "with Radeon Vega Mobile Gfx"
    r"|\b\d+(?:st|nd|rd|th) gen\b"  # "12th Gen Intel(R) Core(TM) i7-12700"
    r"|\b[a-z0-9]+-core\b"  # "64-Core", "Eight-Core"
    r"|\b(?:cpu|processor|apu)\b"
    r"|,"
)


@frozen
class CpuSpec:
    """One row of ``cpu_tdp.csv``.

    Attributes:
        name: The CPU's name as the table spells it.
        tdp_w: Thermal design power of one package, in watts.
        n_cores: Physical cores per package, when the source gives it.
        tdp_per_core_w: TDP divided by `n_cores`, in watts, when the source gives it.
        source: Where the row comes from (upstream table and specification page).
        license: The row's licence.
    """

    name: str
    tdp_w: float
    n_cores: int | None
    tdp_per_core_w: float | None
    source: str
    license: str


@frozen
class CpuMatch:
    """The row `match_cpu` chose for a brand string.

    Attributes:
        spec: The matched row.
        score: Token similarity between the normalised names, 0-1 (1.0: the same
            tokens, e.g. an exact match after normalisation).
        query: The brand string after normalisation.
    """

    spec: CpuSpec
    score: float
    query: str


def normalise_cpu_name(name: str) -> str:
    """Normalise a CPU brand string for matching (see the module docstring).

    ``"Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz"`` becomes ``"intel xeon gold 6148"``
    and ``"AMD EPYC 7763 64-Core Processor"`` becomes ``"amd epyc 7763"``.
    """
    return " ".join(_NOISE_RE.sub(" ", _GLUED_MARK_RE.sub("", name.lower())).split())


def _model_tokens(tokens: frozenset[str]) -> frozenset[str]:
    return frozenset(t for t in tokens if any(c.isdigit() for c in t))


def _optional_float(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


_FIELDS: Final = ("name", "tdp_w", "n_cores", "tdp_per_core_w", "source", "license")
"""Columns of ``cpu_tdp.csv``, in order."""


def _table_lines() -> Iterator[str]:
    """The data lines of the bundled table, streamed (the header is checked, not kept).

    Streaming keeps a lookup from holding the 5,000-row table in memory, and it is
    the fastest way to scan it in a new process: about 1 ms, where reading the
    whole file into one buffer costs 2 ms or more of fresh memory.
    """
    with data_path("cpu_tdp.csv").open(encoding="utf-8") as table:
        header = next(table).strip()
        if tuple(header.split(",")) != _FIELDS:
            raise ValueError(f"unexpected header in cpu_tdp.csv: {header!r}")
        yield from table


def _parse(lines: Iterable[str]) -> list[CpuSpec]:
    """Rows that give a usable TDP, from table lines without the header."""
    specs: list[CpuSpec] = []
    for row in csv.DictReader(lines, fieldnames=_FIELDS):
        try:
            tdp_w = _optional_float(row["tdp_w"])
            cores = _optional_float(row["n_cores"])
            per_core_w = _optional_float(row["tdp_per_core_w"])
        except ValueError:
            continue  # upstream junk such as "27.29.5" W: unusable, so unmatched
        if tdp_w is None or tdp_w <= 0:
            continue
        specs.append(
            CpuSpec(
                name=row["name"].strip(),
                tdp_w=tdp_w,
                n_cores=int(cores) if cores else None,
                tdp_per_core_w=per_core_w,
                source=row["source"].strip(),
                license=row["license"].strip(),
            )
        )
    return specs


@functools.cache
def cpu_specs() -> tuple[CpuSpec, ...]:
    """Every row of the bundled table that gives a usable TDP, in file order (read once).

    Left out: the Green Algorithms row ``Any`` (no TDP, only their generic 12 W per
    core; `default_tdp_per_core_w` is carbonlens's generic value instead) and five
    upstream CodeCarbon rows whose TDP is malformed (``"27.29.5"``) or 0 W.
    """
    return tuple(_parse(_table_lines()))


def _candidates(model_tokens: frozenset[str]) -> list[tuple[CpuSpec, frozenset[str]]]:
    """Rows whose normalised model tokens equal `model_tokens`.

    Only lines that contain every token as text are parsed, so a lookup costs a
    scan of the raw lines rather than parsing and normalising the whole table.
    """
    lines = [
        line for line in _table_lines() if all(token in line.lower() for token in model_tokens)
    ]
    found = []
    for spec in _parse(lines):
        tokens = frozenset(normalise_cpu_name(spec.name).split())
        if _model_tokens(tokens) == model_tokens:
            found.append((spec, tokens))
    return found


def _score(query: frozenset[str], row: frozenset[str]) -> float | None:
    """Jaccard similarity of two token sets with equal model tokens, None if they conflict."""
    differing = query ^ row
    if differing - _VENDORS - _FAMILIES:
        return None
    for words in (_VENDORS, _FAMILIES):
        mine, theirs = query & words, row & words
        if mine and theirs and not mine & theirs:
            return None
    return len(query & row) / len(query | row)


@functools.lru_cache(maxsize=64)
def match_cpu(model_name: str) -> CpuMatch | None:
    """Find the table row for a CPU brand string, or None when no row fits well.

    Args:
        model_name: The name as ``/proc/cpuinfo`` (``model name``) or macOS
            (``machdep.cpu.brand_string``) prints it.

    Returns:
        The best row with its score (see the module docstring for the rules), or
        None for generic names (``"Intel(R) Xeon(R) Processor"``) and unknown CPUs.
        Answers are cached per brand string: the CPU sensor and the embodied share
        both ask for this machine's CPU.
    """
    query = normalise_cpu_name(model_name)
    tokens = frozenset(query.split())
    model_tokens = _model_tokens(tokens)
    if not model_tokens:
        return None  # a generic name ("Intel(R) Xeon(R) Processor") names no model
    best: tuple[bool, float, CpuSpec] | None = None
    for spec, row_tokens in _candidates(model_tokens):
        score = _score(tokens, row_tokens)
        if score is None or score < MIN_SCORE:
            continue
        rank = (spec.n_cores is not None, score, spec)
        if best is None or rank[:2] > best[:2]:
            best = rank
    return None if best is None else CpuMatch(spec=best[2], score=best[1], query=query)


@functools.cache
def default_tdp_per_core_w() -> float:
    """Generic CPU power per core, in watts, for CPUs the table cannot size.

    The median ``tdp_per_core_w`` of the bundled Green Algorithms rows (10.8 W over
    94 rows in the shipped table), computed from the data rather than hard-coded.
    """
    rows = _parse(line for line in _table_lines() if GREEN_ALGORITHMS_SOURCE_PREFIX in line)
    values = [
        spec.tdp_per_core_w
        for spec in rows
        if spec.source.startswith(GREEN_ALGORITHMS_SOURCE_PREFIX)
        and spec.tdp_per_core_w is not None
    ]
    ordered = sorted(values)
    middle = len(ordered) // 2
    return float(
        ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    )
