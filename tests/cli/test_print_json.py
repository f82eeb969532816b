"""`--json` output is always valid JSON: a figure that is not finite prints as null."""

from __future__ import annotations

import json
import math

import pytest

from carbonlens._cli_common import print_json


def test_non_finite_numbers_print_as_null(capsys: pytest.CaptureFixture[str]) -> None:
    print_json({"saving_ratio": math.nan, "rows": [{"g": math.inf}, (1.5, -math.inf)], "n": 3})
    text = capsys.readouterr().out
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"saving_ratio": None, "rows": [{"g": None}, [1.5, None]], "n": 3}
