"""Pure folds: the events of one stream, in total order, to a Mission or a Sortie.

The same events in the same total order (``clock, writer, n``) give the same state on every
clone; nothing here reads a clock, a file or the environment.

Concurrent facts. Every event but a creation names the heads of its stream its writer had
seen (``data.prev`` and ``data.merged``, like a git commit's parents). Following these links
gives exactly the events a writer knew of; an earlier event (in total order) that it did
*not* know of is concurrent with it: both were decided on different clones or branches and
met in a merge. The rules:

* Events apply in total order. An event whose transition is not allowed from the current
  status is kept in the log but changes nothing (so, usually, the first of two
  concurrent outcomes in total order stands).
* Two concurrent, different outcomes (completed / failed / cancelled) or two concurrent
  claims by different specialists are a **conflict**: both facts are recorded with their
  event ids, actors and writers, and which one the state kept.
* Two concurrent updates that set one field (title, description, priority, labels,
  files, dependencies, specialist; a sortie's progress) to different values are a
  ``field`` conflict, one per field. Both still apply in total order, so the later one's
  value stands (``kept``); setting the same value twice is not a conflict.
* Any other event that could not be applied is recorded as a ``transition`` conflict, so
  no fact is ever dropped silently. The same fact recorded twice concurrently (two
  completions, two claims by one specialist) is not a conflict.
* A conflict is resolved by a later event whose writer had seen every fact of it and that
  either changed the status or explicitly resolved conflicts (``sortie resolve``); a
  ``field`` conflict only by an explicit resolution or a later value of that field (a
  status change decides no title).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from ..events.envelope import Event
from ..kernel.typenames import Generic, TypeVar
from .model import (
    OUTCOME_EVENTS,
    PROGRESS_STATUSES,
    TRANSITION_BY_EVENT,
    Mission,
    Sortie,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _Positions:
    """What both histories share: each event's position, by id, and ``saw``."""

    pos: dict[str, int]

    def saw(self, mask: int, event_id: str) -> bool:
        j = self.pos.get(event_id)
        return j is not None and bool(mask >> j & 1)


class _History(_Positions):
    """The events of one stream so far, and which of them each event's writer had seen.

    The ``prev`` and ``merged`` links of a stream form a DAG, like git commits. An event's
    writer had seen exactly its ancestors (kept as a bitmask over positions in total
    order; an ancestor always comes earlier, its clock being lower). An event without
    links (another capability's, or one appended by hand) counts as having seen everything
    before it; a creation, nothing. ``heads`` is the frontier: the events no later event
    descends from, which the next decision names as its ``prev`` and ``merged``.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.pos: dict[str, int] = {}
        self.ancestors: list[int] = []
        self.heads: list[int] = []
        self.applied: set[str] = set()
        self.linear = True  # every event so far had seen every event before it

    def add(self, ev: Event) -> tuple[list[Event], int]:
        """Record ``ev``; returns (earlier events its writer had not seen, its ancestors)."""
        i = len(self.events)
        everything = (1 << i) - 1
        data = ev.data
        if self.linear and i and data.get("prev") == self.events[-1].id \
                and not data.get("merged"):
            # the common case: one writer after another, each having seen all before
            self.pos[ev.id] = i
            self.events.append(ev)
            self.ancestors.append(everything)
            self.heads = [i]
            return [], everything
        links = [data.get("prev"), *(data.get("merged") or ())]
        if _is_creation(ev.type):
            mask = 0
        elif not any(isinstance(link, str) for link in links):
            mask = everything
        else:
            mask = 0
            for link in links:
                j = self.pos.get(link) if isinstance(link, str) else None
                if j is not None:
                    mask |= self.ancestors[j] | (1 << j)
        concurrent = [] if mask == everything else \
            [e for k, e in enumerate(self.events) if not mask >> k & 1]
        self.pos[ev.id] = i
        self.events.append(ev)
        self.ancestors.append(mask)
        self.heads = [h for h in self.heads if not mask >> h & 1] + [i]
        if concurrent:
            self.linear = False
        return concurrent, mask

    def head_ids(self) -> list[str]:
        return [self.events[h].id for h in self.heads]


def _is_creation(type_: str) -> bool:
    return type_ in ("mission_created", "sortie_added")


#: The fields each kind of event sets, when its ``data`` holds them (not null).
MISSION_FIELDS = ("title", "description", "priority", "labels")
SORTIE_FIELDS = ("title", "description", "priority", "files", "depends_on", "specialist")
#: Events that set a sortie's progress (``sortie_progressed``'s percent; a completion
#: makes it 100, a retry 0).
_PROGRESS_SETTERS = frozenset({"sortie_progressed", "sortie_completed", "sortie_retried"})


def fields_set(ev: Event) -> dict[str, Any]:
    """The fields ``ev`` sets and their values (lists as lists): what two concurrent
    events may disagree on."""
    d = ev.data
    if ev.type == "mission_updated":
        keys: tuple[str, ...] = MISSION_FIELDS
    elif ev.type == "sortie_updated":
        keys = SORTIE_FIELDS
    elif ev.type == "sortie_progressed":
        return {"progress": d.get("percent")}
    else:
        return {}
    return {k: list(d[k]) if isinstance(d[k], list) else d[k]
            for k in keys if d.get(k) is not None}


def _fact(ev: Event) -> dict[str, Any]:
    out: dict[str, Any] = {"event_id": ev.id, "type": ev.type, "actor": ev.actor,
                           "writer": ev.writer, "time": ev.time}
    if "specialist" in ev.data and ev.type == "sortie_claimed":
        out["specialist"] = ev.data["specialist"]
    if ev.data.get("reason"):
        out["reason"] = ev.data["reason"]
    return out


class NotLinear(Exception):
    """A resumed fold met an event that does not simply continue its stream's history."""


