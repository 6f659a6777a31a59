"""One thread that owns the library: every ``Hive`` call of the server runs on it.

The index is one sqlite connection per ``Hive`` (bound to the thread that opened it) and the
write path takes this clone's writer lock, so the server runs its library calls one at a
time on one worker thread, off the event loop: health checks and event streams stay
responsive while a call runs. Each actor (``X-Fleet-Actor``) gets its own ``Hive``, because
the actor is part of a ``Hive`` (recorded on every event, the default holder and claimant);
the least recently used are closed beyond :data:`MAX_HIVES`.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from ..app.hive import Hive

T = TypeVar("T")

MAX_HIVES = 64


class Library:
    """The repository at ``root`` as seen by the server: :meth:`call` runs ``fn(hive)``
    on the library thread with the ``Hive`` of ``actor``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="fleet-hive-library")
        self._hives: OrderedDict[str, Hive] = OrderedDict()
        self._thread: threading.Thread | None = None

    def _hive(self, actor: str) -> Hive:
        hive = self._hives.get(actor)
        if hive is None:
            from ..app.hive import Hive

            hive = Hive(self.root, actor=actor)
            self._hives[actor] = hive
            while len(self._hives) > MAX_HIVES:
                _, old = self._hives.popitem(last=False)
                old.close()
        else:
            self._hives.move_to_end(actor)
        return hive

    def _run(self, actor: str, fn: Callable[[Hive], T]) -> T:
        hive = self._hive(actor)
        try:
            return fn(hive)
        finally:
            if "uow" in hive.__dict__:
                hive.uow.warnings.clear()  # said once per write; nobody reads them here

    async def call(self, actor: str, fn: Callable[[Hive], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, actor, fn)

    def call_sync(self, actor: str, fn: Callable[[Hive], T]) -> T:
        """``call`` from a thread that is not the event loop's (start-up, tests)."""
        return self._executor.submit(self._run, actor, fn).result()

    def close(self) -> None:
        def close_all() -> None:
            while self._hives:
                _, hive = self._hives.popitem()
                hive.close()

        self._executor.submit(close_all).result()
        self._executor.shutdown(wait=True)
