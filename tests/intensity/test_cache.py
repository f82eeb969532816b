"""The disk cache: TTL, atomic writes, corrupt entries, keys without secrets, use by sources."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from carbonlens.intensity._http import HttpOptions
from carbonlens.intensity.cache import DiskCache, default_cache_dir
from carbonlens.intensity.electricitymaps import ElectricityMapsIntensity
from carbonlens.testing.intensity_server import IntensityServer


class Clock:
    """Wall-clock seconds that move only when told."""

    def __init__(self) -> None:
        self.t_s = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t_s


def test_round_trip_and_ttl_expiry(tmp_path: Path) -> None:
    clock = Clock()
    cache = DiskCache(tmp_path, ttl_s=60.0, clock=clock)
    key = cache.key("em", "/latest", {"zone": "DE"})
    assert cache.get(key) is None
    cache.put(key, {"carbonIntensity": 322})
    clock.t_s += 60.0
    assert cache.get(key) == {"carbonIntensity": 322}
    clock.t_s += 0.5
    assert cache.get(key) is None


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "new" / "dir")
    cache.put(cache.key("em", "/a", {}), [1])
    cache.put(cache.key("em", "/a", {}), [2])
    [entry] = (tmp_path / "new" / "dir").iterdir()
    assert entry.suffix == ".json" and not entry.name.startswith(".tmp")
    assert cache.get(cache.key("em", "/a", {})) == [2]


def test_corrupt_or_foreign_entries_are_misses(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    for i, text in enumerate(
        ["{not json", '{"format": 1}', '{"format": 99, "stored_at": 0}', "[]"]
    ):
        key = cache.key("em", f"/{i}", {})
        (tmp_path / f"{key}.json").write_text(text)
        assert cache.get(key) is None


def test_entry_from_the_future_is_a_miss(tmp_path: Path) -> None:
    clock = Clock()
    cache = DiskCache(tmp_path, clock=clock)
    key = cache.key("em", "/a", {})
    cache.put(key, 1)
    clock.t_s -= 10.0
    assert cache.get(key) is None


def test_unwritable_directory_is_ignored(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = DiskCache(blocker / "sub")  # cannot mkdir under a file
    cache.put("k", 1)
    assert cache.get("k") is None


def test_key_depends_on_source_endpoint_and_params_only() -> None:
    key = DiskCache.key("em", "/latest", {"zone": "DE", "x": 1})
    assert key == DiskCache.key("em", "/latest", {"x": "1", "zone": "DE"})
    assert key != DiskCache.key("em", "/latest", {"zone": "FR", "x": 1})
    assert key != DiskCache.key("wt", "/latest", {"zone": "DE", "x": 1})
    assert len(key) == 64


def test_default_directory_follows_xdg(tmp_path: Path) -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == (
        tmp_path / "carbonlens" / "intensity"
    )
    assert default_cache_dir({}) == Path.home() / ".cache" / "carbonlens" / "intensity"


def test_source_cache_hit_avoids_a_request_and_expiry_refetches(
    server: IntensityServer, http: HttpOptions, tmp_path: Path
) -> None:
    clock = Clock()
    options = replace(http, cache=DiskCache(tmp_path, ttl_s=900.0, clock=clock))
    with ElectricityMapsIntensity(server.em_token, base_url=server.url, http=options) as em:
        first = em.latest("DE")
        assert em.latest("DE") == first
        assert len(server.requests_to("/v3/carbon-intensity/latest")) == 1
        clock.t_s += 901.0
        assert em.latest("DE") == first
    assert len(server.requests_to("/v3/carbon-intensity/latest")) == 2
    stored = "".join(p.read_text() for p in tmp_path.iterdir())
    assert server.em_token not in stored and "322" in stored
