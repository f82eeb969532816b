"""A fake Linux powercap (RAPL) sysfs tree for tests.

The kernel lists every power zone flat under ``/sys/class/powercap`` as a
symbolic link to its nested device directory::

    /sys/class/powercap/intel-rapl:0   -> ../../devices/virtual/powercap/intel-rapl/intel-rapl:0
    /sys/class/powercap/intel-rapl:0:0 -> .../intel-rapl/intel-rapl:0/intel-rapl:0:0

`PowercapTree` writes the same shape under a directory you choose (pytest's
``tmp_path``), so sensors can be pointed at it with ``Host(sysfs=tree.sysfs)``::

    tree = PowercapTree(tmp_path / "sys")
    tree.zone("0", "package-0", energy_uj=1_000_000)
    tree.zone("0:0", "dram", energy_uj=0)
    tree.set_energy("0", 3_000_000)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

DEFAULT_MAX_ENERGY_RANGE_UJ: Final = 262_143_328_850
"""``max_energy_range_uj`` of a package zone with a 61 µJ energy unit (2**32 steps)."""

_DEVICES: Final = Path("devices") / "virtual" / "powercap"


class PowercapTree:
    """Writes a fake ``/sys/class/powercap`` tree under ``sysfs``.

    Zones are addressed by their id after the control type: ``"0"`` is
    ``intel-rapl:0`` (a top-level zone, e.g. a package or psys) and ``"0:1"`` is
    its subzone ``intel-rapl:0:1`` (core, uncore or dram). Every counter value is
    an integer in microjoules, as the kernel writes it.

    Attributes:
        sysfs: The fake sysfs root; pass it as ``Host(sysfs=tree.sysfs)``.
        root: ``sysfs/class/powercap``, where the zone links live.
    """

    def __init__(self, sysfs: Path) -> None:
        """Create an empty ``class/powercap`` directory under ``sysfs``.

        Args:
            sysfs: Directory standing in for ``/sys`` (use pytest's ``tmp_path``).
        """
        self.sysfs = sysfs
        self.root = sysfs / "class" / "powercap"
        self.root.mkdir(parents=True, exist_ok=True)

    def control_type(self, name: str = "intel-rapl") -> Path:
        """Create a control-type directory (``intel-rapl``, ``intel-rapl-mmio``...).

        Real trees list it beside the zones; it has an ``enabled`` file but no
        ``name`` or counters. `zone` calls this for you.

        Args:
            name: The control type's name.

        Returns:
            The control type's device directory.
        """
        device_dir = self.sysfs / _DEVICES / name
        device_dir.mkdir(parents=True, exist_ok=True)
        (device_dir / "enabled").write_text("1\n")
        self._link(name, device_dir)
        return device_dir

    def zone(
        self,
        zone_id: str,
        name: str,
        *,
        energy_uj: int | None,
        max_energy_range_uj: int | None = DEFAULT_MAX_ENERGY_RANGE_UJ,
        control_type: str = "intel-rapl",
    ) -> Path:
        """Write one power zone, with its ``class/powercap`` link.

        Args:
            zone_id: Id after the control type: ``"0"``, ``"1"``, ``"0:0"``...
                A subzone's parent directory is created if it does not exist.
            name: Content of the ``name`` file: ``"package-0"``, ``"dram"``,
                ``"core"``, ``"uncore"``, ``"psys"``...
            energy_uj: Initial ``energy_uj`` counter in microjoules, or None to
                write no counter file (a zone without energy monitoring).
            max_energy_range_uj: ``max_energy_range_uj`` in microjoules, or None
                to write no such file.
            control_type: ``intel-rapl`` (MSR driver, also used for AMD Zen),
                ``intel-rapl-mmio``, ``intel-rapl-tpmi``...

        Returns:
            The zone's directory (the link target), e.g. to chmod or corrupt its files.
        """
        self.control_type(control_type)
        zone_dir = self._zone_dir(zone_id, control_type)
        zone_dir.mkdir(parents=True, exist_ok=True)
        (zone_dir / "name").write_text(f"{name}\n")
        (zone_dir / "enabled").write_text("1\n")
        if energy_uj is not None:
            (zone_dir / "energy_uj").write_text(f"{energy_uj}\n")
        if max_energy_range_uj is not None:
            (zone_dir / "max_energy_range_uj").write_text(f"{max_energy_range_uj}\n")
        self._link(f"{control_type}:{zone_id}", zone_dir)
        return zone_dir

    def set_energy(self, zone_id: str, energy_uj: int, *, control_type: str = "intel-rapl") -> None:
        """Overwrite a zone's ``energy_uj`` counter.

        Args:
            zone_id: The zone's id, as given to `zone`.
            energy_uj: New counter value in microjoules (lower than before to
                simulate a wrap-around).
            control_type: The zone's control type, as given to `zone`.
        """
        (self._zone_dir(zone_id, control_type) / "energy_uj").write_text(f"{energy_uj}\n")

    def energy_file(self, zone_id: str, *, control_type: str = "intel-rapl") -> Path:
        """Path of a zone's ``energy_uj`` file as a sensor sees it (through the link).

        Args:
            zone_id: The zone's id, as given to `zone`.
            control_type: The zone's control type, as given to `zone`.

        Returns:
            ``root / f"{control_type}:{zone_id}" / "energy_uj"``.
        """
        return self.root / f"{control_type}:{zone_id}" / "energy_uj"

    def _zone_dir(self, zone_id: str, control_type: str) -> Path:
        parts = zone_id.split(":")
        path = self.sysfs / _DEVICES / control_type
        for depth in range(1, len(parts) + 1):
            path = path / f"{control_type}:{':'.join(parts[:depth])}"
        return path

    def _link(self, entry: str, target: Path) -> None:
        link = self.root / entry
        if link.is_symlink() or link.exists():
            return
        link.symlink_to(Path(os.path.relpath(target, self.root)), target_is_directory=True)
