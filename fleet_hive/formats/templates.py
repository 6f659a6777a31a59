"""Rendering jinja2 templates from ``templates/`` (the only module that imports jinja2).

Templates ship inside the package and are loaded with :func:`fleet_hive.kernel.resources.read_text`.
The environment is strict (an undefined name is an error, not an empty string) and does
no HTML escaping: what we render is Markdown and plain text for people and LLM prompts.
Compiled templates are cached between processes (see :func:`_bytecode_cache`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..kernel.errors import FleetHiveError

if TYPE_CHECKING:
    from jinja2 import Environment


def render(name: str, **context: Any) -> str:
    """Render template ``name`` (a path under ``templates/``) with ``context``."""
    from jinja2 import TemplateError, TemplateNotFound

    env = _environment()
    try:
        return env.get_template(name).render(**context)
    except TemplateNotFound as e:
        raise FleetHiveError(f"template {name!r} is missing from the installation",
                             hint="reinstall fleet-hive") from e
    except TemplateError as e:
        raise FleetHiveError(f"cannot render template {name!r}: {e}") from e


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def markdown_escape(value: Any) -> str:
    """Text safe to put inline in Markdown (one line; no emphasis, links, tables or HTML)."""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def short(value: Any, length: int = 8) -> str:
    return str(value)[:length]


@lru_cache(maxsize=1)
def _environment() -> Environment:
    from jinja2 import Environment, FunctionLoader, StrictUndefined

    from ..kernel.resources import read_text

    def load(name: str) -> str | None:
        try:
            return read_text("templates", name)
        except (FileNotFoundError, NotADirectoryError):
            return None

    env = Environment(loader=FunctionLoader(load), autoescape=False, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True, undefined=StrictUndefined,
                      bytecode_cache=_bytecode_cache())
    env.filters["md"] = markdown_escape
    env.filters["short"] = short
    return env


def _bytecode_cache() -> Any:
    """Compiled templates kept between processes (compiling the brief's template costs a
    one-shot ``fleet-hive context`` more than rendering it): jinja2's own file cache in a
    private per-user directory (``$FLEET_HIVE_TEMPLATE_CACHE``, else jinja2's default
    under the temp directory, which it creates 0700 and checks is ours). Entries are keyed
    by template name and checked against the source's checksum, so an upgraded template
    is compiled afresh. ``FLEET_HIVE_TEMPLATE_CACHE=off`` disables it; a cache that cannot
    be used is simply not used."""
    import os

    from jinja2 import FileSystemBytecodeCache

    where = os.environ.get("FLEET_HIVE_TEMPLATE_CACHE", "")
    if where.lower() == "off":
        return None
    try:
        return FileSystemBytecodeCache(where or None, "fleet-hive-%s.cache")
    except (OSError, RuntimeError):
        return None
