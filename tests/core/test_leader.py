"""Periodic work on exactly one process of all nodes (``core.leader``), and it moves when the leader dies.

Each "node" here is a ``LeaderLoop`` with its own lock (its own connection on PostgreSQL, its
own file handle on SQLite), as two processes would have. Waits have upper bounds only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from stadslab.core.leader import LeaderLoop, lock_key, run_as_leader
from tests.support.processes import wait_until


def _counting():
    runs: list[str] = []
    lock = threading.Lock()

    def make(node: str):
        def fn():
            with lock:
                runs.append(node)
        return fn
    return runs, make


def test_one_leader_of_two_and_the_work_moves_when_it_stops(db):
    runs, make = _counting()
    a = LeaderLoop(db.url, "test-job", make("a"), interval=0.05, poll=0.05).start()
    b = LeaderLoop(db.url, "test-job", make("b"), interval=0.05, poll=0.05).start()
    try:
        assert wait_until(lambda: len(runs) >= 5, timeout=30)
        assert [a.leading, b.leading].count(True) == 1
        first = "a" if a.leading else "b"
        assert set(runs) == {first}  # the follower never ran the work
        (a if first == "a" else b).stop()
        other = "b" if first == "a" else "a"
        assert wait_until(lambda: other in runs, timeout=30)
        assert (b if other == "b" else a).leading
    finally:
        a.stop()
        b.stop()


def test_different_names_are_different_leaders(db):
    runs, make = _counting()
    loops = [run_as_leader(db, "job-one", make("one"), 0.05, poll=0.05),
             run_as_leader(db, "job-two", make("two"), 0.05, poll=0.05)]
    try:
        assert wait_until(lambda: {"one", "two"} <= set(runs), timeout=30)
    finally:
        for loop in loops:
            loop.stop()
    assert lock_key("job-one") != lock_key("job-two")
    assert -(1 << 63) <= lock_key("job-one") < (1 << 63)


_HOLDER = """
import sys, time
from stadslab.core.leader import LeaderLoop
loop = LeaderLoop(sys.argv[1], "killed-job", lambda: print("ran", flush=True), interval=60, poll=0.05).start()
while True:
    time.sleep(1)
"""


def test_leadership_moves_when_the_leader_process_is_killed(db, tmp_path):
    """SIGKILL: no clean-up runs; PostgreSQL ends the dead session, the kernel drops the flock."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, db.url], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert proc.stdout.readline().strip() == "ran"  # it leads
        runs, make = _counting()
        follower = LeaderLoop(db.url, "killed-job", make("follower"), interval=60, poll=0.05).start()
        try:
            time.sleep(0.5)
            assert runs == [] and not follower.leading
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            assert wait_until(lambda: runs == ["follower"], timeout=30)
        finally:
            follower.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
