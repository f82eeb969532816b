"""Attribution when processes of the tree exit, are reaped, leave the tree or reuse
pids: every CPU second counted once. Hand-computed on a fake procfs (jiffies), and
once on the real /proc against getrusage."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carbonlens.sensors.base import Host
from carbonlens.testing.procfs import ProcTree
from carbonlens.tracking.attribution import Attribution, ProcfsReader


class _Machine:
    """Advances the fake machine's busy jiffies by `busy` per interval (idle +1000)."""

    def __init__(self, tree: ProcTree) -> None:
        self.tree, self.user, self.idle = tree, 1000, 5000

    def advance(self, busy: int) -> None:
        self.user += busy
        self.idle += 1000
        self.tree.set_jiffies(user=self.user, idle=self.idle)


def _tree(tmp_path: Path) -> tuple[ProcTree, _Machine]:
    """Root 100 (init 1 is not ours), child 101 and its child 102."""
    tree = ProcTree(tmp_path / "proc")
    machine = _Machine(tree)
    machine.advance(0)
    tree.meminfo(mem_total_kib=4 * 1024 * 1024)
    tree.process(1, ppid=0, utime=50)
    tree.process(100, ppid=1, utime=10)
    tree.process(101, ppid=100, utime=20)
    tree.process(102, ppid=101, utime=5)
    return tree, machine


def _attribution(tree: ProcTree, rescan_s: float = 0.0) -> Attribution:
    return Attribution(100, reader=ProcfsReader(Host(procfs=tree.procfs)), rescan_s=rescan_s)


def test_child_with_reaped_grandchildren_is_counted_once_when_reaped(tmp_path: Path) -> None:
    tree, machine = _tree(tmp_path)
    shares = _attribution(tree)
    # 102 runs 15 more jiffies, exits, 101 reaps it: 101's reaped time is 102's 20,
    # of which 5 were counted: +15
    tree.remove_process(102)
    tree.process(101, ppid=100, utime=20, cutime=20)
    machine.advance(100)
    assert shares.sample().cpu_ratio == pytest.approx(15 / 100)
    # 101 exits and the root reaps it: the root's reaped time grows by 101's whole
    # 20 own + 20 reaped, all counted already: +0 (it was 40 - 20 = +20 before: the
    # grandchild's time counted a second time)
    tree.remove_process(101)
    tree.process(100, ppid=1, utime=10, cutime=40)
    machine.advance(100)
    assert shares.sample().cpu_ratio == pytest.approx(0 / 100)


def test_child_reaped_a_tick_after_it_exited_is_counted_once(tmp_path: Path) -> None:
    tree, machine = _tree(tmp_path)
    tree.process(103, ppid=100, utime=0)
    shares = _attribution(tree)
    tree.process(103, ppid=100, utime=10)  # runs 10 jiffies
    machine.advance(100)
    assert shares.sample().cpu_ratio == pytest.approx(10 / 100)
    tree.process(103, ppid=100, utime=30, state="Z")  # 20 more, exits, not reaped yet
    machine.advance(100)
    assert shares.sample().cpu_ratio == pytest.approx(20 / 100)  # was 0: zombie unread
    tree.remove_process(103)  # the root reaps it: its 30 jiffies were all counted
    tree.process(100, ppid=1, utime=10, cutime=30)
    machine.advance(100)
    assert shares.sample().cpu_ratio == pytest.approx(0 / 100)  # was 30/100: twice


def test_process_that_left_the_tree_alive_takes_nothing_off(tmp_path: Path) -> None:
    tree, machine = _tree(tmp_path)
    shares = _attribution(tree)
    # 101 runs 10 more jiffies and exits; the root reaps it (reaped time 30, 20 of it
    # counted: +10). Its child 102 lives on, reparented to init: no longer ours, and
    # not reaped by the tree, so its 5 counted jiffies are not taken off the +10
    tree.remove_process(101)
    tree.process(100, ppid=1, utime=10, cutime=30)
    tree.process(102, ppid=1, utime=5)
    machine.advance(100)
    result = shares.sample()
    assert result.pids == frozenset({100})
    assert result.cpu_ratio == pytest.approx(10 / 100)  # was 5/100


def test_orphan_reaped_by_init_takes_nothing_off(tmp_path: Path) -> None:
    tree, machine = _tree(tmp_path)
    shares = _attribution(tree, rescan_s=3600.0)  # no new search: 102 stays listed
    tree.remove_process(101)  # 101 exits, reaped by the root (20 jiffies, counted)
    tree.process(100, ppid=1, utime=10, cutime=20)
    tree.process(102, ppid=1, utime=8)  # its orphan, now init's child: +3
    machine.advance(100)
    assert shares.sample().cpu_ratio == pytest.approx(3 / 100)
    # init reaps 102; the root reaps a child it never listed (12 jiffies): +12,
    # with nothing taken off for 102 (init's reaped time holds it, not ours)
    tree.remove_process(102)
    tree.process(100, ppid=1, utime=10, cutime=32)
    machine.advance(100)
    assert shares.sample().cpu_ratio == pytest.approx(12 / 100)  # was 4/100


