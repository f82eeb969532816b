"""Share one sampling interval's energy among the requests in flight: the rule.

For an interval ``[a, b]`` of ``dt_s = b - a`` seconds holding ``energy_j``
joules of one device, and the requests that overlap it:

1. ``busy_s`` is the time in ``[a, b]`` when at least one request was in flight
   (the length of the union of the requests clipped to the interval).
2. Idle energy is ``energy_j * (dt_s - busy_s) / dt_s``: the interval's mean
   power over the time with no request. It is never charged to a request.
3. The busy energy, ``energy_j * busy_s / dt_s``, is shared among the requests
   in proportion to their weight:

   - ``overlap_s``, the seconds the request spent inside ``[a, b]``; or,
   - when every overlapping request reports tokens (in + out),
     ``overlap_s * tokens / duration_s``: the tokens it processed inside the
     interval, assuming a steady rate over the request. If those weights are
     all zero, overlap is used.
4. When the handler marked its first token, a request's share is split between
   prefill (start to first token) and decode (first token to end) in proportion
   to the time each spent inside ``[a, b]``.

Shares and idle energy add up to ``energy_j`` exactly (up to rounding). Within
one interval power is taken as constant and concurrency as its mean over the
busy time, ``sum(overlap_s) / busy_s``; a request's batch occupancy is that
mean, weighted by its overlap with each interval. Shorter sampling intervals
sharpen both.

`Settler` applies the rule as a run goes: it queues each tick's samples until
every request overlapping them has ended (so token counts reported at the end
still weigh) or until the ledger stops waiting, shares them, and hands back the
requests whose energy is complete. It does no I/O and takes no lock;
`ledger.Ledger` drives it.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Sequence
from operator import attrgetter
from typing import Generic, TypeVar

from carbonlens._frozen import frozen
from carbonlens.records import Sample

__all__ = ["Attributed", "Segment", "Settler", "share_interval"]

Bounds = list[tuple[float, float]]


@frozen
class Segment:
    """The span of one request on the run's monotonic time base.

    Attributes:
        start_t_s: Start, in seconds since the run started.
        end_t_s: End, in seconds since the run started (``>= start_t_s``).
        tokens: Tokens the request processed (in + out), or None when not reported.
    """

    start_t_s: float
    end_t_s: float
    tokens: int | None = None


def _overlaps(start_t_s: float, end_t_s: float, bounds: Bounds) -> tuple[list[float], float]:
    """Each span's seconds inside ``[start_t_s, end_t_s]``, and the seconds covered."""
    overlaps: list[float] = []
    inside: Bounds = []
    for lo, hi in bounds:
        lo, hi = max(lo, start_t_s), min(hi, end_t_s)
        if hi > lo:
            overlaps.append(hi - lo)
            inside.append((lo, hi))
        else:
            overlaps.append(0.0)
    inside.sort()
    covered_s, run_lo, run_hi = 0.0, 0.0, -math.inf
    for lo, hi in inside:
        if lo > run_hi:
            covered_s += max(0.0, run_hi - run_lo)
            run_lo, run_hi = lo, hi
        elif hi > run_hi:
            run_hi = hi
    return overlaps, covered_s + max(0.0, run_hi - run_lo)


def _weights(overlaps: list[float], bounds: Bounds, tokens: Sequence[int | None]) -> list[float]:
    """Token weights when every overlapping span reports tokens (and some are > 0), else overlap."""
    if all(t is not None for t, o in zip(tokens, overlaps, strict=True) if o > 0):
        by_tokens = [
            o * (t or 0) / (hi - lo) if o > 0 else 0.0
            for o, (lo, hi), t in zip(overlaps, bounds, tokens, strict=True)
        ]
        if sum(by_tokens) > 0:
            return by_tokens
    return overlaps


