"""The serving section shown: Markdown, HTML and JSON, each figure with its unit,
the method that produced it and its source (`report.serving` builds the section).

Text from the store (run and model names) is escaped for the target format.
"""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from typing import TYPE_CHECKING, Any

from carbonlens._frozen import frozen
from carbonlens.report.paper import md_escape, number_text
from carbonlens.report.text import duration_text

if TYPE_CHECKING:
    from carbonlens.report.serving import ServingSection
    from carbonlens.serving.cost import ServingCost

__all__ = ["Figure", "figures", "serving_html", "serving_markdown", "serving_to_dict"]


@frozen
class Figure:
    """One row of the section: `key` (JSON, unit in the name), value in `unit`,
    the method that produced it and its source."""

    key: str
    label: str
    value: float
    unit: str
    method: str
    source: str


def _priced(cost: ServingCost, text: str) -> str:
    return f"{text}; priced at {cost.pricing_source}"


def figures(cost: ServingCost) -> list[Figure]:
    """The rows of the section, each with its unit, method and source."""
    return list(_figures(cost))


def _figures(cost: ServingCost) -> Iterator[Figure]:
    measured, source = cost.measured_method, cost.measured_source
    yield Figure(
        "measured_energy_per_request_j",
        "energy per request, idle excluded",
        cost.measured_energy_per_request_j,
        "J/request",
        measured,
        source,
    )
    yield Figure(
        "measured_energy_with_idle_per_request_j",
        "energy per request, idle spread over requests",
        cost.measured_energy_with_idle_per_request_j,
        "J/request",
        measured,
        source,
    )
    yield Figure(
        "measured_per_1000_requests_gco2e",
        "operational emissions per 1,000 requests, idle excluded",
        cost.measured_per_1000_requests_g,
        "gCO2e/1,000 requests",
        measured,
        _priced(cost, source),
    )
    yield Figure(
        "measured_with_idle_per_1000_requests_gco2e",
        "operational emissions per 1,000 requests, idle spread over requests",
        cost.measured_with_idle_per_1000_requests_g,
        "gCO2e/1,000 requests",
        measured,
        _priced(cost, source),
    )
    if cost.measured_per_token_g is not None:
        yield Figure(
            "measured_per_token_gco2e",
            "operational emissions per token (in + out), requests that reported tokens",
            cost.measured_per_token_g,
            "gCO2e/token",
            measured,
            _priced(cost, source),
        )
    rate = "measured" if cost.rate_observed else "given"
    rate_source = (
        f"{cost.requests} requests over {duration_text(cost.duration_s)}"
        if cost.rate_observed
        else "--requests-per-day"
    )
    yield Figure(
        "requests_per_day",
        "requests per day",
        cost.requests_per_day,
        "requests/day",
        rate,
        rate_source,
    )
    yield Figure(
        "operational_per_day_gco2e",
        "operational emissions per day: per request (idle included) × requests per day",
        cost.operational_per_day_g,
        "gCO2e/day",
        measured if cost.rate_observed else f"{measured}, rate given",
        _priced(cost, source),
    )
    yield Figure(
        "embodied_per_day_gco2e",
        "embodied emissions of the serving devices per day of service",
        cost.embodied_per_day_g,
        "gCO2e/day",
        "estimated",
        "the serving run's embodied emissions (hardware table, amortised) per day",
    )
    yield Figure(
        "total_per_day_gco2e",
        "serving emissions per day: operational + embodied",
        cost.total_per_day_g,
        "gCO2e/day",
        f"{measured} + estimated",
        "the two rows above",
    )
    if cost.training_g is not None:
        yield Figure(
            "training_gco2e",
            "training footprint",
            cost.training_g,
            "gCO2e",
            cost.training_method or "",
            cost.training_source or "",
        )
    if cost.breakeven_day is not None:
        yield Figure(
            "breakeven_days",
            "break-even day: training footprint / serving emissions per day",
            cost.breakeven_day,
            "days",
            "computed",
            "training footprint and serving emissions per day above",
        )
    yield from _estimated(cost)


