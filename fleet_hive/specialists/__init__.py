"""Specialists: the named agents that take sorties, what they can do, whether they live.

``hive.specialists`` (:class:`Specialists`) is the API; :class:`Specialist` the plain
data it returns. Layers, inner first: ``model``, ``fold`` and ``decide`` (pure),
``projection`` (index table and queries), ``service``, ``event_types`` (pydantic, write
only) and ``checks`` (``verify``).
"""

from __future__ import annotations

from .model import Specialist

__all__ = ["Specialist", "Specialists"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .service import Specialists


def __getattr__(name: str) -> Any:
    if name == "Specialists":
        from .service import Specialists

        return Specialists
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
