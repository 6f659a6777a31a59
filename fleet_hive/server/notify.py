"""Wakes event streams when the log grows: one watcher per server for every stream.

While a stream waits, a thread sleeps on :class:`fleet_hive.kernel.watch.Watcher` over
``.fleet/events/`` (inotify; stat polling where that is missing) and, when the log changed,
the index's latest ``seq`` is read through the library thread and every stream waiting
for something beyond its position is woken. No change, no work: the watcher's wake-up is
the kernel's, not a timer's. :data:`INTERVAL` only bounds how long the thread sleeps
before it looks whether any stream still waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .library import Library

INTERVAL = 1.0


class Notifier:
    def __init__(self, library: Library, interval: float = INTERVAL) -> None:
        self.library = library
        self.interval = interval
        self.latest = -1
        self._changed: asyncio.Condition | None = None
        self._waiting = 0
        self._task: asyncio.Task[None] | None = None

    async def wait_beyond(self, seq: int, timeout: float) -> bool:
        """Wait until the log holds an event after ``seq``; False after ``timeout`` s."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll())
        self._waiting += 1
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(lambda: self.latest > seq),
                                       timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiting -= 1

    async def _poll(self) -> None:
        from ..kernel.layout import Layout
        from ..kernel.watch import Watcher

        assert self._changed is not None
        events = Layout(self.library.root).events
        with Watcher([events]) as watcher:  # armed before the first look: nothing missed
            while self._waiting:
                latest = await self.library.call("api", lambda h: h.index.latest_seq())
                if latest != self.latest:
                    async with self._changed:
                        self.latest = latest
                        self._changed.notify_all()
                await asyncio.to_thread(watcher.wait, self.interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
