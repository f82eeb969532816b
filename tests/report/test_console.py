"""The end-of-run table: one row per channel, named without repeating itself."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from carbonlens.accounting import build_report, pricing_settings
from carbonlens.records import (
    Channel,
    Component,
    IntensityValue,
    Method,
    PueValue,
    RunInfo,
    RunStatus,
    Sample,
)
from carbonlens.report.console import report_table


def test_channel_rows_name_the_device_only_when_it_says_more() -> None:
    settings = pricing_settings(IntensityValue(50.0, "FR", "t", 2025, "b"), PueValue(1.0, "u"), [])
    info = RunInfo(
        "r1", "p", "n", datetime(2026, 1, 1, tzinfo=UTC), "h", 1,
        status=RunStatus.FINISHED, duration_s=1.0, settings=settings,
    )  # fmt: skip
    channels = [
        Channel("cpu-tdp", Component.CPU, "cpu", Method.MODELLED),
        Channel("nvml", Component.GPU, "gpu1", Method.MEASURED),
    ]
    report = build_report(info, [Sample(ch, 1.0, 1.0, 3600.0) for ch in channels])
    console = Console(width=200, record=True)
    console.print(report_table(report))
    lines = console.export_text().splitlines()
    # 3,600 J = 1 Wh on each channel
    assert any(line.startswith("│ energy cpu ") and "1.000 Wh" in line for line in lines)
    assert any(line.startswith("│ energy gpu gpu1 ") and "1.000 Wh" in line for line in lines)
    assert not any("energy cpu cpu" in line for line in lines)
