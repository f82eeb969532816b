"""Accelerator and CPU specifications, found by the names people write.

Accelerators (GPUs, TPUs, other AI chips, Apple SoCs) come from the bundled
``data/hardware.csv`` (one row per part: TDP, dense peak TFLOP/s per precision,
memory, memory bandwidth, embodied figure where published, each with its
source), read lazily once. CPUs come from ``data/cpu_tdp.csv`` through
`carbonlens.estimate.cpu_specs.match_cpu`.

`resolve_device` accepts names as papers and configs spell them: ``"V100"``,
``"A100-80GB"``, ``"TPUv3"``, ``"tpu v3"``, ``"h100 sxm"``, ``"NVIDIA H100 80GB HBM3"``.
Names are lower-cased, vendor and marketing words dropped (NVIDIA, Tesla,
GeForce, Google, AMD, Instinct, Intel, Habana, Apple, GPU, per chip), split into
tokens (``"tpuv3"`` → ``tpu v3``, ``"80G"`` → ``80gb``, ``"h100sxm"`` → ``h100 sxm``).
A row matches when each query token equals one of its tokens (name, id and form
factor) or extends it by one letter (``v5`` → ``v5e``, ``mi300`` → ``mi300x``),
or a form factor by its generation (``sxm`` → ``sxm5``); exact matches win over
extended ones, so ``L40`` is the L40 and not the L40S.

Several matches resolve to the part whose name adds the fewest words to the
query (``M1`` is the M1, not the M1 Max), then to the data-centre flagship: the
SXM/OAM/HGX board first, then the most memory, then table order (``"A100"``: four
parts, the A100 SXM4 80GB). For every family in the table that is the part the
published footprints used (A100 SXM4 80GB: BLOOM, OPT, LLaMA, Llama 2; H100
SXM5; V100 SXM2: GPT-3), and `Resolution.note` names the alternatives. A name
that matches no accelerator and no CPU raises `UnknownHardware` with up to three
close names.

Power: a device draws its user-given average power, or TDP × load factor
(`DEFAULT_LOAD_RATIO`, range `LOAD_RANGE_RATIO`); see `power_assumptions`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import field
from functools import cache
from typing import Final

from carbonlens._frozen import frozen
from carbonlens.data import read_rows
from carbonlens.errors import EstimateError, UnknownHardware
from carbonlens.estimate.cpu_specs import match_cpu
from carbonlens.estimate.flops import Precision
from carbonlens.estimate.quantities import Assumption, Values, assumed
from carbonlens.units import BYTES_PER_GB, G_PER_KG

__all__ = [
    "DEFAULT_LOAD_RATIO",
    "LOAD_RANGE_RATIO",
    "DeviceSpec",
    "Resolution",
    "list_devices",
    "power_assumptions",
    "resolve_device",
    "tokens",
]

DEFAULT_LOAD_RATIO: Final = 1.0
"""Average power as a fraction of TDP when the power is not given: 1.0, the
convention of the published estimates (BLOOM, LLaMA and Llama 2 use TDP); an
upper bound for sustained draw."""

LOAD_RANGE_RATIO: Final = (0.5, 1.0)
"""Low and high load factor: measured training averages run from 49 % of TDP
(TPU v3: mean 220 W of 450 W, Jouppi et al. 2023 / Google Cloud TPU v3 docs) and
76 % (8×H100 node, Latif et al. 2025, arXiv:2506.14551) up to TDP, the sustained
maximum."""

LOAD_SOURCE: Final = (
    "load factor 1.0 × TDP (convention of BLOOM, LLaMA, Llama 2), range 0.5-1.0: "
    "measured training averages 49 % (TPU v3, Jouppi et al. 2023) to 76 % (8×H100 node, "
    "Latif et al. 2025) of TDP"
)

_NOISE: Final = frozenset(
    {"nvidia", "tesla", "geforce", "google", "amd", "instinct", "intel", "habana", "apple"}
    | {"gpu", "per", "chip", "the"}
)
_BOARDS: Final = ("sxm", "oam", "hgx")
_PEAK_COLUMNS: Final = {
    Precision.FP32: ("fp32_tflops", ""),
    Precision.FP16: ("fp16_bf16_dense_tflops", "fp16_note"),
    Precision.BF16: ("fp16_bf16_dense_tflops", "fp16_note"),
    Precision.FP8: ("fp8_dense_tflops", "fp8_note"),
}
_FLOP_PER_TFLOP: Final = 1e12
_MAX_SUGGESTIONS: Final = 3


@frozen
class DeviceSpec:
    """One accelerator or CPU and the figures the estimator needs.

    Attributes:
        id: stable row id (``"nvidia-a100-sxm4-80gb"``; ``"cpu:<name>"`` for CPUs).
        name: the part's name as the table spells it.
        vendor: manufacturer.
        kind: ``gpu``, ``tpu``, ``accelerator``, ``soc`` or ``cpu``.
        form_factor: board or package (``SXM4``, ``PCIe``, ``OAM``...).
        release_year: first shipment year, when known.
        tdp_w: thermal design power in watts (None when not published).
        tdp_note: remarks on the TDP (configurable limits, measured values).
        peak_flop_per_s: dense peak FLOP/s by precision (FP16 and BF16 share a column).
        precision_notes: the table's remark on each precision's peak.
        memory_bytes: device memory in bytes, when known.
        memory_type: memory technology (``HBM3``, ``GDDR6``...).
        memory_bandwidth_bytes_per_s: peak memory bandwidth in bytes/s, when known.
        embodied_g: manufacturing emissions of one device in gCO2e, when the table has one.
        embodied_source: where `embodied_g` comes from.
        source: the specification's source (vendor datasheet, paper).
        license: the row's licence.
        notes: the row's remarks.
        devices_per_host: devices per host board when the table states it (TPU boards).
    """

    id: str
    name: str
    vendor: str
    kind: str
    form_factor: str = ""
    release_year: int | None = None
    tdp_w: float | None = None
    tdp_note: str = ""
    peak_flop_per_s: Mapping[Precision, float] = field(default_factory=dict)
    precision_notes: Mapping[Precision, str] = field(default_factory=dict)
    memory_bytes: float | None = None
    memory_type: str = ""
    memory_bandwidth_bytes_per_s: float | None = None
    embodied_g: float | None = None
    embodied_source: str = ""
    source: str = ""
    license: str = ""
    notes: str = ""
    devices_per_host: int | None = None

    @property
    def embodied_origin(self) -> str:
        """Where `embodied_g` comes from, for a figure's source: "(hardware.csv:
        SOURCE)", or "" when the table gives none."""
        return f"(hardware.csv: {self.embodied_source})" if self.embodied_source else ""

    def supports(self, precision: Precision) -> bool:
        """Whether the table gives a peak for `precision` (BF16 excluded where it says so)."""
        if precision is Precision.BF16 and "no bf16" in self.precision_notes.get(
            precision, ""
        ).casefold().replace(" support", ""):
            return False
        return precision in self.peak_flop_per_s

    def default_precision(self) -> Precision:
        """BF16, else FP16 on parts without BF16 (V100, T4, P100), else FP32."""
        for precision in (Precision.BF16, Precision.FP16, Precision.FP32):
            if self.supports(precision):
                return precision
        raise EstimateError(f"{self.name} has no peak FLOP/s in the table for any precision")

    def peak(self, precision: Precision) -> float:
        """Dense peak FLOP/s of one device at `precision`.

        Raises:
            EstimateError: the table has no peak for that precision on this part.
        """
        if not self.supports(precision):
            known = ", ".join(p.value for p in Precision if self.supports(p)) or "none"
            raise EstimateError(
                f"{self.name} has no {precision.value} peak FLOP/s in the table "
                f"(available: {known}); choose another --precision"
            )
        return self.peak_flop_per_s[precision]


