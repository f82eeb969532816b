"""The dashboard in a real headless Chromium against a real server on 127.0.0.1.

Needs Debian's chromium (`apt-get install chromium`) and the playwright package
(its own browser download is not used); skipped, with the reason, without them.
Screenshots are saved under the test's tmp_path and their paths printed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from carbonlens.records import RunStatus

from .conftest import CPU, XSS, StoredRuns, serving, steady

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM = os.environ.get("CARBONLENS_TEST_CHROMIUM") or shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no chromium on PATH (Debian: apt-get install chromium; "
        "or set CARBONLENS_TEST_CHROMIUM to a Chromium binary)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    with sync_api.sync_playwright() as playwright:
        # launch() gives the browser a fresh temporary profile (user data dir) of its own
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Watched:
    """A page whose console errors, uncaught errors, dialogs and requests are recorded."""

    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.base = base
        self.problems: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: self.problems.append(f"dialog: {dialog.message}"))
        page.on("request", lambda request: self.requests.append(request.url))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def check(self) -> None:
        """No console error, no page error, no dialog, no request beyond the server."""
        assert self.problems == []
        outside = [url for url in self.requests if not url.startswith(self.base + "/")]
        assert outside == []


def _screenshot(page: Page, path: Path, height: int | None = None) -> None:
    """Save the page (its top `height` pixels if given) and print where."""
    if height is None:
        page.screenshot(path=str(path), full_page=True)
    else:
        page.screenshot(
            path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": 1200, "height": height}
        )
    print(f"screenshot: {path}")


def test_runs_filter_run_page_and_compare(
    browser: Browser, known: StoredRuns, tmp_path: Path
) -> None:
    with serving(known.path) as base:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        try:
            watched = Watched(context.new_page(), base)
            page = watched.page
            page.goto(base + "/")
            rows = page.locator("table.runs tbody tr")
            assert rows.count() == 3
            assert page.locator("a.run-link", has_text=XSS).count() == 1  # shown as text
            _screenshot(page, tmp_path / "dashboard-runs.png")

            page.select_option("select[name=project]", "paper")
            page.get_by_role("button", name="Filter").click()
            page.wait_for_url("**/?project=paper*")
            assert rows.count() == 2

            page.get_by_role("link", name="llama-ft").click()
            page.wait_for_url("**/runs/a1111111llama")
            charts = page.locator("svg.chart")
            assert charts.count() >= 5
            assert page.locator("svg.chart polyline").count() >= 4
            assert charts.first.bounding_box() is not None
            assert page.get_by_role("heading", name="How to cut it").count() == 1
            _screenshot(page, tmp_path / "dashboard-run.png", height=1500)

            page.goto(base + "/")
            page.get_by_role("checkbox", name="compare llama-ft").check()
            page.get_by_role("checkbox", name="compare bert-eval").check()
            page.get_by_role("button", name="Compare selected runs").click()
            page.wait_for_url("**/compare?*")
            assert page.locator("svg.chart").count() == 3
            watched.check()
        finally:
            context.close()


def test_a_running_run_updates_live(browser: Browser, known: StoredRuns) -> None:
    with serving(known.path) as base:
        context = browser.new_context()
        try:
            watched = Watched(context.new_page(), base)
            page = watched.page
            page.goto(base + "/runs/c3333333live")
            strip = page.locator("p.strip [data-field=duration]")
            assert strip.inner_text() == "0:10:00"
            known.store.append_samples("c3333333live", steady(CPU, 60.0, 660.0, 10.0)[60:])
            expect = pytest.importorskip("playwright.sync_api").expect
            expect(strip).to_have_text("0:11:00", timeout=20_000)  # polled every 5 s
            expect(page.locator("#run-section")).to_contain_text("0:11:00", timeout=20_000)
            known.store.finish_run("c3333333live", RunStatus.FINISHED, datetime.now(UTC), 660.0)
            expect(page.locator("p.strip")).not_to_have_attribute(
                "data-live-run", "c3333333live", timeout=20_000
            )
            assert "partial" not in page.locator("p.strip").inner_text()
            watched.check()
        finally:
            context.close()
