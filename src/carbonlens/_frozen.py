"""`frozen`: the class decorator of carbonlens's records.

``@frozen`` makes the same class as ``@dataclass(frozen=True, slots=True)``: fields,
``__init__``, ``dataclasses.fields``/``replace``/``asdict``, immutability, slots,
equality and hashing by field values and the usual ``Name(a=1, b=2)`` repr. The
difference is cost: Python 3.11 writes and compiles six small functions for each
frozen dataclass (about 0.5 ms a class), and here ``__eq__``, ``__hash__`` and
``__repr__`` are shared functions over a per-class field getter instead, which
takes a third off. Over carbonlens's 120-odd records that is about 6 ms of a
tracker's first start and 20 ms of a command that loads the reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, TypeVar, cast, dataclass_transform

_T = TypeVar("_T")


def _no_fields(_: object) -> tuple[()]:
    return ()


def _getter(names: tuple[str, ...]) -> Callable[[Any], Any]:
    """A function from a record to the values of `names` (a value, a tuple or ())."""
    return attrgetter(*names) if names else _no_fields


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: type[_T]) -> type[_T]:
    """``@dataclass(frozen=True, slots=True)``, with shared eq, hash and repr.

    Equal when of the same class with equal compared fields (``field(compare=False)``
    is honoured), hashed on the same values (or on those with ``hash=True``), shown
    with the fields that have ``repr=True``.
    """
    made = dataclass(frozen=True, slots=True, eq=False, repr=False)(cls)
    all_fields = fields(cast(Any, made))
    compared = _getter(tuple(f.name for f in all_fields if f.compare))
    hashed = _getter(tuple(f.name for f in all_fields if (f.compare if f.hash is None else f.hash)))
    shown = tuple(f.name for f in all_fields if f.repr)

    def __eq__(self: Any, other: object) -> bool:  # noqa: N807 - the dunder itself
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(compared(self) == compared(other))

    def __hash__(self: Any) -> int:  # noqa: N807
        return hash(hashed(self))

    def __repr__(self: Any) -> str:  # noqa: N807
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{self.__class__.__qualname__}({values})"

    for method in (__eq__, __hash__, __repr__):
        method.__qualname__ = f"{made.__qualname__}.{method.__name__}"
        setattr(made, method.__name__, method)
    return made
