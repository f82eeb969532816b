"""Attribution on this machine's real /proc, with real child processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carbonlens.sensors.base import Host
from carbonlens.testing.procfs import ProcTree
from carbonlens.tracking.attribution import Attribution, ProcfsReader

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
    # the child kept one core busy: a large share of the busy time is ours (other
    # load on the machine lowers it, hence the loose bound)
    assert result.cpu_ratio is not None and result.cpu_ratio > 0.1
    assert result.ram_ratio is not None and 0 < result.ram_ratio < 1


def test_child_that_lived_between_two_samples_is_counted_when_reaped() -> None:
    shares = Attribution(os.getpid(), rescan_s=3600.0)  # no rescan: only reaping can see it
    shares.sample()
    subprocess.run([sys.executable, "-c", BURN.format(s=0.4)], check=True)
    result = shares.sample()
    assert result.cpu_ratio is not None and result.cpu_ratio > 0.1


@pytest.fixture(params=["children lists", "parent ids"])
def fake_tree(request: pytest.FixtureRequest, tmp_path: Path) -> ProcTree:
    """The tree below, read through the kernel's children lists or by parent ids."""
    tree = _fake_tree(tmp_path)
    if request.param == "children lists":
        tree.children_lists()
    return tree


def _fake_tree(tmp_path: Path) -> ProcTree:
    tree = ProcTree(tmp_path / "proc")
    tree.set_jiffies(user=1000, idle=5000)
    tree.meminfo(mem_total_kib=4 * 1024 * 1024)  # 4 GiB
    tree.process(1, ppid=0, utime=50)  # init: not ours
    tree.process(100, ppid=1, utime=10, rss_pages=1000)  # the tracked root
    tree.process(101, ppid=100, utime=20, rss_pages=3000)  # its child
    tree.process(102, ppid=101, utime=5, rss_pages=0)  # a grandchild
    return tree


def test_shares_from_a_fake_procfs_by_hand(fake_tree: ProcTree) -> None:
    tree = fake_tree
    reader = ProcfsReader(Host(procfs=tree.procfs))
    shares = Attribution(100, reader=reader, rescan_s=0.0)
    # next interval: machine busy +200 jiffies; root +20, child +40, grandchild +40
    tree.set_jiffies(user=1200, idle=5800)
    tree.process(100, ppid=1, utime=30, rss_pages=1000)
    tree.process(101, ppid=100, utime=60, rss_pages=3000)
    tree.process(102, ppid=101, utime=45, rss_pages=0)
    result = shares.sample()
    assert result.pids == frozenset({100, 101, 102})
    # tree 100 jiffies of 200 busy jiffies
    assert result.cpu_ratio == pytest.approx(100 / 200)
    # 4000 pages x page size / 4 GiB
    page = os.sysconf("SC_PAGE_SIZE")
    assert result.ram_ratio == pytest.approx(4000 * page / (4 * 1024**3))


def test_reaped_grandchild_counts_only_its_unseen_time(fake_tree: ProcTree) -> None:
    tree = fake_tree
    shares = Attribution(100, reader=ProcfsReader(Host(procfs=tree.procfs)), rescan_s=0.0)
    # the grandchild ran 15 more jiffies, exited, and its parent reaped it: the parent's
    # cutime grows by its whole 20 jiffies, of which 5 were already counted
    tree.remove_process(102)
    tree.process(101, ppid=100, utime=20, cutime=20, rss_pages=3000)
    tree.set_jiffies(user=1100, idle=5900)  # machine busy +100
    result = shares.sample()
    assert result.pids == frozenset({100, 101})
    assert result.cpu_ratio == pytest.approx(15 / 100)


def test_zombies_are_read_and_foreign_processes_are_not_ours(fake_tree: ProcTree) -> None:
    tree = fake_tree
    tree.process(103, ppid=100, utime=7, stime=3, rss_pages=0, state="Z", starttime=250)
    reader = ProcfsReader(Host(procfs=tree.procfs))
    assert sorted(reader.descendants(100)) == [101, 102, 103]
    # an exited child not yet reaped still shows its final times (in no other figure yet)
    zombie = reader.times(103)
    tick = 1 / os.sysconf("SC_CLK_TCK")
    assert zombie is not None
    assert (zombie.own_s, zombie.rss_bytes, zombie.ppid, zombie.started) == (
        pytest.approx(10 * tick),
        0.0,
        100,
        250.0,
    )
    assert reader.times(999) is None


def test_children_of_every_thread_are_read(tmp_path: Path) -> None:
    tree = _fake_tree(tmp_path)
    tree.children_lists()
    # a child forked by a second thread of the root is listed under that thread
    (tree.procfs / "100" / "task" / "107").mkdir()
    (tree.procfs / "100" / "task" / "107" / "children").write_text("104 ")
    tree.process(104, ppid=100, utime=1)
    tree.process(100, ppid=1, utime=10)  # rewrites the main thread's list
    (tree.procfs / "100" / "task" / "100" / "children").write_text("101 ")
    reader = ProcfsReader(Host(procfs=tree.procfs))
    assert sorted(reader.descendants(100)) == [101, 102, 104]


def test_children_lists_are_preferred_to_parent_ids(tmp_path: Path) -> None:
    tree = _fake_tree(tmp_path)
    tree.children_lists()
    tree.process(200, ppid=100)  # its parent id says ours...
    (tree.procfs / "100" / "task" / "100" / "children").write_text("101 ")  # ...the list not
    reader = ProcfsReader(Host(procfs=tree.procfs))
    assert sorted(reader.descendants(100)) == [101, 102]


def test_real_children_lists_agree_with_parent_ids() -> None:
    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        pytest.skip("this kernel has no CONFIG_PROC_CHILDREN")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        listed = ProcfsReader(Host()).descendants(os.getpid())
        scanned = _descendants_by_parent_ids(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert child.pid in listed
    assert sorted(listed) == sorted(scanned)


def _descendants_by_parent_ids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                ppid = int(Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found
