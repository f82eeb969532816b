"""`carbonlens._frozen.frozen` behaves as ``@dataclass(frozen=True, slots=True)``."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import FrozenInstanceError, dataclass, field

import pytest

from carbonlens._frozen import frozen


@frozen
class Point:
    x_m: float
    y_m: float = 0.0
    note: str = field(default="", compare=False, repr=False)


@frozen
class Other:
    x_m: float
    y_m: float = 0.0
    note: str = field(default="", compare=False, repr=False)


@frozen
class Empty:
    pass


@frozen
class One:
    value: float


@dataclass(frozen=True, slots=True)
class Reference:
    x_m: float
    y_m: float = 0.0
    note: str = field(default="", compare=False, repr=False)


def test_equality_and_hash_follow_the_compared_fields() -> None:
    a, b = Point(1.0, 2.0, note="a"), Point(1.0, 2.0, note="b")
    assert a == b and hash(a) == hash(b)  # note has compare=False
    assert a != Point(1.0, 3.0)
    assert len({a, b, Point(1.0, 3.0)}) == 2
    assert One(1.5) == One(1.5) and One(1.5) != One(2.5) and hash(One(1.5)) == hash(One(1.5))
    assert Empty() == Empty() and hash(Empty()) == hash(Empty())


def test_records_of_other_classes_never_compare_equal() -> None:
    assert Point(1.0, 2.0) != Other(1.0, 2.0)
    assert Point(1.0, 2.0) != (1.0, 2.0)
    assert Point.__eq__(Point(1.0), Other(1.0)) is NotImplemented


def test_repr_matches_dataclass_repr() -> None:
    ours, theirs = repr(Point(1.0, 2.0, note="x")), repr(Reference(1.0, 2.0, note="x"))
    assert ours == "Point(x_m=1.0, y_m=2.0)" == theirs.replace("Reference", "Point")
    assert repr(Empty()) == "Empty()"


def test_it_is_a_frozen_slotted_dataclass() -> None:
    point = Point(1.0, 2.0)
    with pytest.raises(FrozenInstanceError):
        point.x_m = 3.0  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del point.y_m  # type: ignore[misc]
    assert not hasattr(point, "__dict__")
    assert [f.name for f in dataclasses.fields(point)] == ["x_m", "y_m", "note"]
    assert dataclasses.replace(point, y_m=5.0) == Point(1.0, 5.0)
    assert dataclasses.asdict(point) == {"x_m": 1.0, "y_m": 2.0, "note": ""}
    assert pickle.loads(pickle.dumps(point)) == point
    assert copy.deepcopy(point) == point
