"""Upcasting: old versions of an event's ``data`` are lifted to the current version on read.

An event type that changes shape bumps its ``schema_version`` in the registry and adds an
upcaster here, ``(type, from_version) -> function(data) -> data`` of ``from_version + 1``.
Stored lines are never rewritten (append-only); readers always see the current shape.
Kept free of pydantic so read paths stay light.
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

Upcaster = Callable[[dict[str, "Any"]], dict[str, "Any"]]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn`` as the step from ``from_version`` to ``from_version + 1``."""

    def register(fn: Upcaster) -> Upcaster:
        UPCASTERS[(event_type, from_version)] = fn
        return fn

    return register


def upcast(event_type: str, version: int, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Apply every registered step from ``version`` on; returns (data, version reached)."""
    while (step := UPCASTERS.get((event_type, version))) is not None:
        data = step(dict(data))
        version += 1
    return data, version
