"""Dispatch: a mission's sorties run through real agent processes, in parallel where their
files allow, in dependency order, with leases, retries and process-group hygiene.

``hive.dispatch`` (:class:`Dispatcher`) is the API. Layers, inner first: ``model`` (options,
try results, leases, the summary), ``decide`` (pure: who runs what next, what a try's end
leads to, whether a lease lapsed), ``leases`` (the local lease files), ``logs`` (capped
agent output), ``prompt`` (the one rendering of the prompt template), ``service`` (the
engine), ``event_types`` (the try events, imported only on write).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import Options, Summary

__all__ = ["Dispatcher", "Options", "Summary"]

if TYPE_CHECKING:
    from .service import Dispatcher


def __getattr__(name: str) -> Any:
    if name == "Dispatcher":
        from .service import Dispatcher

        return Dispatcher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