def share_interval(
    energy_j: float, start_t_s: float, end_t_s: float, segments: Sequence[Segment]
) -> tuple[float, list[float]]:
    """Split one interval's energy into idle energy and a share per request.

    Args:
        energy_j: Energy of the device over the interval, in joules.
        start_t_s: Interval start, in seconds since the run started.
        end_t_s: Interval end, in seconds since the run started.
        segments: One per request; those outside the interval get 0 J.

    Returns:
        ``(idle_j, shares_j)``: the idle joules and, in the order of
        ``segments``, each request's joules. They sum to ``energy_j``.
    """
    bounds = [(s.start_t_s, s.end_t_s) for s in segments]
    overlaps, busy_s = _overlaps(start_t_s, end_t_s, bounds)
    if end_t_s <= start_t_s or busy_s <= 0:
        return energy_j, [0.0] * len(segments)
    weights = _weights(overlaps, bounds, [s.tokens for s in segments])
    busy_j = energy_j * busy_s / (end_t_s - start_t_s)
    scale_j = busy_j / sum(weights)
    return energy_j - busy_j, [w * scale_j for w in weights]


class Attributed:
    """A request as attribution sees it: its times, tokens and the joules given to it.

    Times are seconds since the run started; `end_t_s` is None while it is open.
    The energies (joules) and `concurrency_s` (request-seconds) grow as intervals
    are settled and are complete once the settler hands the request back.
    """

    __slots__ = (
        "concurrency_s",
        "decode_energy_j",
        "end_t_s",
        "energy_j",
        "first_token_t_s",
        "prefill_energy_j",
        "start_t_s",
        "tokens_in",
        "tokens_out",
    )

    def __init__(self) -> None:
        """An open request starting at 0 s, with no tokens and no energy yet."""
        self.start_t_s = 0.0
        self.end_t_s: float | None = None
        self.first_token_t_s: float | None = None
        self.tokens_in: int | None = None
        self.tokens_out: int | None = None
        self.energy_j = self.prefill_energy_j = self.decode_energy_j = 0.0
        self.concurrency_s = 0.0

    @property
    def stop_t_s(self) -> float:
        """The end, or +inf while open."""
        return math.inf if self.end_t_s is None else self.end_t_s

    @property
    def tokens(self) -> int | None:
        """Tokens in + out, or None when it reported neither."""
        if self.tokens_in is None and self.tokens_out is None:
            return None
        return (self.tokens_in or 0) + (self.tokens_out or 0)

    @property
    def mean_in_flight(self) -> float:
        """Mean number of requests in flight while it ran, itself included (1 if instant)."""
        duration_s = self.stop_t_s - self.start_t_s
        return self.concurrency_s / duration_s if 0 < duration_s < math.inf else 1.0

    def add_share(self, share_j: float, start_t_s: float, end_t_s: float, stop_t_s: float) -> None:
        """Add its share of ``[start_t_s, end_t_s]``, where it ran until `stop_t_s`.

        The share is split by time: before the first token (all of it while none
        is marked) is prefill, after it decode.
        """
        self.energy_j += share_j
        lo, hi = max(self.start_t_s, start_t_s), min(stop_t_s, end_t_s)
        first = self.first_token_t_s
        prefill_s = hi - lo if first is None else min(max(first - lo, 0.0), hi - lo)
        prefill_j = share_j * prefill_s / (hi - lo)
        self.prefill_energy_j += prefill_j
        self.decode_energy_j += share_j - prefill_j


A = TypeVar("A", bound=Attributed)
_END = attrgetter("end_t_s")


@frozen
class _Tick:
    end_t_s: float
    samples: Sequence[Sample]


