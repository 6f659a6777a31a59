"""Time, in one place: epoch seconds, ISO 8601 UTC text and back, and an injectable clock.

Services take a :data:`Clock` (a callable returning epoch seconds) in their constructor, so
tests can move time without sleeping; everything that prints or stores a time uses
:func:`iso` or :func:`utc_now`, so every timestamp in ``.fleet/`` has one format.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: An injectable clock: epoch seconds as a float.
Clock = Callable[[], float]

now: Clock = time.time


def _format(secs: int, micros: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{micros:06d}Z"


def utc_now() -> str:
    """The current time as ISO 8601 UTC with microseconds and a ``Z``."""
    secs, rem = divmod(time.time_ns(), 1_000_000_000)
    return _format(secs, rem // 1000)


def iso(ts: float) -> str:
    """Epoch seconds as ISO 8601 UTC with microseconds and a ``Z``."""
    secs, micros = divmod(round(ts * 1_000_000), 1_000_000)
    return _format(secs, micros)


def epoch(text: str) -> float:
    """The inverse of :func:`iso` (accepts any ISO 8601 time with a zone)."""
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