@frozen
class Resolution:
    """The part a name resolved to, and the other parts the name could mean.

    Attributes:
        spec: the chosen part.
        query: the name as given.
        alternatives: names of the other parts that match the query.
    """

    spec: DeviceSpec
    query: str
    alternatives: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        """A sentence naming the alternatives, or "" when the name was unambiguous."""
        if not self.alternatives:
            return ""
        return (
            f"{self.query!r} matches {len(self.alternatives) + 1} parts; using {self.spec.name}; "
            f"also: {', '.join(self.alternatives)} (name one to choose it)"
        )


def tokens(name: str) -> tuple[str, ...]:
    """The match tokens of a device name (see the module docstring)."""
    text = name.casefold()
    text = re.sub(r"(\d+)\s*/\s*(\d+)\s*gb", r"\1gb \2gb", text)
    text = re.sub(r"tpu\s*-?\s*v?(\d)", r"tpu v\1", text)
    text = re.sub(r"(\d+)\s*g(?:i?b)?\b", r"\1gb", text)
    text = re.sub(r"(\d)(sxm\d?|pcie|nvl|oam|hgx)", r"\1 \2", text)
    return tuple(t for t in re.findall(r"[a-z0-9]+", text) if t not in _NOISE)


def _extends(query: str, token: str) -> bool:
    """Whether `token` is `query` plus a generation digit (sxm → sxm5) or one letter (v5 → v5e)."""
    if not token.startswith(query) or token == query:
        return False
    rest = token[len(query) :]
    return (query.isalpha() and rest.isdigit()) or (
        query[-1].isdigit() and rest.isalpha() and len(rest) == 1
    )


