"""Bundled data tables and their reader.

Each CSV keeps `source`, year and licence columns (see LICENSES.md and
docs/data.md). Files are read from the installed package directory with the
standard library only, on first use.
"""

from __future__ import annotations

import csv
from pathlib import Path

_DIR = Path(__file__).parent


def data_path(name: str) -> Path:
    """The path of the bundled file `name` (e.g. ``"cpu_tdp.csv"``)."""
    return _DIR / name


def read_rows(name: str) -> list[dict[str, str]]:
    """The rows of the bundled CSV file `name`, as dicts keyed by its header."""
    with data_path(name).open(encoding="utf-8", newline="") as table:
        return list(csv.DictReader(table))
