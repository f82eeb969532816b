"""Measure a small run and write its emissions into a model card's front matter.

    python examples/model_card.py OUTPUT_DIR

The README.md in OUTPUT_DIR gets a Hugging Face `co2_eq_emissions` block; any
existing front matter and text are kept.
"""

from __future__ import annotations

import sys
from pathlib import Path

import carbonlens
from carbonlens.report.model_card import card_emissions, merge_into_readme, yaml_block


def train() -> float:
    """A stand-in for training: a little CPU work."""
    return sum(i * i for i in range(2_000_000)) / 1e12


def main(output_dir: Path) -> None:
    """Track `train`, then merge the block into OUTPUT_DIR/README.md."""
    with carbonlens.Tracker(project="examples", name="model-card", country="FR") as tracker:
        train()
    assert tracker.report is not None
    card = card_emissions(
        [tracker.report], training_type="pre-training", geographical_location="France"
    )
    readme = output_dir / "README.md"
    old = readme.read_text() if readme.exists() else "# my-model\n\nA small model.\n"
    readme.write_text(merge_into_readme(old, yaml_block(card)))
    print(readme.read_text())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
