"""The event store API of ``spec/api.md`` (``hive.events``), over two backends.

:class:`EventStore` is the real one: the JSONL segment log for writes and the SQLite index
for reads. :class:`MemoryEventStore` keeps events in a list for fast unit tests of the
domain. Both validate exactly the same way and obey one contract (``tests/test_store_contract.py``).

Raw appends (:meth:`EventStore.append`, :meth:`EventStore.append_batch`) take open types
only: notes and custom types. A *domain* type (one a capability declared with
:func:`~fleet_hive.events.registry.recorded_by`: ``mission_*``, ``sortie_*``,
``reservation_*``) is refused with a hint naming its use case, which checks the rules; use
cases append through :meth:`prepare` and :meth:`append_pending`. The composition root
routes raw appends through the write path (``write``), so a note on a mission's stream
regenerates that mission's snapshot like any other write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from ..kernel.actors import Actor, actor_name
from ..kernel.clock import utc_now
from ..kernel.errors import InvalidInputError
from ..kernel.limits import check_page
from ..kernel.typenames import Protocol
from .envelope import Event, check_stream_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .log import PendingEvent, SegmentLog


class EventQueries(Protocol):
    """The read side the store answers from (the SQLite index, a layer above, satisfies
    it): the events layer names what it needs and never imports the index."""

    def get(self, event_id: str) -> Event | None: ...

    def query(self, *, stream: str | None = ..., type: str | None = ...,
              causation_id: str | None = ..., correlation_id: str | None = ...,
              after: int | None = ..., limit: int | None = ..., offset: int = ...,
              order: str = ..., catch_up: bool = ...) -> list[Event]: ...

    def latest_seq(self, catch_up: bool = True) -> int: ...

    def iter_all(self) -> Iterator[Event]: ...


class _Validating:
    """What both stores share: turning user input into validated pending events.

    ``type_modules`` name the modules whose event types this store accepts. Each ``data``
    is checked against its type's committed JSON Schema (:mod:`.validation`); the
    registry's pydantic models are imported only for what that check cannot settle (an
    unknown type, a refused or unusual value), never on read paths.
    """

    actor: str
    _type_modules: Sequence[str] = ()
    _validate_data: Callable[..., tuple[dict[str, Any], int]] | None = None

    def _load_validator(self) -> Callable[..., tuple[dict[str, Any], int]]:
        # the committed JSON Schema of each type; pydantic only where it must decide
        from .validation import use_modules, validate_data

        use_modules(self._type_modules)  # declared; imported only if pydantic must decide
        self._validate_data = validate_data
        return validate_data

    def _pending(self, type: str, *, stream: str, data: Mapping[str, Any] | None,
                 causation_id: str | None = None, correlation_id: str | None = None,
                 actor: str | None = None, custom: bool = False) -> PendingEvent:
        check_stream_name(stream)
        if causation_id is not None or correlation_id is not None:
            _check_links(causation_id, correlation_id)
        # the validator is loaded on the first write, never on read paths
        validate = self._validate_data or self._load_validator()
        clean, version = validate(type, {} if data is None else data, custom=custom)
        from .log import PendingEvent  # the write path's (a read never imports the log)

        return PendingEvent(type, stream, clean, actor or self.actor, version, causation_id,
                            correlation_id)

    #: Public name for domain use cases: validate an event now, append it later.
    prepare = _pending

    def _raw(self, type: str, *, stream: str, data: Mapping[str, Any] | None,
             causation_id: str | None = None, correlation_id: str | None = None,
             actor: str | None = None, custom: bool = False) -> PendingEvent:
        """A raw append's event: refused if a use case owns its type, else validated."""
        if self._validate_data is None:
            self._load_validator()  # declares this store's type modules to the registry
        from .validation import use_case_of

        _refuse_domain_type(type, use_case_of)
        return self._pending(type, stream=stream, data=data, causation_id=causation_id,
                             correlation_id=correlation_id, actor=actor, custom=custom)

    def _batch(self, items: Iterable[Mapping[str, Any]]) -> list[PendingEvent]:
        """The pending events of a batch, each checked as :meth:`_raw` checks one; what
        holds for a whole batch (the validator, the actor, a type's use case, a stream
        name already checked) is settled once, so a large batch costs a few microseconds
        per event."""
        validate = self._validate_data or self._load_validator()
        from .log import PendingEvent  # the write path's (a read never imports the log)
        from .validation import use_case_of

        actor: str | None = None
        open_types: set[str] = set()  # types checked to be open to raw appends
        streams: set[str] = set()  # stream names checked
        pending: list[PendingEvent] = []
        make = tuple.__new__  # PendingEvent(...) without its Python-level __new__
        for i, item in enumerate(items):
            if type(item) is not dict and not isinstance(item, Mapping):
                raise InvalidInputError(f"batch item {i} is not an object")
            if not _BATCH_KEYS.issuperset(item):
                unknown = set(item) - _BATCH_KEYS
                raise InvalidInputError(f"batch item {i}: unknown keys {sorted(unknown)}")
            try:
                kind, stream = item["type"], item["stream"]
            except KeyError:
                raise InvalidInputError(
                    f"batch item {i}: 'type' and 'stream' are required") from None
            get = item.get
            try:
                if type(kind) is not str or kind not in open_types:
                    _refuse_domain_type(kind, use_case_of)
                    if type(kind) is str:
                        open_types.add(kind)
                if type(stream) is not str or stream not in streams:
                    check_stream_name(stream)
                    streams.add(stream)
                causation_id, correlation_id = get("causation_id"), get("correlation_id")
                if causation_id is not None or correlation_id is not None:
                    _check_links(causation_id, correlation_id)
                data = get("data")
                clean, version = validate(kind, {} if data is None else data,
                                          custom=bool(get("custom", False)))
                by = get("actor")
                if not by:
                    by = actor = actor or self.actor
            except InvalidInputError as e:
                raise InvalidInputError(f"batch item {i}: {e.message}", hint=e.hint) from e
            pending.append(make(PendingEvent, (kind, stream, clean, by, version, causation_id,
                                               correlation_id)))
        return pending


