"""The DESIGN.md model, checked against hand-computed figures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from carbonlens.accounting import METHOD_RANGE, build_report, pricing_settings, stored_report
from carbonlens.errors import StoreError, UnpricedRun
from carbonlens.records import (
    Channel,
    Component,
    EmbodiedShare,
    IntensityValue,
    Method,
    PueValue,
    RunInfo,
    RunStatus,
    Sample,
    Window,
)

CPU = Channel("cpu-tdp", Component.CPU, "cpu", Method.MODELLED)
GPU = Channel("nvml", Component.GPU, "gpu0", Method.MEASURED)
FOUR_YEARS_S = 4 * 365.25 * 86400  # 126,230,400 s


def _info(**changes: object) -> RunInfo:
    settings = pricing_settings(
        IntensityValue(50.0, "FR", "test table", 2025, "lifecycle"),
        PueValue(1.2, "user setting"),
        [EmbodiedShare("gpu0", Component.GPU, 150_000.0, FOUR_YEARS_S, 1.0, "CCF")],
    )
    fields: dict[str, object] = {
        "run_id": "r1",
        "project": "p",
        "name": "n",
        "started_at": datetime(2026, 1, 1, tzinfo=UTC),
        "host": "h",
        "pid": 1,
        "status": RunStatus.FINISHED,
        "duration_s": 3600.0,
        "settings": settings,
    }
    fields.update(changes)
    return RunInfo(**fields)  # type: ignore[arg-type]


SAMPLES = [
    Sample(CPU, 1800.0, 1800.0, 1800.0, 900.0),
    Sample(GPU, 1800.0, 1800.0, 3600.0, 3600.0),
    Sample(CPU, 3600.0, 1800.0, 1800.0, 900.0),
    Sample(GPU, 3600.0, 1800.0, 3600.0, 3600.0),
]


def test_energy_emissions_and_ranges_by_hand() -> None:
    report = build_report(_info(), SAMPLES, [Window("second-half", 1800.0, 3600.0)])
    # IT: cpu 3600 J + gpu 7200 J = 10,800 J = 0.003 kWh
    assert report.it_energy_j == pytest.approx(10_800.0)
    # facility: x PUE 1.2 = 12,960 J; operational: 0.0036 kWh x 50 g/kWh = 0.18 g
    assert report.facility_energy_j == pytest.approx(12_960.0)
    assert report.operational_g == pytest.approx(0.18)
    # ranges: cpu modelled x0.5..1.5 (1800..5400 J), gpu measured x0.95..1.05 (6840..7560 J)
    assert METHOD_RANGE[Method.MODELLED] == (0.5, 1.5)
    assert report.it_energy_low_j == pytest.approx(8_640.0)
    assert report.it_energy_high_j == pytest.approx(12_960.0)
    # 8640 J x 1.2 = 10,368 J = 0.00288 kWh x 50 = 0.144 g; 12,960 x 1.2 -> 0.216 g
    assert report.operational_low_g == pytest.approx(0.144)
    assert report.operational_high_g == pytest.approx(0.216)
    # embodied: 150,000 g x 3600 s / 126,230,400 s = 4.27789... g
    assert report.embodied_g == pytest.approx(150_000 * 3600 / 126_230_400)
    assert report.total_g == pytest.approx(0.18 + 4.277890, rel=1e-6)
    # process: cpu 1800 J + gpu 7200 J
    assert report.process_energy_j == pytest.approx(9_000.0)
    [window] = report.windows
    # only the samples ending in (1800, 3600]: 1800 + 3600 J = 5400 J, x1.2, x50 g/kWh
    assert window.it_energy_j == pytest.approx(5_400.0)
    assert window.operational_g == pytest.approx(5_400 * 1.2 / 3.6e6 * 50)


def test_components_are_ordered_and_keep_their_method() -> None:
    report = build_report(_info(), SAMPLES)
    assert [(t.channel.component, t.channel.method) for t in report.components] == [
        (Component.CPU, Method.MODELLED),
        (Component.GPU, Method.MEASURED),
    ]


def test_interrupted_run_is_priced_up_to_its_last_sample() -> None:
    info = _info(status=RunStatus.INTERRUPTED, duration_s=None)
    report = build_report(info, SAMPLES[:2])
    assert report.duration_s == 1800.0
    assert report.it_energy_j == pytest.approx(5_400.0)
    assert any("interrupted" in n for n in report.notes)


def test_json_document_has_units_in_keys() -> None:
    doc = build_report(_info(), SAMPLES).to_dict()
    assert doc["energy_kwh"] == pytest.approx(0.003)
    assert doc["facility_energy_kwh"] == pytest.approx(0.0036)
    assert doc["operational_gco2e"] == pytest.approx(0.18)
    assert doc["intensity"]["intensity_g_per_kwh"] == 50.0
    assert doc["totals_by_component"]["cpu"]["methods"] == ["modelled"]
    assert doc["components"][1]["mean_power_w"] == pytest.approx(2.0)  # 7200 J / 3600 s
    assert doc["embodied"][0]["lifetime_years"] == pytest.approx(4.0)


def test_time_resolved_and_market_based_figures_by_hand() -> None:
    from carbonlens.accounting import series_settings
    from carbonlens.records import IntensityPoint, IntensitySeries

    started = datetime(2026, 1, 1, 10, 30, tzinfo=UTC)
    series = IntensitySeries(
        "FR",
        "test provider",
        (
            IntensityPoint(datetime(2026, 1, 1, 10, tzinfo=UTC), 3600.0, 100.0),
            IntensityPoint(datetime(2026, 1, 1, 11, tzinfo=UTC), 3600.0, 300.0),
        ),
    )
    base = _info(started_at=started)
    settings = {**base.settings, "intensity_series": series_settings(series)}
    settings["market"] = {"cfe_ratio": 0.25}
    info = _info(started_at=started, settings=settings)
    report = build_report(info, SAMPLES, [Window("second-half", 1800.0, 3600.0)])
    # 10:30-11:00: 5400 J x 1.2 = 6480 J = 0.0018 kWh x 100 g = 0.18 g
    # 11:00-11:30: 0.0018 kWh x 300 g = 0.54 g; total 0.72 g
    assert report.operational_g == pytest.approx(0.72)
    assert report.operational_annual_g == pytest.approx(0.18)  # x 50 g/kWh
    assert report.time_resolved is not None
    assert report.time_resolved.covered_ratio == pytest.approx(1.0)
    # the range scales with the effective intensity: 0.72 g / 0.0036 kWh = 200 g/kWh
    assert report.operational_low_g == pytest.approx(0.144 * 200 / 50)
    [window] = report.windows
    assert window.operational_g == pytest.approx(0.54)
    # market-based: location-based x (1 - 0.25)
    assert report.market is not None
    assert report.market.operational_g == pytest.approx(0.72 * 0.75)
    doc = report.to_dict()
    assert doc["time_resolved"]["source"] == "test provider"
    assert doc["market_based"]["operational_gco2e"] == pytest.approx(0.54)


class _CountingStore:
    """A store's read side over fixed data, counting what was read."""

    def __init__(self, samples: list[Sample], windows: list[Window]) -> None:
        self._samples = samples
        self._windows = windows
        self.reads: list[str] = []

    def samples(self, run_id: str) -> list[Sample]:
        self.reads.append("samples")
        return list(self._samples)

    def channel_sums(self, run_id: str) -> list[Sample]:
        self.reads.append("channel_sums")
        cpu = [s for s in self._samples if s.channel == CPU]
        gpu = [s for s in self._samples if s.channel == GPU]
        return [
            Sample(ch, max(s.t_s for s in group), sum(s.duration_s for s in group),
                   sum(s.energy_j for s in group), sum(s.process_energy_j or 0.0 for s in group))
            for ch, group in ((CPU, cpu), (GPU, gpu))
        ]  # fmt: skip

    def windows(self, run_id: str) -> list[Window]:
        self.reads.append("windows")
        return list(self._windows)


