"""The dashboard's data, shaped from runs with known numbers in a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carbonlens.accounting import build_report, series_settings
from carbonlens.dashboard import queries
from carbonlens.dashboard.queries import RunFilter
from carbonlens.records import IntensityPoint, IntensitySeries, RunStatus, Sample
from carbonlens.store.base import Budget, BudgetKind, BudgetPeriod
from carbonlens.units import J_PER_KWH

from .conftest import (
    BERT_G,
    CPU,
    EMBODIED_G,
    GPU,
    JAN_1,
    LIVE_G,
    LLAMA_G,
    XSS,
    StoredRuns,
    settings,
    steady,
)


def _names(table: queries.RunsTable) -> list[str]:
    return [row.info.name for row in table.rows]


def test_runs_table_lists_newest_first_with_known_totals(known: StoredRuns) -> None:
    table = queries.runs_table(known.store, RunFilter())
    assert _names(table) == [XSS, "bert-eval", "llama-ft"]
    assert table.projects == ("paper", "xss")
    t = table.totals
    assert (t.runs, t.unpriced) == (3, 0)
    assert t.facility_energy_j == pytest.approx((0.36 + 0.06 + 0.012) * J_PER_KWH)
    assert t.embodied_g == pytest.approx(EMBODIED_G)
    assert t.total_g == pytest.approx(LLAMA_G + BERT_G + LIVE_G)
    llama = table.rows[2].report
    assert llama is not None and llama.total_g == pytest.approx(LLAMA_G)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (RunFilter(project="paper"), ["bert-eval", "llama-ft"]),
        (RunFilter(status=RunStatus.RUNNING), [XSS]),
        (RunFilter(since=JAN_1 + timedelta(hours=12)), [XSS, "bert-eval"]),
        (RunFilter(text="LLAMA"), ["llama-ft"]),
        (RunFilter(text="finetune paper"), ["llama-ft"]),
        (RunFilter(text="c3333"), [XSS]),
        (RunFilter(text="nothing-like-this"), []),
    ],
)
def test_filters(known: StoredRuns, flt: RunFilter, expected: list[str]) -> None:
    assert _names(queries.runs_table(known.store, flt)) == expected


def test_totals_cover_every_matching_run_beyond_the_limit(known: StoredRuns) -> None:
    table = queries.runs_table(known.store, RunFilter(project="paper", limit=1))
    assert _names(table) == ["bert-eval"]
    assert table.truncated
    assert table.totals.runs == 2
    assert table.totals.total_g == pytest.approx(LLAMA_G + BERT_G)


def test_a_running_run_is_partial_and_priced_up_to_its_last_sample(known: StoredRuns) -> None:
    (row,) = queries.runs_table(known.store, RunFilter(project="xss")).rows
    assert row.partial and row.info.status is RunStatus.RUNNING
    assert row.report is not None
    assert row.report.duration_s == pytest.approx(600.0)
    assert row.report.total_g == pytest.approx(LIVE_G)
    assert any("partial" in n or "running" in n for n in row.report.notes)


def test_runs_that_are_over_are_priced_once(
    known: StoredRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    sums = known.store.channel_sums

    def counted(run_id: str) -> list[Sample]:
        calls.append(run_id)
        return sums(run_id)

    monkeypatch.setattr(known.store, "channel_sums", counted)
    first = queries.runs_table(known.store, RunFilter(project="paper"))
    again = queries.runs_table(known.store, RunFilter(project="paper"))
    assert [r.report for r in again.rows] == [r.report for r in first.rows]
    assert sorted(calls) == sorted(r.info.run_id for r in first.rows)  # finished: once each
    queries.runs_table(known.store, RunFilter(project="xss"))
    queries.runs_table(known.store, RunFilter(project="xss"))
    running = [r for r in calls if r not in {row.info.run_id for row in first.rows}]
    assert len(running) == 2  # the running run is priced on every request
    (row,) = first.rows[:1]
    known.store.finish_run(row.info.run_id, RunStatus.FAILED, row.info.ended_at or JAN_1, 1.0)
    calls.clear()
    queries.runs_table(known.store, RunFilter(project="paper"))
    assert calls == [row.info.run_id]  # its status changed: priced again


def test_unpriceable_settings_are_listed_and_counted(runs: StoredRuns) -> None:
    runs.add("d4444444odd", name="imported", project="old", samples=[], run_settings={})
    table = queries.runs_table(runs.store, RunFilter())
    assert table.rows[0].report is None
    assert (table.totals.runs, table.totals.unpriced, table.totals.total_g) == (1, 1, 0.0)


def test_a_time_resolved_run_is_priced_from_its_samples(runs: StoredRuns) -> None:
    """Per-channel sums would spread the energy evenly; the listing must match the report."""
    series = IntensitySeries(
        "FR",
        "test provider",
        (
            IntensityPoint(JAN_1, 1800.0, 50.0),
            IntensityPoint(JAN_1 + timedelta(minutes=30), 1800.0, 300.0),
        ),
    )
    samples = [*steady(GPU, 400.0, 1800.0, 60.0), *[s for s in steady(GPU, 0.0, 3600.0, 60.0)[30:]]]
    info = runs.add(
        "e5555555timed",
        name="timed",
        project="grid",
        samples=samples,
        run_settings=settings(intensity_series=series_settings(series)),
    )
    (row,) = queries.runs_table(runs.store, RunFilter()).rows
    stored = runs.store.get_run(info.run_id)
    assert stored is not None and row.report is not None
    expected = build_report(stored, runs.store.samples(info.run_id))
    assert row.report.operational_g == pytest.approx(expected.operational_g)
    assert row.report.operational_g == pytest.approx(
        0.2 * 1.2 * 50.0
    )  # all energy in the clean half


def test_run_page_has_samples_windows_and_alternatives(known: StoredRuns) -> None:
    page = queries.run_page(known.store, "a1111111", queries.grid_options())
    assert page is not None
    assert page.report.info.name == "llama-ft"
    assert page.report.total_g == pytest.approx(LLAMA_G)
    assert len(page.samples) == 120
    assert [w.name for w in page.report.windows] == ["epoch-1", "epoch-2"]
    assert page.report.windows[0].operational_g == pytest.approx(18.0)
    assert page.cut is not None and page.cut.alternatives
    assert all(a.saving_g > 0 for a in page.cut.alternatives)


def test_unknown_run_gives_none_and_recent_runs_are_suggested(known: StoredRuns) -> None:
    assert queries.run_page(known.store, "zzz") is None
    recent = queries.recent_runs(known.store, 2)
    assert [i.run_id for i in recent] == ["c3333333live", "b2222222bert"]


def test_compare_keeps_the_order_asked_and_reports_unknown_ids(known: StoredRuns) -> None:
    comparison = queries.compare_runs(
        known.store, ["b2222222", "a1111111llama", "b2222222bert", "nope"]
    )
    assert [r.report.info.name for r in comparison.runs] == ["bert-eval", "llama-ft"]
    assert comparison.problems == ("no run 'nope'",)
    assert comparison.channel_labels() == ["gpu gpu0 (measured)", "cpu cpu (modelled)"]
    bert, llama = comparison.runs
    assert comparison.channel_energy_j(bert, "cpu cpu (modelled)") is None
    assert comparison.channel_energy_j(llama, "cpu cpu (modelled)") == pytest.approx(360_000.0)


def test_project_page_totals_by_day_and_budget_status(known: StoredRuns) -> None:
    known.store.set_budget(Budget("paper", BudgetKind.EMISSIONS, 1.0, BudgetPeriod.TOTAL))
    page = queries.project_page(known.store, "paper", now=datetime.now(UTC))
    assert page is not None
    assert [(p.label, p.totals.runs) for p in page.periods] == [
        ("2026-01-01", 1),
        ("2026-01-02", 1),
    ]
    assert page.periods[0].totals.total_g == pytest.approx(LLAMA_G)
    assert page.periods[1].totals.facility_energy_j == pytest.approx(0.06 * J_PER_KWH)
    (status,) = page.budgets
    assert status.spent == pytest.approx((LLAMA_G + BERT_G) / 1000)


def test_project_page_groups_by_month_over_long_spans(runs: StoredRuns) -> None:
    for n, day in enumerate((JAN_1, JAN_1 + timedelta(days=40), JAN_1 + timedelta(days=100))):
        runs.add(
            f"run{n}",
            name=f"r{n}",
            project="long",
            samples=steady(CPU, 100.0, 60.0, 60.0),
            started_at=day,
        )
    page = queries.project_page(runs.store, "long", now=datetime.now(UTC))
    assert page is not None
    assert [p.label for p in page.periods] == ["2026-01", "2026-02", "2026-04"]


def test_empty_project_gives_none(known: StoredRuns) -> None:
    assert queries.project_page(known.store, "no-such-project", now=datetime.now(UTC)) is None


def test_live_rows_only_for_exact_ids(known: StoredRuns) -> None:
    rows = queries.live_rows(known.store, ["c3333333live", "c3333333", "missing"])
    assert [r.info.run_id for r in rows] == ["c3333333live"]
    assert rows[0].report is not None and rows[0].report.total_g == pytest.approx(LIVE_G)
