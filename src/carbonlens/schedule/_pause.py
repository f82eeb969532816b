"""Exact pause-and-resume on a slot grid, by dynamic programming.

The job is `m` work slots with energy weights `w[0..m-1]` (shares of the job's
energy), run in order. The window is `n` slots with intensities `V[0..n-1]`. A
plan runs the work in chunks of consecutive slots; every chunk has at least `L`
work slots; every chunk after the first starts with `r` resume slots that do no
work (each with weight `wo`) and costs `e` (a share of the job's energy) at its
first slot. The cost of a plan is Σ weight × intensity over its slots.

States, for `t` slots elapsed and `j` work slots done:

* `pause[t][j]`: cheapest cost with no chunk running at `t`;
* `run[t][j]`: cheapest cost with a chunk of at least `L` work slots ending at `t`.

    run[t][j]   = min( run[t-1][j-1] + w[j-1]·V[t-1],                     extend a chunk
                       pause[t-L-r][j-L] + overhead(t-L-r)                 a new chunk whose
                       + Σ_{i<L} w[j-L+i]·V[t-L+i] )                       first L work slots
                                                                           end at t
    pause[t][j] = min( pause[t-1][j], run[t][j] );   pause[t][0] = 0

with no overhead for the first chunk (`j = L`). Every plan has exactly one
decomposition into these steps, so `pause[n][m]` is the optimum; the window sums
come from diagonal prefix sums in O(1), and the whole is O(n·m) time and memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import accumulate, repeat
from operator import add, mul

__all__ = ["cheapest_chunks"]

_EXTEND = 1
_NEW = 2

ChunkSlots = tuple[int, int, int]
"""(first slot incl. resume overhead, first work slot, end slot exclusive)."""


def cheapest_chunks(
    values: Sequence[float],
    weights: Sequence[float],
    *,
    min_chunk: int,
    resume_slots: int = 0,
    resume_weight: float = 0.0,
    resume_energy_ratio: float = 0.0,
) -> tuple[float, list[ChunkSlots]] | None:
    """The cheapest way to run the work in chunks within the window.

    Args:
        values: intensity of each slot of the window, gCO2e/kWh.
        weights: energy share of each work slot, in order (usually summing to 1).
        min_chunk: fewest work slots in a chunk (capped at the job's length).
        resume_slots: slots of overhead before the work of each later chunk.
        resume_weight: energy share of one overhead slot.
        resume_energy_ratio: extra energy share charged at each later chunk's first slot.

    Returns:
        (cost in g per kWh of job, chunks in time order), or None when the job
        does not fit in the window.
    """
    n, m = len(values), len(weights)
    size = max(1, min(min_chunk, m))
    r = max(0, resume_slots)
    if m == 0 or m > n:
        return None
    inf = math.inf
    prefix = list(accumulate(values, initial=0.0))
    diag = [[0.0] * (m + 1)]
    for v in values:
        diag.append([0.0, *map(add, diag[-1][:m], map(mul, weights, repeat(v)))])
    pause = [[0.0, *repeat(inf, m)]]
    run_prev = [inf] * (m + 1)
    how: list[bytearray] = [bytearray(m + 1)]
    from_run: list[bytearray] = [bytearray(m + 1)]
    for t in range(1, n + 1):
        v = values[t - 1]
        p_prev, d_t = pause[t - 1], diag[t]
        d_back = diag[t - size] if t >= size else None
        a = t - size - r
        p_back = pause[a] if a >= 0 else None
        overhead = (
            resume_energy_ratio * values[a] + resume_weight * (prefix[a + r] - prefix[a])
            if a >= 0
            else inf
        )
        run_t, p_t = [inf] * (m + 1), [0.0] * (m + 1)
        how_t, from_t = bytearray(m + 1), bytearray(m + 1)
        for j in range(1, m + 1):
            best, step = run_prev[j - 1] + weights[j - 1] * v, _EXTEND
            if d_back is not None and j >= size:
                if j == size:
                    fresh = d_t[j]
                elif p_back is not None:
                    fresh = p_back[j - size] + overhead + d_t[j] - d_back[j - size]
                else:
                    fresh = inf
                if fresh < best:
                    best, step = fresh, _NEW
            if best < inf:
                run_t[j], how_t[j] = best, step
            if best < p_prev[j]:
                p_t[j], from_t[j] = best, 1
            else:
                p_t[j] = p_prev[j]
        pause.append(p_t)
        how.append(how_t)
        from_run.append(from_t)
        run_prev = run_t
    if pause[n][m] == inf:
        return None
    return pause[n][m], _chunks(n, m, size, r, how, from_run)


def _chunks(
    n: int, m: int, size: int, r: int, how: list[bytearray], from_run: list[bytearray]
) -> list[ChunkSlots]:
    """Walk the choices back from (n, m) to the chunks of the optimal plan."""
    chunks: list[ChunkSlots] = []
    t, j = n, m
    while j > 0:
        if not from_run[t][j]:
            t -= 1
            continue
        end = t
        while how[t][j] == _EXTEND:
            t, j = t - 1, j - 1
        work_start = t - size
        first = work_start - (0 if j == size else r)
        chunks.append((first, work_start, end))
        t, j = first, j - size
    chunks.reverse()
    return chunks
