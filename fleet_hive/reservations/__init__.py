"""File reservations: leases of paths and globs, so agents never edit the same file at once.

``hive.reservations`` (:class:`Reservations`) is the API; :class:`Reservation`,
:class:`Wait`, :class:`Conflict` and :class:`CheckResult` the plain data it returns.
Layers, inner first: ``model`` (state, rules, errors), ``fold`` (pure: events → state),
``decide`` (pure: state + request → events), ``projection`` (index tables and their
queries), ``manifest`` (``.fleet/local/reservations.json``, an after-write policy),
``service`` (the use cases), ``event_types`` (pydantic data models, imported only on
write) and ``checks`` (``verify``).
"""

from __future__ import annotations

from .model import (
    CheckResult,
    Conflict,
    Reservation,
    ReservationConflictError,
    ReservationTimeoutError,
    Wait,
)

__all__ = ["CheckResult", "Conflict", "Manifest", "Reservation", "ReservationConflictError",
           "ReservationTimeoutError", "Reservations", "Wait"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .manifest import Manifest
    from .service import Reservations

_LAZY = {"Reservations": "service", "Manifest": "manifest"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
