"""The documentation stays in step with the code: settings, JSON keys and links."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from carbonlens.accounting import build_report, pricing_settings, quality_settings
from carbonlens.config_table import SETTINGS_TABLE
from carbonlens.records import (
    Channel,
    Component,
    EmbodiedShare,
    IntensityValue,
    Method,
    PueValue,
    QualityFlag,
    QualityKind,
    RunInfo,
    RunStatus,
    Sample,
    Window,
)
from carbonlens.report.json import report_to_dict

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINKED_FILES = [*PAGES, ROOT / "README.md"]

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose_lines(text: str) -> list[str]:
    """The lines of a Markdown text outside fenced code blocks."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if match and (fence is None or match.group(1) == fence):
            fence = None if fence else match.group(1)
            continue
        if fence is None:
            lines.append(line)
    return lines


def _anchors(path: Path) -> set[str]:
    """GitHub-style anchors of the headings of a Markdown file."""
    anchors: set[str] = set()
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if match is None:
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(2))
        slug = re.sub(r"[^\w\- ]", "", title.replace("`", "").strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors


def _links(path: Path) -> list[str]:
    """Link targets of a Markdown file, outside code blocks and code spans."""
    targets: list[str] = []
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        targets.extend(_LINK.findall(_CODE_SPAN.sub("", line)))
    return targets


def _sample_report() -> dict[str, Any]:
    """A small priced run with every kind of entry: channels, a window, embodied shares."""
    four_years_s = 4 * 365.25 * 86400
    cpu = Channel("cpu-tdp", Component.CPU, "cpu", Method.MODELLED)
    gpu = Channel("nvml", Component.GPU, "gpu0", Method.MEASURED)
    settings = {
        **pricing_settings(
            IntensityValue(56.0, "FR", "test table", 2025, "lifecycle", "test", "CC-BY-4.0"),
            PueValue(1.2, "user setting"),
            [
                EmbodiedShare("gpu0", Component.GPU, 150_000.0, four_years_s, 1.0, "CCF"),
                EmbodiedShare("host", Component.OTHER, 1_000_000.0, four_years_s, 0.25, "CCF"),
            ],
            ["a note"],
        ),
        "sensors": ["cpu-tdp", "nvml"],
        "probes": [{"sensor": "rapl", "available": False, "reason": "none", "hint": "h"}],
        "quality_flags": quality_settings([QualityFlag("nvml", QualityKind.READ_TIMEOUT, 1, 9, 9)]),
    }
    info = RunInfo(
        run_id="r1",
        project="p",
        name="n",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        host="h",
        pid=1,
        status=RunStatus.FINISHED,
        ended_at=datetime(2026, 1, 1, 1, tzinfo=UTC),
        duration_s=3600.0,
        settings=settings,
    )
    samples = [
        Sample(cpu, 1800.0, 1800.0, 1800.0, 900.0),
        Sample(gpu, 1800.0, 1800.0, 3600.0, 3600.0),
        Sample(cpu, 3600.0, 1800.0, 1800.0, 900.0),
        Sample(gpu, 3600.0, 1800.0, 3600.0, 3600.0),
    ]
    report = build_report(
        info, samples, [Window("second-half", 1800.0, 3600.0)], store_location="s"
    )
    return report_to_dict(report)


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [
        doc.name
        for doc in SETTINGS_TABLE
        if f"`{doc.name}`" not in text or f"`CARBONLENS_{doc.name.upper()}`" not in text
    ]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def test_every_json_key_is_documented() -> None:
    text = (DOCS / "json.md").read_text(encoding="utf-8")
    document = _sample_report()
    keys = set(document)
    for name in ("pue", "intensity"):
        keys |= set(document[name])
    for name in ("components", "embodied", "windows", "probes", "quality_flags"):
        assert document[name], f"the sample report has no {name}"
        keys |= {key for entry in document[name] for key in entry}
    keys |= {key for entry in document["totals_by_component"].values() for key in entry}
    missing = sorted(key for key in keys if f"`{key}`" not in text and f".{key}`" not in text)
    assert not missing, f"JSON keys missing from docs/json.md: {missing}"


def test_json_schema_name_is_documented() -> None:
    assert _sample_report()["schema"] in (DOCS / "json.md").read_text(encoding="utf-8")


def test_docs_pages_exist() -> None:
    names = {page.name for page in PAGES}
    expected = {"index.md", "model.md", "tracking.md", "configuration.md", "cli.md"}
    assert expected | {"json.md", "permissions.md", "data.md"} <= names


@pytest.mark.parametrize("path", LINKED_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_point_to_existing_files(path: Path) -> None:
    broken = []
    for target in _links(path):
        if _SCHEME.match(target):
            continue  # http:, https:, mailto: ...
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(f"{target} (no file {resolved})")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target} (no heading #{anchor} in {resolved.name})")
    assert not broken, f"broken links in {path.name}: {broken}"


def test_rapl_permission_hint_matches_permissions_page() -> None:
    from carbonlens.sensors.rapl import _permission_hint

    hint = _permission_hint(Path("/sys/class/powercap"), "intel-rapl")
    page = (DOCS / "permissions.md").read_text(encoding="utf-8")
    assert "docs/permissions.md" in hint
    commands = re.findall(r"`(sudo chmod [^`]+)`", hint)
    assert commands, hint
    assert all(command in page for command in commands)
    assert " ".join(hint.split()) in " ".join(page.replace("> ", "").split())
