"""Parsing JSON that fleet-hive wrote itself (index rows, snapshots' docs, state files).

``import orjson`` costs more than anything else a read command imports (its module init
imports ``dataclasses``, ``inspect``, ``uuid``, ``platform``, ``datetime`` and ``json``):
about 10 ms before any work. A read that ingests nothing new parses a few rows, which
the standard library's C parser does as well. What was parsed by orjson on its way in
reads the same with either parser, so :func:`loads` uses orjson once something (a
large catch-up, a batch) has imported it, and ``json`` otherwise. New lines of the log
are judged by :func:`loads_line` exactly as orjson judges them (orjson itself decides
every line the two parsers could disagree on), so a one-event write or a small catch-up
never imports it either.
"""

from __future__ import annotations

import sys
from _json import make_scanner as _make_scanner

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from json import JSONDecodeError
    from typing import Any

__all__ = ["ORJSON_FROM", "JSONDecodeError", "loads", "loads_for", "loads_line", "loads_many"]


def __getattr__(name: str) -> Any:
    """``JSONDecodeError`` (what :func:`loads` raises), from the ``json`` package, which is
    imported only then: ``except jsonload.JSONDecodeError`` looks it up only when
    something was raised, and a read that parses well never imports ``json`` (its decoder
    imports ``re``, ``enum`` and ``functools``: ~3 ms)."""
    if name == "JSONDecodeError":
        from json import JSONDecodeError

        return JSONDecodeError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: From this many bytes to parse at once, orjson's parser (three times as fast) pays for its
#: import (~10 ms): a large catch-up, a rebuild, a long ledger.
ORJSON_FROM = 256 * 1024


def loads(raw: bytes | str) -> Any:
    """Parse one JSON document. Raises :class:`JSONDecodeError` (orjson's is a subclass)."""
    orjson = sys.modules.get("orjson")
    if orjson is not None:
        return orjson.loads(raw)
    return _json_loads(raw)


def _json_loads(raw: bytes | str) -> Any:
    """``json.loads(raw)``, by the C scanner that ``json.loads`` itself ends in, without
    importing the ``json`` package: a document the scanner reads whole (UTF-8, blanks
    around it) gives what ``json.loads`` gives; anything else (an error, a byte-order mark,
    another encoding, another type) is handed to ``json.loads``, which says it in its own
    words."""
    value = _scan_whole(raw, _SCAN)
    if value is _MISS:
        import json

        return json.loads(raw)
    return value


class _Context:
    """What the C scanner reads off a ``json.JSONDecoder``: its settings."""

    __slots__ = ("object_hook", "object_pairs_hook", "parse_constant", "parse_float",
                 "parse_int", "strict")

    def __init__(self, parse_float: Any, parse_int: Any, parse_constant: Any) -> None:
        self.strict, self.object_hook, self.object_pairs_hook = True, None, None
        self.parse_float, self.parse_int = parse_float, parse_int
        self.parse_constant = parse_constant


_MISS = object()
_BLANK = " \t\n\r"  # json's whitespace


def _scan_whole(raw: bytes | str, scan: Any) -> Any:
    """The one JSON value ``raw`` holds (blanks around it allowed), or ``_MISS`` when the
    scanner does not read it whole (including any error the scanner or a parse hook
    raised: callers decide what that means)."""
    try:
        if isinstance(raw, str):
            text = raw
        elif isinstance(raw, bytes | bytearray):
            text = raw.decode("utf-8")
        else:
            return _MISS
        i, n = 0, len(text)
        while i < n and text[i] in _BLANK:
            i += 1
        value, end = scan(text, i)
    except (ValueError, StopIteration, SystemError):
        # UnicodeDecodeError and JSONDecodeError are ValueErrors; the scanner words its
        # errors with json.decoder's JSONDecodeError, found in sys.modules only: until
        # something imported it, an error comes out as "returned NULL without setting an
        # exception" (a SystemError), which json.loads then says properly
        return _MISS
    while end < n and text[end] in _BLANK:
        end += 1
    return value if end == n else _MISS


