"""Random, time-sortable identifiers (ULIDs) and short random writer ids.

A ULID is 48 bits of milliseconds since the epoch and 80 random bits, in Crockford's
base32: 26 characters that sort by creation time. Ids are never derived from content
(``storage.md`` 4), so two clones can never mint the same id for different events.
Written here rather than imported: the whole encoder is a dozen lines, and the ULID
packages cost ~30 ms of import time on every command.
"""

from __future__ import annotations

import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LOWER = "0123456789abcdefghjkmnpqrstvwxyz"


def _encode(value: int, length: int, alphabet: str = _CROCKFORD) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(alphabet[rem])
    return "".join(reversed(chars))


# Two base32 characters per table lookup, written out: the 80 random bits are 8 lookups and
# the 48 bits of time 5, a third of the time of one character at a time, which matters at
# 100,000 events per second.
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]


def _time_part(ms: int) -> str:
    """The first 10 characters of a ULID: its 48 bits of milliseconds (2 leading zero bits)."""
    pairs, t = _PAIRS, ms & 0xFFFF_FFFF_FFFF
    return (pairs[t >> 40] + pairs[(t >> 30) & 1023] + pairs[(t >> 20) & 1023]
            + pairs[(t >> 10) & 1023] + pairs[t & 1023])


def _random_part(v: int) -> str:
    """The last 16 characters of a ULID: its 80 random bits."""
    pairs = _PAIRS
    return (pairs[v >> 70] + pairs[(v >> 60) & 1023] + pairs[(v >> 50) & 1023]
            + pairs[(v >> 40) & 1023] + pairs[(v >> 30) & 1023] + pairs[(v >> 20) & 1023]
            + pairs[(v >> 10) & 1023] + pairs[v & 1023])


def new_ulid(now_ms: int | None = None) -> str:
    """A new ULID: 26 characters, lexicographically ordered by creation millisecond."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return _time_part(ms) + _random_part(int.from_bytes(os.urandom(10), "big"))


def new_ulids(count: int, now_ms: int | None = None) -> list[str]:
    """``count`` new ULIDs of one millisecond, each with its own 80 random bits (drawn in
    one call): the ids of a batch, at a fraction of the cost of one call each."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    head, raw, from_bytes = _time_part(ms), os.urandom(10 * count), int.from_bytes
    return [head + _random_part(from_bytes(raw[j:j + 10], "big"))
            for j in range(0, 10 * count, 10)]


def new_writer_id() -> str:
    """A random writer id: 12 lowercase base32 characters (60 bits)."""
    return _encode(int.from_bytes(os.urandom(8), "big") >> 4, 12, _LOWER)


def new_segment_name(now_ms: int | None = None, *, after: str = "") -> str:
    """A segment file stem that sorts by creation time (a lowercase ULID).

    With ``after`` (the writer's newest segment) the name sorts after it even when both
    fall in one millisecond or the clock went back: a writer's newest segment is always
    its last by name, which is where it looks for its last ``n`` after a crash.
    """
    name = new_ulid(now_ms).lower()
    if name > after:
        return name
    try:
        ms = _decode(after[:10], _LOWER)
    except ValueError:  # not a ULID: a name of its own making sorts after it
        return after + "-" + name
    return new_ulid(ms + 1).lower()


def _decode(text: str, alphabet: str) -> int:
    value = 0
    for char in text:
        digit = alphabet.find(char)
        if digit < 0:
            raise ValueError(f"not base32: {text!r}")
        value = value * 32 + digit
    return value


def new_short_id(prefix: str) -> str:
    """A random id such as ``m-8k2f0c3xq1zt``: 60 random bits after a kind prefix, never
    derived from content or time, so that prefixes are short and distinct (a ULID's
    leading characters are the clock)."""
    return prefix + new_writer_id()
