"""The JSON Schemas (draft 2020-12) of the documents `--json` commands print.

One file per document kind, `<name>.schema.json`, shipped with the package and
read with `importlib.resources`; docs/json.md says which command prints which.
Each schema's `$id` is `https://carbonlens.invalid/schemas/<name>.schema.json`: a
name, never fetched (`.invalid` cannot resolve), under which the schemas `$ref`
each other.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any, Final

__all__ = ["ID_PREFIX", "names", "schema"]

ID_PREFIX: Final = "https://carbonlens.invalid/schemas/"
_SUFFIX: Final = ".schema.json"


@cache
def names() -> tuple[str, ...]:
    """The names of the bundled schemas, sorted (`run`, `runs`, `doctor`, ...)."""
    return tuple(
        sorted(
            entry.name.removesuffix(_SUFFIX)
            for entry in files(__package__).iterdir()
            if entry.name.endswith(_SUFFIX)
        )
    )


def schema(name: str) -> dict[str, Any]:
    """The schema of one document kind, as a new dict.

    Raises:
        KeyError: no bundled schema has that name (the message lists the names).
    """
    if name not in names():
        raise KeyError(f"no JSON schema {name!r}; the schemas are: {', '.join(names())}")
    loaded: dict[str, Any] = json.loads(_text(name))
    return loaded


@cache
def _text(name: str) -> str:
    return files(__package__).joinpath(name + _SUFFIX).read_text(encoding="utf-8")
