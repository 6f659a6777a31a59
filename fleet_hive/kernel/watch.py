"""Wake up when files change, instead of polling in a loop: ``mail inbox --wait`` and
``events follow`` sleep here until another process appends to the log.

On Linux a :class:`Watcher` uses inotify through :mod:`ctypes` (no dependency): it
watches the given directories and every directory below them (the log is
``.fleet/events/<writer>/<segment>.jsonl``: a new writer directory or segment file is a
change, so is an append to a segment) and blocks in ``poll`` until the kernel reports
one. Elsewhere, or when inotify is not available (no libc symbol, out of inotify
instances or watches: ``fs.inotify.max_user_instances`` and ``max_user_watches``), it
falls back to **stat polling**: every :data:`POLL_INTERVAL` seconds it compares the
``(mtime, size)`` of every file and directory below the paths with what it saw when it
was armed. Both report a change at least once; a spurious wake-up is allowed (callers
look again, then wait again).

Arm first, then look, then wait: a :class:`Watcher` records changes from the moment it
is created, so a change between the caller's look and its :meth:`Watcher.wait` is never
missed::

    with Watcher([layout.events]) as w:
        while not found():
            if not w.wait(remaining()):
                break  # timed out
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

#: seconds between two looks of the stat-polling fallback
POLL_INTERVAL = 0.05

# inotify(7)
_IN_MODIFY = 0x002
_IN_ATTRIB = 0x004
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_MASK = (_IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO
         | _IN_CREATE | _IN_DELETE)
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000

_libc: object | None = None


def _inotify_libc() -> object | None:
    """libc with the inotify calls, or None (not Linux, or no such symbols)."""
    global _libc
    if _libc is None:
        if not sys.platform.startswith("linux"):
            _libc = False
        else:
            try:
                import ctypes

                lib = ctypes.CDLL(None, use_errno=True)
                lib.inotify_init1.argtypes = [ctypes.c_int]
                lib.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p,
                                                  ctypes.c_uint32]
                _libc = lib
            except (OSError, AttributeError):
                _libc = False
    return _libc or None


class Watcher:
    """Changes below ``paths`` (directories that exist: a missing one is not watched).
    ``poll=True`` forces the stat-polling fallback (``False``: inotify or OSError;
    None: inotify when available, else polling)."""

    def __init__(self, paths: Iterable[str | os.PathLike[str]], *,
                 poll: bool | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        self._fd: int | None = None
        self._watched: set[str] = set()
        self._signature: dict[str, tuple[int, int]] = {}
        lib = None if poll else _inotify_libc()
        if lib is not None:
            fd = lib.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)  # type: ignore[attr-defined]
            if fd >= 0:  # else (out of inotify instances, EMFILE): poll
                self._fd = fd
                self._add_watches()
        if self._fd is None:
            if poll is False:
                raise OSError("inotify is not available here")
            if not self._signature:
                self._signature = self._scan()

    @property
    def mode(self) -> str:
        """``inotify`` or ``poll``: how this watcher learns of changes."""
        return "inotify" if self._fd is not None else "poll"

    def _directories(self) -> list[str]:
        out: list[str] = []
        stack = [os.fspath(p) for p in self.paths]
        while stack:
            path = stack.pop()
            try:
                entries = list(os.scandir(path))
            except OSError:
                continue
            out.append(path)
            stack.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
        return out

    def _add_watches(self) -> None:
        lib = _inotify_libc()
        assert lib is not None and self._fd is not None
        for path in self._directories():
            if path in self._watched:
                continue
            wd = lib.inotify_add_watch(  # type: ignore[attr-defined]
                self._fd, os.fsencode(path), _MASK)
            if wd >= 0:
                self._watched.add(path)
            elif os.path.isdir(path):  # out of watches (ENOSPC): poll rather than miss it
                os.close(self._fd)
                self._fd = None
                self._signature = self._scan()
                return

    def _scan(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for directory in self._directories():
            try:
                entries = list(os.scandir(directory))
                st = os.stat(directory)
            except OSError:
                continue
            out[directory] = (st.st_mtime_ns, st.st_size)
            for e in entries:
                try:
                    s = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                out[e.path] = (s.st_mtime_ns, s.st_size)
        return out

    def wait(self, timeout: float | None) -> bool:
        """Block until something changed since the watcher was armed (or since the last
        :meth:`wait` that returned True), at most ``timeout`` seconds (None: forever).
        True if a change was seen, False on timeout."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        if self._fd is not None:
            return self._wait_inotify(deadline)
        return self._wait_poll(deadline)

    def _wait_inotify(self, deadline: float | None) -> bool:
        assert self._fd is not None
        poller = select.poll()  # not select(): a busy process may hold fds past 1024
        poller.register(self._fd, select.POLLIN)
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                ready = poller.poll(None if left is None else left * 1000)
            except InterruptedError:  # pragma: no cover - PEP 475 retries poll itself
                continue
            if not ready:
                return False
            changed = False
            while True:  # drain what the kernel queued
                try:
                    chunk = os.read(self._fd, 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                changed = True
            if changed:
                self._add_watches()  # a new writer directory: watch it too
                return True

    def _wait_poll(self, deadline: float | None) -> bool:
        while True:
            now = self._scan()
            if now != self._signature:
                self._signature = now
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            left = POLL_INTERVAL if deadline is None else min(
                POLL_INTERVAL, max(0.0, deadline - time.monotonic()))
            time.sleep(left)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def wait_for_change(paths: Sequence[str | os.PathLike[str]], timeout: float | None, *,
                    poll: bool | None = None) -> bool:
    """Block until something changes below ``paths`` after this call, at most ``timeout``
    seconds. True on a change, False on timeout. (To not miss a change between a look and
    the wait, arm a :class:`Watcher` before the look instead.)"""
    with Watcher(paths, poll=poll) as w:
        return w.wait(timeout)
