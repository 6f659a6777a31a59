"""One setting of ``.fleet/config.yaml`` read as text, for read commands: no YAML library,
no pydantic, no orjson (``status`` must stay light; :mod:`.settings` is the write path's)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: What a plain value is made of (unquoted, or in matching quotes).
_PLAIN = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._-")


def plain_setting(config: str | os.PathLike[str], key: str, default: str, load: Any) -> str:
    """The value of top-level ``key`` in ``config`` (``.fleet/config.yaml``) as text, read
    without YAML or pydantic when the file has no such key (``default``) or a plain
    ``key: value`` line; only a more elaborate value calls ``load()`` (the full
    configuration's value). For settings read commands need (``status``)."""
    try:
        with open(config, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return default
    start = key + ":"
    for line in text.split("\n"):
        if line.startswith(start):
            simple = _plain_value(line[len(start):].strip(" \t"))
            return str(load()) if simple is None else simple
    return default


def _plain_value(value: str) -> str | None:
    """``value`` (a line's text after ``key:``) when it is a plain word, bare or in
    matching quotes, with nothing after it but a ``# comment``; else None."""
    quote = value[:1] if value[:1] in ("'", '"') else ""
    i = len(quote)
    end = i
    while end < len(value) and value[end] in _PLAIN:
        end += 1
    if end == i or value[end:end + len(quote)] != quote:
        return None
    rest = value[end + len(quote):]
    if rest and not (rest[0] in " \t" and rest.lstrip(" \t").startswith("#")):
        return None
    return value[i:end]
