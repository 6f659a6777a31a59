"""The only module that imports ruamel.yaml: safe loading with one-line errors, and the
deterministic dumper of snapshots and checkpoints.

Pure-Python safe mode throughout: round-trip mode costs ~1 ms per entity, and no file here
is edited by hand in a way whose comments must survive. Imported only where YAML is read
or written, never on read commands.
"""

from __future__ import annotations

import io
from functools import lru_cache
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
    """Block-style YAML with the keys in the order given: the same input, the same bytes."""
    buf = io.StringIO()
    _dumper().dump(obj, buf)
    return buf.getvalue()
