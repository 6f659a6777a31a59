"""Missions and their sorties: use cases, transitions, projections and snapshots.

``hive.missions`` (:class:`Missions`) and ``hive.sorties`` (:class:`Sorties`) are the API;
:class:`Mission` and :class:`Sortie` the plain state they return. Layers, inner first:
``model`` (state, statuses, transition table, input rules), ``decide`` (pure use cases:
state + command → events), ``fold`` (pure: events → state), ``projection`` (index tables),
``snapshots`` (YAML files), ``service`` (the facade), ``events`` (pydantic data models,
imported only on write) and ``checks`` (``verify``).
"""

from __future__ import annotations

from .model import Mission, Sortie

__all__ = ["Mission", "Missions", "Sortie", "Sorties"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .service import Missions, Sorties


def __getattr__(name: str) -> Any:
    if name in ("Missions", "Sorties"):
        from . import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
