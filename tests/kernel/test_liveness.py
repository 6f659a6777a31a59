"""Whether a recorded process still runs: real processes, a real SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys

from fleet_hive.kernel.liveness import ProcessId, current, is_running
from fleet_hive.reservations.model import Wait
from fleet_hive.reservations.service import Reservations


def test_a_killed_process_is_known_dead_here_and_unknown_elsewhere():
    me = current()
    assert is_running(me, me.host) is True
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc = ProcessId(child.pid, me.host, None)
        assert is_running(proc, me.host) is True
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert is_running(proc, me.host) is False
        assert is_running(proc, "another-host/boot") is None
    finally:
        child.kill()
        child.wait()


def test_a_reused_pid_is_not_taken_for_the_recorded_process():
    me = current()
    assert me.start is not None
    assert is_running(ProcessId(me.pid, me.host, me.start + 1), me.host) is False


def test_wait_records_count_unless_their_process_is_known_gone():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    me = current()
    mine = (me.pid, me.host, me.start)

    def wait(pid, host, start=None):
        return Wait("r", "B", ("x.py",), "exclusive", (), "t", 1e12, (1, "w", 1), pid, host,
                    start)

    assert Reservations._waiter_runs(wait(child.pid, me.host), mine) is False
    assert Reservations._waiter_runs(wait(me.pid, me.host, me.start), mine) is True
    # another host's waiter, or a record without a process, lapses at its ``until`` only
    assert Reservations._waiter_runs(wait(child.pid, "elsewhere/boot"), mine) is True
    assert Reservations._waiter_runs(wait(None, None), mine) is True