class _Continued(_Positions):
    """The history of a stream resumed after a prefix already folded, whose last event is
    ``head``: a stand-in for :class:`_History` that accepts only linear continuations.

    Resuming is allowed only after a *linear* prefix (``_History.linear``: every event had
    seen every event before it), which ``_History`` leaves with ``heads`` = its last event
    and every ancestor mask = everything before. An event then continues it linearly (its
    mask is again everything before, nothing is concurrent) exactly when ``_History.add``
    would say so: ``prev`` is the head and ``merged`` empty; or it is not a creation and
    it names the head among its links, or names no event at all (seen everything). Any
    other event raises :class:`NotLinear`: the caller folds the stream in full instead.

    The prefix's events are not kept, and nothing needs them: ``conflict_for`` reads
    ``applied`` and ``concurrent`` only for concurrent events, which never occur here, and
    ``resolve`` asks ``saw`` only about facts of open conflicts, which (the prefix having
    none, see ``_Folder.resumable``) are events added since the resumption. Positions (and
    so the masks ``add`` returns) count from the resumption; ``saw`` would answer False for
    an event of the prefix, but is never asked about one.
    """

    linear = True

    def __init__(self, head: str) -> None:
        self.head = head
        self.pos: dict[str, int] = {}
        self.applied: set[str] = set()

    def add(self, ev: Event) -> tuple[list[Event], int]:
        data = ev.data
        if data.get("prev") != self.head or data.get("merged"):
            links = [data.get("prev"), *(data.get("merged") or ())]
            named = [link for link in links if isinstance(link, str)]
            if _is_creation(ev.type) or (named and self.head not in named):
                raise NotLinear(ev.id)
        i = len(self.pos)
        self.pos[ev.id] = i
        self.head = ev.id
        return [], (1 << i) - 1

    def head_ids(self) -> list[str]:
        return [self.head]


_State = TypeVar("_State", Mission, Sortie)


