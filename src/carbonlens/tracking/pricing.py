"""Choose the grid intensity, PUE and embodied shares for a run, with their reasons."""

from __future__ import annotations

from collections.abc import Sequence

from carbonlens._frozen import frozen
from carbonlens.config import Settings, setting_origin
from carbonlens.errors import LocationError
from carbonlens.estimate import embodied
from carbonlens.intensity import table
from carbonlens.records import Component, EmbodiedShare, IntensityValue, PueValue
from carbonlens.units import G_PER_KG, S_PER_YEAR

DEFAULT_PUE = PueValue(
    pue_ratio=1.0,
    source="default 1.0: no PUE set and not a cloud region (IT energy only; "
    "set --pue, e.g. 1.56 for an average data centre, Uptime Institute 2024)",
)


@frozen
class Pricing:
    """What turns a run's energy into emissions, and the notes that explain it."""

    intensity: IntensityValue
    pue: PueValue
    embodied: tuple[EmbodiedShare, ...]
    notes: tuple[str, ...]


def resolve(settings: Settings, *, given: bool = False) -> table.ResolvedLocation | None:
    """The run's location from settings (region wins over country).

    Raises:
        LocationError: the location is unknown; its message says where it was set
            (`given`: by an argument; else the variable or config file, if one).
    """
    key = "region" if settings.region else "country"
    text = settings.region or settings.country
    try:
        return table.resolve_location(text) if text else None
    except LocationError as exc:
        origin = f"argument {key}" if given else setting_origin(key)
        raise LocationError(exc.location, exc.suggestions, origin) from None


def choose(
    settings: Settings,
    location: table.ResolvedLocation | None,
    gpu_devices: Sequence[str],
    host_share_ratio: float | None,
) -> Pricing:
    """Pick intensity, PUE and embodied shares, each with its source."""
    notes: list[str] = []
    if location is None:
        intensity = table.world_average()
        notes.append(
            "no location set: world-average grid intensity used; set --country or --region "
            "(or CARBONLENS_COUNTRY / CARBONLENS_REGION) for a figure that fits your grid"
        )
    else:
        intensity = table.annual_intensity(location)
    if settings.pue is not None:
        pue = PueValue(settings.pue, "user setting")
    else:
        pue = (table.cloud_pue(location) if location else None) or DEFAULT_PUE
    shares: list[EmbodiedShare] = []
    if settings.embodied:
        lifetime_s = settings.lifetime_years * S_PER_YEAR if settings.lifetime_years else None
        gpu_g = _grams(settings.gpu_embodied_kgco2e)
        shares.extend(
            embodied.gpu_embodied(d, embodied_g_per_gpu=gpu_g, lifetime_s=lifetime_s)
            for d in gpu_devices
        )
        if host_share_ratio is None:
            notes.append(
                "host share of the server unknown (a virtual machine whose CPU model is not "
                "in the table): embodied host emissions are charged for the whole server, an "
                "upper bound; set host_share_ratio (e.g. CARBONLENS_HOST_SHARE_RATIO=0.0625 "
                "for 8 of 128 vCPUs) or embodied=false"
            )
        host_g = _grams(settings.host_embodied_kgco2e)
        share_ratio = host_share_ratio or 1.0
        shares.append(embodied.host_embodied(share_ratio, embodied_g=host_g, lifetime_s=lifetime_s))
    return Pricing(intensity, pue, tuple(shares), tuple(notes))


def _grams(mass_kg: float | None) -> float | None:
    """A setting in kgCO2e as grams (None stays None: the table's figure)."""
    return None if mass_kg is None else mass_kg * G_PER_KG


def gpu_devices(channels: Sequence[tuple[Component, str]]) -> list[str]:
    """The distinct GPU devices among opened channels."""
    return sorted({device for component, device in channels if component == Component.GPU})
