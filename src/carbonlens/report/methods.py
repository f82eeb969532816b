"""The facts behind a report's figures: constants, their sources, the hardware used.

`constants` lists, one per row, how each component's energy was obtained, every
assumption the run's sensors recorded (a `<name>_source` entry is paired with
the value it documents: `w_per_gb` with `w_per_gb_source`), the PUE, the grid
intensity with its source, year, basis and licence, a time-resolved or
market-based figure, the embodied shares and the uncertainty range of each
method. The HTML report's methods section shows them; the paper's methods
paragraph and the model card use the same sensor records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from carbonlens._frozen import frozen
from carbonlens.accounting import METHOD_RANGE
from carbonlens.units import G_PER_KG, S_PER_YEAR

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport

__all__ = ["Constant", "constants", "flatten", "hardware_used", "sensor_entries"]

_UNIT_SUFFIXES: Final = ("_w", "_bytes", "_s", "_g")
_MODEL_KEYS: Final = ("gpu_model", "cpu_model_name", "cpu_model")


@frozen
class Constant:
    """One fact a report's figures rest on.

    Attributes:
        section: what it belongs to ("energy", "facility", "grid", "embodied",
            "uncertainty").
        name: the constant's name ("cpu-tdp max_power_w", "PUE").
        value: its value as text, with its unit.
        source: where it comes from ("" when the value is its own source).
    """

    section: str
    name: str
    value: str
    source: str


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return "; ".join(_value_text(v) for v in value)
    return str(value)


def _source_of(key: str, entries: Mapping[str, Any]) -> str:
    """The `<key>_source` entry that documents `key` ("w_per_gb" -> "w_per_gb_source")."""
    stems = [key, *(key.removesuffix(s) for s in _UNIT_SUFFIXES if key.endswith(s))]
    return next((str(entries[f"{s}_source"]) for s in stems if entries.get(f"{s}_source")), "")


def flatten(prefix: str, entries: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(name, value, source) of every non-empty leaf, sources paired with their values.

    Nested mappings give dotted names (`devices.gpu0.model`), each prefixed by `prefix`.
    """
    used = {
        f"{s}_source"
        for key in entries
        for s in (key, *(key.removesuffix(u) for u in _UNIT_SUFFIXES))
        if f"{s}_source" in entries and not key.endswith("_source")
    }
    for key, value in entries.items():
        if value is None or value == "" or value == [] or key in used:
            continue
        if isinstance(value, Mapping):
            yield from flatten(f"{prefix}{key}.", value)
        else:
            yield f"{prefix}{key}", _value_text(value), _source_of(key, entries)


def sensor_entries(report: RunReport) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(sensor name, its recorded assumptions) for each sensor of the run."""
    sensors = report.info.settings.get("sensors", {})
    if isinstance(sensors, Mapping):
        yield from ((str(n), a) for n, a in sensors.items() if isinstance(a, Mapping))


def constants(report: RunReport) -> list[Constant]:
    """Every constant and source behind a report's figures, one per row."""
    rows = [
        Constant(
            "energy",
            f"{t.channel.component.value} {t.channel.device}",
            t.channel.method.value,
            f"sensor {t.channel.sensor}",
        )
        for t in report.components
    ]
    for name, assumptions in sensor_entries(report):
        rows += [Constant("energy", f"{name} {k}", v, s) for k, v, s in flatten("", assumptions)]
    rows.append(Constant("facility", "PUE", f"{report.pue.pue_ratio:g}", report.pue.source))
    i = report.intensity
    rows.append(
        Constant(
            "grid",
            f"intensity ({i.location or 'world'})",
            f"{i.intensity_g_per_kwh:g} gCO2e/kWh",
            "; ".join(p for p in (i.source, str(i.year or ""), i.basis, i.license, i.reason) if p),
        )
    )
    if report.time_resolved is not None:
        tr = report.time_resolved
        share = f"{tr.covered_ratio:.0%} of the energy covered by the series"
        rows.append(Constant("grid", f"time-resolved ({tr.signal})", share, tr.source))
    if report.market is not None:
        market = report.market
        value = f"{market.operational_g:.6g} gCO2e"
        rows.append(Constant("grid", f"market-based ({market.method})", value, market.formula))
    for e in report.embodied:
        value = (
            f"{e.embodied_total_g / G_PER_KG:g} kgCO2e over {e.lifetime_s / S_PER_YEAR:g} y, "
            f"share {e.share_ratio:g}"
        )
        rows.append(Constant("embodied", e.device, value, e.source))
    for method, (low, high) in METHOD_RANGE.items():
        rows.append(Constant("uncertainty", method, f"×{low:g} to ×{high:g}", "accounting.py"))
    return rows


def hardware_used(report: RunReport) -> str:
    """The devices of a run as people write them: "2 x NVIDIA H100 80GB HBM3, Intel Xeon ..."."""
    gpus: Counter[str] = Counter()
    named: list[str] = []
    for _name, assumptions in sensor_entries(report):
        for device in (assumptions.get("devices") or {}).values():
            if isinstance(device, Mapping) and device.get("model"):
                gpus[str(device["model"])] += 1
        named += [str(assumptions[k]) for k in _MODEL_KEYS if assumptions.get(k)]
    parts = [f"{n} x {model}" if n > 1 else model for model, n in gpus.items()]
    return ", ".join(dict.fromkeys([*parts, *named]))