def _float(text: str) -> float | None:
    return float(text) if text.strip() else None


def _spec(row: Mapping[str, str]) -> DeviceSpec:
    peaks: dict[Precision, float] = {}
    notes: dict[Precision, str] = {}
    for precision, (column, note_column) in _PEAK_COLUMNS.items():
        if (value := _float(row[column])) is not None:
            peaks[precision] = value * _FLOP_PER_TFLOP
            notes[precision] = row[note_column] if note_column else ""
    memory_gb = _float(row["memory_gb"])
    bandwidth = _float(row["memory_bandwidth_gb_s"])
    embodied_kg = _float(row["embodied_kgco2e"])
    per_host = re.search(r"\((\d+) chips\)", row["form_factor"])
    return DeviceSpec(
        id=row["id"],
        name=row["name"],
        vendor=row["vendor"],
        kind=row["kind"],
        form_factor=row["form_factor"],
        release_year=int(row["release_year"]) if row["release_year"].strip() else None,
        tdp_w=_float(row["tdp_w"]),
        tdp_note=row["tdp_note"],
        peak_flop_per_s=peaks,
        precision_notes=notes,
        memory_bytes=None if memory_gb is None else memory_gb * BYTES_PER_GB,
        memory_type=row["memory_type"],
        memory_bandwidth_bytes_per_s=None if bandwidth is None else bandwidth * BYTES_PER_GB,
        embodied_g=None if embodied_kg is None else embodied_kg * G_PER_KG,
        embodied_source=row["embodied_source"],
        source=row["spec_source"],
        license=row["license"],
        notes=row["notes"],
        devices_per_host=int(per_host.group(1)) if per_host else None,
    )


@cache
def list_devices() -> tuple[DeviceSpec, ...]:
    """Every accelerator of the bundled table, in table order (read once)."""
    return tuple(_spec(row) for row in read_rows("hardware.csv"))


@cache
def _row_tokens() -> tuple[frozenset[str], ...]:
    return tuple(
        frozenset(tokens(f"{d.name} {d.id} {d.form_factor} {d.memory_type}"))
        for d in list_devices()
    )


