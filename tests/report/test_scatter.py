"""The scatter chart of runs against a cost, with its Pareto front."""

from __future__ import annotations

import re

import pytest

from carbonlens.evaluate.pareto import Point, rank
from carbonlens.report.charts import scatter_chart
from carbonlens.report.html import pareto_chart

XSS = "<script>alert(1)</script>"

POINTS = [("small", 1.0, 0.80), ("large", 2.0, 0.90), ("wasteful", 3.0, 0.85), (XSS, 0.5, 0.5)]
FRONT = [True, True, False, True]


def _circles(svg: str) -> list[str]:
    return re.findall(r'<circle class="run"[^>]*/>', svg)


def test_one_circle_per_run_dominated_hollow_front_filled() -> None:
    svg = scatter_chart(POINTS, x_label="energy (kWh)", y_label="accuracy", front=FRONT)
    circles = _circles(svg)
    assert len(circles) == len(POINTS)
    hollow = [c for c in circles if 'fill="none"' in c]
    assert len(hollow) == 1
    assert "wasteful: energy (kWh) 3, accuracy 0.85 (dominated)" in svg
    assert svg.count("<polyline") == 1  # the front, as a step line
    assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_every_label_is_escaped_and_there_is_no_script() -> None:
    svg = scatter_chart(POINTS, x_label="<b>cost</b>", y_label="a&b", front=FRONT)
    assert XSS not in svg and "<script" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "&lt;b&gt;cost&lt;/b&gt;" in svg and "a&amp;b" in svg


def test_front_positions_follow_cost_and_metric() -> None:
    svg = scatter_chart(POINTS[:2], x_label="x", y_label="y", front=[True, True])
    found = re.findall(r'<circle class="run" cx="([\d.]+)" cy="([\d.]+)"', svg)
    (cx0, cy0), (cx1, cy1) = ((float(a), float(b)) for a, b in found)
    assert cx0 < cx1 and cy0 > cy1  # cheaper to the left, better higher (svg y grows down)


def test_degenerate_inputs() -> None:
    assert (
        len(_circles(scatter_chart([("one", 1.0, 1.0)], x_label="x", y_label="y", front=[True])))
        == 1
    )
    assert _circles(scatter_chart([], x_label="x", y_label="y", front=[])) == []
    with pytest.raises(ValueError, match="one flag per point"):
        scatter_chart(POINTS, x_label="x", y_label="y", front=[True])


def test_pareto_chart_of_a_ranking() -> None:
    ranking = rank(
        [
            Point("a", "small", 0.8, 1.0),
            Point("b", "large", 0.9, 2.0),
            Point("c", "wasteful", 0.85, 3.0),
            Point("d", "unscored", None, 1.0),
        ]
    )
    svg = pareto_chart(ranking, metric="accuracy", cost_label="energy (kWh)")
    circles = _circles(svg)
    assert len(circles) == 3
    assert sum('fill="none"' in c for c in circles) == 1
    assert "accuracy vs energy (kWh)" in svg
