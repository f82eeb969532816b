"""Apple silicon power from macOS `powermetrics` (needs root), sampled per read.

Each `read` runs `powermetrics --samplers cpu_power,gpu_power -i <sample_ms> -n 1`, which
prints the mean power of each rail over that window, and returns it as `power_w`
(method SAMPLED: the tracker integrates). Rails and channels:

==========================  =======  =========  ==========================================
powermetrics line           device   component  covers
==========================  =======  =========  ==========================================
``CPU Power: 823 mW``       cpu      cpu        the CPU clusters
``GPU Power: 26 mW``        gpu      gpu        the integrated GPU
``ANE Power: 323 mW``       ane      other      the Neural Engine
``DRAM Power: 265 mW``      dram     ram        memory; printed by older macOS only
==========================  =======  =========  ==========================================

"Combined Power (CPU + GPU + ANE)" (older: "Package Power") is parsed but not a channel:
it would count the rails twice, and it is no whole-SoC figure (no memory, fabric or media
engines), so no channel is a SOC channel and the RAM model still applies on macOS 13+.
Intel Macs print only a package estimate and are not supported.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from typing import Any, ClassVar, Final, Self

from carbonlens._frozen import frozen
from carbonlens.errors import ConfigError, SensorReadError, SensorUnavailable
from carbonlens.records import Channel, Component, Method, Reading
from carbonlens.sensors._precheck import not_macos
from carbonlens.sensors.base import Host, Probe, ReadItem

Runner = Callable[[Sequence[str], float], str]
"""Runs argv with a timeout in s and returns stdout; raises OSError or SubprocessError."""

RAIL_COMPONENTS: Final[Mapping[str, Component]] = {
    "cpu": Component.CPU,
    "gpu": Component.GPU,
    "ane": Component.OTHER,
    "dram": Component.RAM,
}
_RAIL_LINE: Final = re.compile(
    r"^\s*(CPU|GPU|ANE|DRAM|Package|Combined) Power(?: \([^)]*\))?:"
    r"\s*([0-9]+(?:\.[0-9]+)?)\s*(mW|W)\s*$",
    re.MULTILINE,
)
_ELAPSED: Final = re.compile(r"\(([0-9.]+)ms elapsed\)")
_HEADER: Final = re.compile(r"^(Machine model|OS version): *(\S+)", re.MULTILINE)
_SAMPLE_START: Final = "*** Sampled system activity"


@frozen
class PowerSample:
    """One powermetrics sample.

    Attributes:
        rails_w: Mean power in W by rail ("cpu", "gpu", "ane", "dram"), for those printed.
        combined_w: "Combined Power (CPU + GPU + ANE)" or "Package Power" in W, if printed.
        elapsed_s: Length of the sampling window in s, if printed.
        header: "Machine model" and "OS version" from the preamble, if printed.
    """

    rails_w: Mapping[str, float]
    combined_w: float | None = None
    elapsed_s: float | None = None
    header: Mapping[str, str] = field(default_factory=dict)


def parse_powermetrics(text: str) -> PowerSample:
    """Parse the last sample of `powermetrics` text output.

    Raises:
        ValueError: The text holds no Apple silicon power line (an Intel Mac, an error
            message, or a sampler that was not enabled).
    """
    header = dict(_HEADER.findall(text.split(_SAMPLE_START, 1)[0]))
    sample = text[text.rfind(_SAMPLE_START) :] if _SAMPLE_START in text else text
    rails_w: dict[str, float] = {}
    combined_w: float | None = None
    for label, value, unit in _RAIL_LINE.findall(sample):
        watts = float(value) / 1000.0 if unit == "mW" else float(value)
        if label in ("Combined", "Package"):
            combined_w = watts
        else:  # "GPU Power" is printed twice, with the same value
            rails_w[label.lower()] = watts
    if not rails_w:
        raise ValueError(f"no CPU/GPU/ANE power line in powermetrics output: {sample[:200]!r}")
    elapsed = _ELAPSED.search(sample)
    elapsed_s = float(elapsed.group(1)) / 1000.0 if elapsed else None
    return PowerSample(rails_w, combined_w, elapsed_s, header)


def run_command(argv: Sequence[str], timeout_s: float) -> str:
    """The default `Runner`: run `argv` and return its stdout (raises on non-zero exit)."""
    import subprocess  # lazy: only reached on a Mac

    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s, check=True)
    return done.stdout


@frozen
class MacPlatform:
    """What `probe` checks: OS, CPU architecture, where powermetrics is, and root."""

    system: str
    machine: str
    powermetrics: str | None
    is_root: bool

    @classmethod
    def current(cls) -> MacPlatform:
        """This machine."""
        if not hasattr(os, "uname"):  # Windows
            return cls(sys.platform, "", None, False)
        uname = os.uname()
        tool = None
        if uname.sysname == "Darwin":
            import shutil  # lazy: only a Mac looks for the tool

            tool = shutil.which("powermetrics") or shutil.which("powermetrics", path="/usr/bin")
        return cls(uname.sysname, uname.machine, tool, os.geteuid() == 0)


class PowermetricsSensor:
    """CPU, GPU, Neural Engine (and DRAM on older macOS) power of Apple silicon.

    Open with `PowermetricsSensor.open(host, sample_ms=200, sudo=False, runner=None)`.
    """

    name: ClassVar[str] = "powermetrics"
    components: ClassVar[frozenset[Component]] = frozenset(RAIL_COMPONENTS.values())
    method: ClassVar[Method] = Method.SAMPLED

    def __init__(self, argv: list[str], runner: Runner, sample_ms: int, first: PowerSample) -> None:
        """Use `open`; this only stores what `open` found."""
        self._argv = argv
        self._runner = runner
        self._sample_ms = sample_ms
        self._header = dict(first.header)
        self._channels = [
            Channel(self.name, RAIL_COMPONENTS[rail], rail, Method.SAMPLED)
            for rail in RAIL_COMPONENTS
            if rail in first.rails_w
        ]

    @classmethod
    def probe(cls, host: Host, *, platform: MacPlatform | None = None, sudo: bool = False) -> Probe:
        """Say whether powermetrics can be run here; cheap (does not run it), never raises."""
        mac = platform if platform is not None else MacPlatform.current()
        if mac.system != "Darwin":
            return Probe(cls.name, False, not_macos(mac.system))
        if mac.machine != "arm64":
            return Probe(
                cls.name,
                False,
                f"Intel Mac ({mac.machine}): powermetrics gives no per-rail power there",
                "use the cpu-tdp model sensor",
            )
        if mac.powermetrics is None:
            return Probe(
                cls.name,
                False,
                "powermetrics not found",
                "it ships with macOS as /usr/bin/powermetrics",
            )
        if not (mac.is_root or sudo):
            return Probe(
                cls.name,
                False,
                "powermetrics must be run as root",
                "run as root, or pass sudo=True with a passwordless sudoers rule "
                "for /usr/bin/powermetrics",
            )
        return Probe(cls.name, True, f"{mac.powermetrics} ({'root' if mac.is_root else 'sudo'})")

    @classmethod
    def open(
        cls,
        host: Host,
        *,
        sample_ms: int = 200,
        sudo: bool = False,
        runner: Runner | None = None,
        platform: MacPlatform | None = None,
        **options: Any,
    ) -> Self:
        """Check the platform and take one sample to learn which rails this Mac prints.

        Args:
            host: Unused (powermetrics reads the kernel directly); kept for the protocol.
            sample_ms: Window of each powermetrics run in ms; each `read` blocks this long.
            sudo: Prefix `sudo -n` when not root (needs a passwordless sudoers rule).
            runner: Runs the command; `run_command` when None (tests inject recorded text).
            platform: The platform to check; `MacPlatform.current()` when None.
            **options: Anything else is rejected with `ConfigError`.

        Raises:
            SensorUnavailable: not Apple silicon macOS, no root, or powermetrics failed.
            ConfigError: an unknown option or a `sample_ms` below 1.
        """
        if options or sample_ms < 1:
            raise ConfigError(
                f"bad powermetrics option(s): {sorted(options) or f'sample_ms={sample_ms}'} "
                "(allowed: sample_ms >= 1, sudo, runner, platform)",
                setting="sensors.powermetrics",
            )
        mac = platform if platform is not None else MacPlatform.current()
        probe = cls.probe(host, platform=mac, sudo=sudo)
        if not probe.available or mac.powermetrics is None:
            raise SensorUnavailable(cls.name, probe.reason, probe.hint)
        argv = ["sudo", "-n"] if sudo and not mac.is_root else []
        argv += [mac.powermetrics, "--samplers", "cpu_power,gpu_power", "-i", str(sample_ms)]
        argv += ["-n", "1"]
        run = runner if runner is not None else run_command
        import subprocess  # lazy: only reached on a Mac

        try:
            first = _sample(argv, run, sample_ms)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            raise SensorUnavailable(cls.name, f"powermetrics failed: {_describe(exc)}") from exc
        return cls(argv, run, sample_ms, first)

    def channels(self) -> Sequence[Channel]:
        """One channel per rail this Mac prints ("cpu", "gpu", "ane", and "dram" if any)."""
        return list(self._channels)

    def read(self, t_s: float, pids: frozenset[int] = frozenset()) -> list[ReadItem]:
        """Run powermetrics once (blocks `sample_ms`) and return each rail's mean power in W;
        a rail missing from the output gives a `SensorReadError` in its place.

        Raises:
            SensorReadError: powermetrics failed or printed nothing parseable.
        """
        import subprocess  # lazy: only reached on a Mac

        try:
            sample = _sample(self._argv, self._runner, self._sample_ms)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            raise SensorReadError(self.name, "all", _describe(exc)) from exc
        return [
            Reading(channel, t_s, None, sample.rails_w[channel.device])
            if channel.device in sample.rails_w
            else SensorReadError(self.name, channel.device, "rail missing from output")
            for channel in self._channels
        ]

    def assumptions(self) -> dict[str, Any]:
        """Sampling window, what each rail covers, and the Mac's model and OS build."""
        return {
            "sample_ms": self._sample_ms,
            "basis": "each read runs powermetrics for sample_ms; that window's mean power "
            "stands for the whole sampling interval",
            "rails": {
                "cpu": "CPU clusters",
                "gpu": "integrated GPU",
                "ane": "Neural Engine (component other)",
                "dram": "memory (older macOS)",
            },
            "not_measured": "SoC fabric, media engines, display, storage, power supply losses",
            **{key.lower().replace(" ", "_"): value for key, value in self._header.items()},
        }

    def close(self) -> None:
        """Nothing to release: every read is its own process."""


def _sample(argv: Sequence[str], run: Runner, sample_ms: int) -> PowerSample:
    return parse_powermetrics(run(argv, sample_ms / 1000.0 + 10.0))


def _describe(exc: BaseException) -> str:
    import subprocess  # lazy: only reached on a Mac

    if isinstance(exc, subprocess.CalledProcessError) and exc.stderr:
        return f"exit {exc.returncode}: {str(exc.stderr).strip()[:200]}"
    return str(exc)
