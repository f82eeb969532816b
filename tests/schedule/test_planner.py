"""The planner: hand-computed cases, and brute force on small random cases (hypothesis)."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import carbonlens.schedule
from carbonlens.records import Channel, Component, Method, Sample
from carbonlens.schedule import (
    Grid,
    Job,
    ScheduleError,
    best_location,
    best_window,
    pause_resume,
    profile_from_samples,
    run_now,
)
from carbonlens.schedule._pause import cheapest_chunks

T0 = datetime(2023, 1, 1, tzinfo=UTC)
H = 3600.0
VALUES = (5.0, 4.0, 3.0, 9.0, 1.0, 1.0, 8.0, 2.0, 2.0, 7.0)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def grid(values: tuple[float, ...] = VALUES, slot_s: float = H, location: str = "X") -> Grid:
    return Grid(location, T0, slot_s, values, "test")


# --- hand-computed cases -----------------------------------------------------------------


def test_flexible_start_picks_the_cleanest_window_and_prices_run_now() -> None:
    plan = best_window(grid(), Job.flat(2 * H, power_w=1000), at(0), at(10))
    assert (plan.start, plan.end) == (at(4), at(6))
    assert plan.plan_g_per_kwh == pytest.approx(1.0)
    assert plan.run_now_g_per_kwh == pytest.approx(4.5)  # (5 + 4) / 2
    assert plan.saving_g_per_kwh == pytest.approx(3.5)
    assert plan.saving_pct == pytest.approx(100 * 3.5 / 4.5)
    # 2 kWh: 2 g planned, 9 g now
    assert (plan.plan_g, plan.run_now_g, plan.saving_g) == pytest.approx((2.0, 9.0, 7.0))


def test_a_fractional_duration_may_end_on_a_boundary_rather_than_start_on_one() -> None:
    # 1.5 h: starting at 03:30 covers half of 9 then 1 → worse; at 04:00 covers 1, 1/2 of 1 → 1
    plan = best_window(grid((9.0, 9.0, 1.0, 5.0, 9.0)), Job.flat(1.5 * H), at(0), at(5))
    # ending at 03:00 (start 01:30): half of 9, then 1 → (4.5 + 1) / 1.5 = 3.67;
    # starting at 02:00: 1 + half of 5 → (1 + 2.5) / 1.5 = 2.33 — best
    assert plan.start == at(2)
    assert plan.plan_g_per_kwh == pytest.approx(3.5 / 1.5)
    plan = best_window(grid((9.0, 5.0, 1.0, 9.0, 9.0)), Job.flat(1.5 * H), at(0), at(5))
    assert plan.start == at(1.5)  # ends at 03:00: half of 5 then 1
    assert plan.plan_g_per_kwh == pytest.approx(3.5 / 1.5)


def test_window_off_the_slot_boundaries_is_respected() -> None:
    plan = best_window(grid(), Job.flat(H), at(4.25), at(5.5))
    assert at(4.25) <= plan.start and plan.end <= at(5.5)
    assert plan.plan_g_per_kwh == pytest.approx(1.0)
    assert plan.run_now_g_per_kwh == pytest.approx(1.0)


def test_profile_job_puts_its_heavy_part_on_the_clean_slot() -> None:
    job = Job.from_energies([1.0, 3.0], H)  # 1 J then 3 J
    plan = best_window(grid((5.0, 9.0, 1.0, 5.0)), job, at(0), at(4))
    # start 01:00: 0.25·9 + 0.75·1 = 3.0; start 02:00: 0.25·1 + 0.75·5 = 4.0; 00:00: 8.0
    assert plan.start == at(1)
    assert plan.plan_g_per_kwh == pytest.approx(3.0)
    assert plan.run_now_g_per_kwh == pytest.approx(0.25 * 5 + 0.75 * 9)


def test_pause_resume_takes_the_cleanest_slots_within_the_chunk_rule() -> None:
    job = Job.flat(3 * H)
    free = pause_resume(grid(), job, at(0), at(10))
    assert [(c.start, c.end) for c in free.chunks] == [(at(4), at(6)), (at(7), at(8))]
    assert free.plan_g_per_kwh == pytest.approx(4 / 3)
    assert free.resumes == 1
    two_hours = pause_resume(grid(), job, at(0), at(10), min_chunk_s=2 * H)
    assert len(two_hours.chunks) == 1 and two_hours.plan_g_per_kwh == pytest.approx(10 / 3)


def test_resume_cost_in_time_runs_overhead_before_each_later_chunk() -> None:
    plan = pause_resume(grid(), Job.flat(4 * H), at(0), at(10), resume_s=1800)
    total = sum(c.energy_ratio * c.intensity_g_per_kwh for c in plan.chunks)
    assert plan.plan_g_per_kwh == pytest.approx(total)
    assert [c.resume_s for c in plan.chunks][0] == 0.0
    assert all(c.resume_s == 1800 for c in plan.chunks[1:])
    work_s = sum((c.end - c.start).total_seconds() - c.resume_s for c in plan.chunks)
    assert work_s == 4 * H


def test_resume_cost_in_energy_can_make_one_piece_best() -> None:
    job = Job.flat(2 * H, power_w=1000)  # 2 kWh
    split = pause_resume(grid((1.0, 9.0, 1.0)), job, at(0), at(3))
    assert split.resumes == 1 and split.plan_g_per_kwh == pytest.approx(1.0)
    costly = pause_resume(grid((1.0, 9.0, 1.0)), job, at(0), at(3), resume_energy_j=36e6)
    # 10 kWh at 1 g/kWh per resume = +5 g per kWh of job: 6 > one piece at 5
    assert costly.resumes == 0 and costly.plan_g_per_kwh == pytest.approx(5.0)
    with pytest.raises(ScheduleError, match="energy"):
        pause_resume(grid(), Job.flat(H), at(0), at(3), resume_energy_j=1.0)


def test_pause_resume_splits_slots_for_durations_that_are_not_whole_slots() -> None:
    plan = pause_resume(grid((1.0, 9.0, 1.0)), Job.flat(1.5 * H), at(0), at(3), min_chunk_s=1800)
    assert plan.plan_g_per_kwh == pytest.approx(1.0)
    assert sum((c.end - c.start).total_seconds() for c in plan.chunks) == 1.5 * H
    odd = pause_resume(grid((1.0, 9.0, 1.0)), Job.flat(3000), at(0), at(3), min_chunk_s=1234)
    assert any("rounded up" in note for note in odd.notes)


def test_best_location_and_location_times_time() -> None:
    here = grid((5.0, 5.0, 1.0), location="HOME")
    there = grid((3.0, 3.0, 3.0), location="AWAY")
    now = best_location([here, there], Job.flat(H), at(0), at(3), shift=False)
    assert (now.location, now.plan_g_per_kwh, now.run_now_g_per_kwh) == ("AWAY", 3.0, 5.0)
    shifted = best_location([here, there], Job.flat(H), at(0), at(3))
    assert (shifted.location, shifted.start, shifted.plan_g_per_kwh) == ("HOME", at(2), 1.0)
    assert [p.location for p in shifted.alternatives] == ["HOME", "AWAY"]
    with pytest.raises(ScheduleError):
        best_location([here], Job.flat(H), at(0), at(3), home="NOWHERE")


def test_deadline_shorter_than_the_job_is_refused() -> None:
    with pytest.raises(ScheduleError, match="shorter than the job"):
        best_window(grid(), Job.flat(6 * H), at(0), at(5))


def test_grid_not_covering_the_window_says_which_part_is_missing() -> None:
    with pytest.raises(ScheduleError, match="2023-01-01T10:00:00Z to 2023-01-01T12:00:00Z") as e:
        run_now(grid(), Job.flat(H), at(8), at(12))
    assert e.value.missing == ((at(10), at(12)),)


def test_profile_from_samples_sums_channels_and_splits_intervals() -> None:
    cpu = Channel("cpu-tdp", Component.CPU, "cpu", Method.MODELLED)
    gpu = Channel("nvml", Component.GPU, "gpu0", Method.MEASURED)
    samples = [
        Sample(cpu, 1800.0, 1800.0, 100.0),
        Sample(gpu, 5400.0, 3600.0, 300.0),  # 150 J in each hour
        Sample(cpu, 7200.0, 5400.0, 50.0),
    ]
    job = profile_from_samples(samples, H)
    assert job.duration_s == 7200 and job.energy_j == pytest.approx(450)
    first = 100 + 150 + 50 / 3
    assert job.profile_ratios == pytest.approx((first / 450, 1 - first / 450))


def test_job_validation() -> None:
    with pytest.raises(ScheduleError):
        Job(0)
    with pytest.raises(ScheduleError):
        Job(H, profile_ratios=(0.5, 0.4), profile_slot_s=1800)
    with pytest.raises(ScheduleError):
        Job.from_energies([0.0, 0.0], H)


# --- brute force -------------------------------------------------------------------------

SLOT = 4.0  # seconds: with integer inputs every candidate start is a whole second


def _brute_flexible(
    values: list[float], segments: list[tuple[int, float]], lo: int, hi: int
) -> float:
    """Cheapest start over every whole second; the intensity is constant within a second."""
    per_second = [values[i // int(SLOT)] for i in range(len(values) * int(SLOT))]
    length = sum(s for s, _ in segments)
    best = math.inf
    for start in range(lo, hi - length + 1):
        pos, cost = start, 0.0
        for seconds, ratio in segments:
            cost += ratio * sum(per_second[pos : pos + seconds]) / seconds
            pos += seconds
        best = min(best, cost)
    return best


@st.composite
def flexible_cases(draw: st.DrawFn) -> tuple[list[float], int, int, int, list[float]]:
    n = draw(st.integers(1, 10))
    values = draw(st.lists(st.integers(0, 20).map(float), min_size=n, max_size=n))
    lo = draw(st.integers(0, n * 4 - 1))
    hi = draw(st.integers(lo + 1, n * 4))
    duration = draw(st.integers(1, hi - lo))
    ratios = draw(st.lists(st.integers(1, 5).map(float), min_size=1, max_size=3))
    return values, lo, hi, duration, ratios


@settings(max_examples=300, deadline=None, database=None)
@given(flexible_cases())
def test_flexible_start_flat_equals_brute_force(
    case: tuple[list[float], int, int, int, list[float]],
) -> None:
    values, lo, hi, duration, _ = case
    plan = best_window(grid(tuple(values), SLOT), Job.flat(duration), _s(lo), _s(hi))
    assert plan.plan_g_per_kwh == pytest.approx(_brute_flexible(values, [(duration, 1.0)], lo, hi))
    assert _s(lo) <= plan.start and plan.end <= _s(hi)


@settings(max_examples=300, deadline=None, database=None)
@given(flexible_cases())
def test_flexible_start_profile_equals_brute_force(
    case: tuple[list[float], int, int, int, list[float]],
) -> None:
    values, lo, hi, _, energies = case
    assume(len(energies) * SLOT <= hi - lo)
    job = Job.from_energies(energies, SLOT)
    segments = [(int(SLOT), r) for r in job.profile_ratios]
    plan = best_window(grid(tuple(values), SLOT), job, _s(lo), _s(hi))
    assert plan.plan_g_per_kwh == pytest.approx(_brute_flexible(values, segments, lo, hi))


def _s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _brute_chunks(
    values: list[float], weights: list[float], size: int, r: int, wo: float, e: float
) -> float:
    """Every plan of chunks (≥ size work slots, r overhead slots before later ones)."""
    n, m = len(values), len(weights)
    size = max(1, min(size, m))
    best = math.inf

    def walk(t: int, j: int, cost: float) -> None:
        nonlocal best
        if j == m:
            best = min(best, cost)
            return
        over = r if j else 0
        for start in range(t, n):
            work = start + over
            extra = e * values[start] + wo * sum(values[start:work]) if j else 0.0
            for length in range(size, m - j + 1):
                if work + length > n:
                    break
                run = sum(weights[j + i] * values[work + i] for i in range(length))
                walk(work + length, j + length, cost + extra + run)

    walk(0, 0, 0.0)
    return best


@st.composite
def chunk_cases(draw: st.DrawFn) -> tuple[list[float], list[float], int, int, float]:
    n = draw(st.integers(1, 8))
    values = draw(st.lists(st.integers(0, 20).map(float), min_size=n, max_size=n))
    m = draw(st.integers(1, n))
    flat = draw(st.booleans())
    raw = (
        [1.0] * m if flat else draw(st.lists(st.integers(1, 4).map(float), min_size=m, max_size=m))
    )
    weights = [w / sum(raw) for w in raw]
    return (
        values,
        weights,
        draw(st.integers(1, 3)),
        draw(st.integers(0, 2)),
        draw(st.sampled_from([0.0, 0.1])),
    )


@settings(max_examples=400, deadline=None, database=None)
@given(chunk_cases())
def test_pause_resume_dynamic_programme_equals_brute_force(
    case: tuple[list[float], list[float], int, int, float],
) -> None:
    values, weights, size, r, e = case
    wo = 1 / len(weights)
    expected = _brute_chunks(values, weights, size, r, wo, e)
    found = cheapest_chunks(
        values, weights, min_chunk=size, resume_slots=r, resume_weight=wo, resume_energy_ratio=e
    )
    if math.isinf(expected):
        assert found is None
        return
    assert found is not None
    cost, chunks = found
    assert cost == pytest.approx(expected)
    # the chunks themselves are valid and cost what was claimed
    size = min(size, len(weights))
    done, total, end = 0, 0.0, 0
    for i, (first, work, stop) in enumerate(chunks):
        assert first >= end and work - first == (r if i else 0) and stop - work >= size
        if i:
            total += e * values[first] + wo * sum(values[first:work])
        total += sum(weights[done + k] * values[work + k] for k in range(stop - work))
        done, end = done + stop - work, stop
    assert done == len(weights) and total == pytest.approx(cost)


@settings(max_examples=200, deadline=None, database=None)
@given(chunk_cases())
def test_pause_resume_is_never_worse_than_flexible_start(
    case: tuple[list[float], list[float], int, int, float],
) -> None:
    values, weights, size, r, _ = case
    job = Job.flat(len(weights) * H)
    end = at(len(values))
    paused = pause_resume(
        grid(tuple(values)), job, at(0), end, min_chunk_s=size * H, resume_s=r * H
    )
    single = best_window(grid(tuple(values)), job, at(0), end)
    assert paused.plan_g_per_kwh <= single.plan_g_per_kwh + 1e-9
    assert paused.plan_g_per_kwh <= paused.run_now_g_per_kwh + 1e-9


def test_public_api_is_sorted_and_import_carbonlens_stays_light() -> None:
    assert carbonlens.schedule.__all__ == sorted(carbonlens.schedule.__all__)
    assert all(getattr(carbonlens.schedule, name) for name in carbonlens.schedule.__all__)
    code = "import sys, carbonlens; print('carbonlens.schedule' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
