"""The dependency direction of STYLE.md, checked by walking every module's imports.

    cli -> tracking, report -> sensors, intensity, estimate, store -> records, units, errors

Siblings at the bottom never import each other (a sensor knows nothing about
carbon; a carbon source knows nothing about sensors); report never reads sensors.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "carbonlens"
BASE = {"records", "units", "errors", "config", "data", "_version", "_frozen"}
ALLOWED: dict[str, set[str]] = {
    "sensors": BASE | {"sensors", "estimate"},
    "intensity": BASE | {"intensity"},
    "estimate": BASE | {"estimate"},
    "store": BASE | {"store"},
    # report and dashboard read evaluate's pure ranking (pareto, leaderboard) only
    # report renders serving's pure cost comparison (serving.cost) in the serving section
    "report": BASE | {"report", "store", "estimate", "accounting", "evaluate", "serving"},
    "accounting": BASE | {"estimate", "intensity", "report"},
    # tracking reaches serving lazily, for Tracker.request/handler; serving never imports tracking
    "tracking": BASE
    | {"tracking", "sensors", "intensity", "estimate", "store", "accounting", "serving"},
    "testing": BASE | {"testing", "sensors", "tracking"},
    "schedule": BASE | {"schedule", "intensity", "estimate", "store"},
    "evaluate": BASE | {"evaluate", "tracking", "store", "accounting"},
    "serving": BASE | {"serving", "store", "estimate"},
    "integrations": BASE
    | {"integrations", "tracking", "report", "store", "sensors", "accounting", "estimate"},
    "dashboard": BASE
    | {"dashboard", "report", "store", "accounting", "estimate", "intensity", "tracking"}
    | {"evaluate"}
    | {"_cli_common"},
}


def _layer(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "carbonlens" and len(parts) > 1:
                found.add(parts[1])
    return found


MODULES = sorted(p for p in SRC.rglob("*.py") if _layer(p) in ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_module_imports_only_what_its_layer_may(path: Path) -> None:
    forbidden = _imports(path) - ALLOWED[_layer(path)]
    assert not forbidden, f"{path.relative_to(SRC)} imports {sorted(forbidden)}"


def test_every_layer_has_modules() -> None:
    assert {_layer(p) for p in MODULES} == set(ALLOWED)


def test_readers_use_only_the_pure_ranking_of_evaluate() -> None:
    pure = {"carbonlens.evaluate.pareto", "carbonlens.evaluate.leaderboard"}
    for path in MODULES:
        if _layer(path) not in ("report", "dashboard"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "carbonlens.evaluate"
            ):
                assert node.module in pure, f"{path.relative_to(SRC)} imports {node.module}"
