"""One self-contained HTML file per report: opens offline, no scripts, no network.

For each run: a summary with ranges, notes (a run still in progress is marked
partial), power over time per component and device with the run's windows
shaded, cumulative energy and emissions, grid intensity over time when the run
was priced hour by hour, the operational/embodied and per-device breakdowns,
tables of components and windows, everyday equivalences with their sources,
"how to cut it", and a methods section listing every constant and source. Several
runs get an overview table and chart first.

Charts are inline SVG (`report.charts`) of the series of `report.timeseries`,
so the file needs no plotting library and no JavaScript; a
Content-Security-Policy forbids scripts and every external load. Every text from
the store is escaped with `html.escape`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Final

from carbonlens._frozen import frozen
from carbonlens._version import __version__
from carbonlens.records import RunStatus, Sample
from carbonlens.report.charts import Band, bar_chart, line_chart, scatter_chart
from carbonlens.report.equivalences import equivalences
from carbonlens.report.methods import constants
from carbonlens.report.paper import number_text
from carbonlens.report.text import duration_text, energy_text, mass_text
from carbonlens.report.timeseries import (
    Series,
    channel_label,
    cumulative_emissions_series,
    cumulative_energy_series,
    intensity_series,
    power_series,
    time_scale,
)
from carbonlens.units import G_PER_KG, kwh_from_j

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport
    from carbonlens.evaluate.pareto import Ranking
    from carbonlens.report.cut import Cut

__all__ = ["HtmlRun", "pareto_chart", "render_comparison_html", "render_html"]

_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE: Final = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
h3{font-size:1.05rem}table{border-collapse:collapse;margin:.5rem 0;width:100%}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
td.n{text-align:right;white-space:nowrap}th{background:#f4f4f4}
.badge{background:#b35900;color:#fff;border-radius:3px;padding:0 .4rem;font-size:.8rem}
.chart{width:100%;height:auto;margin:.5rem 0}.note{color:#6a4a00}.muted{color:#666}
"""


@frozen
class HtmlRun:
    """What the HTML report needs of one run.

    Attributes:
        report: the priced run.
        samples: its stored samples (for the time series).
        cut: its "how to cut it" alternatives, or None to leave the section out.
        sections: further sections, as HTML fragments, shown before the methods
            (the serving section, `report.serving.serving_html`).
    """

    report: RunReport
    samples: Sequence[Sample]
    cut: Cut | None = None
    sections: tuple[str, ...] = ()


