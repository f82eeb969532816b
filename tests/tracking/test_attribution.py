"""Attribution on this machine's real /proc, with real child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from carbonlens.tracking.attribution import Attribution

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass"


def test_running_child_is_in_the_tree_and_gets_the_cpu_share() -> None:
    shares = Attribution(os.getpid(), rescan_s=0.0)
    child = subprocess.Popen([sys.executable, "-c", BURN.format(s=30)])
    try:
        shares.sample()
        time.sleep(0.5)
        result = shares.sample()
    finally:
        child.kill()
        child.wait()
    assert child.pid in result.pids and os.getpid() in result.pids
    # the child kept one core busy: most of the machine's busy time is ours
    assert result.cpu_ratio is not None and result.cpu_ratio > 0.3
    assert result.ram_ratio is not None and 0 < result.ram_ratio < 1


def test_child_that_lived_between_two_samples_is_counted_when_reaped() -> None:
    shares = Attribution(os.getpid(), rescan_s=3600.0)  # no rescan: only reaping can see it
    shares.sample()
    subprocess.run([sys.executable, "-c", BURN.format(s=0.4)], check=True)
    result = shares.sample()
    assert result.cpu_ratio is not None and result.cpu_ratio > 0.3
