"""Attribution rule: hand-computed shares, token weights, idle energy, occupancy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonlens.records import Channel, Component, Method, Sample
from carbonlens.serving.attribution import (
    Attributed,
    Segment,
    Settler,
    share_interval,
)

GPU = Channel("fake", Component.GPU, "gpu0", Method.MEASURED)


def test_overlapping_requests_share_busy_energy_by_overlap_and_idle_is_apart() -> None:
    # Interval [0, 10] s holds 1,000 J (100 W). A runs [1, 5], B runs [3, 9].
    # In flight during [1, 9] = 8 s, so idle = 1,000 x 2/10 = 200 J and busy = 800 J.
    # Overlaps: A 4 s, B 6 s -> A = 800 x 4/10 = 320 J, B = 800 x 6/10 = 480 J.
    idle_j, shares_j = share_interval(1000.0, 0.0, 10.0, [Segment(1, 5), Segment(3, 9)])
    assert idle_j == pytest.approx(200.0)
    assert shares_j == pytest.approx([320.0, 480.0])


def test_tokens_weight_shares_by_tokens_processed_inside_the_interval() -> None:
    # Same interval and requests; A reports 300 tokens, B 100 tokens (whole spans inside),
    # so A processed 300 and B 100 tokens in [0, 10]: A = 800 x 3/4, B = 800 x 1/4.
    _, shares_j = share_interval(1000.0, 0.0, 10.0, [Segment(1, 5, 300), Segment(3, 9, 100)])
    assert shares_j == pytest.approx([600.0, 200.0])


def test_token_rate_counts_only_the_part_inside_the_interval() -> None:
    # C runs [8, 14] with 120 tokens (20/s): 2 s and 40 tokens fall in [0, 10].
    # D runs [0, 10] with 40 tokens. Busy all 10 s: 1,000 J split 40 : 40.
    idle_j, shares_j = share_interval(1000.0, 0.0, 10.0, [Segment(8, 14, 120), Segment(0, 10, 40)])
    assert idle_j == pytest.approx(0.0)
    assert shares_j == pytest.approx([500.0, 500.0])


def test_one_request_without_tokens_falls_back_to_overlap_for_all() -> None:
    _, shares_j = share_interval(1000.0, 0.0, 10.0, [Segment(1, 5, 300), Segment(3, 9)])
    assert shares_j == pytest.approx([320.0, 480.0])


def test_zero_tokens_everywhere_falls_back_to_overlap() -> None:
    _, shares_j = share_interval(100.0, 0.0, 10.0, [Segment(0, 10, 0), Segment(0, 5, 0)])
    assert shares_j == pytest.approx([100 * 10 / 15, 100 * 5 / 15])


def test_no_request_in_flight_is_all_idle() -> None:
    assert share_interval(50.0, 0.0, 1.0, [Segment(2, 3)]) == (50.0, [0.0])
    assert share_interval(50.0, 0.0, 1.0, []) == (50.0, [])


def test_busy_time_merges_nested_and_adjacent_requests() -> None:
    # in flight during [0, 5] and [7, 10] of [0, 10]: 8 s busy, 2 s idle -> 20 % of 100 J
    spans = [Segment(0, 4), Segment(1, 2), Segment(4, 5), Segment(7, 12)]
    idle_j, _ = share_interval(100.0, 0.0, 10.0, spans)
    assert idle_j == pytest.approx(20.0)


@given(
    energy_j=st.floats(0, 1e6),
    spans=st.lists(
        st.tuples(st.floats(-5, 15), st.floats(0, 10), st.one_of(st.none(), st.integers(0, 999))),
        max_size=8,
    ),
)
def test_shares_and_idle_always_add_up_to_the_interval(
    energy_j: float, spans: list[tuple[float, float, int | None]]
) -> None:
    segments = [Segment(start, start + length, tokens) for start, length, tokens in spans]
    idle_j, shares_j = share_interval(energy_j, 0.0, 10.0, segments)
    assert idle_j >= -1e-9 and all(s >= 0 for s in shares_j)
    assert idle_j + sum(shares_j) == pytest.approx(energy_j, rel=1e-9, abs=1e-9)


def _request(
    start_t_s: float, end_t_s: float | None, first_token_t_s: float | None = None
) -> Attributed:
    request = Attributed()
    request.start_t_s, request.end_t_s = start_t_s, end_t_s
    request.first_token_t_s = first_token_t_s
    return request


def _sample(end_t_s: float, duration_s: float, energy_j: float) -> Sample:
    return Sample(GPU, t_s=end_t_s, duration_s=duration_s, energy_j=energy_j)


def test_prefill_and_decode_split_a_share_by_time() -> None:
    # One request over the whole interval [0, 10]; first token at 2 s: 1,000 J -> 200 / 800.
    request = _request(0.0, 10.0, first_token_t_s=2.0)
    settler: Settler[Attributed] = Settler()
    settler.add([_sample(10.0, 10.0, 1000.0)], [request])
    assert settler.settle(open_since_t_s=float("inf")) == pytest.approx(0.0)
    assert (request.prefill_energy_j, request.decode_energy_j) == pytest.approx((200.0, 800.0))


def test_settler_waits_for_open_requests_and_hands_back_complete_ones() -> None:
    settler: Settler[Attributed] = Settler()
    a = _request(1.0, 5.0)
    settler.add([_sample(10.0, 10.0, 1000.0)], [a])
    # B started at 3 s and is still open: the tick ending at 10 s must wait.
    assert settler.settle(open_since_t_s=3.0) == 0.0 and settler.settled_t_s is None
    b, c = _request(3.0, 9.0), _request(12.0, 14.0)
    settler.add([_sample(20.0, 10.0, 500.0)], [b, c])
    idle_j = settler.settle(open_since_t_s=float("inf"))
    # [0, 10]: as in the first test; [10, 20]: C alone for 2 s -> 100 J, idle 400 J.
    assert idle_j == pytest.approx(200.0 + 400.0)
    assert (a.energy_j, b.energy_j, c.energy_j) == pytest.approx((320.0, 480.0, 100.0))
    # occupancy: 10 request-seconds over 8 busy seconds in [0, 10] -> 1.25 in flight on average
    assert (a.mean_in_flight, b.mean_in_flight, c.mean_in_flight) == pytest.approx((1.25, 1.25, 1))
    assert settler.finish(up_to_t_s=10.0) == [a, b]
    assert settler.finish(up_to_t_s=20.0) == [c]
