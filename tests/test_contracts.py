"""Contracts: the public API, unit suffixes on every float, light import, sensor protocol."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import typing

import pytest

import carbonlens
from carbonlens import accounting, records
from carbonlens.sensors.base import Sensor
from carbonlens.sensors.registry import _BUILTIN, load

UNIT_SUFFIXES = ("_j", "_w", "_s", "_g", "_ratio", "_g_per_kwh", "_bytes", "_pct")


def test_public_api_is_sorted_and_importable() -> None:
    assert carbonlens.__all__ == sorted(carbonlens.__all__)
    for name in carbonlens.__all__:
        assert getattr(carbonlens, name) is not None
    with pytest.raises(AttributeError):
        _ = carbonlens.NoSuchThing  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "cls",
    [
        c
        for c in [*vars(records).values(), accounting.RunReport]
        if dataclasses.is_dataclass(c) and isinstance(c, type)
    ],
)
def test_every_float_field_carries_its_unit(cls: type) -> None:
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if hint in (float, float | None):
            assert field.name.endswith(UNIT_SUFFIXES), f"{cls.__name__}.{field.name}"


def test_import_is_light() -> None:
    code = (
        "import sys, carbonlens\n"
        "heavy = {'psutil', 'sqlite3', 'pynvml', 'numpy', 'pandas', 'rich', 'click', 'csv'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(_BUILTIN))
def test_registered_sensors_follow_the_protocol(name: str) -> None:
    cls = load(name)
    assert cls.name == name
    for attr in ("probe", "open", "channels", "read", "assumptions", "close"):
        assert callable(getattr(cls, attr)), attr
    assert isinstance(cls.components, frozenset) and cls.components
    _: type[Sensor] = cls  # statically checked by mypy for the built-ins