class _Folder(Generic[_State]):
    """What folding a mission and folding a sortie share: history, conflicts, resolution."""

    state: _State | None

    def __init__(self, history: _History | _Continued | None = None) -> None:
        self.history = history if history is not None else _History()

    @property
    def resumable(self) -> bool:
        """Whether a later fold may go on from here (``resume``) instead of starting over:
        the state exists, the history was linear and no conflict is open."""
        return (self.state is not None and self.history.linear
                and not self.state.open_conflicts)

    def conflict_for(self, state: Mission | Sortie, ev: Event, concurrent: list[Event],
                     applied: bool) -> None:
        """Record the conflict ``ev`` makes with what its writer had not seen, if any."""
        values = fields_set(ev) if applied else {}
        if values:
            self.field_conflicts(state, ev, values, concurrent)
            return
        other: Event | None = None
        kind = ""
        if ev.type in OUTCOME_EVENTS:
            other = _last(e for e in concurrent if e.type in OUTCOME_EVENTS and e.type != ev.type)
            kind = "outcome"
        elif ev.type == "sortie_claimed":
            other = _last(e for e in concurrent if e.type == "sortie_claimed"
                          and e.data.get("specialist") != ev.data.get("specialist"))
            kind = "claim"
        if other is not None:
            applied_ids = self.history.applied
            kept = ev.id if applied else other.id if other.id in applied_ids else None
            what = (f"claimed by {other.data.get('specialist')!r} and by "
                    f"{ev.data.get('specialist')!r}" if kind == "claim"
                    else f"{_verb(other.type)} and {_verb(ev.type)}")
            state.conflicts.append({
                "kind": kind,
                "message": f"{what} concurrently (on different clones or branches)",
                "facts": [_fact(other), _fact(ev)],
                "kept": kept,
                "resolved_by": None,
            })
            return
        if applied:
            return
        if any(e.type == ev.type and e.data.get("specialist") == ev.data.get("specialist")
               for e in concurrent):
            return  # the same fact recorded twice concurrently: nothing contradicts
        state.conflicts.append({
            "kind": "transition",
            "message": f"{ev.type} could not apply: it was {state.status} by then"
                       + (" (written concurrently)" if concurrent else ""),
            "facts": [_fact(ev)],
            "kept": None,
            "resolved_by": None,
        })

    def field_conflicts(self, state: Mission | Sortie, ev: Event, values: dict[str, Any],
                        concurrent: list[Event]) -> None:
        """One ``field`` conflict per field ``ev`` sets to another value than the last
        concurrent event (in total order) that set it; ``ev``, applied later, is kept."""
        for key, value in values.items():
            other = _last(e for e in concurrent if e.id in self.history.applied
                          and key in fields_set(e))
            if other is None or (before := fields_set(other)[key]) == value:
                continue
            state.conflicts.append({
                "kind": "field",
                "field": key,
                "message": f"{key} set to {_shown(before)} and to {_shown(value)} concurrently "
                           "(on different clones or branches)",
                "facts": [{**_fact(other), "value": before}, {**_fact(ev), "value": value}],
                "kept": ev.id,
                "resolved_by": None,
            })

    def resolve(self, state: Mission | Sortie, ev: Event, seen: int, *,
                everything: bool = False, status: bool = False,
                fields: Iterable[str] = ()) -> None:
        """Mark resolved the open conflicts whose facts ``ev``'s writer had all seen and
        that ``ev`` decides: ``everything`` (an explicit resolution); with ``status`` (a
        status change) all but the ``field`` conflicts; the ``field`` conflicts of the
        ``fields`` it sets."""
        chosen = set(fields)
        for c in state.conflicts:
            if c["resolved_by"] is not None:
                continue
            decides = everything or (c.get("field") in chosen if c["kind"] == "field"
                                     else status)
            if decides and all(self.history.saw(seen, f["event_id"]) for f in c["facts"]):
                c["resolved_by"] = ev.id


def _last(events: Iterable[Event]) -> Event | None:
    last = deque(events, maxlen=1)
    return last[0] if last else None


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _verb(event_type: str) -> str:
    return event_type.split("_", 1)[1]


def _touch(state: Mission | Sortie, ev: Event) -> None:
    if ev.time > state.updated_at:
        state.updated_at = ev.time


class MissionFolder(_Folder[Mission]):
    """Folds the events of a mission's stream, in total order, one batch after another."""

    def __init__(self, state: Mission | None = None,
                 history: _History | _Continued | None = None) -> None:
        super().__init__(history)
        self.state = state

    @classmethod
    def resume(cls, state: Mission) -> MissionFolder:
        """Go on after the events ``state`` was folded from, if :attr:`resumable` held then."""
        return cls(state, _Continued(state.heads[-1]))

    def fold(self, events: Iterable[Event]) -> Mission | None:
        """Apply ``events`` (each later than any before); the mission so far (or None)."""
        history = self.history
        m = self.state
        for ev in events:
            concurrent, seen = history.add(ev)
            if m is not None:
                m.events += 1
            d = ev.data
            t = ev.type
            if t == "mission_created":
                if m is None:
                    m = Mission(id=ev.stream.split(":", 1)[1], title=d.get("title", ""),
                                description=d.get("description", ""),
                                priority=d.get("priority", 2),
                                labels=list(d.get("labels", [])), created_at=ev.time,
                                updated_at=ev.time, created_by=ev.actor, events=1,
                                order=ev.order_key)
                    history.applied.add(ev.id)
                continue
            if m is None or not t.startswith("mission_"):
                continue  # before creation, or another capability's event on this stream
            applied = False
            if t == "mission_updated":
                if not m.deleted:
                    values = fields_set(ev)
                    for key, value in values.items():
                        setattr(m, key, value)
                    self.resolve(m, ev, seen, fields=values)
                    applied = True
            elif t == "mission_deleted":
                m.deleted, m.reason, applied = True, d.get("reason", ""), True
            elif t == "mission_conflicts_resolved":
                self.resolve(m, ev, seen, everything=True)
                applied = True
            elif t in TRANSITION_BY_EVENT:
                tr = TRANSITION_BY_EVENT[t]
                if not m.deleted and m.status in tr.sources:
                    m.status, m.reason = tr.target, d.get("reason", "")
                    m.forced = bool(d.get("forced")) if t == "mission_completed" else False
                    self.resolve(m, ev, seen, status=True)
                    applied = True
            else:
                continue  # a mission event type this version does not know
            if applied:
                history.applied.add(ev.id)
            if concurrent or not applied:
                self.conflict_for(m, ev, concurrent, applied)
            _touch(m, ev)
        self.state = m
        if m is not None:
            m.heads = history.head_ids()
        return m


