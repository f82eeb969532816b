"""Everyday equivalences of an emission: car kilometres, smartphone charges, flights.

Factors come from the bundled ``data/equivalences.csv`` (kgCO2e per unit, with
the source, edition, licence and caveats of each row: US EPA Greenhouse Gas
Equivalencies, Strubell et al. 2019, Green Algorithms), read once on first use.
An equivalence only rescales a figure the report already has; it adds no
precision, and the notes column says where a factor still needs re-checking.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Final

from carbonlens._frozen import frozen
from carbonlens.data import read_rows
from carbonlens.units import G_PER_KG

__all__ = ["DEFAULT_IDS", "Equivalence", "EquivalenceFactor", "equivalences", "factors"]

DEFAULT_IDS: Final = ("passenger_vehicle_km", "smartphone_charge", "flight_paris_london_ga")
"""Shown by default: a car distance, a phone charge and a short flight, so that both
small runs (phone charges) and large ones (flights) get a readable number."""


@frozen
class EquivalenceFactor:
    """One row of ``equivalences.csv``.

    Attributes:
        id: stable identifier of the row ("passenger_vehicle_km").
        description: what one unit is, in words.
        unit_g: grams CO2e per unit (the file's kg figure × 1000).
        unit: name of the unit ("km", "smartphone charge").
        source: where the factor comes from.
        edition: which edition or year of the source.
        license: licence of the figure.
        notes: caveats (e.g. "re-verify"), empty when none.
    """

    id: str
    description: str
    unit_g: float
    unit: str
    source: str
    edition: str
    license: str
    notes: str


@frozen
class Equivalence:
    """An emission expressed in one everyday unit.

    Attributes:
        factor: the factor used.
        quantity: how many units the emission equals (emission_g / factor.unit_g).
    """

    factor: EquivalenceFactor
    quantity: float


@cache
def factors() -> dict[str, EquivalenceFactor]:
    """Every factor of the bundled table, by id.

    Returns:
        The factors in file order.
    """
    return {
        row["id"]: EquivalenceFactor(
            id=row["id"],
            description=row["description"],
            unit_g=float(row["kg_co2e_per_unit"]) * G_PER_KG,
            unit=row["unit"],
            source=row["source"],
            edition=row["edition"],
            license=row["license"],
            notes=row["notes"],
        )
        for row in read_rows("equivalences.csv")
    }


def equivalences(emission_g: float, ids: Sequence[str] = DEFAULT_IDS) -> list[Equivalence]:
    """Express an emission in everyday units.

    Args:
        emission_g: the emission, in grams CO2e.
        ids: which factors to use (ids of ``equivalences.csv``).

    Returns:
        One equivalence per id, in the order given.

    Raises:
        KeyError: an id that is not in the table.
    """
    table = factors()
    return [Equivalence(table[i], emission_g / table[i].unit_g) for i in ids]