def _estimated(cost: ServingCost) -> Iterator[Figure]:
    source = cost.estimate_source or ""
    rows = (
        (
            "estimated_energy_per_request_j",
            "energy per request (estimator: no idle)",
            cost.estimated_energy_per_request_j,
            "J/request",
        ),
        (
            "estimated_per_1000_requests_gco2e",
            "operational emissions per 1,000 requests (estimator)",
            cost.estimated_per_1000_requests_g,
            "gCO2e/1,000 requests",
        ),
        (
            "estimated_per_token_gco2e",
            "operational emissions per token (estimator)",
            cost.estimated_per_token_g,
            "gCO2e/token",
        ),
        (
            "estimated_total_per_day_gco2e",
            "emissions per day, embodied included (estimator)",
            cost.estimated_total_per_day_g,
            "gCO2e/day",
        ),
        (
            "estimated_breakeven_days",
            "break-even day (estimator)",
            cost.estimated_breakeven_day,
            "days",
        ),
    )
    for key, label, value, unit in rows:
        if value is not None:
            yield Figure(key, label, value, unit, "estimated", source)
    ratio = cost.measured_to_estimated_ratio
    if ratio is not None:
        yield Figure(
            "measured_to_estimated_ratio",
            "measured energy per request (idle excluded) / estimated",
            ratio,
            "ratio",
            f"{cost.measured_method} / estimated",
            "the two energy-per-request rows",
        )


def _heading(found: ServingSection) -> str:
    return f"Serving: {found.name or found.run_id[:12]}"


def _summary(found: ServingSection) -> str:
    cost = found.cost
    models = f", models: {', '.join(found.models)}" if found.models else ""
    return (
        f"{cost.requests} requests ({cost.tokens} tokens reported) over "
        f"{duration_text(cost.duration_s)}{models}"
    )


def serving_markdown(found: ServingSection) -> str:
    """The section as Markdown: a heading, a line, a table of figures and notes."""
    lines = [
        f"## {md_escape(_heading(found))}",
        "",
        md_escape(_summary(found)),
        "",
        "| figure | value | unit | method | source |",
        "|---|---:|---|---|---|",
    ]
    lines += [
        "| "
        + " | ".join(
            md_escape(c) for c in (f.label, number_text(f.value), f.unit, f.method, f.source)
        )
        + " |"
        for f in figures(found.cost)
    ]
    lines += ["", *(f"- {md_escape(n)}" for n in found.notes)]
    return "\n".join(lines).rstrip("\n") + "\n"


def serving_html(found: ServingSection) -> str:
    """The section as an HTML fragment (every text escaped)."""
    from carbonlens.report.html import html_table

    rows = [
        (f.label, number_text(f.value), f.unit, f.method, f.source) for f in figures(found.cost)
    ]
    notes = "".join(f"<li class=note>{escape(n)}</li>" for n in found.notes)
    return (
        f"<h3>{escape(_heading(found))}</h3><p>{escape(_summary(found))}</p>"
        + html_table(("figure", "value", "unit", "method", "source"), rows, numeric=1)
        + (f"<ul>{notes}</ul>" if notes else "")
    )


def serving_to_dict(found: ServingSection) -> dict[str, Any]:
    """The section as JSON: counts, the rate, and each figure with unit, method, source."""
    cost = found.cost
    return {
        "requests": cost.requests,
        "tokens": cost.tokens,
        "duration_s": cost.duration_s,
        "models": list(found.models),
        "requests_per_day_basis": "observed" if cost.rate_observed else "given",
        "intensity_g_per_kwh": cost.intensity_g_per_kwh,
        "pue_ratio": cost.pue_ratio,
        "figures": {
            f.key: {
                "label": f.label,
                "value": f.value,
                "unit": f.unit,
                "method": f.method,
                "source": f.source,
            }
            for f in figures(cost)
        },
        "notes": list(found.notes),
    }
