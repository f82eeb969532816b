"""The Hugging Face co2_eq_emissions block: values, YAML read back, README merging."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from carbonlens.records import RunStatus
from carbonlens.report.model_card import (
    CardEmissions,
    card_emissions,
    merge_into_readme,
    yaml_block,
)

from .conftest import TOTAL_G, StoredRuns

README = """\
---
# model card metadata
language:
- en
license: apache-2.0
tags:
  - text-classification   # keep this comment
datasets: [imdb]
---

# My model

Some text with --- a rule below.

---
"""


def _front_matter(text: str) -> dict[str, Any]:
    loaded = yaml.safe_load(text.split("---\n", 2)[1])
    assert isinstance(loaded, dict)
    return loaded


def _block(**fields: Any) -> str:
    return yaml_block(CardEmissions(**{"emissions_g": 12.5, "source": "s", **fields}))


def test_block_parses_back_with_the_runs_figures(runs: StoredRuns) -> None:
    runs.add()
    card = card_emissions([runs.report("known0001")], training_type="fine-tuning")
    parsed = yaml.safe_load(yaml_block(card))["co2_eq_emissions"]
    assert parsed["emissions"] == pytest.approx(TOTAL_G, rel=1e-5)
    assert parsed["training_type"] == "fine-tuning"
    assert parsed["geographical_location"] == "FR"
    assert parsed["hardware_used"] == "NVIDIA H100 80GB HBM3, Intel Xeon Gold 6148"
    assert parsed["source"].startswith("carbonlens ")
    assert "36.0 g operational (FR 100 g/kWh) + 4.28 g embodied" in parsed["source"]


def test_operational_only_and_unknown_fields_left_out(runs: StoredRuns) -> None:
    runs.add(status=RunStatus.RUNNING)
    card = card_emissions([runs.report("known0001")], operational_only=True)
    parsed = yaml.safe_load(yaml_block(card))["co2_eq_emissions"]
    assert parsed["emissions"] == pytest.approx(36.0)
    assert "embodied emissions not included" in parsed["source"]
    assert "partial runs (not finished): known0001" in parsed["source"]
    assert "training_type" not in parsed


def test_several_runs_are_summed(runs: StoredRuns) -> None:
    runs.add("known0001")
    runs.add("known0002")
    reports = [runs.report("known0001"), runs.report("known0002")]
    card = card_emissions(reports, geographical_location="Quebec, Canada", hardware="8 x V100")
    parsed = yaml.safe_load(yaml_block(card))["co2_eq_emissions"]
    assert parsed["emissions"] == pytest.approx(2 * TOTAL_G, rel=1e-5)
    assert parsed["geographical_location"] == "Quebec, Canada"
    assert parsed["hardware_used"] == "8 x V100"


@pytest.mark.parametrize("grams", [1e-5, 40.2783, 1e20, 0.0, 123456789.0, 3.0])
def test_numbers_stay_numbers_for_yaml_1_1(grams: float) -> None:
    parsed = yaml.safe_load(_block(emissions_g=grams))["co2_eq_emissions"]["emissions"]
    assert isinstance(parsed, float) and parsed == pytest.approx(grams, rel=1e-5)


@given(st.text())
def test_any_text_reads_back_as_written(text: str) -> None:
    parsed = yaml.safe_load(_block(source=text or "x", hardware_used=text or None))
    assert parsed["co2_eq_emissions"]["source"] == (text or "x")


def test_merge_adds_the_block_and_keeps_everything_else() -> None:
    merged = merge_into_readme(README, _block(training_type="pre-training"))
    before, after = _front_matter(README), _front_matter(merged)
    assert after["co2_eq_emissions"] == {
        "emissions": 12.5,
        "source": "s",
        "training_type": "pre-training",
    }
    assert {k: v for k, v in after.items() if k != "co2_eq_emissions"} == before
    old_front, new_front = README.split("---\n")[1], merged.split("---\n")[1]
    assert new_front.startswith(old_front)  # comments, order, style untouched
    assert merged.split("---\n", 2)[2] == README.split("---\n", 2)[2]  # body untouched


@pytest.mark.parametrize(
    "entry",
    [
        "co2_eq_emissions: 0.0121\n",
        "co2_eq_emissions:\n  emissions: 17\n  source: AutoTrain\n\n  geographical_location: X\n",
        "co2_eq_emissions: {emissions: 1.2,\n  source: old}\n",
        'co2_eq_emissions: "17g"\n# trailing comment stays\n',
    ],
)
def test_merge_replaces_an_existing_entry(entry: str) -> None:
    readme = f"---\nlicense: mit\n{entry}pipeline_tag: fill-mask\n---\nbody\n"
    merged = merge_into_readme(readme, _block())
    parsed = _front_matter(merged)
    assert parsed == {
        "license": "mit",
        "co2_eq_emissions": {"emissions": 12.5, "source": "s"},
        "pipeline_tag": "fill-mask",
    }
    assert merged.endswith("---\nbody\n")
    assert ("# trailing comment stays" in merged) == ("trailing" in entry)
    assert merge_into_readme(merged, _block()) == merged  # idempotent


def test_merge_creates_front_matter_when_there_is_none() -> None:
    merged = merge_into_readme("# Title\n\ntext\n", _block())
    assert merged == "---\n" + _block() + "---\n\n# Title\n\ntext\n"
    assert _front_matter(merged)["co2_eq_emissions"]["emissions"] == 12.5
    assert merge_into_readme("", _block()) == "---\n" + _block() + "---\n"


def test_merge_keeps_crlf_and_bom() -> None:
    readme = "\ufeff---\r\nlicense: mit\r\n---\r\nbody\r\n"
    merged = merge_into_readme(readme, _block())
    assert merged.startswith("\ufeff---\r\nlicense: mit\r\nco2_eq_emissions:\r\n")
    assert merged.endswith("---\r\nbody\r\n") and "\n" not in merged.replace("\r\n", "")
    front = merged.removeprefix("\ufeff").replace("\r\n", "\n").split("---\n")[1]
    assert yaml.safe_load(front)["co2_eq_emissions"]["source"] == "s"


def test_merge_into_empty_front_matter() -> None:
    merged = merge_into_readme("---\n---\nbody\n", _block())
    assert merged == "---\n" + _block() + "---\nbody\n"
