"""Writing JSON as orjson writes it, without importing orjson when it is not loaded yet.

orjson's module init costs a read command ~10 ms (see :mod:`fleet_hive.kernel.jsonload`),
more than the work. The standard library writes the same bytes for the plain values it is
given here (str keys, strings, bools, None, 64-bit ints, lists, dicts, and finite floats
written without an exponent: both write the shortest repr that reads back, ``3600.0``,
``3583.402``); anything else (a float with an exponent, which the two format differently,
``1e-05`` against ``1e-5``, NaN, or a value orjson refuses) goes to orjson.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

__all__ = ["dumps"]


def dumps(obj: Any, *, indent: bool = True) -> bytes:
    """``obj`` as orjson writes it (``OPT_INDENT_2`` with ``indent``), through the
    standard library when orjson is not loaded and the value is plain (see the module)."""
    if "orjson" not in sys.modules and _plain(obj):
        import json

        # a lone surrogate fails here: orjson below says so in its own words
        with contextlib.suppress(UnicodeEncodeError, ValueError):
            if indent:
                return json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8")
            return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    import orjson

    return orjson.dumps(obj, option=orjson.OPT_INDENT_2) if indent else orjson.dumps(obj)


def _plain(obj: Any) -> bool:
    stack = [obj]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is str or kind is bool or value is None:
            continue
        if kind is int:
            if not -(2**63) <= value < 2**64:
                return False
        elif kind is float:
            text = repr(value)
            if "e" in text or "n" in text:  # 1e-05 / 1e-5, inf, nan: orjson's own way
                return False
        elif kind is dict:
            if not all(type(k) is str for k in value):
                return False
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
        else:
            return False  # tuples, dataclasses, dates...: orjson's way
    return True
