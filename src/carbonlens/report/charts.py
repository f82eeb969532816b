"""Dependency-free SVG charts for the HTML report: lines, steps, bands, bars, scatters.

Charts are static inline SVG: they need no JavaScript, no network and no
plotting library, print as vectors, and keep a report of a days-long run to a
few hundred kilobytes. Styling is in presentation attributes, so a chart looks
the same inside the report and saved on its own. Every label passes through
`html.escape`, so text from the store (run, window and device names) is shown as
text, never read as markup. Series come from `report.timeseries`; each line
carries a `<title>` (a hover tooltip in browsers) with its label.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from typing import TYPE_CHECKING, Final

from carbonlens._frozen import frozen

if TYPE_CHECKING:
    from carbonlens.report.timeseries import Series

__all__ = ["Band", "bar_chart", "line_chart", "nice_ticks", "scatter_chart"]

PALETTE: Final = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
)
_WIDTH: Final = 720
_PLOT_HEIGHT: Final = 190
_LEFT: Final = 64
_RIGHT: Final = 16
_TITLE_HEIGHT: Final = 24
_LEGEND_ROW: Final = 16
_BOTTOM: Final = 40
_BAR_HEIGHT: Final = 22
_CHAR_W: Final = 6.5
_TEXT: Final = 'font-family="sans-serif" font-size="11" fill="#333"'
_BAND_FILLS: Final = ("#efe3fb", "#e0eefa")
_LABEL_CHARS: Final = 28


@frozen
class Band:
    """A shaded span of the x axis with a label, e.g. a window of the run."""

    label: str
    start: float
    end: float


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round ticks (steps of 1, 2, 2.5 or 5 × 10^k) from at or below `low` to at or above `high`."""
    if not high > low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(n * step, 12) for n in range(first, last + 1)]


