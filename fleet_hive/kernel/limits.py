"""The bounds of the integers fleet-hive takes from its callers: ``seq``, ``limit``,
``offset``.

Each of them ends up in an SQLite query, and SQLite's INTEGER is a signed 64-bit number: a
larger Python int makes sqlite3 raise ``OverflowError``, a crash instead of an answer
(``fleet-hive mission list --offset 99999999999999999999`` exited 70). They are checked
where the library takes them, so the Python API is as safe as the command line, with one
message that names the value and its range.
"""

from __future__ import annotations

from .errors import InvalidInputError

#: The largest integer SQLite stores (signed 64-bit).
MAX_INT64 = 2**63 - 1


def check_int(name: str, value: object, *, minimum: int = 0, maximum: int = MAX_INT64) -> int:
    """``value`` if it is an integer from ``minimum`` to ``maximum``; else
    :class:`InvalidInputError` (exit 1) naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be an integer, got {value!r}")
    if not minimum <= value <= maximum:
        raise InvalidInputError(f"{name} must be an integer from {minimum} to {maximum}, "
                                f"got {value}")
    return value


def check_page(*, after: int | None = None, limit: int | None = None,
               offset: int | None = None) -> None:
    """The usual trio of a query: each, when given, from 0 to :data:`MAX_INT64`."""
    for name, value in (("after", after), ("limit", limit), ("offset", offset)):
        if value is not None:
            check_int(name, value)
