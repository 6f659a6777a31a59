"""One setting of ``.fleet/config.yaml`` read as text, for read commands: no YAML library,
no pydantic, no orjson (``status`` must stay light; :mod:`.settings` is the write path's)."""

from __future__ import annotations

import re
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def plain_setting(config: Path, key: str, default: str, load: Any) -> str:
    """The value of top-level ``key`` in ``config`` (``.fleet/config.yaml``) as text, read
    without YAML or pydantic when the file has no such key (``default``) or a plain
    ``key: value`` line; only a more elaborate value calls ``load()`` (the full
    configuration's value). For settings read commands need (``status``)."""
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return default
    found = re.search(rf"^{re.escape(key)}:[ \t]*(.*?)[ \t]*$", text, re.MULTILINE)
    if found is None:
        return default
    simple = re.match(r"""^(["']?)([0-9A-Za-z._-]+)\1(?:[ \t]+#.*)?$""", found.group(1))
    if simple is not None:
        return simple.group(2)
    return str(load())
