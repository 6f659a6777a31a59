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

__all__ = ["JSONDecodeError", "loads"]


def loads(raw: bytes | str) -> Any:
    """Parse one JSON document. Raises :class:`JSONDecodeError` (orjson's is a subclass)."""
    orjson = sys.modules.get("orjson")
    if orjson is not None:
        return orjson.loads(raw)
    return _json_loads(raw)