def html_table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: int = 0) -> str:
    """An escaped table; the `numeric` columns after the first are right-aligned."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=n' if 0 < n <= numeric else ''}>{escape(str(c))}</td>"
            for n, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _charts(run: HtmlRun) -> str:
    report = run.report
    scale_s, unit = time_scale(report.duration_s)
    x_label = f"time since start ({unit})"
    bands = [Band(w.name, w.start_t_s / scale_s, w.end_t_s / scale_s) for w in report.windows]
    lines: list[tuple[str, list[Series]]] = []
    if run.samples:
        lines += [
            ("Power", power_series(run.samples, scale_s)),
            ("Cumulative energy", [cumulative_energy_series(report, run.samples, scale_s)]),
            ("Cumulative emissions", cumulative_emissions_series(report, run.samples, scale_s)),
        ]
    lines.append(("Grid intensity", intensity_series(report, scale_s)))
    parts = [
        line_chart(title, series, x_label=x_label, y_label=series[0].unit, bands=bands)
        for title, series in lines
        if series
    ]
    split = [("operational", report.operational_g, ""), ("embodied", report.embodied_g, "")]
    parts.append(bar_chart("Emissions: operational and embodied", split, unit="gCO2e"))
    energy = [
        (channel_label(t.channel), kwh_from_j(t.energy_j) * 1000, t.channel.sensor)
        for t in report.components
    ]
    parts.append(bar_chart("IT energy by component and device", energy, unit="Wh"))
    return "\n".join(parts)


def _range(low: str, high: str) -> str:
    return f"range {low} – {high}"


def _summary(report: RunReport) -> str:
    i = report.intensity
    rows = [
        ("duration", duration_text(report.duration_s), ""),
        (
            "IT energy",
            energy_text(report.it_energy_j),
            _range(energy_text(report.it_energy_low_j), energy_text(report.it_energy_high_j)),
        ),
        ("PUE", f"{report.pue.pue_ratio:g}", report.pue.source),
        ("facility energy", energy_text(report.facility_energy_j), "IT energy × PUE"),
        ("grid intensity", f"{i.intensity_g_per_kwh:g} gCO2e/kWh", i.reason or i.source),
        (
            "operational",
            mass_text(report.operational_g),
            _range(mass_text(report.operational_low_g), mass_text(report.operational_high_g)),
        ),
        ("embodied", mass_text(report.embodied_g), "amortised manufacturing emissions"),
        ("total", mass_text(report.total_g), "operational + embodied"),
    ]
    if report.market is not None:
        rows.append(("market-based", mass_text(report.market.operational_g), report.market.formula))
    return html_table(("figure", "value", "method / source"), rows, numeric=1)


def _components(report: RunReport) -> str:
    rows = [
        (
            channel_label(t.channel),
            energy_text(t.energy_j),
            _range(energy_text(t.energy_low_j), energy_text(t.energy_high_j)),
            "" if t.process_energy_j is None else energy_text(t.process_energy_j),
            t.channel.sensor,
        )
        for t in report.components
    ]
    headers = ("channel", "energy", "range", "process share", "sensor")
    return "<h3>Components</h3>" + html_table(headers, rows, numeric=1)


def _windows(report: RunReport) -> str:
    rows = [
        (
            w.name,
            duration_text(w.start_t_s),
            duration_text(w.duration_s),
            energy_text(w.facility_energy_j),
            mass_text(w.operational_g),
        )
        for w in report.windows
    ]
    headers = ("window", "start", "duration", "facility energy", "operational")
    return "<h3>Windows</h3>" + html_table(headers, rows, numeric=4) if rows else ""


def _equivalences(total_g: float) -> str:
    rows = []
    for e in equivalences(total_g):
        f = e.factor
        source = f"{f.source}; {f.edition}; {f.license}" + (f" — {f.notes}" if f.notes else "")
        factor = f"{f.unit_g / G_PER_KG:g} kgCO2e per {f.unit}"
        rows.append((f"{number_text(e.quantity)} × {f.unit}", f.description, factor, source))
    lead = f"<h3>Equivalences</h3><p>{escape(mass_text(total_g))} CO2e is about:</p>"
    return lead + html_table(("equals", "what", "factor", "source"), rows, numeric=0)


def _cut(cut: Cut) -> str:
    rows = [
        (
            a.label,
            mass_text(a.total_g),
            f"{mass_text(a.saving_g)} ({a.saving_pct:.1f} %)",
            "; ".join(a.assumptions),
        )
        for a in cut.alternatives
    ]
    headers = ("alternative", "total", "saving", "assumptions")
    table = html_table(headers, rows, numeric=2) if rows else ""
    notes = "".join(f"<li>{escape(n)}</li>" for n in cut.notes)
    return f"<h3>How to cut it</h3>{table}<ul class=muted>{notes}</ul>"


_FORMULAS: Final = (
    "IT energy E_it = Σ components' energy; facility energy E = E_it × PUE",
    "operational C_op = Σ_t E(t) × I(t) (location-based grid intensity I)",
    "embodied C_emb = Σ devices embodied × duration / lifetime × share",
    "total C = C_op + C_emb",
)


def _methods(report: RunReport) -> str:
    items = "".join(f"<li>{escape(f)}</li>" for f in _FORMULAS)
    rows = [(c.section, c.name, c.value, c.source) for c in constants(report)]
    return f"<h3>Methods</h3><ul>{items}</ul>" + html_table(
        ("part", "constant", "value", "source"), rows
    )


def run_section(run: HtmlRun) -> str:
    report, info = run.report, run.report.info
    partial = ""
    if info.status is not RunStatus.FINISHED:
        partial = f" <span class=badge>partial: {escape(info.status.value)}</span>"
    ended = info.ended_at or info.started_at + timedelta(seconds=report.duration_s)
    meta = (
        f"run {info.run_id} · project {info.project} · {info.kind} · host {info.host} · "
        f"{info.started_at.isoformat()} → {ended.isoformat()}"
    )
    notes = "".join(f"<li class=note>{escape(n)}</li>" for n in report.notes)
    return "\n".join(
        [
            f'<section id="run-{escape(info.run_id)}">',
            f"<h2>{escape(info.name or info.run_id)}{partial}</h2>",
            f"<p class=muted>{escape(meta)}</p>",
            _summary(report),
            f"<ul>{notes}</ul>" if notes else "",
            _charts(run),
            _components(report),
            _windows(report),
            _equivalences(report.total_g),
            _cut(run.cut) if run.cut is not None else "",
            *run.sections,
            _methods(report),
            "</section>",
        ]
    )


def _overview(reports: Sequence[RunReport]) -> str:
    rows = [
        (r.info.name or r.info.run_id, r.info.project, r.info.status.value)
        + (energy_text(r.facility_energy_j), mass_text(r.total_g))
        for r in reports
    ]
    total_g = sum(r.total_g for r in reports)
    total_j = sum(r.facility_energy_j for r in reports)
    rows.append(("total", "", "", energy_text(total_j), mass_text(total_g)))
    bars = [(r.info.name or r.info.run_id[:12], r.total_g, r.info.project) for r in reports]
    headers = ("run", "project", "status", "facility energy", "total CO2e")
    return (
        "<h2>Overview</h2>"
        + html_table(headers, rows, numeric=4)
        + bar_chart("Total emissions by run", bars, unit="gCO2e")
        + _equivalences(total_g)
    )


def render_html(runs: Sequence[HtmlRun], *, generated_at: datetime | None = None) -> str:
    """The HTML report of one or more runs, as one self-contained document.

    Args:
        runs: the runs, in the order to show them (at least one).
        generated_at: the time stamped in the footer (default: now, UTC).

    Returns:
        The document text (UTF-8).
    """
    first = runs[0].report
    name = first.info.name or first.info.run_id
    title = f"carbonlens report: {name if len(runs) == 1 else f'{len(runs)} runs'}"
    stamp = (generated_at or datetime.now(UTC)).isoformat(timespec="seconds")
    footer = f"carbonlens {__version__} · generated {stamp} · store {first.store_location}"
    body = [_overview([r.report for r in runs])] if len(runs) > 1 else []
    return _page(title, [*body, *(run_section(run) for run in runs)], footer)


def _page(title: str, body: Sequence[str], footer: str) -> str:
    """A self-contained document: CSP forbidding scripts and loads, style, escaped title."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{escape(title)}</h1>",
            *body,
            f"<footer class=muted><p>{escape(footer)}</p></footer>",
            "</body></html>",
            "",
        ]
    )


