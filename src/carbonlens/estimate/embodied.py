"""Embodied (manufacturing) emissions of hardware, amortised over a run.

A run's embodied emissions are, per device (DESIGN.md, SCI's M term)::

    amortised_g = embodied_total_g × duration_s / lifetime_s × share_ratio

Defaults come from the bundled `data/embodied_carbon.csv` (read lazily, once):

* GPU card: 150 kgCO2e each (row `gpu_card_generic`: Cloud Carbon Footprint's
  `GPU_MANUFACTURING_EMISSIONS`, the same per-GPU figure as the BLOOM paper);
* server host: 1,000 kgCO2e (row `server_base_commodity`: CCF/Teads base
  commodity server), scaled by the share of the host the run uses;
* lifetime: 4 years for both (`DEFAULT_LIFETIME_S`). Both figures are CCF's,
  and CCF amortises them over 4 years; BLOOM's 6 years belongs with its own
  2,500 kg node figure, and pairing CCF's figures with it would cut the hourly
  share by a third. 4 years is also the shorter of the two published lifetimes,
  so it gives the larger hourly share and does not understate.

Every default can be overridden per call (`lifetime_s`, `embodied_g_per_gpu`,
`embodied_g`); the returned record's `source` says which figures were used.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Final

from carbonlens.data import read_rows
from carbonlens.errors import ConfigError
from carbonlens.records import Component, EmbodiedShare
from carbonlens.units import G_PER_KG, S_PER_YEAR

__all__ = ["DEFAULT_LIFETIME_S", "amortised_g", "gpu_embodied", "host_embodied"]

DEFAULT_LIFETIME_S: Final = 4 * S_PER_YEAR
"""Default hardware lifetime, seconds: 4 years (CCF/Teads)."""

_GPU_ITEM: Final = "gpu_card_generic"
_HOST_ITEM: Final = "server_base_commodity"
_DEFAULT_LIFETIME_NOTE: Final = "lifetime 4 y (CCF/Teads default)"


@cache
def _rows() -> dict[str, dict[str, str]]:
    """Rows of the bundled embodied-carbon table by `item`."""
    return {row["item"]: row for row in read_rows("embodied_carbon.csv")}


def _embodied(
    item: str, override_g: float | None, setting: str, source: str = ""
) -> tuple[float, str]:
    """Embodied emissions (g) of one unit of `item` and a note on where it came from
    (`source` for an `override_g` taken from a table, else "given by caller")."""
    if override_g is not None:
        _check(setting, override_g)
        return override_g, f"{override_g / G_PER_KG:g} kgCO2e {source or 'given by caller'}"
    row = _rows()[item]
    note = f"embodied_carbon.csv {item}: {row['value']} {row['unit']} ({row['source']})"
    return float(row["value"]) * G_PER_KG, note


def _lifetime(lifetime_s: float | None) -> tuple[float, str]:
    """Lifetime (s) and a note on where it came from."""
    if lifetime_s is None:
        return DEFAULT_LIFETIME_S, _DEFAULT_LIFETIME_NOTE
    _check("lifetime_s", lifetime_s, positive=True)
    return (
        lifetime_s,
        f"lifetime {lifetime_s:g} s ({lifetime_s / S_PER_YEAR:.3g} y) given by caller",
    )


def _check(
    setting: str, value: float, *, positive: bool = False, maximum: float = math.inf
) -> None:
    """Raise ConfigError unless `value` is finite, ≥ 0 (> 0 if `positive`) and ≤ `maximum`."""
    low_ok = value > 0 if positive else value >= 0
    if not (math.isfinite(value) and low_ok and value <= maximum):
        bounds = ("> 0" if positive else "≥ 0") + (
            f" and ≤ {maximum:g}" if maximum < math.inf else ""
        )
        raise ConfigError(f"{setting} must be finite and {bounds}, got {value!r}", setting=setting)


def gpu_embodied(
    device: str = "gpu",
    count: int = 1,
    *,
    share_ratio: float = 1.0,
    embodied_g_per_gpu: float | None = None,
    embodied_source: str = "",
    lifetime_s: float | None = None,
) -> EmbodiedShare:
    """Embodied emissions of `count` GPU cards of one kind.

    Args:
        device: label of the card(s), e.g. "gpu0" or "NVIDIA H100 80GB HBM3".
        count: number of cards (≥ 1); the total covers all of them.
        share_ratio: share (0-1) of the cards the run uses, 1 for whole cards.
        embodied_g_per_gpu: manufacturing emissions per card in gCO2e; default
            150,000 g (150 kgCO2e, CCF/BLOOM).
        embodied_source: where `embodied_g_per_gpu` comes from (a table's source
            column); "given by caller" when empty.
        lifetime_s: service lifetime in seconds; default `DEFAULT_LIFETIME_S` (4 years).

    Returns:
        The record for `amortised_g`, its `embodied_total_g` in gCO2e for all `count` cards.

    Raises:
        ConfigError: a count, share, emission or lifetime out of range.
    """
    if count < 1:
        raise ConfigError(f"count must be ≥ 1, got {count!r}", setting="count")
    _check("share_ratio", share_ratio, maximum=1.0)
    per_gpu_g, embodied_note = _embodied(
        _GPU_ITEM, embodied_g_per_gpu, "embodied_g_per_gpu", embodied_source
    )
    life_s, life_note = _lifetime(lifetime_s)
    return EmbodiedShare(
        device=device if count == 1 else f"{count} x {device}",
        component=Component.GPU,
        embodied_total_g=per_gpu_g * count,
        lifetime_s=life_s,
        share_ratio=share_ratio,
        source=f"{embodied_note}; {life_note}",
    )


def host_embodied(
    share_ratio: float,
    *,
    embodied_g: float | None = None,
    lifetime_s: float | None = None,
    device: str = "host",
) -> EmbodiedShare:
    """Embodied emissions of the server host (chassis, CPU, mainboard, base memory), GPUs excluded.

    Args:
        share_ratio: share (0-1) of the host the run uses, e.g. 2 vCPUs of a
            64-thread host give 2 / 64 = 0.03125.
        embodied_g: manufacturing emissions of the whole host in gCO2e; default
            1,000,000 g (1,000 kgCO2e, CCF/Teads base commodity server).
        lifetime_s: service lifetime in seconds; default `DEFAULT_LIFETIME_S` (4 years).
        device: label of the host.

    Returns:
        The record for `amortised_g`, its `embodied_total_g` in gCO2e for the whole host.

    Raises:
        ConfigError: a share, emission or lifetime out of range.
    """
    _check("share_ratio", share_ratio, maximum=1.0)
    host_g, embodied_note = _embodied(_HOST_ITEM, embodied_g, "embodied_g")
    life_s, life_note = _lifetime(lifetime_s)
    return EmbodiedShare(
        device=device,
        component=Component.OTHER,
        embodied_total_g=host_g,
        lifetime_s=life_s,
        share_ratio=share_ratio,
        source=f"{embodied_note}; {life_note}",
    )


def amortised_g(share: EmbodiedShare, duration_s: float) -> float:
    """Embodied emissions (gCO2e) attributed to a run of `duration_s` seconds.

    `embodied_total_g × duration_s / lifetime_s × share_ratio`.

    Args:
        share: the device's record from `gpu_embodied` or `host_embodied`.
        duration_s: run duration in seconds (≥ 0).

    Returns:
        Grams of CO2e.

    Raises:
        ConfigError: a negative or non-finite duration.
    """
    _check("duration_s", duration_s)
    return share.embodied_total_g * duration_s / share.lifetime_s * share.share_ratio
