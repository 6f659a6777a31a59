"""``.fleet/config.yaml`` for the hot path: the validated settings, remembered.

Parsing YAML with ruamel and validating with pydantic (:mod:`fleet_hive.app.config`) costs
a write command 60 to 100 ms. The settings change rarely, so the first command after a
change does that work once and leaves its result in ``.fleet/local/config.json`` with what
it was computed from: the file's exact text and the model's own source file (stat). Every
later command reads that small JSON file and compares; anything different (the file was
edited, fleet-hive was upgraded or changed, the cache is missing, unreadable or not ours)
goes the slow way again. A malformed config therefore still fails every write with the
same message, and a value is never taken from a cache computed for other text.

Settings whose values are not plain JSON (none today) are not remembered: the slow path
then runs on every command rather than hand back a value of the wrong type.
"""

from __future__ import annotations

import contextlib
import os

from ..kernel import jsonload
from ..kernel.jsondump import dumps
from ..kernel.typenames import cast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .config import Config

    PathLike = str | os.PathLike[str]

CACHE_VERSION = 1


class Settings:
    """Read-only attribute access to remembered settings (the same names and values as the
    :class:`~fleet_hive.app.config.Config` they were dumped from)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._values[name]
        except KeyError:
            raise AttributeError(name) from None
        return Settings(value) if isinstance(value, dict) else value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are read-only")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Settings):
            return bool(self._values == other._values)
        dump = getattr(other, "model_dump", None)
        return dump is not None and bool(dump() == self._values)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Settings({self._values!r})"


def load(config_path: PathLike, cache_path: PathLike) -> Config:
    """The settings of ``config_path``, from ``cache_path`` when it is still right."""
    try:
        with open(config_path, encoding="utf-8") as f:  # as Path.read_text reads it
            text: str | None = f.read()
    except FileNotFoundError:
        text = None
    except (OSError, UnicodeDecodeError):
        return _slow(config_path)  # it says what is wrong
    key = [CACHE_VERSION, _model_stamp(), text]
    try:
        with open(cache_path, "rb") as f:
            cached = jsonload.loads(f.read())
        if cached["key"] == key and isinstance(cached["values"], dict):
            return cast("Config", Settings(cached["values"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no cache, or not one of ours: validate the slow way and remember it
    config = _slow(config_path)
    values = config.model_dump()
    import orjson  # the slow way: pydantic and ruamel are loaded already

    try:
        plain = orjson.loads(orjson.dumps(values)) == values and _same_types(values)
    except TypeError:
        plain = False
    if plain:
        _remember(cache_path, {"key": key, "values": values})
    return config


def _slow(config_path: PathLike) -> Config:
    from pathlib import Path

    from .config import load_config

    return load_config(Path(config_path))


def _model_stamp() -> list[int]:
    """Which code validated: the model's source file (an upgrade or an edit changes it)."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        st = os.stat(os.path.join(here, "config.py"))
    except OSError:
        return [0, 0]
    return [st.st_mtime_ns, st.st_size]


def _same_types(value: Any) -> bool:
    """Every value a JSON type that reads back as itself (not a tuple, a set, a date)."""
    if isinstance(value, dict):
        return all(type(k) is str and _same_types(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_same_types(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def _remember(cache_path: PathLike, record: dict[str, Any]) -> None:
    from ..kernel.fsio import write_atomic

    with contextlib.suppress(OSError):  # a cache: best effort, never a reason to fail
        write_atomic(cache_path, dumps(record, indent=False), durable=False)
