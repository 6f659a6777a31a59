"""Files that ship inside the package: ``schemas/``, ``templates/``, ``hooks/``.

In a built wheel they live in ``fleet_hive/_resources/`` (hatchling ``force-include``) and
are read with :mod:`importlib.resources`; in a source checkout (an editable install) they
are the repository's top-level directories.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

KINDS = ("schemas", "templates", "hooks")


def resource_dir(kind: str) -> Traversable:
    """The directory of one kind of shipped resource."""
    if kind not in KINDS:
        raise ValueError(f"unknown resource kind {kind!r}")
    packaged = files("fleet_hive") / "_resources" / kind
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parents[2] / kind  # a source checkout
    if source.is_dir():
        return source
    raise FileNotFoundError(f"fleet-hive resources {kind!r} are missing from the installation")


def read_text(kind: str, name: str) -> str:
    node = resource_dir(kind)
    for part in name.split("/"):
        node = node / part
    return node.read_text(encoding="utf-8")


def source_dir(kind: str) -> Path:
    """The top-level directory in the source tree (for tools that regenerate resources)."""
    return Path(__file__).resolve().parents[2] / kind