def _tick(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _frame(title: str, height: float) -> list[str]:
    return [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} '
        f'{height:.0f}" role="img" aria-label="{escape(title)}" {_TEXT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="{_LEFT}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]


def _legend(labels: Sequence[str]) -> tuple[list[str], int]:
    """Legend entries wrapped into rows under the title, and the number of rows."""
    items, x, row = [], float(_LEFT), 0
    for n, label in enumerate(labels):
        width = 24 + _CHAR_W * len(label)
        if x + width > _WIDTH and x > _LEFT:
            x, row = float(_LEFT), row + 1
        y = _TITLE_HEIGHT + row * _LEGEND_ROW
        items.append(
            f'<rect x="{x:.0f}" y="{y + 2}" width="10" height="10" '
            f'fill="{PALETTE[n % len(PALETTE)]}"/>'
            f'<text x="{x + 14:.0f}" y="{y + 11}">{escape(label)}</text>'
        )
        x += width
    return items, row + 1 if labels else 0


def _axes(
    px: Callable[[float], float],
    py: Callable[[float], float],
    x_ticks: Sequence[float],
    y_ticks: Sequence[float],
    top: float,
    plot_w: float,
    plot_h: float,
    x_label: str,
    y_label: str,
) -> list[str]:
    """Grid lines, tick labels and axis titles shared by the line and scatter charts."""
    out = [
        f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" '
        f'stroke="#e5e5e5"/><text x="{_LEFT - 6}" y="{py(tick) + 4:.1f}" '
        f'text-anchor="end">{_tick(tick)}</text>'
        for tick in y_ticks
    ]
    out += [
        f'<text x="{px(t):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_tick(t)}</text>'
        for t in x_ticks
    ]
    out.append(
        f'<text x="{_LEFT + plot_w / 2:.0f}" y="{top + plot_h + 34}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text transform="translate(14 {top + plot_h / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    return out


def line_chart(
    title: str,
    lines: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    bands: Sequence[Band] = (),
) -> str:
    """An SVG line chart: axes with round ticks, a legend, optional shaded bands.

    Args:
        title: the chart's title.
        lines: the series; empty series are skipped.
        x_label: x axis label with its unit.
        y_label: y axis label with its unit.
        bands: shaded x spans (e.g. windows), labelled at their top.

    Returns:
        The `<svg>` element as text.
    """
    shown = [line for line in lines if line.points]
    xs = [x for line in shown for x, _y in line.points] + [b.start for b in bands]
    ys = [y for line in shown for _x, y in line.points]
    x_ticks = nice_ticks(min(xs, default=0.0), max(xs, default=1.0))
    y_ticks = nice_ticks(min([0.0, *ys]), max(ys, default=1.0) or 1.0)
    x0, x1 = x_ticks[0], max(x_ticks[-1], x_ticks[0] + 1)
    y0, y1 = y_ticks[0], max(y_ticks[-1], y_ticks[0] + 1)
    legend, rows = _legend([line.label for line in shown])
    top = _TITLE_HEIGHT + rows * _LEGEND_ROW + 6
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _PLOT_HEIGHT

    def px(x: float) -> float:
        return _LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y0) / (y1 - y0) * plot_h

    out = [*_frame(title, top + plot_h + _BOTTOM), *legend]
    for n, band in enumerate(bands):
        left, right = px(max(band.start, x0)), px(min(band.end, x1))
        out.append(
            f'<g><title>{escape(band.label)}</title><rect x="{left:.1f}" y="{top}" '
            f'width="{max(right - left, 1):.1f}" height="{plot_h}" fill="{_BAND_FILLS[n % 2]}"/>'
            f'<text x="{left + 3:.1f}" y="{top + 12 + 12 * (n % 2)}">'
            f"{escape(_short(band.label))}</text></g>"
        )
    out += _axes(px, py, x_ticks, y_ticks, top, plot_w, plot_h, x_label, y_label)
    for n, line in enumerate(shown):
        coords: list[tuple[float, float]] = []
        for x, y in line.points:
            if line.step and coords:
                coords.append((px(x), coords[-1][1]))
            coords.append((px(x), py(y)))
        path = " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)
        dash = ' stroke-dasharray="5 4"' if line.dashed else ""
        out.append(
            f'<polyline fill="none" stroke="{PALETTE[n % len(PALETTE)]}" stroke-width="1.8"'
            f'{dash} points="{path}"><title>{escape(line.label)}</title></polyline>'
        )
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(title: str, bars: Sequence[tuple[str, float, str]], *, unit: str) -> str:
    """A horizontal SVG bar chart.

    Args:
        title: the chart's title.
        bars: (label, value, note) per bar; the note follows the value.
        unit: unit of the values, shown after each value.

    Returns:
        The `<svg>` element as text.
    """
    top = max([value for _l, value, _n in bars] + [0.0]) or 1.0
    label_w = 190
    out = _frame(title, _TITLE_HEIGHT + _BAR_HEIGHT * max(len(bars), 1) + 12)
    for n, (label, value, note) in enumerate(bars):
        y = _TITLE_HEIGHT + n * _BAR_HEIGHT
        width = max(value, 0.0) / top * (_WIDTH - label_w - 260)
        text = f"{value:.4g} {unit}" + (f" · {note}" if note else "")
        out.append(
            f"<g><title>{escape(label)}: {escape(text)}</title>"
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(_short(label))}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{_BAR_HEIGHT - 6}" '
            f'fill="{PALETTE[n % len(PALETTE)]}"/>'
            f'<text x="{label_w + width + 6:.1f}" y="{y + 15}">{escape(text)}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)


def scatter_chart(
    points: Sequence[tuple[str, float, float]],
    *,
    x_label: str,
    y_label: str,
    front: Sequence[bool],
    title: str = "Quality vs cost",
) -> str:
    """An SVG scatter plot of runs with their Pareto front.

    One circle per run: front runs filled and joined by a step line in order of
    cost, dominated runs hollow. Each circle carries a `<title>` with the run's
    label and values; front runs are also labelled beside their circle.

    Args:
        points: (label, x, y) per run, e.g. (run name, cost, metric).
        x_label: x axis label with its unit (the cost).
        y_label: y axis label (the quality metric).
        front: per point, whether it is on the Pareto front.
        title: the chart's title.

    Returns:
        The `<svg>` element as text.

    Raises:
        ValueError: `front` and `points` differ in length.
    """
    if len(front) != len(points):
        raise ValueError("front needs one flag per point")
    xs, ys = [x for _l, x, _y in points], [y for _l, _x, y in points]
    x_ticks = nice_ticks(min(xs, default=0.0), max(xs, default=1.0))
    y_ticks = nice_ticks(min(ys, default=0.0), max(ys, default=1.0))
    x0, y0 = x_ticks[0], y_ticks[0]
    x1 = x_ticks[-1] if x_ticks[-1] > x0 else x0 + (abs(x0) or 1.0)
    y1 = y_ticks[-1] if y_ticks[-1] > y0 else y0 + (abs(y0) or 1.0)
    legend = (
        f'<circle cx="{_LEFT + 5}" cy="{_TITLE_HEIGHT + 7}" r="5" fill="{PALETTE[0]}"/>'
        f'<text x="{_LEFT + 14}" y="{_TITLE_HEIGHT + 11}">Pareto front</text>'
        f'<circle cx="{_LEFT + 115}" cy="{_TITLE_HEIGHT + 7}" r="5" fill="none" '
        f'stroke="{PALETTE[1]}" stroke-width="1.5"/>'
        f'<text x="{_LEFT + 124}" y="{_TITLE_HEIGHT + 11}">dominated</text>'
    )
    top = _TITLE_HEIGHT + _LEGEND_ROW + 6
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _PLOT_HEIGHT

    def px(x: float) -> float:
        return _LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y0) / (y1 - y0) * plot_h

    out = [*_frame(title, top + plot_h + _BOTTOM), legend]
    out += _axes(px, py, x_ticks, y_ticks, top, plot_w, plot_h, x_label, y_label)
    steps: list[tuple[float, float]] = []
    for _label, x, y in sorted(
        (p for p, on in zip(points, front, strict=True) if on), key=lambda p: (p[1], p[2])
    ):
        if steps:
            steps.append((px(x), steps[-1][1]))
        steps.append((px(x), py(y)))
    if len(steps) > 1:
        path = " ".join(f"{a:.1f},{b:.1f}" for a, b in steps)
        out.append(
            f'<polyline fill="none" stroke="{PALETTE[0]}" stroke-width="1.5" points="{path}">'
            "<title>Pareto front</title></polyline>"
        )
    for (label, x, y), on in zip(points, front, strict=True):
        tip = f"{label}: {x_label} {x:.4g}, {y_label} {y:.4g}" + ("" if on else " (dominated)")
        style = (
            f'fill="{PALETTE[0]}"'
            if on
            else f'fill="none" stroke="{PALETTE[1]}" stroke-width="1.5"'
        )
        name = (
            f'<text x="{px(x) + 7:.1f}" y="{py(y) - 6:.1f}">{escape(_short(label))}</text>'
            if on
            else ""
        )
        out.append(
            f'<g><title>{escape(tip)}</title><circle class="run" cx="{px(x):.1f}" '
            f'cy="{py(y):.1f}" r="5" {style}/>{name}</g>'
        )
    out.append("</svg>")
    return "\n".join(out)