def pareto_chart(ranking: Ranking, *, metric: str, cost_label: str) -> str:
    """The ranked runs as a scatter of `metric` against the cost, front marked.

    Args:
        ranking: the ranked runs (`evaluate.pareto.rank` or `evaluate.leaderboard.compare`).
        metric: the quality metric's name (y axis).
        cost_label: the cost with its unit (x axis), e.g. "energy (kWh)".

    Returns:
        The `<svg>` element as text.
    """
    entries = ranking.entries
    return scatter_chart(
        [
            (e.point.label, float(e.point.cost or 0.0), float(e.point.metric or 0.0))
            for e in entries
        ],
        x_label=cost_label,
        y_label=metric,
        front=[e.on_front for e in entries],
        title=f"{metric} vs {cost_label}: Pareto front",
    )


def render_comparison_html(
    ranking: Ranking,
    *,
    project: str,
    metric: str,
    cost_label: str,
    generated_at: datetime | None = None,
) -> str:
    """The comparison of a project's runs as one self-contained document: the
    scatter with its Pareto front, the ranked table and the runs left out.

    Args:
        ranking: the ranked runs.
        project: the project's name (title).
        metric: the quality metric's name.
        cost_label: the cost with its unit, e.g. "energy (kWh)".
        generated_at: the time stamped in the footer (default: now, UTC).

    Returns:
        The document text (UTF-8).
    """
    title = f"carbonlens comparison: {project}"
    stamp = (generated_at or datetime.now(UTC)).isoformat(timespec="seconds")
    rows = [
        (
            str(e.rank),
            e.point.label,
            f"{e.point.metric or 0.0:.4g}",
            f"{e.point.cost or 0.0:.4g}",
            f"{e.score:.4g}",
            "front"
            if e.on_front
            else "dominated by " + ", ".join(key[:12] for key in e.dominated_by),
        )
        for e in ranking.entries
    ]
    body = [
        f"<p>{escape(metric)} (higher is better) against {escape(cost_label)} "
        f"(lower is better); score {escape(ranking.score)}: "
        f"{escape(ranking.score_definition)}.</p>",
        pareto_chart(ranking, metric=metric, cost_label=cost_label) if rows else "",
        "<h2>Ranking</h2>",
        html_table(("rank", "run", metric, cost_label, ranking.score, "front"), rows, numeric=4)
        if rows
        else "<p>No run could be ranked.</p>",
    ]
    if ranking.excluded:
        body += [
            "<h2>Left out</h2>",
            html_table(
                ("run", "run id", "reason"),
                ((p.label, p.key, why) for p, why in ranking.excluded),
            ),
        ]
    return _page(title, body, f"carbonlens {__version__} · generated {stamp}")
