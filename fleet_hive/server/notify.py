"""Wakes event streams when the log grows: one poller per server for every stream.

It asks the index for its latest ``seq`` every :data:`INTERVAL` seconds, and only while a
stream waits. A watcher on ``.fleet/events/`` (inotify) would spare the polling; until the
library has one (``kernel/watch.py`` is being written), a 20 ms look bounds the delay
(a look is a stat of the segments, through the library thread).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .library import Library

INTERVAL = 0.02


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
        assert self._changed is not None
        while self._waiting:
            latest = await self.library.call("api", lambda h: h.index.latest_seq())
            if latest != self.latest:
                async with self._changed:
                    self.latest = latest
                    self._changed.notify_all()
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
