"""The HTML report: figures from stored runs, charts, escaping, offline, equivalences."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from carbonlens.accounting import series_settings
from carbonlens.records import IntensityPoint, IntensitySeries, RunStatus, Sample, Window
from carbonlens.report.charts import Band, bar_chart, line_chart, nice_ticks
from carbonlens.report.cut import how_to_cut
from carbonlens.report.equivalences import DEFAULT_IDS, equivalences, factors
from carbonlens.report.html import HtmlRun, render_html
from carbonlens.report.timeseries import (
    Series,
    cumulative_emissions_series,
    cumulative_energy_series,
    intensity_series,
    power_series,
    time_scale,
)

from .conftest import EMBODIED_G, GPU, START, TOTAL_G, StoredRuns, known_settings

EVIL = "<script>alert(1)</script>"
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "ul", "li",
    "table", "tr", "th", "td", "section", "span", "footer", "svg", "g", "rect", "text",
    "line", "polyline",
}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes |= {name for name, _value in attrs}

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def _html(runs: StoredRuns, *run_ids: str, cut: bool = False) -> str:
    items = []
    for run_id in run_ids:
        report = runs.report(run_id)
        samples = runs.store.samples(run_id)
        items.append(HtmlRun(report, samples, how_to_cut(report, samples) if cut else None))
    return render_html(items, generated_at=datetime(2026, 2, 1, tzinfo=UTC))


def test_figures_of_the_stored_run_are_shown(runs: StoredRuns) -> None:
    runs.add()
    text = " ".join(_parse(_html(runs, "known0001")).text)
    for expected in (
        "300.000 Wh",  # IT energy: 0.3 kWh
        "360.000 Wh",  # facility energy: x PUE 1.2
        "36.000 g",  # operational: 0.36 kWh x 100 g/kWh
        f"{EMBODIED_G:.3f} g",
        f"{TOTAL_G:.3f} g",
        "100 gCO2e/kWh",
        "epoch-1",
        "carbonlens report: llama-ft",
    ):
        assert expected in text, expected


def test_a_run_named_like_a_script_shows_as_text(runs: StoredRuns) -> None:
    settings = known_settings()
    settings["sensors"]["nvml"]["devices"]["gpu0"]["model"] = '"><img src=x onerror=alert(2)>'
    runs.add(
        name=EVIL,
        project="<b>p</b>",
        windows=[Window("<img src=x onerror=alert(3)>", 0.0, 1800.0)],
        settings=settings,
    )
    html = _html(runs, "known0001", cut=True)
    parsed = _parse(html)
    assert parsed.tags <= ALLOWED_TAGS
    assert not any(name.startswith("on") for name in parsed.attributes)
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert EVIL in "".join(parsed.text)  # shown as text, in the title and the headings
    assert "<img src=x onerror=alert(3)>" in "".join(parsed.text)


def test_file_is_self_contained_and_forbids_scripts(runs: StoredRuns) -> None:
    runs.add()
    html = _html(runs, "known0001")
    assert "default-src 'none'" in html
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched
    assert not re.search(r"\b(src|href)=", html)


def test_charts_power_cumulative_breakdown(runs: StoredRuns) -> None:
    runs.add()
    html = _html(runs, "known0001")
    titles = re.findall(r'<svg[^>]*aria-label="([^"]*)"', html)
    assert titles == [
        "Power",
        "Cumulative energy",
        "Cumulative emissions",
        "Emissions: operational and embodied",
        "IT energy by component and device",
    ]
    assert html.count("<polyline") == 2 + 1 + 2
    assert "gpu gpu0 (measured)" in html and "cpu cpu (modelled)" in html


def test_intensity_chart_when_the_run_was_priced_hour_by_hour(runs: StoredRuns) -> None:
    points = (
        IntensityPoint(START, 1800.0, 80.0),
        IntensityPoint(START + timedelta(0, 1800), 1800.0, 120.0),
    )
    series = IntensitySeries("FR", "Electricity Maps", points)
    runs.add(settings=known_settings(intensity_series=series_settings(series)))
    report = runs.report("known0001")
    [hourly, annual] = intensity_series(report, 60.0)
    assert hourly.points == [(0.0, 80.0), (30.0, 120.0), (60.0, 120.0)] and hourly.step
    assert annual.points == [(0.0, 100.0), (60.0, 100.0)] and annual.dashed
    assert 'aria-label="Grid intensity"' in _html(runs, "known0001")


def test_series_hold_the_known_numbers(runs: StoredRuns) -> None:
    runs.add()
    report = runs.report("known0001")
    samples = runs.store.samples("known0001")
    assert time_scale(report.duration_s) == (60.0, "min")
    power = {s.label: s for s in power_series(samples, 60.0)}
    assert power["gpu gpu0 (measured)"].points == [(0.0, 200.0), (30.0, 200.0), (60.0, 200.0)]
    energy = cumulative_energy_series(report, samples, 60.0)
    assert energy.unit == "Wh" and energy.points[-1] == (60.0, pytest.approx(360.0))
    operational, total = cumulative_emissions_series(report, samples, 60.0)
    assert operational.points[-1][1] == pytest.approx(36.0)
    assert total.points[-1][1] == pytest.approx(TOTAL_G)
    assert operational.points[25][1] == pytest.approx(18.0)  # half-way: half the energy


def test_long_runs_are_reduced_and_keep_their_energy() -> None:
    samples = [Sample(GPU, float(t), 1.0, 100.0 + t % 7) for t in range(1, 10_001)]
    [series] = power_series(samples, 1.0)
    assert len(series.points) <= 301
    steps = zip(series.points, series.points[1:], strict=False)
    energy = sum((b[0] - a[0]) * a[1] for a, b in steps)
    assert energy == pytest.approx(sum(s.energy_j for s in samples))


def test_partial_run_is_marked(runs: StoredRuns) -> None:
    runs.add(status=RunStatus.RUNNING)
    html = _html(runs, "known0001")
    assert "partial: running" in html
    assert "figures cover the 3600.0 s up to the last stored sample" in html


def test_methods_list_every_constant_and_source(runs: StoredRuns) -> None:
    runs.add()
    text = " ".join(_parse(_html(runs, "known0001")).text)
    for expected in (
        "user setting",  # PUE source
        "test table",  # intensity source
        "CC-BY-4.0",
        "CCF GPU",  # embodied source
        "cpu-tdp idle_ratio",
        "CCF SPECpower",  # paired with idle_ratio
        "cpu-tdp max_power_w",
        "×0.95 to ×1.05",  # measured range
        "facility energy E = E_it × PUE",
    ):
        assert expected in text, expected


def test_equivalences_with_sources(runs: StoredRuns) -> None:
    runs.add()
    car = factors()["passenger_vehicle_km"]
    assert car.unit_g == pytest.approx(244.2)
    [km, phones, flight] = equivalences(TOTAL_G)
    assert [e.factor.id for e in (km, phones, flight)] == list(DEFAULT_IDS)
    assert km.quantity == pytest.approx(TOTAL_G / 244.2)
    assert phones.quantity == pytest.approx(TOTAL_G / 12.4)
    text = " ".join(_parse(_html(runs, "known0001")).text)
    assert "US EPA Greenhouse Gas Equivalencies Calculator" in text
    assert "Green Algorithms" in text and "re-verify" in text


def test_several_runs_get_an_overview_with_totals(runs: StoredRuns) -> None:
    runs.add("known0001")
    runs.add("known0002", name="second")
    html = _html(runs, "known0001", "known0002")
    assert "carbonlens report: 2 runs" in html and "<h2>Overview</h2>" in html
    assert f"{2 * TOTAL_G:.3f} g" in html
    assert html.count("<section") == 2


def test_how_to_cut_section(runs: StoredRuns) -> None:
    runs.add()
    html = _html(runs, "known0001", cut=True)
    assert "How to cut it" in html and "other devices: not estimated here" in html


def test_chart_helpers() -> None:
    assert nice_ticks(0.0, 45.0) == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert nice_ticks(3.0, 3.0) == [3.0]
    svg = line_chart(
        "t", [Series("a", "W", [(0.0, 1.0), (1.0, 2.0)])], x_label="x", y_label="y",
        bands=[Band(EVIL, 0.0, 0.5)],
    )  # fmt: skip
    assert svg.startswith("<svg") and "&lt;script&gt;" in svg and "<script" not in svg
    assert "&lt;b&gt;" in bar_chart("t", [("<b>", 1.0, "")], unit="g")


def test_market_based_figure_is_shown_beside_the_location_based_one(runs: StoredRuns) -> None:
    runs.add(settings=known_settings(market={"contractual_g_per_kwh": 10.0}))
    text = " ".join(_parse(_html(runs, "known0001")).text)
    assert "market-based" in text and "3.600 g" in text  # 0.36 kWh x 10 g/kWh
    assert "contractual intensity (g/kWh)" in text  # the formula, in the methods
