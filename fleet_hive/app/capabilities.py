"""The one list of capabilities: the only place (with the CLI's command table) that names
them all.

Each entry points at the parts of one capability package as lazy ``"module"`` or
``"module:attr"`` strings, so a read command imports only what it touches: the event-type
registry gets the ``event_types`` modules (imported on the first write), the index the
``projection`` objects (imported on the first catch-up), ``verify`` the ``checks``.
Adding a capability = its package, one entry here, one constructor line in
:mod:`fleet_hive.app.hive`, and its CLI group. Order matters: a capability may use the
services of the ones before it (``spec/architecture.md``, rule 2).
"""

from __future__ import annotations

import importlib

from ..index.projection import ProjectionSpec
from ..kernel.plain import tuple_fields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@tuple_fields
class Capability(tuple["Any", ...]):
    """One capability's parts (a tuple with named fields, see :mod:`fleet_hive.kernel.plain`)."""

    __slots__ = ()
    _fields = ("name", "event_types", "projection", "checks")
    if TYPE_CHECKING:
        name: str
        event_types: str | None  # module declaring its event types
        projection: ProjectionSpec | None  # its index tables (name, version, streams)
        checks: str | None  # "module:attr" of its verify Check

    def __new__(cls, name: str, event_types: str | None = None,
                projection: ProjectionSpec | None = None,
                checks: str | None = None) -> Capability:
        return tuple.__new__(cls, (name, event_types, projection, checks))

    def __repr__(self) -> str:
        return "Capability(name={!r}, event_types={!r}, projection={!r}, checks={!r})".format(
            *self)


CAPABILITIES: tuple[Capability, ...] = (
    Capability("events", event_types="fleet_hive.events.core_types"),
    Capability("reservations", event_types="fleet_hive.reservations.event_types",
               projection=ProjectionSpec(
                   "reservations", "4", ("reservation:", "reservation_request:"),
                   "fleet_hive.reservations.projection:PROJECTION"),
               checks="fleet_hive.reservations.checks:check_reservations"),
    Capability("missions", event_types="fleet_hive.missions.event_types",
               projection=ProjectionSpec("missions", "7", ("mission:m-", "sortie:s-"),
                                         "fleet_hive.missions.projection:PROJECTION"),
               checks="fleet_hive.missions.checks:check_missions"),
    Capability("mail", event_types="fleet_hive.mail.event_types",
               projection=ProjectionSpec("mail", "1", ("mail:",),
                                         "fleet_hive.mail.projection:PROJECTION"),
               checks="fleet_hive.mail.checks:check_mail"),
    Capability("specialists", event_types="fleet_hive.specialists.event_types",
               projection=ProjectionSpec("specialists", "2", ("specialist:",),
                                         "fleet_hive.specialists.projection:PROJECTION"),
               checks="fleet_hive.specialists.checks:check_specialists"),
    Capability("learning", event_types="fleet_hive.learning.event_types",
               projection=ProjectionSpec("learning", "1", ("outcome:",),
                                         "fleet_hive.learning.projection:PROJECTION"),
               checks="fleet_hive.learning.checks:check_learning"),
    Capability("checkpoints", event_types="fleet_hive.checkpoints.event_types",
               projection=ProjectionSpec("checkpoints", "1", ("checkpoints:",),
                                         "fleet_hive.checkpoints.projection:PROJECTION"),
               checks="fleet_hive.checkpoints.checks:check_checkpoints"),
    Capability("planning", event_types="fleet_hive.planning.event_types",
               projection=ProjectionSpec("plans", "1", ("plan:",),
                                         "fleet_hive.planning.projection:PROJECTION"),
               checks="fleet_hive.planning.checks:check_plans"),
    Capability("dispatch", event_types="fleet_hive.dispatch.event_types"),
)


def event_type_modules() -> list[str]:
    return [c.event_types for c in CAPABILITIES if c.event_types]


def projections() -> list[ProjectionSpec]:
    return [c.projection for c in CAPABILITIES if c.projection]


def checks() -> list[Any]:
    """Every capability's verify check, imported now (verify runs them all)."""
    return [load(c.checks) for c in CAPABILITIES if c.checks]


def load(spec: str) -> Any:
    """The object named by ``"module:attr"``."""
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)
