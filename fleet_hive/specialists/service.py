"""``hive.specialists``: register, heartbeat, list, and the questions dispatch asks
(who can take a sortie of this kind, least loaded first; who fell silent).

Ports: the unit of work (a function: reads never build it), the index, ``claims`` (which
sorties each claimant holds now: the missions' claims, composed by the hive), the
``silent_after`` threshold in seconds (read only when a status is needed) and a clock.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence

from ..index.unit_of_work import built
from ..kernel import clock
from ..kernel.errors import NotFoundError
from . import decide as d
from . import projection as q
from .fold import Record
from .model import (
    DEFAULT_SILENT_AFTER,
    SILENT,
    Specialist,
    check_capabilities,
    check_name,
    rank,
    status_of,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..index.projection import ReadView
    from ..index.unit_of_work import NewEvent, UnitOfWork

Claims = Callable[[], Mapping[str, Sequence[str]]]


class Specialists:
    def __init__(self, uow: UnitOfWork | Callable[[], UnitOfWork], index: ReadView, *,
                 claims: Claims = dict,
                 silent_after: Callable[[], float] = lambda: DEFAULT_SILENT_AFTER,
                 now: clock.Clock = clock.now) -> None:
        self._uow = uow
        self._index = index
        self._claims = claims
        self._silent_after = silent_after
        self._now = now

    # -- writing -------------------------------------------------------------------------
    def register(self, name: str, capabilities: Sequence[str] = ()) -> Specialist:
        """Register ``name`` with ``capabilities`` (idempotent: again with the same ones is
        a heartbeat; with others, they replace the old ones)."""
        name = check_name(name)
        caps = check_capabilities(capabilities)

        def decision(view: ReadView) -> list[NewEvent]:
            return d.register(q.get(view, name, catch_up=False), name, caps,
                              clock.iso(self._now()))

        built(self._uow).run(decision)
        return self.get(name)

    def heartbeat(self, name: str) -> Specialist:
        """A sign of life (coalesced: see :data:`.model.HEARTBEAT_COALESCE`); NotFoundError
        for a name never registered."""
        name = check_name(name)
        record = self._record(name)
        now = self._now()
        if d.heartbeat(record, now, clock.epoch(record[4]), clock.iso(now)):
            def decision(view: ReadView) -> list[NewEvent]:
                current = q.get(view, name, catch_up=False)
                assert current is not None
                at = self._now()
                return d.heartbeat(current, at, clock.epoch(current[4]), clock.iso(at))

            built(self._uow).run(decision)
        return self.get(name)

    # -- reading -------------------------------------------------------------------------
    def _record(self, name: str) -> Record:
        record = q.get(self._index, name)
        if record is None:
            raise NotFoundError(f"no specialist {name!r}",
                                hint=f"register it: fleet-hive specialist register {name} "
                                     "--capability KIND")
        return record

    def _build(self, records: Sequence[Record], threshold: float | None = None,
               ) -> builtins.list[Specialist]:
        if not records:
            return []
        limit = self._silent_after() if threshold is None else threshold
        claims = self._claims()
        now = self._now()
        out = []
        for name, caps, registered_at, registered_by, last_seen in records:
            held = sorted(claims.get(name, ()))
            out.append(Specialist(name, caps, status_of(clock.epoch(last_seen), now, limit),
                                  last_seen, len(held), held, registered_at, registered_by))
        return out

    def get(self, name: str) -> Specialist:
        return self._build([self._record(check_name(name))])[0]

    def list(self) -> builtins.list[Specialist]:
        """Every specialist, by name."""
        return self._build(q.every(self._index))

    def capable(self, kind: str | None) -> builtins.list[Specialist]:
        """Active specialists with capability ``kind`` (None or "": any), least loaded
        first, ties by name."""
        return rank([s for s in self.list() if s.status != SILENT and s.can(kind)])

    def silent(self, threshold_seconds: float | None = None) -> builtins.list[Specialist]:
        """Specialists nothing was heard from for longer than ``threshold_seconds``
        (default: the ``specialist_silent_after`` setting), by name."""
        return [s for s in self._build(q.every(self._index), threshold_seconds)
                if s.status == SILENT]
