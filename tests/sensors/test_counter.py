"""counter_delta: wrap-around arithmetic, hand-computed cases."""

from __future__ import annotations

import pytest

from carbonlens.sensors._counter import counter_delta


@pytest.mark.parametrize(
    ("now", "last", "max_range", "expected"),
    [
        (5, 3, 10, 2),  # plain increase
        (7, 7, 10, 0),  # no change
        (10, 0, 10, 10),  # the whole range without wrapping
        (2, 8, 10, 5),  # 8->9->10->0->1->2: five steps
        (0, 10, 10, 1),  # from the top value to 0 is one step
        (0, 2**32 - 1, 2**32 - 1, 1),  # a 32-bit register rolling over
        # RAPL package zone, 61 µJ unit: 143_328_850 to the top, +1 to 0, +100_000_000
        (100_000_000, 262_000_000_000, 262_143_328_850, 243_328_851),
    ],
)
def test_counter_delta_table(now: int, last: int, max_range: int, expected: int) -> None:
    assert counter_delta(now, last, max_range) == expected


def test_every_advance_within_one_period_is_recovered() -> None:
    max_range = 7  # modulus 8
    for last in range(max_range + 1):
        for steps in range(max_range + 1):
            now = (last + steps) % (max_range + 1)
            assert counter_delta(now, last, max_range) == steps, (last, steps)


def test_a_second_wrap_in_one_interval_is_not_detectable() -> None:
    # Documented limit: an advance of one full period plus 3 reads as 3.
    max_range = 99
    last = 40
    now = (last + (max_range + 1) + 3) % (max_range + 1)
    assert counter_delta(now, last, max_range) == 3


@pytest.mark.parametrize(
    ("now", "last", "max_range"),
    [
        (1, 0, 0),  # no range
        (5, 3, -1),  # negative range
        (11, 3, 10),  # counter above its declared maximum
        (3, 11, 10),
        (-1, 3, 10),  # negative counter
        (3, -1, 10),
    ],
)
def test_values_outside_the_range_are_rejected(now: int, last: int, max_range: int) -> None:
    with pytest.raises(ValueError, match="range"):
        counter_delta(now, last, max_range)