def _rank(index: int, query: tuple[str, ...]) -> tuple[int, bool, float, int]:
    """Sort key among matches: fewest extra name words, then board, memory, table order."""
    spec = list_devices()[index]
    extra = len(set(tokens(spec.name)) - set(query))
    board = any(t.startswith(_BOARDS) for t in tokens(spec.form_factor))
    return -extra, board, spec.memory_bytes or 0.0, -index


def _cpu(name: str) -> DeviceSpec | None:
    match = match_cpu(name)
    if match is None:
        return None
    cpu = match.spec
    cores = f"{cpu.n_cores} cores" if cpu.n_cores else ""
    return DeviceSpec(
        id=f"cpu:{cpu.name}",
        name=cpu.name,
        vendor="",
        kind="cpu",
        tdp_w=cpu.tdp_w,
        source=cpu.source,
        license=cpu.license,
        notes=cores,
    )


def resolve_device(name: str) -> Resolution:
    """Find an accelerator (or, failing that, a CPU) by the name people write.

    Args:
        name: e.g. ``"V100"``, ``"A100-80GB"``, ``"TPUv3"``, ``"h100 sxm"``, ``"EPYC 7763"``.

    Returns:
        The part, with the other parts the name could mean (see the module docstring).

    Raises:
        UnknownHardware: nothing matches; `candidates` holds up to three close names.
    """
    query = tokens(name)
    if query:
        rows = _row_tokens()
        exact = [i for i, row in enumerate(rows) if set(query) <= row]
        found = exact or [
            i
            for i, row in enumerate(rows)
            if all(q in row or any(_extends(q, t) for t in row) for q in query)
        ]
        if found:
            best = max(found, key=lambda i: _rank(i, query))
            others = tuple(list_devices()[i].name for i in found if i != best)
            return Resolution(list_devices()[best], name, others)
    cpu = _cpu(name)
    if cpu is not None:
        return Resolution(cpu, name)
    raise UnknownHardware(name, _suggest(" ".join(query) or name.casefold()))


def _suggest(key: str) -> list[str]:
    names = {" ".join(tokens(d.name)): d.name for d in list_devices()}
    close = difflib.get_close_matches(key, names, n=_MAX_SUGGESTIONS, cutoff=0.5)
    return [names[c] for c in close]


def power_assumptions(
    device: DeviceSpec,
    power_w: float | Assumption | None,
    load_ratio: float | Assumption | None,
) -> tuple[dict[str, Assumption], Callable[[Values], float]]:
    """The power inputs of one device, and the watts they give for given input values.

    Args:
        device: the device.
        power_w: average power per device, all-in, in watts (a number is exact; an
            `Assumption` carries its range); None: TDP × load factor.
        load_ratio: fraction of TDP drawn on average (0-1); None: `DEFAULT_LOAD_RATIO`
            with `LOAD_RANGE_RATIO`.

    Returns:
        The assumptions by name, and a function of their values giving watts.

    Raises:
        EstimateError: no power given and no TDP in the table (Apple SoCs, TPU v5e).
    """
    if power_w is not None:
        return {"power_w": assumed("power_w", power_w)}, _watts_given
    if device.tdp_w is None:
        raise EstimateError(
            f"{device.name} has no published TDP ({device.tdp_note or 'not in the table'}); "
            "give its average power in watts (--power-w)"
        )
    default = Assumption(DEFAULT_LOAD_RATIO, LOAD_SOURCE, *LOAD_RANGE_RATIO)
    load = assumed("load_ratio", load_ratio, default, maximum=1.0)
    note = f" ({device.tdp_note})" if device.tdp_note else ""
    tdp = Assumption(device.tdp_w, f"{device.name} TDP, {device.source}{note}")
    return {"tdp_w": tdp, "load_ratio": load}, _watts_from_tdp


def _watts_given(values: Values) -> float:
    return values["power_w"]


def _watts_from_tdp(values: Values) -> float:
    return values["tdp_w"] * values["load_ratio"]
