"""Paper-ready output: a results table and a methods paragraph, in Markdown or LaTeX.

Figures come from `RunReport`s as they are (never re-priced): IT and facility
energy in kWh, emissions in kgCO2e, each run a row and, for several runs, a total
row. The methods paragraph states every constant the figures rest on: how each
component's energy was obtained and the sensor's model constants, the PUE, the
grid intensity with its source, year and basis, the embodied amortisation and the
uncertainty ranges by method (`report.methods` lists the same facts one per row).

Text from the store (run names, sources) is escaped for the target format:
Markdown punctuation that could start markup or HTML is backslash-escaped, and
LaTeX's special characters (and ×, →, dashes, ·) are replaced by their commands.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Final

from carbonlens._frozen import frozen
from carbonlens._version import __version__
from carbonlens.accounting import METHOD_RANGE
from carbonlens.records import Method, RunStatus
from carbonlens.report.methods import flatten, hardware_used, sensor_entries
from carbonlens.units import G_PER_KG, S_PER_YEAR, kwh_from_j

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport

__all__ = ["latex", "markdown", "methods_paragraph", "number_text"]

_METHOD_WORDS: Final = {
    Method.MEASURED: "measured with hardware energy counters",
    Method.SAMPLED: "integrated from power readings",
    Method.MODELLED: "modelled from specifications and utilisation",
    Method.CONSTANT: "computed from a user-given constant power",
    Method.ESTIMATED: "estimated",
}
_HEADLINE_SUFFIXES: Final = ("_w", "_ratio", "w_per_gb")
_COLUMNS: Final = (
    "Run",
    "Hardware",
    "Duration (h)",
    "IT energy (kWh)",
    "PUE",
    "Energy (kWh)",
    "Intensity (gCO2e/kWh)",
    "Operational (kgCO2e)",
    "Embodied (kgCO2e)",
    "Total (kgCO2e)",
)
_MD_SPECIAL: Final = frozenset("\\`*_[]<>|&#!")
_LATEX_SPECIAL: Final = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "×": r"$\times$",
    "→": r"$\rightarrow$",
    "–": "--",
    "—": "---",
    "·": r"$\cdot$",
}


def number_text(value: float) -> str:
    """A figure with 3 significant digits and no exponent ("0.00612", "41.4", "1,234")."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    decimals = max(2 - math.floor(math.log10(abs(value))), 0)
    return f"{value:.{decimals}f}"


@frozen
class _Style:
    escape: Callable[[str], str]
    co2: str
    times: str


def md_escape(text: str) -> str:
    """`text` on one line, with Markdown's special characters backslash-escaped."""
    return "".join(f"\\{c}" if c in _MD_SPECIAL else c for c in " ".join(text.split()))


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(c, c) for c in " ".join(text.split()))


_MD = _Style(md_escape, "CO2e", "×")
_LATEX = _Style(_latex_escape, "CO$_2$e", r"$\times$")


def _row(report: RunReport) -> list[str]:
    partial = " (partial)" if report.info.status is not RunStatus.FINISHED else ""
    return [
        f"{report.info.name or report.info.run_id[:12]}{partial}",
        hardware_used(report),
        number_text(report.duration_s / 3600),
        number_text(kwh_from_j(report.it_energy_j)),
        f"{report.pue.pue_ratio:g}",
        number_text(kwh_from_j(report.facility_energy_j)),
        number_text(report.intensity.intensity_g_per_kwh),
        number_text(report.operational_g / G_PER_KG),
        number_text(report.embodied_g / G_PER_KG),
        number_text(report.total_g / G_PER_KG),
    ]


def _rows(reports: Sequence[RunReport]) -> list[list[str]]:
    rows = [_row(r) for r in reports]
    if len(reports) > 1:
        rows.append(
            [
                "Total",
                "",
                number_text(sum(r.duration_s for r in reports) / 3600),
                number_text(kwh_from_j(sum(r.it_energy_j for r in reports))),
                "",
                number_text(kwh_from_j(sum(r.facility_energy_j for r in reports))),
                "",
                number_text(sum(r.operational_g for r in reports) / G_PER_KG),
                number_text(sum(r.embodied_g for r in reports) / G_PER_KG),
                number_text(sum(r.total_g for r in reports) / G_PER_KG),
            ]
        )
    return rows