def test_reused_pid_is_not_ours_unless_a_search_finds_it(tmp_path: Path) -> None:
    tree, machine = _tree(tmp_path)
    shares = _attribution(tree, rescan_s=3600.0)
    # 102 exits (5 jiffies, counted), 101 reaps it; a process elsewhere gets pid 102
    tree.remove_process(102)
    tree.process(101, ppid=100, utime=20, cutime=5)
    tree.process(102, ppid=1, utime=300, starttime=900)
    machine.advance(100)
    result = shares.sample()
    assert result.pids == frozenset({100, 101})
    assert result.cpu_ratio == pytest.approx(0 / 100)  # was 1 (300 jiffies, capped)


def test_reused_pid_found_in_the_tree_is_a_new_process(tmp_path: Path) -> None:
    tree, machine = _tree(tmp_path)
    shares = _attribution(tree)  # searched every sample
    # 102 exits (5 jiffies, counted), 101 reaps it, and 101's next child gets pid 102
    # and runs 3 jiffies: +3
    tree.remove_process(102)
    tree.process(101, ppid=100, utime=20, cutime=5)
    tree.process(102, ppid=101, utime=3, starttime=900)
    machine.advance(100)
    assert shares.sample().cpu_ratio == pytest.approx(3 / 100)  # was 5/100


def test_seconds_over_the_cap_go_to_the_next_intervals(tmp_path: Path) -> None:
    tree, machine = _tree(tmp_path)
    shares = _attribution(tree, rescan_s=3600.0)
    # the root reaps a child found by no search that ran 250 jiffies: more than the
    # interval's 100 busy jiffies (it ran earlier); the rest comes in later intervals
    tree.process(100, ppid=1, utime=10, cutime=250)
    machine.advance(100)
    assert shares.sample().cpu_ratio == 1.0  # carried: 150
    machine.advance(0)
    assert shares.sample().cpu_ratio is None  # the machine did nothing: still 150
    machine.advance(100)
    assert shares.sample().cpu_ratio == 1.0  # carried: 50
    tree.process(100, ppid=1, utime=20, cutime=250)  # the root runs 10 jiffies
    machine.advance(100)
    assert shares.sample().cpu_ratio == pytest.approx((50 + 10) / 100)
    machine.advance(100)
    assert shares.sample().cpu_ratio == pytest.approx(0 / 100)


class _UnboundedReader(ProcfsReader):
    """The real /proc, but a machine 1000 busy seconds further on at every read, so
    that `cpu_ratio * 1000` is the tree's CPU seconds of the interval (never capped)."""

    busy_s = 0.0

    def machine_busy_s(self) -> float:
        self.busy_s += 1000.0
        return self.busy_s


def _rusage_s() -> float:
    """CPU seconds of this process and of the children it has reaped."""
    total_s = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total_s += usage.ru_utime + usage.ru_stime
    return total_s


GRANDCHILDREN = """
import subprocess, sys, time
burn = "import time\\nt = time.process_time()\\nwhile time.process_time() - t < 0.3: pass"
for _ in range(3):
    subprocess.run([sys.executable, "-c", burn], check=True)
time.sleep(0.3)
"""


def test_real_tree_seconds_match_getrusage() -> None:
    # a child, found by the search while it lives, runs three 0.3 s grandchildren
    # and waits for them; this process samples until it has reaped the child
    before_s = _rusage_s()
    shares = Attribution(os.getpid(), reader=_UnboundedReader(Host()), rescan_s=0.0)
    child = subprocess.Popen([sys.executable, "-c", GRANDCHILDREN])
    counted_s = 0.0
    while child.poll() is None:
        time.sleep(0.1)
        counted_s += (shares.sample().cpu_ratio or 0.0) * 1000.0
    counted_s += (shares.sample().cpu_ratio or 0.0) * 1000.0
    truth_s = _rusage_s() - before_s
    # getrusage has every second of the tree once: the grandchildren's 0.9 s were
    # counted twice before (once through the child's reaped time, once again when
    # the child was reaped); jiffies round each process's figures to 10 ms
    assert truth_s > 0.9
    assert counted_s == pytest.approx(truth_s, abs=0.1)


def test_children_of_main_threads_are_found_at_the_next_sample(tmp_path: Path) -> None:
    tree, machine = _tree(tmp_path)
    tree.children_lists()  # the kernel lists each thread's children
    shares = _attribution(tree, rescan_s=3600.0)  # no full search during the test
    # the root starts 103, which runs 40 jiffies before the next sample: the main
    # thread's children list names it, so all 40 count now (before: 0 now, and the
    # 40 at the full search up to 5 s later, or when 103 is reaped)
    tree.process(103, ppid=100, utime=40, starttime=500)
    machine.advance(100)
    result = shares.sample()
    assert 103 in result.pids
    assert result.cpu_ratio == pytest.approx(40 / 100)
    # it runs 10 more: +10, counted once
    tree.process(103, ppid=100, utime=50, starttime=500)
    machine.advance(100)
    assert shares.sample().cpu_ratio == pytest.approx(10 / 100)
