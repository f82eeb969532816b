"""The dashboard: loopback by default, a token checked in constant time, text escaped,
nothing loaded from off the machine."""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("starlette")
pytest.importorskip("jinja2")
from starlette.testclient import TestClient  # noqa: E402

from carbonlens import cli_dashboard  # noqa: E402
from carbonlens.dashboard import security  # noqa: E402
from carbonlens.dashboard.app import create_app  # noqa: E402
from carbonlens.dashboard.server import DEFAULT_HOST, check_bind  # noqa: E402
from carbonlens.errors import ConfigError  # noqa: E402

from .conftest import RUN_ID  # noqa: E402

DASHBOARD = Path(security.__file__).parent


@pytest.fixture
def client(store_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(store_path), base_url="http://127.0.0.1") as test_client:
        yield test_client


PAGES = [
    "/",
    "/?q=%3Cscript%3E",
    f"/runs/{RUN_ID}",
    f"/runs/{RUN_ID}/section",
    f"/compare?run={RUN_ID}",
    "/projects/p%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "/runs/%3Cscript%3Ealert(1)%3C%2Fscript%3E",  # an unknown id is shown back
    "/api/runs",
    f"/api/runs/{RUN_ID}",
    f"/api/live?run={RUN_ID}",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_escapes_user_text(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (200, 404), response.text[:300]
    body = response.text
    if response.headers["content-type"].startswith("text/html"):
        assert "<script>alert" not in body
        # the only script element is the dashboard's own file; no inline script
        # could be closed early by a `</script>` in embedded data
        assert re.findall(r"<script\b[^>]*>", body) in (
            [],
            ['<script src="/static/live.js" defer>'],
        )
        assert body.count("</script>") == len(re.findall(r"<script\b", body))
        assert "<!--" not in body.replace("<!DOCTYPE", "")
    else:  # JSON is data, never rendered: the browser may not sniff it into HTML
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_the_run_page_shows_the_hostile_text_escaped(client: TestClient) -> None:
    body = client.get(f"/runs/{RUN_ID}").text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#34;&#39;&amp;" in body


def test_default_bind_is_loopback() -> None:
    host = next(p for p in cli_dashboard.dashboard_command.params if p.name == "host")
    assert host.default == DEFAULT_HOST == "127.0.0.1"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org"])
def test_a_public_bind_without_a_token_is_refused(host: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"refusing to serve the dashboard on {host}"):
        check_bind(host, None)
    check_bind(host, "a-long-random-token")  # with a token it may
    args = ["--store", str(tmp_path / "runs.db"), "--host", host]
    result = CliRunner().invoke(cli_dashboard.dashboard_command, args, env={})
    assert result.exit_code == 2 and "without a token" in result.output
    assert "Traceback" not in result.output


def test_the_token_is_compared_in_constant_time(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", recording)
    token = "s3cret-token-value"
    app = create_app(store_path, token=token)
    with TestClient(app, base_url="http://192.168.1.20:8150") as client:
        assert client.get("/api/runs").status_code == 401  # no token
        assert not compared  # nothing to compare
        wrong = client.get("/api/runs", headers={"Authorization": "Bearer s3cret-token-valuX"})
        assert wrong.status_code == 401
        right = client.get("/api/runs", headers={"Authorization": f"Bearer {token}"})
        assert right.status_code == 200 and right.json()["runs"]
        other = client.get("/api/runs", headers={"X-Carbonlens-Token": "short"})
        assert other.status_code == 401
    assert compared == [
        (b"s3cret-token-valuX", token.encode()),
        (token.encode(), token.encode()),
        (b"short", token.encode()),
    ]


def test_without_a_token_a_foreign_host_name_is_refused(store_path: Path) -> None:
    with TestClient(create_app(store_path), base_url="http://attacker.example") as client:
        response = client.get("/api/runs")
    assert response.status_code == 400 and "attacker.example" in response.text


_URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+""")
_ALLOWED = {"//www.w3.org"}  # SVG/XHTML namespace names, never fetched


def _off_machine_urls(text: str) -> set[str]:
    found = {m.group(0) for m in _URL.finditer(text)}
    return {url for url in found if url.split(":", 1)[-1] not in _ALLOWED and url not in _ALLOWED}


def test_templates_and_static_files_load_nothing_from_elsewhere() -> None:
    files = [*(DASHBOARD / "templates").glob("*"), *(DASHBOARD / "static").glob("*")]
    assert len(files) >= 5
    for path in files:
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE)  # JS line comments
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)  # CSS and JS block comments
        assert not _off_machine_urls(text), f"{path.name}: {_off_machine_urls(text)}"


def test_rendered_pages_load_nothing_from_elsewhere(client: TestClient) -> None:
    for path in PAGES:
        text = client.get(path).text
        sources = re.findall(r"""(?:src|href|action)\s*=\s*["']([^"']*)""", text)
        assert all(not s.startswith(("http:", "https:", "//")) for s in sources), (path, sources)
        assert not _off_machine_urls(text), (path, _off_machine_urls(text))
    assert "default-src 'none'" in client.get("/").headers["content-security-policy"]


@pytest.mark.parametrize("limit", ["0", "-1", "²", "1" + "0" * 30, "x", "1.5"])
def test_a_bad_limit_is_a_400_not_a_crash(client: TestClient, limit: str) -> None:
    response = client.get("/api/runs", params={"limit": limit})
    assert response.status_code == 400 and "is not a whole number from 1 to" in response.text
