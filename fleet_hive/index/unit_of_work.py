"""THE write path: every write of every capability goes through :meth:`UnitOfWork.run`.

Under this clone's writer lock: catch the index up, hand the caller's pure ``decide`` a
read view of the current state, validate and append the events it returns (all or
nothing), catch up again so they are visible, then call the after-write policies with the
stored events. No other process of this clone can append in between, so a decision is
made on the latest state: that is what makes ``sortie claim`` and ``lock acquire`` atomic.

Policies are reactions to what was stored (regenerating a mission's snapshot, rewriting
the reservation manifest, a checkpoint trigger, an auto-commit): the capability that
decided never calls another for a side effect. The events are durable before any policy
runs, so a policy that fails does not undo the write, nor make it look failed: its error
is kept in :attr:`UnitOfWork.warnings` (the CLI prints them on stderr and exits 0; an
agent that retried a "failed" write would record it twice), and ``verify`` reports the
derived file that fell behind until a later write or ``verify --repair`` fixes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager

from ..kernel.errors import StorageError
from ..kernel.plain import tuple_fields
from ..kernel.typenames import Protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..events.envelope import Event
    from ..events.log import PendingEvent
    from .projection import ReadView


@tuple_fields
class NewEvent(tuple["Any", ...]):
    """An event a decision wants appended: the rest of the envelope comes from the log.
    (A tuple with named fields, see :mod:`fleet_hive.kernel.plain`.)"""

    __slots__ = ()
    _fields = ("type", "stream", "data", "causation_id", "correlation_id")
    if TYPE_CHECKING:
        type: str
        stream: str
        data: Mapping[str, Any]
        causation_id: str | None
        correlation_id: str | None

    def __new__(cls, type: str, stream: str, data: Mapping[str, Any],
                causation_id: str | None = None,
                correlation_id: str | None = None) -> NewEvent:
        return tuple.__new__(cls, (type, stream, data, causation_id, correlation_id))

    def __repr__(self) -> str:
        return ("NewEvent(type={!r}, stream={!r}, data={!r}, causation_id={!r}, "
                "correlation_id={!r})").format(*self)


#: A pure decision: the current state (read through the view) -> the events to append.
#: It raises a FleetHiveError to refuse; a refused or empty decision writes nothing.
Decide = Callable[["ReadView"], Sequence[NewEvent]]

#: An after-write policy: called under the writer lock with the events just stored.
Policy = Callable[[Sequence["Event"]], None]
#: Work a policy leaves for after the writer lock (rendering a derived file while other
#: writers append): called after each write, ``force=False`` (it may wait for more), and
#: by :meth:`UnitOfWork.settle`, ``force=True``.
Settler = Callable[..., object]


class Appender(Protocol):
    """The event store's write side (validation included)."""

    def prepare(self, type: str, *, stream: str, data: Mapping[str, Any] | None,
                causation_id: str | None = None, correlation_id: str | None = None,
                ) -> PendingEvent: ...

    def append_pending(self, pending: list[PendingEvent]) -> list[Event]: ...