def _component_sentence(report: RunReport, style: _Style) -> str:
    """'CPU (cpu), RAM (ram) energy was modelled (...)': one clause per sensor and method."""
    groups: dict[tuple[str, Method], list[str]] = {}
    for t in report.components:
        ch = t.channel
        groups.setdefault((ch.sensor, ch.method), []).append(
            f"{ch.component.value.upper()} ({ch.device})"
        )
    sensors = dict(sensor_entries(report))
    clauses = []
    for (sensor, method), parts in groups.items():
        headline = [
            f"{k} {v}"
            for k, v, _s in flatten("", sensors.get(sensor, {}))
            if k.endswith(_HEADLINE_SUFFIXES)
        ]
        details = f": {', '.join(headline)}" if headline else ""
        clauses.append(f"{', '.join(parts)} energy was {_METHOD_WORDS[method]} ({sensor}{details})")
    return style.escape("; ".join(clauses) + ".") if clauses else ""


def _sentences(report: RunReport, style: _Style) -> Iterator[str]:
    yield _component_sentence(report, style)
    e = style.escape
    yield (
        f"Facility energy is IT energy {style.times} a PUE of {report.pue.pue_ratio:g} "
        f"({e(report.pue.source)})."
    )
    i = report.intensity
    details = ", ".join(e(str(p)) for p in (i.source, i.year, i.basis) if p)
    where = e(i.location or "the world")
    yield (
        f"Operational emissions use a location-based grid intensity of "
        f"{i.intensity_g_per_kwh:g} g{style.co2}/kWh for {where} ({details})."
    )
    if report.time_resolved is not None:
        tr = report.time_resolved
        yield (
            f"Emissions were priced hour by hour with {e(tr.source)} ({e(tr.signal)} signal, "
            f"{tr.covered_ratio:.0%} of the energy covered; the rest at the annual average)."
        )
    for s in report.embodied:
        yield (
            f"Embodied emissions amortise {s.embodied_total_g / G_PER_KG:g} kg{style.co2} for "
            f"{e(s.device)} over {s.lifetime_s / S_PER_YEAR:g} years with a share of "
            f"{s.share_ratio:g} ({e(s.source)})."
        )


def methods_paragraph(reports: Sequence[RunReport], *, latex: bool = False) -> str:
    """The methods paragraph: every constant behind the figures of `reports`, once each.

    Args:
        reports: the runs of the table (one or more).
        latex: LaTeX text instead of Markdown.

    Returns:
        One paragraph; sentences shared by several runs appear once.
    """
    style = _LATEX if latex else _MD
    sentences = [f"Energy was recorded with carbonlens {__version__}."]
    for report in reports:
        sentences += [s for s in _sentences(report, style) if s and s not in sentences]
    dash = "--" if latex else "–"
    ranges = ", ".join(
        f"{m.value} {style.times}{low:g}{dash}{high:g}" for m, (low, high) in METHOD_RANGE.items()
    )
    total_kg = sum(r.total_g for r in reports) / G_PER_KG
    op_kg = sum(r.operational_g for r in reports) / G_PER_KG
    sentences.append(
        f"Uncertainty ranges follow each figure's method ({ranges}); the uncertainty of the "
        f"grid intensity is not included. In total the work emitted {number_text(total_kg)} "
        f"kg{style.co2} ({number_text(op_kg)} operational, "
        f"{number_text(total_kg - op_kg)} embodied)."
    )
    return " ".join(sentences)


def markdown(reports: Sequence[RunReport]) -> str:
    """A Markdown results table (one row per run, a total row for several) and methods."""
    lines = [
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "|".join("---" if n < 2 else "---:" for n in range(len(_COLUMNS))) + "|",
    ]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in _rows(reports)]
    return "\n".join([*lines, "", methods_paragraph(reports), ""])


def latex(reports: Sequence[RunReport]) -> str:
    """A LaTeX `table` (booktabs rules) with the results and the methods paragraph after it."""
    header = " & ".join(_latex_escape(c).replace("CO2e", "CO$_2$e") for c in _COLUMNS)
    rows = [" & ".join(_latex_escape(c) for c in row) + r" \\" for row in _rows(reports)]
    if len(reports) > 1:
        rows.insert(-1, r"\midrule")
    return "\n".join(
        [
            r"% needs \usepackage{booktabs}",
            r"\begin{table}[t]",
            r"\centering",
            r"\small",
            r"\begin{tabular}{ll" + "r" * (len(_COLUMNS) - 2) + "}",
            r"\toprule",
            header + r" \\",
            r"\midrule",
            *rows,
            r"\bottomrule",
            r"\end{tabular}",
            r"\caption{Energy and emissions of the experiments (carbonlens).}",
            r"\end{table}",
            "",
            methods_paragraph(reports, latex=True),
            "",
        ]
    )
