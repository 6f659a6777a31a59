"""Parsing JSON that fleet-hive wrote itself (index rows, snapshots' docs, state files).

``import orjson`` costs more than anything else a read command imports (its module init
imports ``dataclasses``, ``inspect``, ``uuid``, ``platform``, ``datetime`` and ``json``):
about 10 ms before any work. A read that ingests nothing new parses a few rows, which
the standard library's C parser does as well. What was parsed by orjson on its way in
reads the same with either parser, so :func:`loads` uses orjson once something (a
catch-up, a write) has imported it, and ``json`` otherwise. New lines of the log are
still checked by orjson (:mod:`fleet_hive.events.segments`).
"""

from __future__ import annotations

import sys
from json import JSONDecodeError
from json import loads as _json_loads
from typing import Any

__all__ = ["JSONDecodeError", "loads", "loads_many"]


def loads(raw: bytes | str) -> Any:
    """Parse one JSON document. Raises :class:`JSONDecodeError` (orjson's is a subclass)."""
    orjson = sys.modules.get("orjson")
    if orjson is not None:
        return orjson.loads(raw)
    return _json_loads(raw)


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
    out = _json_loads(joined)
    if len(out) != len(raws):
        raise ValueError(f"{len(raws)} stored documents read as {len(out)} values")
    return out
