"""Hugging Face model cards: the `co2_eq_emissions` metadata block, and merging it.

The Hub reads this block from the YAML front matter of a model's README.md
(huggingface/hub-docs, ``model-cards-co2.md``)::

    co2_eq_emissions:
      emissions: 40.28                  # grams CO2e
      source: "carbonlens 0.1.0: ..."
      training_type: "fine-tuning"      # "pre-training" or "fine-tuning"
      geographical_location: "France"
      hardware_used: "8 x NVIDIA H100 80GB HBM3"

`emissions` is the total of the runs (operational + embodied, as carbonlens
reports it) unless `operational_only` is asked for, which matches tools that
count electricity only (CodeCarbon, AutoTrain); `source` states which, with both
parts. Fields carbonlens does not know (the training type, unless given) are
left out rather than guessed.

`merge_into_readme` edits text, not a parsed tree: the front matter's other
keys, comments, order and formatting and the Markdown body stay byte for byte;
only an existing top-level `co2_eq_emissions` entry is replaced (or the block is
appended to the front matter, or a front matter is created). Strings are written
as YAML double-quoted scalars and numbers always with a decimal point, so YAML
1.1 parsers (PyYAML, which the Hub uses) read them back as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from carbonlens._frozen import frozen
from carbonlens._version import __version__
from carbonlens.records import RunStatus
from carbonlens.report.methods import hardware_used
from carbonlens.report.paper import number_text

if TYPE_CHECKING:
    from carbonlens.accounting import RunReport

__all__ = ["CardEmissions", "card_emissions", "merge_into_readme", "yaml_block"]

KEY: Final = "co2_eq_emissions"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.M | re.S)
_TOP_KEY = re.compile(rf"^(?:{KEY}|\"{KEY}\"|'{KEY}')[ \t]*:")
_SIGNIFICANT_DIGITS: Final = 6
_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


@frozen
class CardEmissions:
    """The fields of the `co2_eq_emissions` block.

    Attributes:
        emissions_g: grams CO2e.
        source: where the figure comes from, with its parts.
        training_type: "pre-training", "fine-tuning" or None (left out).
        geographical_location: where the work ran, or None (left out).
        hardware_used: the devices, or None (left out).
    """

    emissions_g: float
    source: str
    training_type: str | None = None
    geographical_location: str | None = None
    hardware_used: str | None = None


def card_emissions(
    reports: Sequence[RunReport],
    *,
    training_type: str | None = None,
    geographical_location: str | None = None,
    hardware: str | None = None,
    operational_only: bool = False,
) -> CardEmissions:
    """The block's fields for the runs that made a model.

    Args:
        reports: the runs (one or more), summed.
        training_type: "pre-training" or "fine-tuning"; None leaves it out.
        geographical_location: overrides the runs' grid locations (e.g. "Quebec, Canada").
        hardware: overrides the devices recorded by the runs' sensors.
        operational_only: report electricity emissions only, without embodied.

    Returns:
        The fields, emissions in grams.
    """
    operational_g = sum(r.operational_g for r in reports)
    embodied_g = sum(r.embodied_g for r in reports)
    grids = ", ".join(
        dict.fromkeys(
            f"{r.intensity.location or 'world'} {r.intensity.intensity_g_per_kwh:g} g/kWh"
            for r in reports
        )
    )
    parts = f"{number_text(operational_g)} g operational ({grids})"
    if operational_only:
        source = f"carbonlens {__version__}: {parts}; embodied emissions not included"
        emissions_g = operational_g
    else:
        emissions_g = operational_g + embodied_g
        source = f"carbonlens {__version__}: {parts} + {number_text(embodied_g)} g embodied"
    partial = [r.info.run_id[:12] for r in reports if r.info.status is not RunStatus.FINISHED]
    if partial:
        source += f"; partial runs (not finished): {', '.join(partial)}"
    locations = ", ".join(
        dict.fromkeys(r.intensity.location for r in reports if r.intensity.location)
    )
    devices = ", ".join(dict.fromkeys(h for r in reports if (h := hardware_used(r))))
    return CardEmissions(
        emissions_g=emissions_g,
        source=source,
        training_type=training_type,
        geographical_location=geographical_location or locations or None,
        hardware_used=hardware or devices or None,
    )


def _yaml_string(text: str) -> str:
    """A YAML double-quoted scalar; characters YAML may not hold raw are escaped."""
    out = []
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif (
            code < 0x20
            or 0x7F <= code <= 0x9F
            or 0xD800 <= code <= 0xDFFF
            or code in (0xFFFE, 0xFFFF)
        ):
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _yaml_number(value: float) -> str:
    """A float YAML 1.1 reads as a float: always a decimal point, a signed exponent."""
    text = repr(float(f"{value:.{_SIGNIFICANT_DIGITS}g}"))
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}e{exponent}" if exponent else mantissa


def yaml_block(card: CardEmissions) -> str:
    """The `co2_eq_emissions:` block, ready to paste into a README's front matter."""
    lines = [f"{KEY}:", f"  emissions: {_yaml_number(card.emissions_g)}"]
    for key in ("source", "training_type", "geographical_location", "hardware_used"):
        value = getattr(card, key)
        if value:
            lines.append(f"  {key}: {_yaml_string(value)}")
    return "\n".join(lines) + "\n"


def _replace_entry(body: list[str], block: list[str]) -> list[str]:
    """Front-matter lines with the top-level `co2_eq_emissions` entry replaced or appended."""
    start = next((n for n, line in enumerate(body) if _TOP_KEY.match(line)), None)
    if start is None:
        return [*body, *block]
    end = start + 1
    for n in range(start + 1, len(body)):
        line = body[n]
        if line[:1] in (" ", "\t") and line.strip() or line.startswith("- "):
            end = n + 1
        elif line.strip() and not line.lstrip().startswith("#"):
            break
    return [*body[:start], *block, *body[end:]]


def merge_into_readme(readme: str, block: str) -> str:
    """Put a `co2_eq_emissions` block into a README's YAML front matter.

    Args:
        readme: the README text (may be empty, may lack front matter).
        block: the output of `yaml_block`.

    Returns:
        The README with the block in its front matter: an existing top-level
        `co2_eq_emissions` entry is replaced, otherwise the block goes at the end
        of the front matter, which is created when there is none. Everything else,
        including the file's line endings and a byte-order mark, is unchanged.
    """
    newline = "\r\n" if "\r\n" in readme else "\n"
    bom = "\ufeff" if readme.startswith("\ufeff") else ""
    text = readme.removeprefix(bom)
    block_lines = [line + newline for line in block.splitlines()]
    match = _FRONT_MATTER.match(text)
    if match is None:
        spacer = newline if text and not text.startswith(("\n", "\r\n")) else ""
        return bom + "".join(["---" + newline, *block_lines, "---" + newline, spacer, text])
    body = match.group(1).splitlines(keepends=True)
    if body and not body[-1].endswith("\n"):
        body[-1] += newline
    merged = "".join(_replace_entry(body, block_lines))
    head = text[: match.start(1)]
    return bom + head + merged + text[match.end(1) :]
