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

import re
import sys
from collections.abc import Callable
from json import JSONDecodeError, JSONDecoder
from json import loads as _json_loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ORJSON_FROM", "JSONDecodeError", "loads", "loads_for", "loads_line", "loads_many"]

#: From this many bytes to parse at once, orjson's parser (three times as fast) pays for its
#: import (~10 ms): a large catch-up, a rebuild, a long ledger.
ORJSON_FROM = 256 * 1024


def loads(raw: bytes | str) -> Any:
    """Parse one JSON document. Raises :class:`JSONDecodeError` (orjson's is a subclass)."""
    orjson = sys.modules.get("orjson")
    if orjson is not None:
        return orjson.loads(raw)
    return _json_loads(raw)


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
    if "orjson" not in sys.modules and raw[:1] == b"{" \
            and _SURROGATE_ESCAPE.search(raw) is None:
        try:
            return _STRICT.decode(raw.decode("utf-8"))  # strict: no surrogates
        except (ValueError, RecursionError):
            return _orjson_loads(raw)  # its verdict, in its words
    return _orjson_loads(raw)


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
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_STRICT = JSONDecoder(parse_float=_finite, parse_int=_int64, parse_constant=_constant)