def _refuse_domain_type(kind: Any, use_case_of: Callable[[str], str | None]) -> None:
    """Refuse ``kind`` for a raw append if a use case owns it (it checks the rules)."""
    use_case = use_case_of(kind) if isinstance(kind, str) else None
    if use_case is not None:
        raise InvalidInputError(
            f"{kind} is a domain event type: only its command records it, checking the "
            "rules and keeping .fleet/ consistent", hint=f"use {use_case}")


def _check_links(causation_id: Any, correlation_id: Any) -> None:
    for name, value in (("causation_id", causation_id), ("correlation_id", correlation_id)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidInputError(f"{name} must be a non-empty string")


_BATCH_KEYS = {"type", "stream", "data", "causation_id", "correlation_id", "actor", "custom"}


class EventStore(_Validating):
    """``hive.events``: appends go to the segment log, queries to the index."""

    def __init__(self, log: Callable[[], SegmentLog], index: EventQueries,
                 actor: Actor, *, type_modules: Sequence[str] = (),
                 write: Callable[[list[PendingEvent]], list[Event]] | None = None) -> None:
        self._get_log = log  # created on first write: read paths never import filelock
        self._index = index
        self._actor_of = actor  # a callable: asked on the first append (reads never do)
        self._type_modules = tuple(type_modules)
        #: where raw appends go (the write path with its after-write policies); else the log
        self._write = write

    @property
    def actor(self) -> str:  # type: ignore[override]  # read-only here: asked, not set
        """Who the appended events are by (unless an append says otherwise)."""
        return actor_name(self._actor_of)

    @property
    def _log(self) -> SegmentLog:
        return self._get_log()

    def append(self, type: str, *, stream: str, data: Mapping[str, Any] | None = None,
               causation_id: str | None = None, correlation_id: str | None = None,
               actor: str | None = None, custom: bool = False, indexed: bool = False) -> Event:
        """Append one event of an open type (a note, a custom type) durably; returns it
        (with ``seq`` when ``indexed``). A domain type is refused: see the module doc."""
        pending = self._raw(type, stream=stream, data=data, causation_id=causation_id,
                            correlation_id=correlation_id, actor=actor, custom=custom)
        (event,) = self._append_raw([pending])
        return self._index.get(event.id) or event if indexed else event

    def append_batch(self, items: Iterable[Mapping[str, Any]], *, indexed: bool = False,
                     ) -> list[Event]:
        """Append several events all-or-nothing: every item is validated (and checked to be
        of an open type) before any is written."""
        events = self._append_raw(self._batch(items))
        return self._with_seq(events) if indexed else events

    def _append_raw(self, pending: list[PendingEvent]) -> list[Event]:
        return self._write(pending) if self._write is not None else self._log.append(pending)

    def append_pending(self, pending: list[PendingEvent]) -> list[Event]:
        """Append events already validated by a domain use case: the unit of work's port,
        no rules checked and no after-write policy run (the caller does both)."""
        return self._log.append(pending)

    def _with_seq(self, events: list[Event]) -> list[Event]:
        return [self._index.get(e.id) or e for e in events]

    def get(self, event_id: str) -> Event | None:
        return self._index.get(event_id)

    def by_stream(self, stream: str, after: int | None = None) -> list[Event]:
        check_page(after=after)
        return self._index.query(stream=stream, after=after, order="total")

    def by_type(self, type: str, after: int | None = None, limit: int | None = None,
                ) -> list[Event]:
        check_page(after=after, limit=limit)
        return self._index.query(type=type, after=after, limit=limit)

    def by_causation(self, event_id: str) -> list[Event]:
        return self._index.query(causation_id=event_id)

    def by_correlation(self, correlation_id: str) -> list[Event]:
        return self._index.query(correlation_id=correlation_id)

    def latest_sequence(self) -> int:
        return self._index.latest_seq()

    def after_sequence(self, seq: int, limit: int | None = None) -> list[Event]:
        check_page(after=seq, limit=limit)
        return self._index.query(after=seq, limit=limit)

    def query(self, **filters: Any) -> list[Event]:
        check_page(after=filters.get("after"), limit=filters.get("limit"),
                   offset=filters.get("offset"))
        return self._index.query(**filters)

    def iter_all(self) -> Iterator[Event]:
        return self._index.iter_all()

    def writer_id(self) -> str:
        return self._log.writer_id()


class MemoryEventStore(_Validating):
    """An in-memory event store with the same contract, for fast unit tests."""

    def __init__(self, actor: str = "test", writer: str = "memorywriter", *,
                 type_modules: Sequence[str] = ()) -> None:
        self.actor = actor
        self._writer = writer
        self._type_modules = tuple(type_modules)
        self._events: list[Event] = []
        import threading  # the in-memory store only: no read path needs it

        self._lock = threading.Lock()

    def _store(self, pending: list[PendingEvent]) -> list[Event]:
        from ..kernel.ids import new_ulid

        with self._lock:
            out = []
            now = utc_now()
            base = len(self._events)
            clock = self._events[-1].clock if self._events else 0
            for i, p in enumerate(pending, 1):
                out.append(Event(new_ulid(), p.type, p.stream, clock + i, self._writer, base + i,
                                 now, p.actor, p.causation_id, p.correlation_id,
                                 p.schema_version, p.data, base + i))
            self._events.extend(out)
            return out

    def append(self, type: str, *, stream: str, data: Mapping[str, Any] | None = None,
               causation_id: str | None = None, correlation_id: str | None = None,
               actor: str | None = None, custom: bool = False, indexed: bool = False) -> Event:
        return self._store([self._raw(type, stream=stream, data=data,
                                      causation_id=causation_id,
                                      correlation_id=correlation_id, actor=actor,
                                      custom=custom)])[0]

    def append_batch(self, items: Iterable[Mapping[str, Any]], *, indexed: bool = False,
                     ) -> list[Event]:
        return self._store(self._batch(items))

    def append_pending(self, pending: list[PendingEvent]) -> list[Event]:
        return self._store(list(pending))

    def get(self, event_id: str) -> Event | None:
        return next((e for e in self._events if e.id == event_id), None)

    def query(self, *, stream: str | None = None, type: str | None = None,
              causation_id: str | None = None, correlation_id: str | None = None,
              after: int | None = None, limit: int | None = None, offset: int = 0,
              order: str = "seq", catch_up: bool = True) -> list[Event]:
        check_page(after=after, limit=limit, offset=offset)
        out = [e for e in self._events
               if (stream is None or e.stream == stream) and (type is None or e.type == type)
               and (causation_id is None or e.causation_id == causation_id)
               and (correlation_id is None or e.correlation_id == correlation_id)
               and (after is None or (e.seq or 0) > after)]
        if order == "total":
            out.sort(key=lambda e: e.order_key)
        out = out[offset:]
        return out if limit is None else out[:limit]

    def by_stream(self, stream: str, after: int | None = None) -> list[Event]:
        return self.query(stream=stream, after=after, order="total")

    def by_type(self, type: str, after: int | None = None, limit: int | None = None,
                ) -> list[Event]:
        return self.query(type=type, after=after, limit=limit)

    def by_causation(self, event_id: str) -> list[Event]:
        return self.query(causation_id=event_id)

    def by_correlation(self, correlation_id: str) -> list[Event]:
        return self.query(correlation_id=correlation_id)

    def latest_sequence(self) -> int:
        return len(self._events)

    def after_sequence(self, seq: int, limit: int | None = None) -> list[Event]:
        return self.query(after=seq, limit=limit)

    def iter_all(self) -> Iterator[Event]:
        return iter(list(self._events))

    def writer_id(self) -> str:
        return self._writer
