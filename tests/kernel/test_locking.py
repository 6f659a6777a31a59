"""The writer lock: reentrant in a thread, exclusive across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from fleet_hive.kernel.locking import FileMutex


def test_reentrant_within_a_thread(tmp_path: Path):
    lock = FileMutex(tmp_path / "x.lock")
    with lock:
        with lock:
            assert lock.is_locked
        assert lock.is_locked
    assert not lock.is_locked


def test_exclusive_between_threads(tmp_path: Path):
    lock = FileMutex(tmp_path / "x.lock")
    order: list[str] = []
    holding = threading.Event()

    def other() -> None:
        holding.wait()
        with lock:
            order.append("other")

    t = threading.Thread(target=other)
    t.start()
    with lock:
        holding.set()
        t.join(0.2)  # the other thread is blocked meanwhile
        order.append("first-released")
    t.join(10)
    assert order == ["first-released", "other"]


HOLDER = """
import sys, time
from fleet_hive.kernel.locking import FileMutex
lock = FileMutex(sys.argv[1])
with lock:
    print("held", flush=True)
    sys.stdin.readline()            # hold until the parent says so
    open(sys.argv[2], "w").write("released")
"""


def test_exclusive_across_processes(tmp_path: Path):
    path, marker = tmp_path / "x.lock", tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(marker)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().strip() == "held"
    seen: list[bool] = []
    waiter = threading.Thread(target=lambda: (FileMutex(path).acquire(),
                                              seen.append(marker.exists())))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive(), "the lock was granted while another process held it"
    child.stdin.write("\n")
    child.stdin.flush()
    waiter.join(10)
    assert seen == [True], "granted only after the holder released"
    assert child.wait(10) == 0


def test_a_child_forked_while_the_parent_holds_it_can_take_it_after_release(tmp_path: Path):
    import os

    lock = FileMutex(tmp_path / "x.lock")
    lock.acquire()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: blocks until the parent releases, then holds it itself
        try:
            lock.acquire()
            os.write(w, b"got it")
            lock.release()
        finally:
            os._exit(0)
    os.close(w)
    lock.release()
    assert os.read(r, 16) == b"got it"
    os.waitpid(pid, 0)


def test_it_yields_to_waiters_only_when_there_may_be_some(tmp_path: Path, monkeypatch):
    """A command that takes the lock once never gives its core away (on a busy machine a
    yield can cost a time slice); a process taking it again right after letting go, or
    letting go of it after waiting for it, yields so that a woken waiter can go first."""
    import os

    from fleet_hive.kernel import locking

    yields: list[str] = []
    monkeypatch.setattr(os, "sched_yield", lambda: yields.append("yield"))
    path, marker = tmp_path / "x.lock", tmp_path / "marker"
    lock = FileMutex(path)
    with lock:
        pass
    assert yields == [], "an uncontended lock taken once"
    with lock:  # again, at once: as a loop of appends does
        pass
    assert yields == ["yield"]
    yields.clear()
    lock._released_ns -= 2 * locking.REACQUIRE_NS  # a while later
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(marker)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().strip() == "held"
    threading.Timer(0.2, lambda: (child.stdin.write("\n"), child.stdin.flush())).start()
    with lock:  # waits for the other process
        assert marker.exists() and yields == []
    assert yields == ["yield"], "it waited: others may be waiting too"
    assert child.wait(10) == 0