class Settler(Generic[A]):
    """Shares queued intervals among ended requests once none of them can change.

    A tick (one sampler reading: a sample per device, ending at the same time)
    is settled when no request still open started before its end, or, when it
    has waited long enough, with the open requests counted up to its end and
    weighed by overlap (their tokens are not known yet). Known limit:
    a device whose reads failed for a while comes back with one long interval;
    requests that ended inside it before the previous tick are already handed
    back, so that part of its energy goes to idle.
    """

    def __init__(self) -> None:
        """Nothing queued, nothing settled."""
        self._pending: deque[_Tick] = deque()
        self._done: list[A] = []  # ended, sorted by end
        self.first_t_s: float | None = None
        """Start of the first settled interval, seconds since the run started."""
        self.settled_t_s: float | None = None
        """End of the last settled tick, seconds since the run started."""

    def add(self, samples: Sequence[Sample], ended: Sequence[A]) -> None:
        """Queue one tick's samples (may be empty) and requests that have ended."""
        if samples:
            self._pending.append(_Tick(max(s.t_s for s in samples), samples))
        if ended:
            self._done.extend(ended)
            self._done.sort(key=_END)

    def settle(
        self,
        open_since_t_s: float,
        force_until_t_s: float = -math.inf,
        open_requests: Sequence[A] = (),
    ) -> float:
        """Settle the ticks ending at or before `open_since_t_s` (the start of the
        oldest open request), and those ending at or before `force_until_t_s`
        with the `open_requests` that started before their end; returns their
        idle joules."""
        idle_j = 0.0
        while self._pending:
            end_t_s = self._pending[0].end_t_s
            if end_t_s <= open_since_t_s:
                open_now: list[A] = []
            elif end_t_s <= force_until_t_s:
                open_now = [r for r in open_requests if r.start_t_s < end_t_s]
            else:
                break
            idle_j += self._settle_tick(self._pending.popleft(), open_now)
        return idle_j

    def finish(self, up_to_t_s: float) -> list[A]:
        """Hand back the ended requests whose energy is complete (end <= `up_to_t_s`)."""
        count = bisect_right(self._done, up_to_t_s, key=_END)
        finished, self._done = self._done[:count], self._done[count:]
        return finished

    def _settle_tick(self, tick: _Tick, open_now: list[A]) -> float:
        energy_by_interval: dict[tuple[float, float], float] = {}
        for s in tick.samples:  # devices read together share one interval: share it once
            key = (s.t_s - s.duration_s, s.t_s)
            energy_by_interval[key] = energy_by_interval.get(key, 0.0) + s.energy_j
        start_t_s = min(a for a, _ in energy_by_interval)
        if self.first_t_s is None:
            self.first_t_s = start_t_s
        first = bisect_right(self._done, start_t_s, key=_END)
        requests = [r for r in self._done[first:] if r.start_t_s < tick.end_t_s]
        bounds = [(r.start_t_s, r.stop_t_s) for r in requests]
        tokens = [r.tokens for r in requests]
        requests += open_now  # still running at the tick's end: tokens unknown
        bounds += [(r.start_t_s, tick.end_t_s) for r in open_now]
        tokens += [None] * len(open_now)
        idle_j = 0.0
        for (a, b), energy_j in energy_by_interval.items():
            overlaps, busy_s = _overlaps(a, b, bounds)
            if b <= a or busy_s <= 0:
                idle_j += energy_j
                continue
            busy_j = energy_j * busy_s / (b - a)
            idle_j += energy_j - busy_j
            weights = _weights(overlaps, bounds, tokens)
            scale_j = busy_j / sum(weights)
            for request, weight, (_, stop_t_s) in zip(requests, weights, bounds, strict=True):
                if weight > 0:
                    request.add_share(weight * scale_j, a, b, stop_t_s)
        window_start_s = start_t_s if self.settled_t_s is None else self.settled_t_s
        overlaps, busy_s = _overlaps(window_start_s, tick.end_t_s, bounds)
        if busy_s > 0:
            in_flight = sum(overlaps) / busy_s
            for request, overlap_s in zip(requests, overlaps, strict=True):
                request.concurrency_s += overlap_s * in_flight
        self.settled_t_s = tick.end_t_s
        return idle_j
