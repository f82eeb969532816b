"""Public fakes for testing code that uses carbonlens, and carbonlens itself.

Fake hardware trees are written under a directory you give (pytest's tmp_path);
fake vendor libraries implement the narrow protocols the sensors use, so the
real reading code runs unchanged.
"""

from carbonlens.testing.amdsmi import FakeAmdGpu, FakeAmdSmi
from carbonlens.testing.fakes import FakeClock, FakeSensor, FakeShares
from carbonlens.testing.intensity_server import IntensityServer, Reply
from carbonlens.testing.nvml import FakeGpu, FakeNvml
from carbonlens.testing.powercap import PowercapTree
from carbonlens.testing.procfs import CgroupTree, ProcTree

__all__ = [
    "CgroupTree",
    "FakeAmdGpu",
    "FakeAmdSmi",
    "FakeClock",
    "FakeGpu",
    "FakeNvml",
    "FakeSensor",
    "FakeShares",
    "IntensityServer",
    "PowercapTree",
    "ProcTree",
    "Reply",
]
