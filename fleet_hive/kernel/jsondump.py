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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["compact_text", "dumps"]


def dumps(obj: Any, *, indent: bool = True) -> bytes:
    """``obj`` as orjson writes it (``OPT_INDENT_2`` with ``indent``), through the
    standard library when orjson is not loaded and the value is plain (see the module)."""
    if "orjson" not in sys.modules:
        # a lone surrogate fails in encode(): orjson below says so in its own words
        with contextlib.suppress(_NotPlain, UnicodeEncodeError, ValueError, RecursionError):
            if indent:
                return _indented(obj).encode("utf-8")
            if _plain(obj):
                return compact_text(obj).encode("utf-8")
    import orjson

    return orjson.dumps(obj, option=orjson.OPT_INDENT_2) if indent else orjson.dumps(obj)


_COMPACT: dict[tuple[bool, bool, Any], Callable[[Any], str]] = {}


def compact_text(obj: Any, *, ensure_ascii: bool = False, sort_keys: bool = False,
                 default: Callable[[Any], Any] | None = None) -> str:
    """``json.dumps(obj, separators=(",", ":"), ensure_ascii=..., sort_keys=...,
    default=...)``, for any value, without importing the ``json`` package (whose encoder
    module compiles regular expressions at import: ``re`` and ``enum``, ~4 ms of a
    process): json's own C encoder, built once per set of options with the arguments
    ``JSONEncoder.encode`` gives it."""
    options = (ensure_ascii, sort_keys, default)
    encode = _COMPACT.get(options)
    if encode is None:
        encode = _COMPACT[options] = _c_encoder(ensure_ascii, sort_keys, default)
    return encode(obj)


def _unencodable(o: Any) -> Any:  # JSONEncoder.default
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def _c_encoder(ensure_ascii: bool, sort_keys: bool,
               default: Callable[[Any], Any] | None) -> Callable[[Any], str]:
    try:
        from _json import encode_basestring, encode_basestring_ascii
        from _json import make_encoder as c_make_encoder

        # markers (the circular check), default, the string encoder, indent, the key and
        # item separators, sort_keys, skipkeys, allow_nan
        chunks = c_make_encoder({}, default or _unencodable,
                                encode_basestring_ascii if ensure_ascii else encode_basestring,
                                None, ":", ",", sort_keys, False, True)
        return lambda o: "".join(chunks(o, 0))
    except (ImportError, TypeError):  # pragma: no cover - another Python: json's own way
        import json

        return json.JSONEncoder(separators=(",", ":"), ensure_ascii=ensure_ascii,
                                sort_keys=sort_keys, default=default).encode


class _NotPlain(Exception):
    """A value :func:`_indented` leaves to orjson."""


def _indented(obj: Any) -> str:
    """``obj`` as ``OPT_INDENT_2`` writes it, for the plain values of :func:`_plain`
    (_NotPlain for anything else). The standard library's indenting encoder is written in
    Python, one generator per container; this one appends whole ``"key": value`` lines
    and is about twice as fast on a list of sorties. Strings go through the C escaper the
    standard library uses (``json.encoder.encode_basestring`` is ``_json``'s: taken from
    there, a read's output imports neither ``json`` nor the ``re`` its encoder compiles)."""
    from _json import encode_basestring as string

    parts: list[str] = []
    add = parts.append

    def scalar(v: Any) -> str:
        kind = type(v)
        if v is None:
            return "null"
        if v is True:
            return "true"
        if v is False:
            return "false"
        if kind is int:
            if -(2**63) <= v < 2**64:
                return int.__repr__(v)
        elif kind is float:
            text = float.__repr__(v)
            if "e" not in text and "n" not in text:  # see _plain
                return text
        raise _NotPlain

    def value(v: Any, pad: str) -> None:
        kind = type(v)
        if kind is dict:
            if not v:
                add("{}")
                return
            inner = pad + "  "
            sep, nxt = "{\n" + inner, ",\n" + inner
            for key, x in v.items():
                if type(key) is not str:
                    raise _NotPlain
                t = type(x)
                if t is str:
                    add(sep + string(key) + ": " + string(x))
                elif t is dict or t is list:
                    add(sep + string(key) + ": ")
                    value(x, inner)
                else:
                    add(sep + string(key) + ": " + scalar(x))
                sep = nxt
            add("\n" + pad + "}")
        elif kind is list:
            if not v:
                add("[]")
                return
            inner = pad + "  "
            sep, nxt = "[\n" + inner, ",\n" + inner
            for x in v:
                t = type(x)
                if t is str:
                    add(sep + string(x))
                elif t is dict or t is list:
                    add(sep)
                    value(x, inner)
                else:
                    add(sep + scalar(x))
                sep = nxt
            add("\n" + pad + "]")
        elif kind is str:
            add(string(v))
        else:
            add(scalar(v))

    value(obj, "")
    return "".join(parts)


_STR = {str}


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
            if not {*map(type, value)} <= _STR:  # every key a str (loops in C)
                return False
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
        else:
            return False  # tuples, dataclasses, dates...: orjson's way
    return True
