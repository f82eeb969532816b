"""Open the visible GPUs one by one: one that cannot be read is left out, not all.

Shared by the NVML and amdsmi back-ends, whose vendor errors differ.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

G = TypeVar("G")
E = TypeVar("E", bound=Exception)

_log = logging.getLogger("carbonlens.sensors")

LEFT_OUT = "left out, their energy is not measured: "


def open_each(
    sensor: str,
    indices: Sequence[int],
    open_one: Callable[[int], G],
    error: type[E],
    code_name: str,
) -> tuple[list[G], list[str], tuple[str, E] | None]:
    """Open GPU `index` with `open_one` for each of `indices`, leaving out those that
    raise `error` (its `code` shown as `code_name`: "NVML code", "amdsmi status").

    Returns:
        The opened GPUs; the notes, with one warning logged for them (empty when
        every GPU opened); and, when none opened, the first device and its error,
        for the caller to raise as unavailable.
    """
    opened: list[G] = []
    failed: dict[str, E] = {}
    for index in indices:
        try:
            opened.append(open_one(index))
        except error as exc:
            failed[f"gpu{index}"] = exc
    if not opened and failed:
        return [], [], next(iter(failed.items()))
    if not failed:
        return opened, [], None
    left_out = ", ".join(
        f"{device} ({exc}, {code_name} {getattr(exc, 'code', '?')})"
        for device, exc in failed.items()
    )
    note = LEFT_OUT + left_out
    _log.warning("carbonlens: %s: %s", sensor, note)
    return opened, [note], None


def describe(found: Sequence[str], notes: Sequence[str]) -> str:
    """A GPU sensor's probe reason: "2 GPU(s): gpu0 H100, gpu2 H100", and the GPUs
    `open_each` left out, from the sensor's `notes`."""
    left_out = "".join(f"; {note}" for note in notes if note.startswith(LEFT_OUT))
    return f"{len(found)} GPU(s): {', '.join(found)}{left_out}"