def test_stored_report_reads_sums_unless_windows_or_a_series_need_samples() -> None:
    half = Window("second-half", 1800.0, 3600.0)
    plain = _CountingStore(SAMPLES, [half])
    report = stored_report(plain, _info())
    assert plain.reads == ["channel_sums"]
    # the same totals as the hand-computed ones above: 10,800 J IT, 0.18 g operational
    assert report.it_energy_j == pytest.approx(10_800.0)
    assert report.operational_g == pytest.approx(0.18)
    assert report.windows == ()

    with_windows = _CountingStore(SAMPLES, [half])
    report = stored_report(with_windows, _info(), windows=True)
    assert with_windows.reads == ["windows", "samples"]
    assert report.windows[0].it_energy_j == pytest.approx(5_400.0)

    no_windows = _CountingStore(SAMPLES, [])
    stored_report(no_windows, _info(), windows=True)
    assert no_windows.reads == ["windows", "channel_sums"]

    series = {
        "location": "FR",
        "source": "test",
        "points": [["2026-01-01T00:00:00+00:00", 3600.0, 100.0]],
    }
    timed = _CountingStore(SAMPLES, [])
    info = _info(settings={**_info().settings, "intensity_series": series})
    stored_report(timed, info)
    assert timed.reads == ["samples"]


@pytest.mark.parametrize(
    ("settings", "detail"),
    [
        ({}, "KeyError: 'intensity'"),
        ({"intensity": [1, 2], "pue": {}}, "TypeError"),
        ({**_info().settings, "market": {"green": 1}}, "unknown market setting keys ['green']"),
        ({**_info().settings, "quality_flags": [{"kind": "nope"}]}, "'nope'"),
    ],
)
def test_a_run_whose_settings_cannot_be_priced_says_so(
    settings: dict[str, object], detail: str
) -> None:
    with pytest.raises(UnpricedRun, match="run r1 cannot be priced") as caught:
        build_report(_info(settings=settings), SAMPLES)
    assert detail in caught.value.detail
    assert isinstance(caught.value, StoreError) and isinstance(caught.value, ValueError)


def test_a_window_process_energy_skips_an_interval_without_attribution() -> None:
    # the window's closing CPU interval came 5 ms after a tick: the machine's CPU time
    # had not moved, so it has no share; the window keeps the 900 J known on that
    # channel, as the run does. The GPU was never attributed in the second window.
    samples = [
        Sample(CPU, 1800.0, 1800.0, 1800.0, 900.0),
        Sample(CPU, 1800.005, 0.005, 0.005, None),
        Sample(GPU, 3600.0, 1800.0, 3600.0, None),
    ]
    first, second = build_report(
        _info(), samples, [Window("a", 0.0, 1800.005), Window("b", 1800.005, 3600.0)]
    ).windows
    assert first.process_energy_j == pytest.approx(900.0)  # was None
    assert second.process_energy_j is None
