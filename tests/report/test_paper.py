"""Paper output: the results table and methods paragraph, in Markdown and LaTeX."""

from __future__ import annotations

import pytest

from carbonlens.records import RunStatus
from carbonlens.report.methods import constants, hardware_used
from carbonlens.report.paper import latex, markdown, methods_paragraph, number_text

from .conftest import StoredRuns, known_settings


def _table_rows(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]


def test_markdown_row_holds_the_known_figures(runs: StoredRuns) -> None:
    runs.add()
    [header, row] = _table_rows(markdown([runs.report("known0001")]))
    assert header[0] == "Run" and header[-1] == "Total (kgCO2e)"
    assert dict(zip(header, row, strict=True)) == {
        "Run": "llama-ft",
        "Hardware": "NVIDIA H100 80GB HBM3, Intel Xeon Gold 6148",
        "Duration (h)": "1.00",
        "IT energy (kWh)": "0.300",
        "PUE": "1.2",
        "Energy (kWh)": "0.360",
        "Intensity (gCO2e/kWh)": "100",
        "Operational (kgCO2e)": "0.0360",
        "Embodied (kgCO2e)": "0.00428",
        "Total (kgCO2e)": "0.0403",
    }


def test_several_runs_get_a_total_row_and_a_shared_methods_paragraph(runs: StoredRuns) -> None:
    runs.add("known0001")
    runs.add("known0002", name="second", status=RunStatus.INTERRUPTED)
    reports = [runs.report("known0001"), runs.report("known0002")]
    text = markdown(reports)
    rows = _table_rows(text)
    assert rows[2][0] == "second (partial)"
    assert rows[-1][0] == "Total" and rows[-1][-1] == "0.0806" and rows[-1][3] == "0.600"
    paragraph = methods_paragraph(reports)
    assert paragraph.count("PUE of 1.2") == 1  # shared sentences appear once
    assert "0.0806 kgCO2e (0.0720 operational, 0.00856 embodied)" in paragraph


def test_methods_paragraph_states_the_constants(runs: StoredRuns) -> None:
    runs.add()
    paragraph = methods_paragraph([runs.report("known0001")])
    for expected in (
        "GPU (gpu0) energy was measured with hardware energy counters (nvml)",
        "CPU (cpu) energy was modelled",
        r"idle\_ratio 0.2, max\_power\_w 150",
        "PUE of 1.2 (user setting)",
        "100 gCO2e/kWh for FR (test table, 2025, lifecycle)",
        "150 kgCO2e for gpu0 over 4 years with a share of 1 (CCF GPU)",
        "measured ×0.95–1.05",
        "the uncertainty of the grid intensity is not included",
    ):
        assert expected in paragraph, expected


def test_markdown_escapes_run_names(runs: StoredRuns) -> None:
    runs.add(name="a | b <script>alert(1)</script> *x* [l](u)")
    [_header, row] = _table_rows(markdown([runs.report("known0001")]))
    assert len(row) == 10  # the pipe did not add a column
    assert row[0] == r"a \| b \<script\>alert(1)\</script\> \*x\* \[l\](u)"


def test_latex_escapes_and_keeps_the_columns(runs: StoredRuns) -> None:
    runs.add("known0001", name="50% & $x_1$ #1 {a} ~^\\")
    runs.add("known0002")
    text = latex([runs.report("known0001"), runs.report("known0002")])
    first = next(line for line in text.splitlines() if line.startswith("50"))
    assert first.startswith(
        r"50\% \& \$x\_1\$ \#1 \{a\} \textasciitilde{}\textasciicircum{}\textbackslash{} & "
    )
    assert first.count(" & ") == 9 and first.endswith(r"\\")
    assert r"\begin{tabular}{llrrrrrrrr}" in text and r"\toprule" in text
    assert "gCO$_2$e/kWh" in text and r"$\times$" in text
    assert r"\midrule" + "\nTotal" in text


def test_constants_pair_values_with_sources(runs: StoredRuns) -> None:
    runs.add()
    rows = {(c.section, c.name): (c.value, c.source) for c in constants(runs.report("known0001"))}
    assert rows[("energy", "gpu gpu0")] == ("measured", "sensor nvml")
    assert rows[("energy", "cpu-tdp idle_ratio")] == ("0.2", "CCF SPECpower")
    assert ("energy", "cpu-tdp idle_ratio_source") not in rows
    assert rows[("energy", "nvml devices.gpu0.model")][0] == "NVIDIA H100 80GB HBM3"
    assert rows[("facility", "PUE")] == ("1.2", "user setting")
    assert rows[("grid", "intensity (FR)")][0] == "100 gCO2e/kWh"
    assert rows[("embodied", "gpu0")][0] == "150 kgCO2e over 4 y, share 1"
    assert rows[("uncertainty", "modelled")] == ("×0.5 to ×1.5", "accounting.py")


def test_hardware_counts_identical_gpus(runs: StoredRuns) -> None:
    settings = known_settings()
    gpu = {"model": "NVIDIA A100-SXM4-80GB", "method": "measured"}
    settings["sensors"]["nvml"]["devices"] = {"gpu0": gpu, "gpu1": gpu}
    runs.add(settings=settings)
    assert hardware_used(runs.report("known0001")) == (
        "2 x NVIDIA A100-SXM4-80GB, Intel Xeon Gold 6148"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0"), (1234.5, "1,234"), (41.44, "41.4"), (1.0, "1.00"), (0.000006123, "0.00000612")],
)
def test_number_text(value: float, text: str) -> None:
    assert number_text(value) == text
