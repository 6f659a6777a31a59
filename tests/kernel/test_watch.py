"""kernel/watch.py: a change below the watched directories wakes the waiter (inotify and
the stat-polling fallback alike); nothing wakes it otherwise."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fleet_hive.kernel.watch import Watcher, wait_for_change

MODES = [pytest.param(None, id="default"), pytest.param(True, id="poll")]


@pytest.mark.parametrize("poll", MODES)
def test_times_out_when_nothing_changes(tmp_path: Path, poll):
    (tmp_path / "w").mkdir()
    with Watcher([tmp_path], poll=poll) as w:
        assert w.wait(0.3) is False


@pytest.mark.parametrize("poll", MODES)
def test_an_append_in_a_subdirectory_wakes_it(tmp_path: Path, poll):
    seg = tmp_path / "writer" / "a.jsonl"
    seg.parent.mkdir()
    seg.write_text("x\n")
    with Watcher([tmp_path], poll=poll) as w:
        with seg.open("a") as f:  # a change after arming, before the wait, is kept
            f.write("y\n")
        assert w.wait(10) is True
        assert w.wait(0.2) is False  # seen once: nothing new since


@pytest.mark.parametrize("poll", MODES)
def test_a_new_directory_and_a_file_in_it_are_seen(tmp_path: Path, poll):
    with Watcher([tmp_path], poll=poll) as w:
        (tmp_path / "newwriter").mkdir()
        assert w.wait(10) is True
        (tmp_path / "newwriter" / "seg.jsonl").write_text("z\n")
        assert w.wait(10) is True


def test_a_change_from_another_process_wakes_the_waiter_before_its_timeout(tmp_path: Path):
    target = tmp_path / "d" / "f"
    target.parent.mkdir()
    woke: list[bool] = []
    started = threading.Event()

    def waiter() -> None:
        with Watcher([tmp_path]) as w:
            started.set()
            woke.append(w.wait(30))

    t = threading.Thread(target=waiter)
    t.start()
    started.wait()
    subprocess.run([sys.executable, "-c", f"open({str(target)!r}, 'w').write('hi')"],
                   check=True)
    t0 = time.monotonic()
    t.join(30)
    assert woke == [True] and time.monotonic() - t0 < 30


def test_inotify_is_what_linux_uses(tmp_path: Path):
    if not sys.platform.startswith("linux"):
        pytest.skip("inotify is Linux's")
    with Watcher([tmp_path]) as w:
        assert w.mode == "inotify"
    with Watcher([tmp_path], poll=True) as w:
        assert w.mode == "poll"


def test_wait_for_change_returns_false_on_timeout(tmp_path: Path):
    assert wait_for_change([tmp_path], 0.1) is False



def test_out_of_inotify_watches_falls_back_to_polling(tmp_path: Path, monkeypatch):
    """inotify_add_watch failing (ENOSPC: max_user_watches reached) must not leave a
    directory unwatched: the watcher polls instead, and still sees the change."""
    import fleet_hive.kernel.watch as watch

    real = watch._inotify_libc()
    if real is None:
        pytest.skip("no inotify here")

    class NoWatches:
        def inotify_init1(self, flags: int) -> int:
            return real.inotify_init1(flags)  # type: ignore[attr-defined]

        def inotify_add_watch(self, fd: int, path: bytes, mask: int) -> int:
            return -1

    monkeypatch.setattr(watch, "_inotify_libc", lambda: NoWatches())
    (tmp_path / "w").mkdir()
    with Watcher([tmp_path]) as w:
        assert w.mode == "poll"
        (tmp_path / "w" / "seg.jsonl").write_text("x\n")
        assert w.wait(10) is True
    with pytest.raises(OSError):
        Watcher([tmp_path], poll=False)