def loads_for(size: int) -> Callable[[bytes | str], Any]:
    """The parser for ``size`` bytes of documents: orjson's once loaded or worth loading
    (``ORJSON_FROM``), else the standard library's."""
    if size >= ORJSON_FROM or "orjson" in sys.modules:
        import orjson

        return orjson.loads
    return _json_loads


def loads_many(raws: list[bytes]) -> list[Any]:
    """Parse several documents (index rows) in one call of the parser: with the standard
    library, one array of them reads about a quarter faster than one call each. A damaged
    document raises :class:`JSONDecodeError`, or ValueError when it splits into more or
    fewer values than one (``1, 2``)."""
    orjson = sys.modules.get("orjson")
    if orjson is not None:
        return [orjson.loads(r) for r in raws]
    if not raws:
        return []
    try:
        joined = b"[" + b",".join(raws) + b"]"
    except TypeError:  # text, not bytes: one by one
        return [_json_loads(r) for r in raws]
    out: list[Any] = _json_loads(joined)
    if len(out) != len(raws):
        raise ValueError(f"{len(raws)} stored documents read as {len(out)} values")
    return out


def loads_line(raw: bytes) -> Any:
    """A line of the log, judged exactly as orjson judges it (the one check every line
    passes: a line one process accepts, every process accepts), without importing orjson
    where the standard library gives the same answer. The two parsers differ on what
    orjson refuses and the standard library takes: NaN and Infinity, numbers too large for
    a double, escaped lone surrogates, UTF-8 surrogates, a byte-order mark, nesting beyond
    Python's recursion limit; and orjson reads integers beyond 64 bits as floats. Those
    lines, and every line the standard library refuses (for orjson's verdict in orjson's
    words), go to orjson. Raises ``JSONDecodeError`` (a ValueError)."""
    if "orjson" not in sys.modules and raw[:1] == b"{" and not _surrogate_escape(raw):
        try:
            value = _scan_whole(raw, _STRICT)  # UTF-8 strictly: no surrogates
        except RecursionError:
            value = _MISS
        if value is not _MISS:
            return value
    return _orjson_loads(raw)  # its verdict, in its words


def _surrogate_escape(raw: bytes) -> bool:
    """Whether ``raw`` holds ``\\u`` followed by ``d`` and one of ``89abAB...``: an escaped
    surrogate (or a backslash-u that only looks like one: orjson decides both)."""
    i = raw.find(b"\\u")
    while i >= 0:
        if raw[i + 2:i + 3] in (b"d", b"D") and raw[i + 3:i + 4] != b"" \
                and raw[i + 3:i + 4] in b"89abcdefABCDEF":
            return True
        i = raw.find(b"\\u", i + 1)
    return False


def _orjson_loads(raw: bytes) -> Any:
    import orjson

    return orjson.loads(raw)


class _OrjsonOnly(ValueError):
    """What orjson refuses or reads otherwise: left to it."""


def _finite(text: str) -> float:
    value = float(text)
    if value in (_INF, -_INF):  # 1e400: a double cannot hold it, orjson refuses it
        raise _OrjsonOnly(text)
    return value


def _int64(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**64:  # orjson reads it as a float
        raise _OrjsonOnly(text)
    return value


def _constant(text: str) -> Any:
    raise _OrjsonOnly(text)  # NaN, Infinity, -Infinity


_INF = float("inf")
#: ``json.loads``'s scanner (its defaults) and the one that leaves to orjson what orjson reads
#: otherwise.
_SCAN = _make_scanner(_Context(float, int, {  # type: ignore[arg-type]  # any such object
    "-Infinity": -_INF, "Infinity": _INF, "NaN": float("nan")}.__getitem__))
_STRICT = _make_scanner(_Context(_finite, _int64, _constant))  # type: ignore[arg-type]
