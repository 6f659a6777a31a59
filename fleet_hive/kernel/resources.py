"""Files that ship inside the package: ``schemas/``, ``templates/``, ``hooks/``.

In a built wheel they live in ``fleet_hive/_resources/`` (hatchling ``force-include``) and
are read with :mod:`importlib.resources`; in a source checkout (an editable install) they
are the repository's top-level directories.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.resources.abc import Traversable
    from pathlib import Path

KINDS = ("schemas", "templates", "hooks")
_HERE = os.path.dirname(os.path.abspath(__file__))


def resource_path(kind: str) -> str:
    """The directory of one kind of shipped resource as a plain path, without importing
    :mod:`importlib.resources` (the write path reads one schema file per type).
    FileNotFoundError where they are not plain files (a zipped install: use
    :func:`resource_dir`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown resource kind {kind!r}")
    packaged = os.path.join(os.path.dirname(_HERE), "_resources", kind)
    if os.path.isdir(packaged):
        return packaged
    source = os.path.join(os.path.dirname(os.path.dirname(_HERE)), kind)
    if os.path.isdir(source):
        return source
    raise FileNotFoundError(f"fleet-hive resources {kind!r} are not plain files here")


def resource_dir(kind: str) -> Traversable:
    """The directory of one kind of shipped resource."""
    from importlib.resources import files
    from pathlib import Path

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
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / kind
