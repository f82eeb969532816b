"""The dashboard's pages and JSON through Starlette's TestClient (and one real server)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from carbonlens import cli_dashboard
from carbonlens.dashboard import app as app_module
from carbonlens.dashboard.app import create_app
from carbonlens.dashboard.security import CSP
from carbonlens.dashboard.server import check_bind, dashboard_url
from carbonlens.errors import ConfigError
from carbonlens.store import open_store
from carbonlens.store.base import Budget, BudgetKind, BudgetPeriod, Store
from carbonlens.store.transfer import copy_runs

from .conftest import BERT_G, LIVE_G, LLAMA_G, XSS, StoredRuns, serving

LOCAL = "http://127.0.0.1"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def client(known: StoredRuns) -> Iterator[TestClient]:
    with TestClient(create_app(known.path), base_url=LOCAL) as client:
        yield client


def test_runs_page_escapes_names_and_shows_totals(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert ESCAPED in page.text
    assert XSS not in page.text
    assert "llama-ft" in page.text and "bert-eval" in page.text
    assert "432.000 Wh" in page.text  # facility energy: 0.36 + 0.06 + 0.012 kWh
    assert "partial: running" in page.text


@pytest.mark.parametrize(
    "path", ["/runs/c3333333live", "/compare?run=c3333333live", "/projects/xss"]
)
def test_every_page_escapes_a_run_name(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert ESCAPED in page.text
    assert XSS not in page.text


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/runs/nope", "/static/dashboard.css", "/api/runs", "/no/such/page"):
        headers = client.get(path).headers
        assert headers["content-security-policy"] == CSP, path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("project=paper", ["llama-ft", "bert-eval"], [ESCAPED]),
        ("status=running", [ESCAPED], ["llama-ft", "bert-eval"]),
        ("q=LLAMA", ["llama-ft"], ["bert-eval", ESCAPED]),
        ("since=12h", [ESCAPED], ["llama-ft", "bert-eval"]),
        ("since=2026-01-02", [ESCAPED, "bert-eval"], ["llama-ft"]),
    ],
)
def test_filters(client: TestClient, query: str, shown: list[str], hidden: list[str]) -> None:
    page = client.get(f"/?{query}")
    assert page.status_code == 200
    rows = page.text.split("<tbody>", 1)[1]
    assert all(name in rows for name in shown)
    assert not any(name in rows for name in hidden)


@pytest.mark.parametrize(
    ("query", "message"),
    [("status=done", "unknown status"), ("since=yesterday", "since:"), ("limit=0", "limit")],
)
def test_bad_filters_are_explained(client: TestClient, query: str, message: str) -> None:
    page = client.get(f"/?{query}")
    assert page.status_code == 400
    assert message in page.text
    assert client.get(f"/api/runs?{query}").json()["error"].startswith(message.split()[0])


def test_api_runs_has_rows_and_totals_with_units(client: TestClient) -> None:
    doc = client.get("/api/runs?project=paper").json()
    assert [r["name"] for r in doc["runs"]] == ["bert-eval", "llama-ft"]
    assert doc["totals"]["total_gco2e"] == pytest.approx(LLAMA_G + BERT_G)
    assert doc["totals"]["facility_energy_kwh"] == pytest.approx(0.42)
    assert doc["runs"][1]["total_gco2e"] == pytest.approx(LLAMA_G)


def test_run_page_has_plots_windows_and_alternatives(client: TestClient) -> None:
    page = client.get("/runs/a1111111")  # a unique prefix
    assert page.status_code == 200
    assert page.text.count("<svg") >= 5
    for text in ("Power", "Cumulative emissions", "epoch-2", "How to cut it", "Methods"):
        assert text in page.text
    assert "/static/live.js" not in page.text  # finished: nothing to update


def test_running_run_is_marked_partial_and_updates_live(client: TestClient) -> None:
    page = client.get("/runs/c3333333live")
    assert "partial: running" in page.text
    assert "/static/live.js" in page.text
    assert 'data-section-src="/runs/c3333333live/section"' in page.text
    live = client.get("/api/live", params={"run": "c3333333live"}).json()["runs"]
    assert live == [
        {
            "run_id": "c3333333live",
            "status": "running",
            "duration_s": 600.0,
            "duration": "0:10:00",
            "energy": "12.000 Wh",
            "total": f"{LIVE_G:.3f} g",
        }
    ]
    section = client.get("/runs/c3333333live/section")
    assert section.text.startswith('<section id="run-c3333333live">')
    assert client.get("/static/live.js").status_code == 200


def test_unknown_run_is_404_with_recent_runs(client: TestClient) -> None:
    page = client.get("/runs/zzz")
    assert page.status_code == 404
    assert "no run &#39;zzz&#39;" in page.text
    assert 'href="/runs/c3333333live"' in page.text and "bert-eval" in page.text
    doc = client.get("/api/runs/zzz")
    assert doc.status_code == 404
    assert [r["run_id"] for r in doc.json()["recent_runs"]][:2] == ["c3333333live", "b2222222bert"]


def test_api_run_is_the_report_document(client: TestClient) -> None:
    doc = client.get("/api/runs/a1111111llama").json()
    assert doc["schema"] == "carbonlens.run/1"
    assert doc["total_gco2e"] == pytest.approx(LLAMA_G)


def test_compare_puts_runs_side_by_side(client: TestClient) -> None:
    page = client.get("/compare?run=a1111111llama&run=b2222222bert&run=nope")
    assert page.status_code == 200
    assert page.text.index("llama-ft") < page.text.index("bert-eval")
    assert "no run &#39;nope&#39;" in page.text
    assert page.text.count("<svg") == 3
    assert "Choose runs" in client.get("/compare").text


def test_project_page_has_totals_over_time_and_budgets(
    known: StoredRuns, client: TestClient
) -> None:
    known.store.set_budget(Budget("paper", BudgetKind.EMISSIONS, 0.01, BudgetPeriod.TOTAL))
    page = client.get("/projects/paper")
    assert page.status_code == 200
    for text in ("2026-01-01", "2026-01-02", "Budgets", "over", "Cumulative emissions"):
        assert text in page.text
    missing = client.get("/projects/nothing")
    assert missing.status_code == 404
    assert "projects: paper, xss" in missing.text


def test_missing_store_is_explained(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "none.db"), base_url=LOCAL) as client:
        page = client.get("/")
    assert page.status_code == 503
    assert "no run store at" in page.text


def test_without_a_token_only_loopback_hosts_are_answered(known: StoredRuns) -> None:
    app = create_app(known.path)
    for base, status in [
        ("http://127.0.0.1:8150", 200),
        ("http://localhost:8150", 200),
        ("http://[::1]:8150", 200),
        ("http://testserver", 400),
        ("http://attacker.example:8150", 400),
    ]:
        with TestClient(app, base_url=base) as client:
            assert client.get("/api/runs").status_code == status, base


def test_with_a_token_every_request_must_carry_it(known: StoredRuns) -> None:
    app = create_app(known.path, token="s3cret-token")
    with TestClient(app, base_url="http://dashboard.example:8150") as client:
        refused = client.get("/")
        assert refused.status_code == 401
        assert "s3cret" not in refused.text
        assert client.get("/", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert client.get("/", headers={"X-Carbonlens-Token": "s3cret-token"}).status_code == 200
        assert client.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/static/live.js").status_code == 401
        assert client.get("/?token=wrong").status_code == 401
        accepted = client.get("/?project=paper&token=s3cret-token", follow_redirects=False)
        assert accepted.status_code == 303
        assert accepted.headers["location"] == "/?project=paper"
        assert "httponly" in accepted.headers["set-cookie"].lower()
        assert client.get("/?project=paper").status_code == 200  # the cookie now
        client.cookies.clear()
        assert client.get("/").status_code == 401


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "dashboard.example"])
def test_binding_beyond_loopback_needs_a_token(host: str) -> None:
    with pytest.raises(ConfigError, match="without a token"):
        check_bind(host, None)
    check_bind(host, "a-long-random-token")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_needs_no_token(host: str) -> None:
    check_bind(host, None)


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(ConfigError, match="empty"):
        check_bind("0.0.0.0", " ")


def test_dashboard_url() -> None:
    assert dashboard_url("127.0.0.1", 8150) == "http://127.0.0.1:8150/"
    assert dashboard_url("::1", 9000) == "http://[::1]:9000/"
    assert dashboard_url("0.0.0.0", 80, "t") == "http://127.0.0.1:80/?token=t"


def test_real_server_on_loopback(known: StoredRuns) -> None:
    with serving(known.path) as base, httpx.Client(base_url=base) as http:
        page = http.get("/")
        assert page.status_code == 200 and ESCAPED in page.text
        assert http.get("/api/runs").json()["totals"]["runs"] == 3


def test_cli_without_the_extra_prints_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_dashboard, "EXTRA_PACKAGES", ("starlette", "no_such_package_here"))
    result = CliRunner().invoke(cli_dashboard.dashboard_command, [])
    assert result.exit_code == 2
    assert "pip install 'carbonlens[dashboard]'" in result.output


def test_cli_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    store = str(tmp_path / "runs.db")
    result = CliRunner().invoke(
        cli_dashboard.dashboard_command, ["--store", store, "--host", "0.0.0.0"], env={}
    )
    assert result.exit_code == 2
    assert "without a token" in result.output


def test_a_jsonl_fallback_file_is_read_too(tmp_path: Path) -> None:
    from carbonlens.store.jsonl import JsonlStore

    from .conftest import GPU, steady

    path = tmp_path / "fallback.jsonl"
    stored = StoredRuns(JsonlStore(path), path)  # type: ignore[arg-type]
    try:
        stored.add(
            "f6666666", name="kept-aside", project="p", samples=steady(GPU, 100.0, 60.0, 60.0)
        )
    finally:
        stored.store.close()
    with TestClient(create_app(path), base_url=LOCAL) as client:
        assert "kept-aside" in client.get("/").text
        assert client.get("/runs/f6666666").status_code == 200


def test_importing_carbonlens_or_the_command_loads_no_web_package() -> None:
    code = (
        "import sys, carbonlens, carbonlens.cli_dashboard\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'starlette', 'jinja2', 'uvicorn'} or m.startswith('carbonlens.dashboard')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_project_page_plots_quality_against_energy(known: StoredRuns, client: TestClient) -> None:
    from carbonlens.store.base import MetricPoint

    known.store.log_metrics("a1111111llama", [MetricPoint("accuracy", 1, 0.9, 10.0)])
    known.store.log_metrics("b2222222bert", [MetricPoint("accuracy", 1, 0.7, 10.0)])
    page = client.get("/projects/paper")
    assert page.status_code == 200
    assert "Quality vs cost" in page.text
    assert "accuracy vs energy (kWh): Pareto front" in page.text
    assert page.text.count('<circle class="run"') == 2  # both on the front: none dominates
    section = page.text.split("Quality vs cost", 1)[1].split("</svg>", 1)[0]
    assert "<svg" in section and "<script" not in section
    assert "Quality vs cost" not in client.get("/projects/xss").text  # no metric logged


class _Opened:
    """Counts the stores the dashboard opens and closes (wrapping the real opener)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened = 0
        self.closed = 0
        real = app_module.open_existing_store

        def opener(target: str | Path) -> Store:
            store = real(target)
            self.opened += 1
            close = store.close

            def counted_close() -> None:
                self.closed += 1
                close()

            store.close = counted_close  # type: ignore[method-assign]
            return store

        monkeypatch.setattr(app_module, "open_existing_store", opener)


def test_a_store_file_is_opened_for_each_request(
    known: StoredRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    # so that a run written, or a file replaced by `doctor --repair`, shows at once
    opened = _Opened(monkeypatch)
    with TestClient(create_app(known.path), base_url=LOCAL) as client:
        for _ in range(4):
            assert client.get("/api/runs?project=paper").status_code == 200
    assert (opened.opened, opened.closed) == (4, 4)


def test_a_postgresql_store_is_opened_once_and_closed_at_shutdown(
    known: StoredRuns, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, _ = open_store(postgres_url, fallback_dir=known.path.parent / "fallback")
    try:
        copy_runs(known.store, target)
    finally:
        target.close()
    opened = _Opened(monkeypatch)
    with TestClient(create_app(postgres_url), base_url=LOCAL) as client:
        for _ in range(4):
            doc = client.get("/api/runs?project=paper").json()
            assert doc["totals"]["total_gco2e"] == pytest.approx(LLAMA_G + BERT_G)
        assert client.get("/runs/a1111111").status_code == 200
        assert (opened.opened, opened.closed) == (1, 0)
    assert opened.closed == 1
