"""The only module that imports ruamel.yaml: safe loading with one-line errors, and the
deterministic dumper of snapshots and checkpoints.

Pure-Python safe mode throughout: round-trip mode costs ~1 ms per entity, and no file here
is edited by hand in a way whose comments must survive. Imported only where YAML is read
or written, never on read commands.
"""

from __future__ import annotations

import contextlib
import io
from functools import lru_cache

from ..kernel.textshapes import log_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class YAMLProblem(ValueError):
    """Text that is not valid YAML; ``line`` is 1-based, or None when unknown."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def load(text: str | bytes) -> Any:
    """Parse YAML safely (no tags, no objects); raise :class:`YAMLProblem` on bad input."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise YAMLProblem(str(getattr(e, "problem", None) or e),
                          mark.line + 1 if mark is not None else None) from e


@lru_cache(maxsize=1)
def _dumper() -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.representer import SafeRepresenter

    class Representer(SafeRepresenter):
        """Multi-line text as literal blocks."""

        def represent_str(self, data: str) -> Any:
            if "\n" in data:
                return self.represent_scalar("tag:yaml.org,2002:str", data, style="|")
            return super().represent_str(data)

    Representer.add_representer(str, Representer.represent_str)
    yaml = YAML(typ="safe", pure=True)
    yaml.Representer = Representer
    # keep the caller's key order; ruamel types this attribute by its default (None) only
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = 4096
    return yaml


def dump(obj: Any) -> str:
    """Block-style YAML with the keys in the order given: the same input, the same bytes.

    The common case (snake_case keys, ints, bools, None, plain words, ids, globs and
    timestamps) is written here without ruamel.yaml, byte for byte as ruamel.yaml writes
    it (importing it costs a write command ~25 ms); anything else goes to ruamel.yaml."""
    with contextlib.suppress(_Unsure):  # not the common case: ruamel.yaml writes it
        return "".join(_block(obj, 0, []))
    buf = io.StringIO()
    _dumper().dump(obj, buf)
    return buf.getvalue()


# -- the common case without ruamel.yaml ---------------------------------------------------
class _Unsure(Exception):
    """A value :func:`_block` does not know how ruamel.yaml would write."""


#: Words a YAML reader could take for something other than a string, in any case.
_RESERVED = frozenset({"true", "false", "null", "nan", "inf", "yes", "no", "on", "off",
                       "y", "n"})
_PLAIN_PUNCT = frozenset("_./+=,()*-'")


def _letter(c: str) -> bool:
    """``re.match(r"[^\\W\\d_]", c)``: a word character that is no digit and no ``_``."""
    return c.isalnum() and not c.isdecimal() and c != "_"


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        if value == "":
            return "''"
        if log_time(value):
            return f"'{value}'"
        if (value[0] != "/" and not _letter(value[0])) or value[-1] == " " \
                or value.lower() in _RESERVED:
            raise _Unsure
        for c in value:
            if not (c.isalnum() or c in _PLAIN_PUNCT or c == " ") or not c.isprintable():
                raise _Unsure
        if "  " in value or value.startswith("/*"):
            raise _Unsure
        return str(value)
    if kind is int:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    raise _Unsure


def _block(value: Any, indent: int, out: list[str]) -> list[str]:
    """``value`` (a mapping or a sequence) as block lines at ``indent``."""
    pad = " " * indent
    if type(value) is dict:
        if not value:
            raise _Unsure  # top-level {} is written as "{}\n"; not worth a case
        for key, item in value.items():
            if type(key) is not str or not key or not set(key) <= _KEY_CHARS \
                    or key[0].isdigit():
                raise _Unsure
            if type(item) is dict and item:
                out.append(f"{pad}{key}:\n")
                _block(item, indent + 2, out)
            elif type(item) is list and item:
                out.append(f"{pad}{key}:\n")
                _block(item, indent, out)
            else:
                out.append(f"{pad}{key}: {_inline(item)}\n")
        return out
    if type(value) is list:
        if not value:
            raise _Unsure
        for item in value:
            if (type(item) is dict or type(item) is list) and item:
                start = len(out)
                _block(item, indent + 2, out)
                out[start] = f"{pad}- {out[start][indent + 2:]}"
            else:
                out.append(f"{pad}- {_inline(item)}\n")
        return out
    raise _Unsure


def _inline(value: Any) -> str:
    if type(value) is list and not value:
        return "[]"
    if type(value) is dict and not value:
        return "{}"
    return _scalar(value)


# -- line-per-value YAML: fast to write and to read back --------------------------------
# A top-level block mapping whose values are JSON (flow YAML) on one line each; a list is
# a block sequence of one JSON value per line. JSON is YAML 1.2, so any YAML reader loads
# these files; :func:`load_lines` reads exactly this form with orjson (a hundred times
# faster than a YAML parser) and hands anything else to :func:`load`. Checkpoints use it:
# one line per sortie also makes their diffs readable.
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
#: Characters JSON leaves as they are that a YAML reader refuses or takes for a line break,
#: and the escape each is written as.
_NOT_YAML = {c: f"\\u{c:04x}" for c in [*range(0x7F, 0xA0), 0x2028, 0x2029, 0xFEFF, 0xFFFE,
                                        0xFFFF]}


def _yaml_safe(text: str) -> str:
    if text.isascii() and "\x7f" not in text:
        return text  # the common case: nothing to escape
    return text.translate(_NOT_YAML)


def _flow(value: Any) -> str:
    from ..kernel.jsondump import dumps

    return _yaml_safe(dumps(value, indent=False).decode("utf-8"))


def dump_lines(mapping: dict[str, Any], *, block_lists: frozenset[str] | None = None) -> str:
    """``mapping`` as line-per-value YAML: ``key: <json>``; a list under a key in
    ``block_lists`` (default: every non-empty list) as ``- <json>`` lines. Keys must be
    lowercase snake_case."""
    out: list[str] = []
    for key, value in mapping.items():
        if not key or not set(key) <= _KEY_CHARS:
            raise ValueError(f"key {key!r} is not snake_case")
        if isinstance(value, list) and value and (block_lists is None or key in block_lists):
            out.append(f"{key}:\n")
            out.extend(f"- {_flow(item)}\n" for item in value)
        else:
            out.append(f"{key}: {_flow(value)}\n")
    return "".join(out)


def load_lines(text: str | bytes) -> Any:
    """Read what :func:`dump_lines` wrote (comment lines allowed); any other YAML is
    parsed by :func:`load`. Raises :class:`YAMLProblem` on text that is not YAML."""
    import orjson

    data = text.decode("utf-8") if isinstance(text, bytes) else text
    out: dict[str, Any] = {}
    current: list[Any] | None = None
    try:
        for line in data.split("\n"):
            if not line or line.startswith("#"):
                continue
            if line.startswith("- ") and current is not None:
                current.append(orjson.loads(line[2:]))
                continue
            key, sep, rest = line.partition(":")
            if not sep or not key or not set(key) <= _KEY_CHARS or key in out:
                raise ValueError(line)
            if rest == "":
                current = out[key] = []
            elif rest.startswith(" "):
                out[key] = orjson.loads(rest[1:])
                current = None
            else:
                raise ValueError(line)
        if not data.endswith("\n") and data:
            raise ValueError("no final newline")
    except (ValueError, orjson.JSONDecodeError, UnicodeDecodeError):
        return load(data)
    return out
