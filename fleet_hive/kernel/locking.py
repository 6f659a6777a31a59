"""A cross-process lock on a file whose waiters sleep in the kernel instead of polling.

The writer lock is taken for every append by every process of a clone. :mod:`filelock`
waits by polling (try, sleep ``poll_interval``, try again); with 16 processes appending at
once the pollers burned both cores and starved the holder (measured: ~900 events/s, p99
~100 ms). Here a waiter blocks in ``flock(2)``, which the kernel ends the moment the holder
lets go (16 appenders: several times the throughput, p99 ~10 ms). The kernel hands the lock
to whoever asks first, so a holder that lets go and asks again at once would keep it from
the waiter it just woke: a process yields its core before taking the lock again within
:data:`REACQUIRE_NS` of letting go, and as it lets go of a lock it had to wait for (others
may be waiting too). One that takes it once, uncontended (a command), never yields: on a
busy machine a yield can hand the core to another process for a whole time slice.

The lock file is created once and never deleted (deleting it on release is what let two
processes hold "the same" lock in filelock 3.20.4-3.29.0). An RLock (``_thread``'s, the one
``threading.RLock()`` returns) makes the lock reentrant within a thread and exclusive between
threads; the descriptor is reopened after a fork, since a child must not share its parent's
lock.
"""

from __future__ import annotations

import fcntl
import os
from _thread import RLock  # threading's own RLock, without importing threading (~1 ms)
from time import monotonic_ns
from types import TracebackType

from .errors import storage_error

#: Taking the lock again within this long of letting go of it yields to waiters first.
REACQUIRE_NS = 2_000_000


class FileMutex:
    """Reentrant within a thread, exclusive across threads and processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = os.fspath(path)
        self._thread_lock = RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0
        #: when this process last let go of the lock (monotonic ns)
        self._released_ns = -REACQUIRE_NS
        #: whether the last acquire had to wait for another holder
        self._waited = False

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._pid = os.getpid()
        return self._fd

    def acquire(self) -> None:
        if self._pid and self._pid != os.getpid():
            # Forked while the parent held it: the child holds nothing (flock is not held
            # through a new open file description), so it starts from a clean state.
            self._thread_lock, self._depth, self._fd = RLock(), 0, None
        self._thread_lock.acquire()
        if self._depth == 0:
            if monotonic_ns() - self._released_ns < REACQUIRE_NS:
                # This process let go of it a moment ago, and a waiter woken then may not
                # have run yet: let it, rather than take the lock again before it can (a
                # loop of appends would otherwise starve every other process). A command
                # that takes the lock once never yields: on a busy machine a yield hands
                # the core to any runnable process, for up to a time slice.
                os.sched_yield()
            try:
                fd = self._descriptor()
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self._waited = False
                except BlockingIOError:  # someone holds it: wait in the kernel
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    self._waited = True
            except OSError as e:  # a read-only or full .fleet/local/: say where
                self._thread_lock.release()
                raise storage_error(e, self._path) from e
            except BaseException:
                self._thread_lock.release()
                raise
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            fcntl.flock(self._descriptor(), fcntl.LOCK_UN)
            self._released_ns = monotonic_ns()
            self._thread_lock.release()
            if self._waited:  # others were waiting with us: one of them may go first
                os.sched_yield()
        else:
            self._thread_lock.release()

    @property
    def is_locked(self) -> bool:
        return self._depth > 0

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid() and self._depth == 0:
            os.close(self._fd)
        self._fd = None

    def __enter__(self) -> FileMutex:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
