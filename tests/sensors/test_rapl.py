"""RaplSensor against fake powercap trees; every expected figure is hand-computed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from carbonlens.errors import (
    ConfigError,
    SensorPermissionError,
    SensorReadError,
    SensorUnavailable,
)
from carbonlens.records import Channel, Component, Method, Reading
from carbonlens.sensors import rapl
from carbonlens.sensors.base import Host, Sensor
from carbonlens.sensors.rapl import RaplSensor
from carbonlens.testing.powercap import PowercapTree

PKG_RANGE_UJ = 262_143_328_850  # 2**32 steps of 61 µJ
DRAM_RANGE_UJ = 65_532_610_987  # 2**32 steps of 15.3 µJ

_conforms: type[Sensor] = RaplSensor  # protocol conformance, checked by mypy


@pytest.fixture
def tree(tmp_path: Path) -> PowercapTree:
    return PowercapTree(tmp_path / "sys")


def host_of(tree: PowercapTree) -> Host:
    return Host(sysfs=tree.sysfs, procfs=tree.sysfs / "proc", env={})


def by_device(readings: list[Reading]) -> dict[str, float | None]:
    return {r.channel.device: r.energy_j for r in readings}


def two_socket_server(tree: PowercapTree) -> None:
    """2 sockets with dram, a psys platform zone and an MMIO copy of package-0."""
    tree.zone("0", "package-0", energy_uj=10_000_000)
    tree.zone("0:0", "dram", energy_uj=1_000_000, max_energy_range_uj=DRAM_RANGE_UJ)
    tree.zone("1", "package-1", energy_uj=20_000_000)
    tree.zone("1:0", "dram", energy_uj=2_000_000, max_energy_range_uj=DRAM_RANGE_UJ)
    tree.zone("2", "psys", energy_uj=50_000_000)
    tree.zone("0", "package-0", energy_uj=10_000_000, control_type="intel-rapl-mmio")


def test_single_package_reports_joules_since_open(tree: PowercapTree) -> None:
    tree.zone("0", "package-0", energy_uj=1_000_000)
    sensor = RaplSensor.open(host_of(tree))
    [first] = sensor.read(t_s=0.0)
    tree.set_energy("0", 3_500_000)  # +2.5 J
    [second] = sensor.read(t_s=1.0)
    assert first.energy_j == 0.0
    assert second.channel == Channel("rapl", Component.CPU, "package-0", Method.MEASURED)
    assert (second.t_s, second.power_w, second.share_ratio) == (1.0, None, None)
    assert second.energy_j == pytest.approx(2.5)


def test_two_sockets_with_dram_count_each_once(tree: PowercapTree) -> None:
    two_socket_server(tree)
    sensor = RaplSensor.open(host_of(tree))
    keys = [c.key for c in sensor.channels()]
    assert keys == [
        "rapl/cpu/package-0",
        "rapl/cpu/package-1",
        "rapl/ram/dram-0",
        "rapl/ram/dram-1",
    ]
    tree.set_energy("0", 10_000_000 + 40_000_000)  # package-0 +40 J
    tree.set_energy("0:0", 1_000_000 + 3_000_000)  # dram-0 +3 J
    tree.set_energy("1", 20_000_000 + 30_000_000)  # package-1 +30 J
    tree.set_energy("1:0", 2_000_000 + 4_000_000)  # dram-1 +4 J
    tree.set_energy("2", 50_000_000 + 90_000_000)  # psys +90 J: not counted
    tree.set_energy("0", 10_000_000 + 99_000_000, control_type="intel-rapl-mmio")  # duplicate
    energies = by_device(sensor.read(t_s=1.0))
    assert energies == {
        "package-0": pytest.approx(40.0),
        "package-1": pytest.approx(30.0),
        "dram-0": pytest.approx(3.0),
        "dram-1": pytest.approx(4.0),
    }
    assert sum(e for e in energies.values() if e is not None) == pytest.approx(77.0)


def test_core_and_uncore_subzones_are_not_added_to_the_package(tree: PowercapTree) -> None:
    tree.zone("0", "package-0", energy_uj=0)
    tree.zone("0:0", "core", energy_uj=0)
    tree.zone("0:1", "uncore", energy_uj=0)
    sensor = RaplSensor.open(host_of(tree))
    tree.set_energy("0", 9_000_000)
    tree.set_energy("0:0", 6_000_000)  # inside the 9 J of the package
    tree.set_energy("0:1", 2_000_000)
    assert by_device(sensor.read(t_s=1.0)) == {"package-0": pytest.approx(9.0)}
    skipped = sensor.assumptions()["skipped_zones"]
    assert set(skipped) == {"intel-rapl:0:0", "intel-rapl:0:1"}
    assert "inside package-0" in skipped["intel-rapl:0:0"]


def test_amd_zen_tree_gives_package_channels_and_no_ram(tree: PowercapTree) -> None:
    # intel_rapl_msr on AMD Zen: package zones with a core subzone, no dram.
    tree.zone("0", "package-0", energy_uj=0, max_energy_range_uj=DRAM_RANGE_UJ)
    tree.zone("0:0", "core", energy_uj=0, max_energy_range_uj=DRAM_RANGE_UJ)
    tree.zone("1", "package-1", energy_uj=0, max_energy_range_uj=DRAM_RANGE_UJ)
    sensor = RaplSensor.open(host_of(tree))
    assert {c.component for c in sensor.channels()} == {Component.CPU}
    assert [c.device for c in sensor.channels()] == ["package-0", "package-1"]


def test_multi_die_packages_and_their_dram_get_distinct_devices(tree: PowercapTree) -> None:
    tree.zone("0", "package-0-die-0", energy_uj=0)
    tree.zone("0:0", "dram", energy_uj=0, max_energy_range_uj=DRAM_RANGE_UJ)
    tree.zone("1", "package-0-die-1", energy_uj=0)
    tree.zone("1:0", "dram", energy_uj=0, max_energy_range_uj=DRAM_RANGE_UJ)
    sensor = RaplSensor.open(host_of(tree))
    assert [c.device for c in sensor.channels()] == [
        "package-0-die-0",
        "package-0-die-1",
        "dram-0-die-0",
        "dram-0-die-1",
    ]


def test_mmio_package_is_used_when_the_msr_zone_is_missing(tree: PowercapTree) -> None:
    tree.zone("0", "package-0", energy_uj=5_000_000, control_type="intel-rapl-mmio")
    sensor = RaplSensor.open(host_of(tree))
    tree.set_energy("0", 7_000_000, control_type="intel-rapl-mmio")
    assert by_device(sensor.read(t_s=1.0)) == {"package-0": pytest.approx(2.0)}
    assert sensor.assumptions()["zones"] == {"package-0": "intel-rapl-mmio:0"}


def test_psys_can_be_chosen_instead_of_package_and_dram(tree: PowercapTree) -> None:
    two_socket_server(tree)
    sensor = RaplSensor.open(host_of(tree), zones=("psys",))
    assert [c.key for c in sensor.channels()] == ["rapl/soc/psys"]
    tree.set_energy("0", 99_000_000)  # package moves too, but psys contains it
    tree.set_energy("2", 50_000_000 + 12_000_000)
    assert by_device(sensor.read(t_s=1.0)) == {"psys": pytest.approx(12.0)}
    skipped = sensor.assumptions()["skipped_zones"]
    assert "inside psys" in skipped["intel-rapl:0"]


def test_two_psys_zones_in_one_control_type_stay_distinct(tree: PowercapTree) -> None:
    tree.zone("2", "psys", energy_uj=0)
    tree.zone("3", "psys", energy_uj=0)
    sensor = RaplSensor.open(host_of(tree), zones=("psys",))
    assert [c.device for c in sensor.channels()] == ["psys", "psys-3"]


def test_zone_options_are_validated(tree: PowercapTree) -> None:
    two_socket_server(tree)
    with pytest.raises(ConfigError, match="double|twice"):
        RaplSensor.open(host_of(tree), zones=("psys", "package"))
    with pytest.raises(ConfigError, match="gpu"):
        RaplSensor.open(host_of(tree), zones=("gpu",))
    with pytest.raises(ConfigError, match="unknown rapl option"):
        RaplSensor.open(host_of(tree), zone="psys")
    with pytest.raises(ConfigError, match="worst_case_power_w"):
        RaplSensor.open(host_of(tree), worst_case_power_w=0)
    dram_only = RaplSensor.open(host_of(tree), zones="DRAM")
    assert [c.device for c in dram_only.channels()] == ["dram-0", "dram-1"]


def test_zones_left_out_by_the_options_are_not_said_to_be_inside_psys(
    tree: PowercapTree,
) -> None:
    two_socket_server(tree)
    package_only = RaplSensor.open(host_of(tree), zones=("package",))
    skipped = package_only.assumptions()["skipped_zones"]
    # psys is not counted here, so "inside psys, which is counted instead" would be false
    assert skipped["intel-rapl:0:0"] == "dram: not counted, zones=('package',) leaves out dram"
    assert "zones=('psys',)" in skipped["intel-rapl:2"]  # psys itself keeps its advice
    dram_only = RaplSensor.open(host_of(tree), zones=("dram",))
    skipped = dram_only.assumptions()["skipped_zones"]
    assert skipped["intel-rapl:1"] == "package-1: not counted, zones=('dram',) leaves out package"


def test_wraparound_is_added_not_lost(tree: PowercapTree) -> None:
    tree.zone("0", "package-0", energy_uj=999_000_000, max_energy_range_uj=1_000_000_000)
    sensor = RaplSensor.open(host_of(tree))
    tree.set_energy("0", 4_000_000)  # wrapped: 1_000_000 to the top, +1 to 0, +4_000_000
    [reading] = sensor.read(t_s=1.0)
    assert reading.energy_j == pytest.approx(5.000001, abs=1e-9)


def test_one_wrap_per_read_accumulates_over_many_reads(tree: PowercapTree) -> None:
    tree.zone("0", "package-0", energy_uj=0, max_energy_range_uj=999_999)  # modulus 1 J
    sensor = RaplSensor.open(host_of(tree))
    for t_s, counter_uj in enumerate((600_000, 200_000, 800_000, 400_000), start=1):
        tree.set_energy("0", counter_uj)  # +0.6 J each, wrapping on reads 2 and 4
        [reading] = sensor.read(t_s=float(t_s))
    assert reading.energy_j == pytest.approx(2.4)


def test_max_poll_interval_uses_the_smallest_range(tree: PowercapTree) -> None:
    tree.zone("0", "package-0", energy_uj=0, max_energy_range_uj=PKG_RANGE_UJ)
    tree.zone("0:0", "dram", energy_uj=0, max_energy_range_uj=DRAM_RANGE_UJ)
    # 65_532.610987 J / (2 * 1000 W) and / (2 * 500 W)
    assert RaplSensor.open(host_of(tree)).max_poll_interval_s == pytest.approx(32.7663054935)
    slower = RaplSensor.open(host_of(tree), worst_case_power_w=500)
    assert slower.max_poll_interval_s == pytest.approx(65.532610987)


def _root_only(monkeypatch: pytest.MonkeyPatch, filename: str) -> None:
    """Make every counter file named `filename` unreadable, as a root-only file is."""
    real_read = rapl._read_uj

    def denied(path: Path) -> int:
        if path.name == filename:
            raise PermissionError(13, "Permission denied", str(path))
        return real_read(path)

    monkeypatch.setattr(rapl, "_read_uj", denied)


def test_permission_denied_is_explained_with_the_fix(
    tree: PowercapTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree.zone("0", "package-0", energy_uj=0)
    _root_only(monkeypatch, "energy_uj")
    energy_file = tree.energy_file("0")
    probe = RaplSensor.probe(host_of(tree))
    assert not probe.available
    assert probe.reason == f"permission denied: {energy_file}"
    assert "CVE-2020-8694" in probe.hint
    assert f"sudo chmod o+r {tree.root}/intel-rapl:*/energy_uj" in probe.hint
    with pytest.raises(SensorPermissionError) as caught:
        RaplSensor.open(host_of(tree))
    assert (caught.value.path, caught.value.hint) == (str(energy_file), probe.hint)


def test_unreadable_max_energy_range_hint_names_that_file(
    tree: PowercapTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some distribution kernels make max_energy_range_uj root-only too: once energy_uj
    # is readable, the hint must give the chmod for the file that still fails, not
    # repeat the energy_uj command the user already ran.
    tree.zone("0", "package-0", energy_uj=0)
    _root_only(monkeypatch, "max_energy_range_uj")
    with pytest.raises(SensorPermissionError) as caught:
        RaplSensor.open(host_of(tree))
    assert caught.value.path == str(tree.root / "intel-rapl:0" / "max_energy_range_uj")
    hint = caught.value.hint
    assert f"sudo chmod o+r {tree.root}/intel-rapl:*/max_energy_range_uj" in hint
    assert "*/energy_uj" not in hint and hint.startswith("max_energy_range_uj is root-only")


@pytest.mark.skipif(os.geteuid() == 0, reason="chmod 000 does not stop root")
def test_permission_denied_on_a_real_unreadable_file(tree: PowercapTree) -> None:
    zone_dir = tree.zone("0", "package-0", energy_uj=0)
    (zone_dir / "energy_uj").chmod(0o000)
    probe = RaplSensor.probe(host_of(tree))
    assert probe.reason == f"permission denied: {tree.energy_file('0')}"
    with pytest.raises(SensorPermissionError):
        RaplSensor.open(host_of(tree))


def test_no_powercap_directory(tmp_path: Path) -> None:
    host = Host(sysfs=tmp_path, env={})
    probe = RaplSensor.probe(host)
    assert not probe.available
    assert "no powercap/RAPL" in probe.reason
    assert "modprobe intel_rapl_msr" in probe.hint
    with pytest.raises(SensorUnavailable) as caught:
        RaplSensor.open(host)
    assert not isinstance(caught.value, SensorPermissionError)
    assert caught.value.reason == probe.reason


def test_powercap_without_rapl_zones(tree: PowercapTree) -> None:
    (tree.root / "dtpm").mkdir()  # another powercap driver, not RAPL
    probe = RaplSensor.probe(host_of(tree))
    assert (probe.available, probe.reason) == (False, f"no powercap/RAPL zones under {tree.root}")


def test_only_psys_present_is_unavailable_by_default(tree: PowercapTree) -> None:
    tree.zone("0", "psys", energy_uj=0)
    probe = RaplSensor.probe(host_of(tree))
    assert not probe.available
    assert probe.reason == f"no RAPL package/dram zone under {tree.root}"
    assert probe.hint == "zones present: intel-rapl:0 (psys)"


def test_junk_zones_are_skipped(tree: PowercapTree) -> None:
    tree.zone("0", "package-0", energy_uj=0)
    (tree.root / "intel-rapl:7").mkdir()  # no name file
    tree.zone("3", "mystery", energy_uj=0)
    tree.zone("0:0", "dram", energy_uj=None)  # a zone without an energy counter
    tree.zone("0:1", "gt", energy_uj=0)  # graphics subzone: inside the package
    sensor = RaplSensor.open(host_of(tree))
    assert [c.device for c in sensor.channels()] == ["package-0"]
    assert set(sensor.assumptions()["skipped_zones"]) == {
        "intel-rapl:0:0",
        "intel-rapl:0:1",
        "intel-rapl:3",
        "intel-rapl:7",
    }
    assert "no energy_uj" in sensor.assumptions()["skipped_zones"]["intel-rapl:0:0"]


def test_probe_success_lists_zones_and_changes_nothing(tree: PowercapTree) -> None:
    tree.zone("0", "package-0", energy_uj=123)
    tree.zone("0:0", "dram", energy_uj=456, max_energy_range_uj=DRAM_RANGE_UJ)
    probe = RaplSensor.probe(host_of(tree))
    assert probe.available
    assert probe.reason == "2 zone(s): package-0 (intel-rapl:0), dram-0 (intel-rapl:0:0)"
    assert tree.energy_file("0").read_text() == "123\n"


def test_read_errors_become_sensor_read_errors_without_losing_energy(
    tree: PowercapTree,
) -> None:
    zone_dir = tree.zone("0", "package-0", energy_uj=0)
    sensor = RaplSensor.open(host_of(tree))
    (zone_dir / "energy_uj").unlink()
    [error] = sensor.read(t_s=1.0)
    assert isinstance(error, SensorReadError)
    assert (error.sensor, error.device) == ("rapl", "package-0")
    (zone_dir / "energy_uj").write_text("garbage\n")
    [error] = sensor.read(t_s=2.0)
    assert isinstance(error, SensorReadError)
    tree.set_energy("0", 7_000_000)
    assert by_device(sensor.read(t_s=3.0)) == {"package-0": pytest.approx(7.0)}


def test_counter_above_its_range_is_a_read_error(tree: PowercapTree) -> None:
    tree.zone("0", "package-0", energy_uj=10, max_energy_range_uj=1_000)
    sensor = RaplSensor.open(host_of(tree))
    tree.set_energy("0", 5_000)
    [error] = sensor.read(t_s=1.0)
    assert isinstance(error, SensorReadError) and "range" in error.detail


def test_counter_above_its_range_at_open_is_unavailable(tree: PowercapTree) -> None:
    tree.zone("0", "package-0", energy_uj=5_000, max_energy_range_uj=1_000)
    with pytest.raises(SensorUnavailable, match="outside"):
        RaplSensor.open(host_of(tree))


def test_assumptions_name_the_counted_zones(tree: PowercapTree) -> None:
    two_socket_server(tree)
    sensor = RaplSensor.open(host_of(tree))
    notes = sensor.assumptions()
    assert notes["zones"] == {
        "package-0": "intel-rapl:0",
        "package-1": "intel-rapl:1",
        "dram-0": "intel-rapl:0:0",
        "dram-1": "intel-rapl:1:0",
    }
    assert "psys" in notes["skipped_zones"]["intel-rapl:2"]
    assert "intel-rapl:0" in notes["skipped_zones"]["intel-rapl-mmio:0"]
    assert notes["worst_case_power_w"] == 1000.0
    sensor.close()


@pytest.mark.hardware
@pytest.mark.skipif(
    not RaplSensor.probe(Host()).available, reason="no readable RAPL on this machine"
)
def test_real_powercap_counts_up() -> None:
    sensor = RaplSensor.open(Host())
    first = sensor.read(t_s=0.0)
    sum(i * i for i in range(200_000))  # a little work between reads
    second = sensor.read(t_s=1.0)
    assert any(c.component is Component.CPU for c in sensor.channels())
    assert all((r.energy_j or 0.0) >= 0.0 for r in first + second)
    assert sensor.max_poll_interval_s > 1.0
