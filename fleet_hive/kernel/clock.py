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


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION_HINT = "give a number and a unit: 90s, 30m, 2h, 1d (or 1h30m)"


def duration_seconds(text: object, *, zero: bool = False) -> float | None:
    """Seconds in a duration such as ``90s``, ``30m``, ``2h``, ``1d``, ``1w`` or ``1h30m``
    (a bare number is seconds; case and surrounding blanks do not matter); None when
    ``text`` is not one, or is zero and ``zero`` is not allowed. (Read paths use this: the
    error messages are the caller's; :func:`parse_duration` says them.)"""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        return None
    raw = str(text).strip().lower()
    end = _number_end(raw, 0)
    if end and end == len(raw):  # a bare number: seconds
        total = float(raw)
    elif raw:  # number-and-unit pairs, nothing between them (read without ``re``)
        total, i = 0.0, 0
        while i < len(raw):
            end = _number_end(raw, i)
            unit = _DURATION_UNITS.get(raw[end:end + 1]) if end > i else None
            if unit is None:
                return None
            total += float(raw[i:end]) * unit
            i = end + 1
    else:
        return None
    return total if total > 0 or (zero and total == 0) else None


def _number_end(text: str, i: int) -> int:
    """Where the number (digits, then optionally ``.`` and digits) at ``text[i]`` ends;
    ``i`` when none starts there."""
    j = i
    while j < len(text) and text[j].isdecimal():
        j += 1
    if j > i and text[j:j + 1] == "." and text[j + 1:j + 2].isdecimal():
        j += 2
        while j < len(text) and text[j].isdecimal():
            j += 1
    return j


def parse_duration(text: object, what: str = "duration", *, zero: bool = False) -> float:
    """:func:`duration_seconds`, or InvalidInputError naming ``what`` (a flag or a
    setting) when ``text`` is no duration, or is zero and ``zero`` is not allowed."""
    seconds = duration_seconds(text, zero=True)
    if seconds is None:
        from .errors import InvalidInputError

        raise InvalidInputError(f"invalid duration {text!r} for {what}", hint=DURATION_HINT)
    if seconds == 0 and not zero:
        from .errors import InvalidInputError

        raise InvalidInputError(f"{what} must be longer than zero, got {text!r}")
    return seconds
