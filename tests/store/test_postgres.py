"""The PostgreSQL store: URLs and their secrets, unreachable servers and the local
fallback, migrations, and many processes writing at once.

The Store contract itself runs against PostgreSQL in test_sqlite.py and
test_metrics_budgets.py. Servers are real (conftest.py: a fresh database per
test); an unreachable one is a closed port on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from carbonlens.config import Settings, load_settings
from carbonlens.errors import StoreError
from carbonlens.records import Channel, Component, Method, RunInfo, Sample
from carbonlens.store import (
    SqliteStore,
    default_store_target,
    is_database_url,
    local_store_path,
    open_existing_store,
    open_store,
    open_writable_store,
    store_label,
    store_path,
)
from carbonlens.store._url import mask_url, parse_database_url
from carbonlens.store.base import Budget, BudgetKind, BudgetPeriod, MetricPoint, Store
from carbonlens.testing.fakes import FakeClock, FakeSensor, FakeShares
from carbonlens.tracking.tracker import Tracker

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CPU = Channel("rapl", Component.CPU, "package-0", Method.MEASURED)
SECRET = "s3cr@t"
SECRET_IN_URL = "s3cr%40t"  # the same password, as a URL writes it


def run_info(run_id: str, **changes: Any) -> RunInfo:
    fields: dict[str, Any] = {
        "run_id": run_id,
        "project": "p",
        "name": "n",
        "started_at": T0,
        "host": "node-1",
        "pid": 4242,
    }
    return RunInfo(**(fields | changes))


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def with_password(url: str) -> str:
    """`url` with user postgres and password SECRET (the test server trusts any password)."""
    parts = urlsplit(url)
    netloc = f"postgres:{SECRET_IN_URL}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text and SECRET_IN_URL not in text, text


# --- URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://ada:pw@db:5433/runs", "postgresql://ada:***@db:5433/runs"),
        ("postgres://ada@db/runs", "postgres://ada@db/runs"),
        (
            "postgresql+psycopg://a:b:c@[::1]/r?sslmode=require",
            "postgresql+psycopg://a:***@[::1]/r?sslmode=require",
        ),
        ("postgresql://db/runs?user=a&password=pw", "postgresql://db/runs?user=a&password=***"),
        ("postgresql://u:p@w@db/runs", "postgresql://u:***@db/runs"),  # '@' in the password
        ("postgresql://u:p/w?x@db/runs", "postgresql://u:***@db/runs"),  # '/' and '?' too
        (
            "postgresql://db/r?PassWord=a&sslpassword=b",
            "postgresql://db/r?PassWord=***&sslpassword=***",
        ),
    ],
)
def test_urls_are_shown_with_the_password_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert store_label(url) == masked
    assert is_database_url(url)


def test_the_driver_gets_the_real_password_and_parameters() -> None:
    from carbonlens.store.postgres import _engine

    target = parse_database_url(
        f"postgres://ada:{SECRET_IN_URL}@db/runs?sslmode=require&sslpassword=k%26y&connect_timeout=3"
    )
    engine = _engine(target, connect_timeout_s=10.0)
    try:
        url = engine.url
        assert (url.drivername, url.username, url.password) == ("postgresql+psycopg", "ada", SECRET)
        assert (url.host, url.port, url.database) == ("db", None, "runs")
        assert dict(url.query) == {
            "sslmode": "require",
            "sslpassword": "k&y",
            "connect_timeout": "3",
        }
        assert_no_secret(repr(engine), repr(target))
    finally:
        engine.dispose()


def test_database_urls_are_told_from_files() -> None:
    assert not is_database_url("runs.db")
    assert not is_database_url("sqlite:///runs.db")
    assert not is_database_url(Path("postgresql://x"))
    assert store_label("sqlite:////data/runs.db") == "/data/runs.db"
    with pytest.raises(StoreError, match="database server, not a file") as caught:
        store_path(f"postgresql://ada:{SECRET_IN_URL}@db/runs")
    assert_no_secret(str(caught.value), caught.value.path)
    with pytest.raises(StoreError, match="unsupported store URL mysql://") as caught:
        store_path(f"mysql://ada:{SECRET_IN_URL}@db/runs")
    assert_no_secret(str(caught.value), caught.value.path)


def test_url_parts_and_unusable_urls() -> None:
    parsed = parse_database_url(f"postgres://ada:{SECRET_IN_URL}@db.example/runs")
    assert (parsed.host, parsed.port, parsed.database) == ("db.example", 5432, "runs")
    assert set(parsed.secrets) == {SECRET, SECRET_IN_URL}
    assert_no_secret(repr(parsed))
    with pytest.raises(StoreError, match="masked password"):
        parse_database_url("postgresql://ada:***@db/runs")
    with pytest.raises(StoreError, match="cannot read the store URL") as caught:
        parse_database_url(f"postgresql://ada:{SECRET_IN_URL}@db:port/runs")
    assert_no_secret(str(caught.value))


def test_default_target_and_local_store() -> None:
    env = {"HOME": "/h", "CARBONLENS_STORE": "postgresql://db/runs"}
    assert default_store_target(env) == "postgresql://db/runs"
    assert local_store_path(env) == Path("/h/.local/share/carbonlens/runs.db")
    assert default_store_target({"XDG_DATA_HOME": "/d"}) == "/d/carbonlens/runs.db"
    assert load_settings(env={"CARBONLENS_STORE_FALLBACK": "LOCAL"}, paths=[]).store_fallback == (
        "local"
    )


# --- unreachable servers --------------------------------------------------------------


def unreachable_url() -> str:
    return f"postgresql://ada:{SECRET_IN_URL}@127.0.0.1:{closed_port()}/runs"


def test_unreachable_server_is_a_clear_error_without_the_password(tmp_path: Path) -> None:
    url = unreachable_url()
    port = urlsplit(url).port
    with pytest.raises(StoreError) as caught:
        open_store(url, fallback_dir=tmp_path / "fb")

    message = str(caught.value)
    assert f"host 127.0.0.1, port {port}, database runs" in message
    assert "refused" in message.lower()
    assert 'store_fallback = "local"' in message
    assert caught.value.path == f"postgresql://ada:***@127.0.0.1:{port}/runs"
    everything = "".join(traceback.format_exception(caught.value))  # the causes too
    assert_no_secret(message, caught.value.path, everything)
    assert not (tmp_path / "fb").exists()


def test_unreachable_server_with_local_fallback_keeps_the_run_locally(tmp_path: Path) -> None:
    url = unreachable_url()
    local = tmp_path / "share" / "runs.db"

    store, message = open_store(url, fallback_dir=tmp_path / "fb", local_fallback=local)
    with closing(store):
        store.create_run(run_info("r1"))

    assert isinstance(store, SqliteStore) and store.location == str(local)
    assert message is not None
    assert f"kept in the local store {local}" in message
    assert f"carbonlens sync {local} --to {mask_url(url)}" in message
    assert_no_secret(message)
    with closing(SqliteStore(local)) as again:
        assert again.get_run("r1") == run_info("r1")


def test_tracker_with_unreachable_store_stops_before_the_run_starts(tmp_path: Path) -> None:
    sensor = FakeSensor(CPU, energy_j=[0.0])
    tracker = Tracker(store=unreachable_url(), sensors=[sensor], settings=Settings())
    with pytest.raises(StoreError, match="cannot open the PostgreSQL run store") as caught:
        tracker.start()
    assert_no_secret(str(caught.value))
    assert sensor.closed


def test_tracker_falls_back_to_the_local_store_when_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    clock = FakeClock()
    tracker = Tracker(
        store=unreachable_url(),
        sensors=[FakeSensor(CPU, energy_j=[0.0, 50.0])],
        settings=Settings(store_fallback="local"),
        clock=clock,
        shares=FakeShares(cpu_ratio=1.0),
        interval_s=3600.0,
    )
    with caplog.at_level(logging.WARNING, logger="carbonlens"), tracker:
        clock.advance(10.0)
    report = tracker.report

    local = tmp_path / "data" / "carbonlens" / "runs.db"
    assert report is not None and report.store_location == str(local)
    assert any("carbonlens sync" in note for note in report.notes)
    with closing(SqliteStore(local)) as store:
        assert sum(s.energy_j for s in store.samples(tracker.run_id)) == 50.0  # 50 J - 0 J
    assert_no_secret(json.dumps(report.to_dict()), caplog.text)


def test_carbonlens_run_exits_before_starting_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "carbonlens",
            "run",
            "--store",
            unreachable_url(),
            "--",
            sys.executable,
            "-c",
            f"open({str(marker)!r}, 'w').close()",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CARBONLENS_SENSORS": "cpu-tdp"},
    )

    assert done.returncode != 0
    assert "cannot open the PostgreSQL run store" in done.stderr
    assert not marker.exists()
    assert_no_secret(done.stdout, done.stderr)


def test_missing_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "carbonlens.store.postgres", raising=False)
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(StoreError, match=r"pip install 'carbonlens\[postgres\]'") as caught:
        open_existing_store(unreachable_url())
    assert "sqlalchemy is missing" in str(caught.value)
    assert_no_secret(str(caught.value))


def test_sqlite_use_never_imports_sqlalchemy(tmp_path: Path) -> None:
    code = (
        "import sys, carbonlens\n"
        "from carbonlens.store import open_store\n"
        f"store, _ = open_store({str(tmp_path / 'runs.db')!r}, fallback_dir={str(tmp_path)!r})\n"
        "store.close()\n"
        "print(sorted({'sqlalchemy', 'psycopg'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- a live server ----------------------------------------------------------------------


def test_secrets_stay_out_of_locations_errors_reports_and_logs(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = with_password(postgres_url)  # the test server trusts any password
    clock = FakeClock()
    tracker = Tracker(
        store=url,
        sensors=[FakeSensor(CPU, energy_j=[0.0, 30.0])],
        settings=Settings(),
        clock=clock,
        shares=FakeShares(cpu_ratio=1.0),
        interval_s=3600.0,
    )
    with caplog.at_level(logging.DEBUG), tracker:
        clock.advance(3.0)
    report = tracker.report
    assert report is not None

    with closing(open_existing_store(url)) as store:
        assert store.location == mask_url(url)
        info = store.get_run(tracker.run_id)
        assert info is not None and sum(s.energy_j for s in store.samples(info.run_id)) == 30.0
        with pytest.raises(StoreError, match="cannot create run") as caught:
            store.create_run(info)  # the same id again
        texts = [repr(store), json.dumps(report.to_dict()), json.dumps(dict(info.settings))]
    texts += [str(caught.value), "".join(traceback.format_exception(caught.value)), caplog.text]
    assert report.store_location == mask_url(url)
    assert_no_secret(*texts)


def test_new_database_gets_the_current_schema(postgres_url: str) -> None:
    import psycopg

    from carbonlens.store.postgres import MIGRATIONS

    open_writable_store(postgres_url).close()
    rest = postgres_url.split("://", 1)[1]
    for scheme in ("postgres", "postgresql+psycopg"):  # the other URL forms, already current
        with closing(open_existing_store(f"{scheme}://{rest}")) as store:
            assert store.list_runs() == []
    with psycopg.connect(postgres_url) as conn:
        version = conn.execute("SELECT version FROM schema_version").fetchone()
        tables = {
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            )
        }
    assert version == (len(MIGRATIONS),) == (2,)
    assert tables == {"schema_version", "runs", "samples", "windows", "metrics", "budgets"}


def test_pending_migrations_apply_in_order_once_and_keep_data(postgres_url: str) -> None:
    import sqlalchemy

    from carbonlens.store.postgres import MIGRATIONS, migrate

    with closing(open_writable_store(postgres_url)) as store:
        store.create_run(run_info("r1"))
    extra = (
        ("ALTER TABLE runs ADD COLUMN note TEXT", "UPDATE runs SET note = 'v3'"),
        ("UPDATE runs SET note = note || '+v4'",),
    )
    engine = sqlalchemy.create_engine(postgres_url.replace("postgresql:", "postgresql+psycopg:"))
    try:
        for _ in range(2):  # the second time: already current, a no-op
            with engine.begin() as conn:
                migrate(conn, (*MIGRATIONS, *extra), "test")
        with engine.connect() as conn:
            note = conn.execute(sqlalchemy.text("SELECT note FROM runs")).scalar()
            version = conn.execute(sqlalchemy.text("SELECT version FROM schema_version")).scalar()
        with pytest.raises(sqlalchemy.exc.ProgrammingError), engine.begin() as conn:
            migrate(conn, (*MIGRATIONS, *extra, ("CREATE TABLE extra (x INTEGER)", "NOT SQL")), "t")
        with engine.connect() as conn:
            extra_table = conn.execute(sqlalchemy.text("SELECT to_regclass('extra')")).scalar()
            after = conn.execute(sqlalchemy.text("SELECT version FROM schema_version")).scalar()
    finally:
        engine.dispose()
    assert (note, version) == ("v3+v4", len(MIGRATIONS) + 2)
    assert (extra_table, after) == (None, len(MIGRATIONS) + 2)  # the failed one left nothing


def test_newer_or_foreign_databases_are_refused_untouched(postgres_url: str) -> None:
    import psycopg

    open_writable_store(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match="upgrade carbonlens"):
        open_writable_store(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE schema_version")
        conn.execute("CREATE TABLE users (id INTEGER)")
    with pytest.raises(StoreError, match="not a carbonlens run store.*users.*search_path"):
        open_writable_store(postgres_url)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,)


def test_connections_bound_how_long_a_silent_server_can_hold_a_write(postgres_url: str) -> None:
    from carbonlens.store.postgres import _engine

    engine = _engine(parse_database_url(postgres_url), connect_timeout_s=10.0)
    try:
        with engine.connect() as conn:
            timeout = conn.exec_driver_sql("SHOW statement_timeout").scalar()
            params = conn.connection.driver_connection.info.get_parameters()  # type: ignore[union-attr]
    finally:
        engine.dispose()
    assert timeout == "30s"  # STATEMENT_TIMEOUT_S
    # a dead connection is found after 10 s idle + 3 probes 5 s apart
    assert {k: params[k] for k in ("keepalives", "keepalives_idle", "keepalives_count")} == {
        "keepalives": "1",
        "keepalives_idle": "10",
        "keepalives_count": "3",
    }


def test_a_schema_of_its_own_through_search_path(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id INTEGER)")  # another application's table
        conn.execute("CREATE SCHEMA carbonlens")
    url = postgres_url + "?options=-csearch_path%3Dcarbonlens"
    with closing(open_writable_store(url)) as store:
        store.create_run(run_info("r1"))
        assert [r.run_id for r in store.list_runs()] == ["r1"]
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT run_id FROM carbonlens.runs").fetchone()
    assert row == ("r1",)


def test_stores_opened_at_once_migrate_once(postgres_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_one() -> None:
        try:
            barrier.wait(timeout=30)
            open_writable_store(postgres_url).close()
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_text_sorts_byte_wise_whatever_the_database_locale(postgres_server: str) -> None:
    import psycopg

    from carbonlens.testing.postgres import drop_database

    name = "carbonlens_test_icu"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        try:
            conn.execute(
                f"CREATE DATABASE {name} LOCALE_PROVIDER icu ICU_LOCALE 'en-US' TEMPLATE template0"
            )
        except psycopg.Error as exc:
            pytest.skip(f"no ICU collations on this server: {exc}")
    url = urlunsplit(urlsplit(postgres_server)._replace(path=f"/{name}"))
    try:
        with closing(open_writable_store(url)) as store:
            for project in ("b", "B", "_x", "a"):
                store.set_budget(Budget(project, BudgetKind.ENERGY, 1.0, BudgetPeriod.TOTAL))
            store.create_run(run_info("r1"))
            store.log_metrics("r1", [MetricPoint(n, 0, 1.0, 0.0) for n in ("loss", "Loss", "_l")])
            # byte order (as SQLite): 'B' 0x42 < '_' 0x5f < 'a' 0x61 < 'b' 0x62;
            # en-US would give _x, a, b, B
            assert [b.project for b in store.budgets()] == ["B", "_x", "a", "b"]
            assert [p.name for p in store.metrics("r1")] == ["Loss", "_l", "loss"]
    finally:
        drop_database(url)


# --- many writers ---------------------------------------------------------------------

WORLD = 6
BATCHES = 40


def rank_worker(target: str, rank: int, barrier: Any) -> None:
    """Child process body: rank `rank` of a job writes its run and the shared run.

    Each batch is one GPU sample of 10 x (rank + 1) J; rank 0, the node's
    measuring process, also writes one CPU sample of 5 J (node-wide sensors are
    read once per node).
    """
    store = open_writable_store(target)
    try:
        gpu = Channel("nvml", Component.GPU, f"gpu{rank}", Method.MEASURED)
        tags = ("group:job-1", f"rank:{rank}", f"local-rank:{rank}", "node:node-1")
        run_id = f"job-1-rank-{rank}"
        store.create_run(run_info(run_id, tags=(*tags, *(["node-wide"] if rank == 0 else []))))
        barrier.wait(timeout=60)
        for i in range(BATCHES):
            batch = [Sample(gpu, float(i + 1), 1.0, 10.0 * (rank + 1))]
            if rank == 0:
                batch.append(Sample(CPU, float(i + 1), 1.0, 5.0))
            store.append_samples(run_id, batch)
            store.append_samples("shared", batch)
    finally:
        store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def shared_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        yield str(request.getfixturevalue("postgres_url"))
    else:
        yield str(tmp_path / "runs.db")


@pytest.mark.slow
def test_ranks_in_many_processes_lose_nothing(shared_target: str) -> None:
    with closing(open_writable_store(shared_target)) as store:
        store.create_run(run_info("shared"))
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORLD)
    workers = [
        context.Process(target=rank_worker, args=(shared_target, rank, barrier))
        for rank in range(WORLD)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    exit_codes = [process.exitcode for process in workers]
    for process in workers:
        process.close()
    assert exit_codes == [0] * WORLD

    with closing(open_existing_store(shared_target)) as store:
        parts = {rank: total_j(store, f"job-1-rank-{rank}") for rank in range(WORLD)}
        shared = store.samples("shared")
        shared_j = total_j(store, "shared")
        group = store.list_runs(project="p")
    # by hand: rank r writes 40 x 10 (r + 1) J of GPU energy, rank 0 also 40 x 5 J of CPU
    assert parts == {r: 400.0 * (r + 1) + (200.0 if r == 0 else 0.0) for r in range(WORLD)}
    assert shared_j == sum(parts.values()) == 400.0 * 21 + 200.0  # 8,600 J
    assert len(shared) == WORLD * BATCHES + BATCHES  # 280: one per batch, two on rank 0
    for rank in range(WORLD):  # each writer's samples all there, in its order
        times = [s.t_s for s in shared if s.channel.device == f"gpu{rank}"]
        assert times == [float(i + 1) for i in range(BATCHES)]
    assert len(group) == WORLD + 1


def total_j(store: Store, run_id: str) -> float:
    """A run's energy from the database's per-channel sums."""
    return sum(s.energy_j for s in store.channel_sums(run_id))


# --- syncing later ----------------------------------------------------------------------


def test_runs_kept_locally_are_synced_into_postgresql_once(
    tmp_path: Path, postgres_url: str
) -> None:
    from carbonlens.records import RunStatus, Window
    from carbonlens.store.transfer import CopyAction, copy_runs

    gpu = Channel("nvml", Component.GPU, "gpu0", Method.MEASURED)
    samples = [Sample(CPU, 1.0, 1.0, 12.5, 6.25), Sample(gpu, 1.0, 1.0, 300.0)]
    with closing(SqliteStore(tmp_path / "local.db")) as local:
        local.create_run(run_info("done", tags=("lora",), settings={"pue_ratio": 1.1}))
        local.append_samples("done", samples)
        local.save_window("done", Window("eval", 0.25, 0.75))
        local.log_metrics("done", [MetricPoint("accuracy", 1, 0.91, 1.0)])
        local.finish_run("done", RunStatus.FINISHED, T0, 1.0)
        local.create_run(run_info("second", started_at=T0.replace(hour=13)))
        expected = [local.get_run("done"), local.get_run("second")]

    source = SqliteStore(tmp_path / "local.db")
    target = open_writable_store(postgres_url)
    with closing(source), closing(target):
        first = copy_runs(source, target)
        again = copy_runs(source, target)  # idempotent by run id
        copied = [target.get_run("done"), target.get_run("second")]
        assert target.samples("done") == samples
        assert target.windows("done") == [Window("eval", 0.25, 0.75)]
        assert target.metrics("done") == [MetricPoint("accuracy", 1, 0.91, 1.0)]

    assert [r.action for r in first.runs] == [CopyAction.COPIED, CopyAction.COPIED]
    assert [r.action for r in again.runs] == [CopyAction.SKIPPED, CopyAction.SKIPPED]
    assert first.samples == 2 and again.samples == 0
    assert copied == expected


def test_dashboard_reads_the_central_store_and_masks_its_url(postgres_url: str) -> None:
    pytest.importorskip("starlette", reason="the dashboard extra is not installed")
    from starlette.testclient import TestClient

    from carbonlens.dashboard.app import create_app

    url = with_password(postgres_url)
    with closing(open_writable_store(url)) as store:
        store.create_run(run_info("central-1"))
    with TestClient(create_app(url), base_url="http://127.0.0.1") as client:
        listing = client.get("/api/runs")
        page = client.get("/")
        missing = client.get("/api/runs/nope")

    assert listing.status_code == 200 and page.status_code == 200
    assert [run["run_id"] for run in listing.json()["runs"]] == ["central-1"]
    assert listing.json()["store"] == mask_url(url)
    assert missing.status_code == 404 and mask_url(url) in missing.json()["error"]
    assert_no_secret(listing.text, page.text, missing.text)
