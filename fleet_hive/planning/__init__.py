"""Planning: decompose a task into sorties (strategies, planners), validate plans and
missions, create missions from plans.

``hive.planning`` (:class:`Planning`) is the API. Layers, inner first: ``model`` (plain
data, the learning port's shapes), ``repository`` (what the strategies know of the
repository), ``strategies`` (file, feature, risk, hybrid, and ``auto``), ``validate``
(pure: conflicts, cycles, waves, critical path), ``plan`` (the pydantic model of a
decomposition and its JSON Schema), ``planners`` (heuristic and ``cmd:COMMAND``),
``decide`` and ``fold`` (pure), ``projection`` (the ``plans`` table), ``service``,
``event_types`` (pydantic, write path only) and ``checks`` (``verify``).
"""

from __future__ import annotations

from .model import Advice

__all__ = ["Advice", "Planning"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .service import Planning


def __getattr__(name: str) -> Any:
    if name == "Planning":
        from .service import Planning

        return Planning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
