"""open_store: the SQLite store, or a JSON-lines fallback that says where the run went."""

from __future__ import annotations

import os
import tempfile
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carbonlens.errors import StoreError
from carbonlens.records import RunInfo
from carbonlens.store import (
    SqliteStore,
    __all__,
    default_fallback_dir,
    default_store_path,
    open_store,
)
from carbonlens.store.jsonl import JsonlStore

RUN = RunInfo("r1", "proj", "name", datetime(2025, 3, 1, tzinfo=UTC), "node-1", 4242)


def test_public_names() -> None:
    assert __all__ == sorted(__all__)
    assert set(__all__) == {
        "SqliteStore",
        "default_fallback_dir",
        "default_store_path",
        "default_store_target",
        "is_database_url",
        "local_store_path",
        "open_existing_store",
        "open_fallback",
        "open_store",
        "open_writable_store",
        "store_label",
        "store_path",
        "this_host",
    }


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HOME": "/home/ada"}, "/home/ada/.local/share/carbonlens/runs.db"),
        ({"HOME": "/home/ada", "XDG_DATA_HOME": "/data"}, "/data/carbonlens/runs.db"),
        (
            {"HOME": "/home/ada", "XDG_DATA_HOME": "rel"},
            "/home/ada/.local/share/carbonlens/runs.db",
        ),
        ({"HOME": "/h", "XDG_DATA_HOME": "/d", "CARBONLENS_STORE": "/s/x.db"}, "/s/x.db"),
        ({"CARBONLENS_STORE": "sqlite:////s/x.db"}, "/s/x.db"),
        ({"CARBONLENS_STORE": "sqlite:///rel/x.db"}, "rel/x.db"),
        ({"CARBONLENS_STORE": "~/x.db", "HOME": "/h"}, str(Path("~/x.db").expanduser())),
    ],
)
def test_default_store_path(env: dict[str, str], expected: str) -> None:
    assert default_store_path(env) == Path(expected)


def test_default_fallback_dir() -> None:
    assert default_fallback_dir({"HOME": "/h"}) == Path("/h/.local/state/carbonlens")
    assert default_fallback_dir({"XDG_STATE_HOME": "/st"}) == Path("/st/carbonlens")


def test_opens_sqlite_from_a_path_or_url(tmp_path: Path) -> None:
    for target in (tmp_path / "a.db", f"sqlite:///{tmp_path}/b.db"):
        store, message = open_store(target, fallback_dir=tmp_path / "fallback")
        with closing(store):
            store.create_run(RUN)
        assert isinstance(store, SqliteStore)
        assert message is None
    assert {p.name for p in tmp_path.iterdir()} >= {"a.db", "b.db"}
    assert not (tmp_path / "fallback").exists()


def test_other_urls_are_refused_without_showing_the_password(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unsupported store URL") as caught:
        open_store("mysql://ada:s3cret@db/runs", fallback_dir=tmp_path)
    assert "s3cret" not in str(caught.value) + caught.value.path


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite://runs.db"])
def test_sqlite_url_without_a_file_says_how_to_write_it(tmp_path: Path, url: str) -> None:
    with pytest.raises(StoreError, match="names no file: write sqlite:///relative") as caught:
        open_store(url, fallback_dir=tmp_path)
    assert "unsupported" not in str(caught.value)


def test_corrupt_database_falls_back_to_jsonl_and_is_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    db.write_bytes(b"junk" * 1000)

    store, message = open_store(db, fallback_dir=tmp_path / "fallback")
    with closing(store):
        store.create_run(RUN)
        assert store.get_run("r1") == RUN

    assert isinstance(store, JsonlStore)
    assert message is not None
    assert str(db) in message and store.location in message
    fallback = Path(store.location)
    assert fallback.parent == tmp_path / "fallback"
    assert fallback.name.startswith("fallback-") and fallback.name.endswith(f"-{os.getpid()}.jsonl")
    assert db.read_bytes() == b"junk" * 1000


def test_store_under_a_regular_file_falls_back(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")

    store, message = open_store(tmp_path / "file" / "runs.db", fallback_dir=tmp_path / "fb")
    store.close()

    assert isinstance(store, JsonlStore)
    assert message is not None and "file/runs.db" in message and store.location in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_store_directory_falls_back(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        store, message = open_store(locked / "runs.db", fallback_dir=tmp_path / "fb")
        store.close()
    finally:
        locked.chmod(0o700)

    assert isinstance(store, JsonlStore)
    assert message is not None and Path(store.location).parent == tmp_path / "fb"


def test_unusable_fallback_dir_uses_the_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))

    store, message = open_store(tmp_path / "file" / "runs.db", fallback_dir=tmp_path / "file")
    store.close()

    assert Path(store.location).parent == tmp_path / "tmp" / "carbonlens"
    assert message is not None and store.location in message


def test_nothing_writable_raises_with_every_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "file"))

    with pytest.raises(StoreError) as caught:
        open_store(tmp_path / "file" / "runs.db", fallback_dir=tmp_path / "file")

    assert str(caught.value).count("cannot open run store") == 3
