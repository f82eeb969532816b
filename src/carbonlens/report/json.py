"""Reports as JSON documents: units in every key, kWh and grams at the edge.

The schema is documented in docs/json.md; `schema` names its version.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from carbonlens.estimate.embodied import amortised_g
from carbonlens.records import ComponentTotal, RunInfo
from carbonlens.units import G_PER_KG, S_PER_YEAR, kwh_from_j

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport

SCHEMA = "carbonlens.run/1"


def _kwh(energy_j: float | None) -> float | None:
    return None if energy_j is None else kwh_from_j(energy_j)


def run_info_to_dict(info: RunInfo) -> dict[str, Any]:
    """The identity and status of a run (used by `runs --json`)."""
    return {
        "run_id": info.run_id,
        "project": info.project,
        "name": info.name,
        "kind": info.kind,
        "tags": list(info.tags),
        "host": info.host,
        "pid": info.pid,
        "status": info.status.value,
        "started_at": info.started_at.isoformat(),
        "ended_at": info.ended_at.isoformat() if info.ended_at else None,
        "duration_s": info.duration_s,
    }


def _component(total: ComponentTotal, duration_s: float) -> dict[str, Any]:
    ch = total.channel
    return {
        "component": ch.component.value,
        "device": ch.device,
        "sensor": ch.sensor,
        "method": ch.method.value,
        "energy_kwh": kwh_from_j(total.energy_j),
        "energy_low_kwh": kwh_from_j(total.energy_low_j),
        "energy_high_kwh": kwh_from_j(total.energy_high_j),
        "process_energy_kwh": _kwh(total.process_energy_j),
        "mean_power_w": total.energy_j / duration_s if duration_s > 0 else None,
    }


def _by_component(report: RunReport) -> dict[str, Any]:
    grouped: dict[str, list[ComponentTotal]] = defaultdict(list)
    for total in report.components:
        grouped[total.channel.component.value].append(total)
    return {
        name: {
            "energy_kwh": kwh_from_j(sum(t.energy_j for t in totals)),
            "energy_low_kwh": kwh_from_j(sum(t.energy_low_j for t in totals)),
            "energy_high_kwh": kwh_from_j(sum(t.energy_high_j for t in totals)),
            "methods": sorted({t.channel.method.value for t in totals}),
        }
        for name, totals in grouped.items()
    }


def _time_resolved(report: RunReport) -> dict[str, Any] | None:
    tr = report.time_resolved
    if tr is None:
        return None
    return {
        "operational_gco2e": tr.operational_g,
        "source": tr.source,
        "signal": tr.signal,
        "covered_energy_kwh": kwh_from_j(tr.covered_energy_j),
        "fallback_energy_kwh": kwh_from_j(tr.fallback_energy_j),
        "covered_ratio": tr.covered_ratio,
    }


def _market(report: RunReport) -> dict[str, Any] | None:
    market = report.market
    if market is None:
        return None
    return {
        "operational_gco2e": market.operational_g,
        "method": market.method,
        "formula": market.formula,
        "contractual_g_per_kwh": market.contractual_g_per_kwh,
        "cfe_ratio": market.cfe_ratio,
    }


def _edge(value: Any) -> Any:
    """A settings section in the units of this format: keys ending `_g` become
    `_gco2e`, keys ending `_j` become `_kwh` (the value converted)."""
    if isinstance(value, list):
        return [_edge(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key.endswith("_g"):
            key = key[:-2] + "_gco2e"
        elif key.endswith("_j"):
            key, item = key[:-2] + "_kwh", _kwh(item)
        out[key] = _edge(item)
    return out


def _evaluation(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics, budget, prediction and benchmark results (docs/evaluate.md)."""
    return {
        "metrics": settings.get("metrics", {}),
        "budget": _edge(settings.get("budget")),
        "prediction": _edge(settings.get("prediction")),
        "stop_reason": settings.get("stop_reason"),
        "benchmark": settings.get("benchmark"),
    }


def _schedule(report: RunReport) -> dict[str, Any] | None:
    """The plan a `run --deadline` waited for, and the intensity the run achieved."""
    plan = report.info.settings.get("schedule_plan")
    if not plan:
        return None
    facility_kwh = kwh_from_j(report.facility_energy_j)
    achieved = report.operational_g / facility_kwh if facility_kwh > 0 else None
    return {
        "plan": plan,
        "planned_g_per_kwh": plan.get("plan_g_per_kwh"),
        "achieved_g_per_kwh": achieved,
    }


def report_to_dict(report: RunReport) -> dict[str, Any]:
    """Every figure of a run report, with units in key names."""
    duration_s = report.duration_s
    return {
        "schema": SCHEMA,
        **run_info_to_dict(report.info),
        "energy_kwh": kwh_from_j(report.it_energy_j),
        "energy_low_kwh": kwh_from_j(report.it_energy_low_j),
        "energy_high_kwh": kwh_from_j(report.it_energy_high_j),
        "process_energy_kwh": _kwh(report.process_energy_j),
        "facility_energy_kwh": kwh_from_j(report.facility_energy_j),
        "pue": {"pue_ratio": report.pue.pue_ratio, "source": report.pue.source},
        "intensity": {
            "intensity_g_per_kwh": report.intensity.intensity_g_per_kwh,
            "location": report.intensity.location,
            "source": report.intensity.source,
            "year": report.intensity.year,
            "basis": report.intensity.basis,
            "reason": report.intensity.reason,
            "license": report.intensity.license,
        },
        "operational_gco2e": report.operational_g,
        "operational_annual_average_gco2e": report.operational_annual_g,
        "time_resolved": _time_resolved(report),
        "market_based": _market(report),
        "operational_low_gco2e": report.operational_low_g,
        "operational_high_gco2e": report.operational_high_g,
        "embodied_gco2e": report.embodied_g,
        "total_gco2e": report.total_g,
        "total_kgco2e": report.total_g / G_PER_KG,
        "components": [_component(t, duration_s) for t in report.components],
        "totals_by_component": _by_component(report),
        "embodied": [
            {
                "device": e.device,
                "component": e.component.value,
                "embodied_total_kgco2e": e.embodied_total_g / G_PER_KG,
                "lifetime_years": e.lifetime_s / S_PER_YEAR,
                "share_ratio": e.share_ratio,
                "amortised_gco2e": amortised_g(e, duration_s),
                "source": e.source,
            }
            for e in report.embodied
        ],
        "windows": [
            {
                "name": w.name,
                "start_s": w.start_t_s,
                "end_s": w.end_t_s,
                "duration_s": w.duration_s,
                "energy_kwh": kwh_from_j(w.it_energy_j),
                "process_energy_kwh": _kwh(w.process_energy_j),
                "facility_energy_kwh": kwh_from_j(w.facility_energy_j),
                "operational_gco2e": w.operational_g,
            }
            for w in report.windows
        ],
        "sensors": report.info.settings.get("sensors", {}),
        "probes": report.info.settings.get("probes", []),
        **_evaluation(report.info.settings),
        "schedule": _schedule(report),
        "notes": list(report.notes),
        "quality_flags": [
            {
                "channel": f.channel,
                "kind": f.kind.value,
                "count": f.count,
                "first_s": f.first_t_s,
                "last_s": f.last_t_s,
            }
            for f in report.quality_flags
        ],
        "store": report.store_location,
    }