class UnitOfWork:
    """One clone's write path. ``lock`` returns the writer lock (reentrant in a process);
    ``index`` is the read view decisions see; ``store`` validates and appends."""

    def __init__(self, *, lock: Callable[[], AbstractContextManager[Any]], index: ReadView,
                 store: Appender, policies: Sequence[Policy] = (),
                 settlers: Sequence[Settler] = ()) -> None:
        self._lock = lock
        self.index = index
        self._store = store
        self.policies: list[Policy] = list(policies)
        self.settlers: list[Settler] = list(settlers)
        #: inside :meth:`batch`: the events stored so far, whose policies wait for its end
        self._held: list[Event] | None = None
        #: derived-file failures of after-write policies, oldest first (the write stood)
        self.warnings: list[StorageError] = []

    def add_policy(self, policy: Policy) -> None:
        self.policies.append(policy)

    def policy_index(self, policy: Policy) -> int:
        """Where ``policy`` is in :attr:`policies`: itself, or the :class:`OnEvents` that
        builds it (ValueError when neither is)."""
        for i, p in enumerate(self.policies):
            if p is policy or (isinstance(p, OnEvents) and p.policy is policy):
                return i
        raise ValueError(f"{policy!r} is not a policy of this unit of work")

    @contextmanager
    def exclusive(self) -> Iterator[ReadView]:
        """The writer lock with the index caught up: for work that must see a state no
        write changes meanwhile (a repair, regenerating every snapshot)."""
        with self._lock():
            self.index.catch_up()
            yield self.index

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several decisions under one hold of the writer lock, each appended (durably)
        and caught up as usual, with the after-write policies run once at the end for all
        the events stored (one snapshot, one trigger check, instead of one per write).
        Each decision stands on its own: an error stops the batch where it is, what was
        stored stays stored, and the policies still run for it. Nested batches join the
        outer one."""
        with self._lock():
            if self._held is not None:
                yield
                return
            self._held = []
            try:
                yield
            finally:
                stored, self._held = self._held, None
                if stored:
                    self._after_write(stored)
        self._settle()

    def run(self, decide: Decide) -> list[Event]:
        """Decide on the latest state and store the result; returns the stored events."""
        with self._lock():
            self.index.catch_up()
            new = decide(self.index)
            if not new:
                return []
            pending = [self._store.prepare(e.type, stream=e.stream, data=e.data,
                                           causation_id=e.causation_id,
                                           correlation_id=e.correlation_id) for e in new]
            stored = self._store.append_pending(pending)
            self.index.catch_up_appended()
            self._after_write(stored)
        self._settle()
        return stored

    def append(self, pending: list[PendingEvent]) -> list[Event]:
        """A raw append (no decision: notes, custom types) on the same path: under the lock,
        then caught up and handed to the after-write policies, so a note on a mission's
        stream keeps its snapshot right."""
        with self._lock():
            stored = self._store.append_pending(pending)
            self.index.catch_up_appended()
            self._after_write(stored)
        self._settle()
        return stored

    def settle(self) -> None:
        """Finish what the policies left for after the lock (a command does it as it
        ends, ``Hive.close``): afterwards every derived file reflects this process's
        writes."""
        self._settle(force=True)

    def _settle(self, *, force: bool = False) -> None:
        if self._held is not None:
            return  # inside a batch: at its end
        for settle in self.settlers:
            try:
                settle(force=force)
            except StorageError as e:
                self.warnings.append(e)

    def _after_write(self, stored: Sequence[Event]) -> None:
        if self._held is not None:
            self._held.extend(stored)
            return
        for policy in self.policies:
            try:
                policy(stored)
            except StorageError as e:
                self.warnings.append(e)


class OnEvents:
    """An after-write policy built on the first write that concerns it: one with an event
    of one of ``types`` or on a stream starting with one of ``streams`` (or, with ``when``,
    any write while ``when()`` is true: a repair the policy owes). Until then its module is
    not imported (a write pays only for the policies its events can interest). The filter
    must cover every event the policy acts on; the policy still filters itself.
    """

    __slots__ = ("_build", "_policy", "_when", "streams", "types")

    def __init__(self, build: Callable[[], Policy], *, types: Iterable[str] = (),
                 streams: tuple[str, ...] = (), when: Callable[[], bool] | None = None,
                 ) -> None:
        self._build = build
        self._policy: Policy | None = None
        self._when = when
        self.types = frozenset(types)
        self.streams = streams

    @property
    def policy(self) -> Policy:
        """The policy itself (built now if no write has needed it yet)."""
        if self._policy is None:
            self._policy = self._build()
        return self._policy

    def wants(self, events: Sequence[Event]) -> bool:
        types, streams = self.types, self.streams
        return any(e.type in types or (streams and e.stream.startswith(streams))
                   for e in events) or (self._when is not None and self._when())

    def __call__(self, events: Sequence[Event]) -> None:
        if self.wants(events):
            self.policy(events)


def built(write_path: UnitOfWork | Callable[[], UnitOfWork]) -> UnitOfWork:
    """The unit of work itself, building it if it was given as a function (services take
    either, so read commands never build the write path and its policies)."""
    return write_path if isinstance(write_path, UnitOfWork) else write_path()