class SortieFolder(_Folder[Sortie]):
    """Folds the events of a sortie's stream, in total order, one batch after another."""

    def __init__(self, state: Sortie | None = None,
                 history: _History | _Continued | None = None) -> None:
        super().__init__(history)
        self.state = state

    @classmethod
    def resume(cls, state: Sortie) -> SortieFolder:
        """Go on after the events ``state`` was folded from, if :attr:`resumable` held then."""
        return cls(state, _Continued(state.heads[-1]))

    def fold(self, events: Iterable[Event]) -> Sortie | None:
        """Apply ``events`` (each later than any before); the sortie so far (or None)."""
        history = self.history
        s = self.state
        for ev in events:
            concurrent, seen = history.add(ev)
            if s is not None:
                s.events += 1
            d = ev.data
            t = ev.type
            if t == "sortie_added":
                if s is None:
                    s = Sortie(id=ev.stream.split(":", 1)[1],
                               mission_id=d.get("mission_id", ""),
                               title=d.get("title", ""),
                               description=d.get("description", ""),
                               priority=d.get("priority", 2),
                               files=list(d.get("files", [])),
                               depends_on=list(d.get("depends_on", [])),
                               specialist=d.get("specialist"), created_at=ev.time,
                               updated_at=ev.time, created_by=ev.actor,
                               events=1, order=ev.order_key)
                    history.applied.add(ev.id)
                continue
            if s is None or not t.startswith("sortie_"):
                continue
            applied = False
            if t == "sortie_updated":
                if not s.deleted:
                    values = fields_set(ev)
                    for key, value in values.items():
                        setattr(s, key, value)
                    self.resolve(s, ev, seen, fields=values)
                    applied = True
            elif t == "sortie_progressed":
                if not s.deleted and s.status in PROGRESS_STATUSES:
                    s.progress = d.get("percent", s.progress)
                    s.progress_note = d.get("note", "")
                    self.resolve(s, ev, seen, fields=("progress",))
                    applied = True
            elif t == "sortie_deleted":
                s.deleted, s.reason, applied = True, d.get("reason", ""), True
            elif t == "sortie_conflicts_resolved":
                self.resolve(s, ev, seen, everything=True)
                applied = True
            elif t in TRANSITION_BY_EVENT:
                tr = TRANSITION_BY_EVENT[t]
                if not s.deleted and s.status in tr.sources:
                    s.status, s.reason = tr.target, d.get("reason", "")
                    if t == "sortie_claimed":
                        s.claimed_by, s.claimed_via = d.get("specialist"), ev.actor
                    elif t == "sortie_completed":
                        s.progress = 100
                    elif t == "sortie_retried":
                        s.claimed_by, s.claimed_via = None, None
                        s.progress, s.progress_note = 0, ""
                        s.retries += 1
                    self.resolve(s, ev, seen, status=True,
                                 fields=("progress",) if t in _PROGRESS_SETTERS else ())
                    applied = True
            else:
                continue
            if applied:
                history.applied.add(ev.id)
            if concurrent or not applied:
                self.conflict_for(s, ev, concurrent, applied)
            _touch(s, ev)
        self.state = s
        if s is not None:
            s.heads = history.head_ids()
        return s


def fold_mission(events: Iterable[Event]) -> Mission | None:
    """A mission from the events of its stream in total order (None before its creation)."""
    return MissionFolder().fold(events)


def fold_sortie(events: Iterable[Event]) -> Sortie | None:
    """A sortie from the events of its stream in total order (None before it was added)."""
    return SortieFolder().fold(events)
