"""Use cases as pure decisions: current state + command → the events to append.

Nothing here touches storage. A decider either returns
:class:`~fleet_hive.index.unit_of_work.NewEvent` objects (the unit of work validates and
appends them) or raises: :class:`InvalidInputError`
for bad input, :class:`TransitionError` (exit 3) for a transition the rules refuse,
:class:`ConflictError` (exit 3) for a sortie already claimed by someone else. A refused
command therefore writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..index.unit_of_work import NewEvent
from ..kernel.errors import ConflictError, InvalidInputError, NotFoundError, TransitionError
from ..kernel.plain import Plain
from .model import (
    MISSION_OPEN,
    MISSION_TRANSITIONS,
    OWNED_ACTIONS,
    PROGRESS_STATUSES,
    SORTIE_OPEN,
    SORTIE_TRANSITIONS,
    Mission,
    Sortie,
    check_description,
    check_files,
    check_labels,
    check_name,
    check_percent,
    check_priority,
    check_reason,
    check_title,
    mission_stream,
    sortie_stream,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def change(type: str, stream: str, data: dict[str, Any], mission_id: str) -> NewEvent:
    """One event to append: its type, stream and data (``prev`` included), correlated with
    its mission (which is also whose snapshot the write regenerates)."""
    return NewEvent(type, stream, data, correlation_id=mission_id)


class NewSortie(Plain):
    """The input of ``sortie add``. ``after`` holds sortie ids, or ints: indices into the
    same batch (a decomposition plan's ``depends_on``)."""

    __slots__ = _fields = ("title", "description", "files", "after", "specialist", "priority",
                           "id")
    title: str
    description: str
    files: Sequence[str]
    after: Sequence[str | int]
    specialist: str | None
    priority: int
    id: str

    def __init__(self, title: str, description: str = "", files: Sequence[str] = (),
                 after: Sequence[str | int] = (), specialist: str | None = None,
                 priority: int = 2, id: str = "") -> None:
        self.title = title
        self.description = description
        self.files = files
        self.after = after
        self.specialist = specialist
        self.priority = priority
        self.id = id


# -- missions ------------------------------------------------------------------------------
def create_mission(mission_id: str, title: str, *, description: str | None = "",
                   priority: int = 2, labels: Sequence[str] | None = ()) -> list[NewEvent]:
    data = {"title": check_title(title), "description": check_description(description),
            "priority": check_priority(priority), "labels": check_labels(labels)}
    return [change("mission_created", mission_stream(mission_id), data, mission_id)]


def update_mission(m: Mission, *, title: str | None = None, description: str | None = None,
                   priority: int | None = None, labels: Sequence[str] | None = None,
                   ) -> list[NewEvent]:
    _live_mission(m)
    data: dict[str, Any] = {
        "title": None if title is None else check_title(title),
        "description": None if description is None else check_description(description),
        "priority": None if priority is None else check_priority(priority),
        "labels": None if labels is None else check_labels(labels),
    }
    if all(v is None for v in data.values()):
        raise InvalidInputError("nothing to update",
                                hint="give --title, --description, --priority or --label")
    current = {"title": m.title, "description": m.description, "priority": m.priority,
               "labels": m.labels}
    data = {k: (None if v == current[k] else v) for k, v in data.items()}
    if all(v is None for v in data.values()):
        return []  # already so: nothing to record
    return [change("mission_updated", mission_stream(m.id), {**data, **m.after()}, m.id)]


def transition_mission(m: Mission, action: str, *, reason: str | None = "",
                       open_sorties: Sequence[Sortie] = (), force: bool = False,
                       ) -> list[NewEvent]:
    _live_mission(m)
    tr = MISSION_TRANSITIONS[action]
    if m.status not in tr.sources:
        raise TransitionError(
            f"cannot {action} mission {m.id}: it is {m.status}",
            hint=f"{action} is allowed from {_either(tr.sources)}")
    data: dict[str, Any] = {"reason": check_reason(reason), **m.after()}
    if action == "complete":
        if open_sorties and not force:
            listed = ", ".join(f"{s.id} ({s.status})" for s in open_sorties[:5])
            more = f" and {len(open_sorties) - 5} more" if len(open_sorties) > 5 else ""
            raise TransitionError(
                f"cannot complete mission {m.id}: {len(open_sorties)} sortie(s) still open: "
                f"{listed}{more}",
                hint="complete or cancel them first, or pass --force")
        data["forced"] = bool(open_sorties)
    return [change(tr.event, mission_stream(m.id), data, m.id)]


def delete_mission(m: Mission, *, reason: str | None = "") -> list[NewEvent]:
    _live_mission(m)
    return [change("mission_deleted", mission_stream(m.id),
                   {"reason": check_reason(reason), **m.after()}, m.id)]


def resolve_mission(m: Mission, *, reason: str | None = "") -> list[NewEvent]:
    _live_mission(m)
    if not m.open_conflicts:
        raise InvalidInputError(f"mission {m.id} has no open conflicts")
    return [change("mission_conflicts_resolved", mission_stream(m.id),
                   {"reason": check_reason(reason), **m.after()}, m.id)]


def _live_mission(m: Mission) -> None:
    if m.deleted:
        raise NotFoundError(f"mission {m.id} was deleted")


# -- sorties -------------------------------------------------------------------------------
def add_sorties(mission: Mission, siblings: Mapping[str, Sortie], new: Sequence[NewSortie],
                ) -> list[NewEvent]:
    """Add sorties to ``mission``; ``siblings`` are its live sorties (for ``after``).

    Every new sortie must already carry its id. Dependencies must name sorties of the same
    mission (existing or earlier in ``new``) and may not form a cycle.
    """
    _live_mission(mission)
    if mission.status not in MISSION_OPEN:
        raise TransitionError(f"cannot add sorties to mission {mission.id}: it is "
                              f"{mission.status}", hint="reopen the mission first")
    if not new:
        raise InvalidInputError("no sorties to add")
    known = dict(siblings)
    changes = []
    for i, item in enumerate(new):
        deps = []
        for ref in item.after:
            if isinstance(ref, int) and not isinstance(ref, bool):
                if not 0 <= ref < i:
                    raise InvalidInputError(
                        f"sortie {i} ({item.title!r}) depends on batch item {ref}, which "
                        "does not come before it", hint="dependencies must point backwards")
                dep = new[ref].id
            else:
                dep = str(ref)
            _check_dep(mission.id, item.id, dep, known)
            if dep not in deps:
                deps.append(dep)
        title = check_title(item.title)
        data = {"mission_id": mission.id, "title": title,
                "description": check_description(item.description),
                "priority": check_priority(item.priority), "files": check_files(item.files),
                "depends_on": deps,
                "specialist": None if item.specialist is None else check_name(item.specialist)}
        changes.append(change("sortie_added", sortie_stream(item.id), data, mission.id))
        known[item.id] = Sortie(id=item.id, mission_id=mission.id, title=title,
                                depends_on=deps)
    return changes


def _check_dep(mission_id: str, sortie_id: str, dep: str, known: Mapping[str, Sortie]) -> None:
    if dep == sortie_id:
        raise InvalidInputError(f"sortie {sortie_id} cannot depend on itself")
    other = known.get(dep)
    if other is None:
        raise InvalidInputError(f"unknown dependency {dep}",
                                hint=f"--after must name a sortie of mission {mission_id}")
    if other.mission_id != mission_id:
        raise InvalidInputError(
            f"sortie {dep} belongs to mission {other.mission_id}, not {mission_id}",
            hint="dependencies must stay within one mission")


def find_cycle(edges: Mapping[str, Sequence[str]], first: str | None = None,
               ) -> list[str] | None:
    """A dependency cycle as a path ``[a, b, ..., a]``, or None. Iterative DFS, starting
    from ``first`` when given (so the path reads from the node being changed)."""
    color: dict[str, int] = {}
    for start in ([first] if first is not None else []) + sorted(edges):
        if color.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        color[start] = 1
        path.append(start)
        while stack:
            node, i = stack[-1]
            nexts = edges.get(node, ())
            if i < len(nexts):
                stack[-1] = (node, i + 1)
                nxt = nexts[i]
                if color.get(nxt) == 1:
                    return [*path[path.index(nxt):], nxt]
                if not color.get(nxt):
                    color[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, 0))
            else:
                color[node] = 2
                path.pop()
                stack.pop()
    return None


def update_sortie(s: Sortie, siblings: Mapping[str, Sortie], *, title: str | None = None,
                  description: str | None = None, files: Sequence[str] | None = None,
                  after: Sequence[str] | None = None, priority: int | None = None,
                  specialist: str | None = None) -> list[NewEvent]:
    """Change fields; ``files`` and ``after`` replace the lists. ``siblings``: the live
    sorties of the same mission (to validate ``after`` and refuse cycles)."""
    _live_sortie(s)
    deps: list[str] | None = None
    if after is not None:
        deps = []
        for dep in after:
            _check_dep(s.mission_id, s.id, dep, siblings)
            if dep not in deps:
                deps.append(dep)
        edges = {sid: [d for d in o.depends_on if d in siblings]
                 for sid, o in siblings.items() if o.mission_id == s.mission_id}
        edges[s.id] = deps
        cycle = find_cycle(edges, s.id)
        if cycle:
            raise InvalidInputError("dependency cycle: " + " -> ".join(cycle),
                                    hint="a sortie cannot (indirectly) wait for itself")
    data: dict[str, Any] = {
        "title": None if title is None else check_title(title),
        "description": None if description is None else check_description(description),
        "priority": None if priority is None else check_priority(priority),
        "files": None if files is None else check_files(files),
        "depends_on": deps,
        "specialist": None if specialist is None else check_name(specialist),
    }
    if all(v is None for v in data.values()):
        raise InvalidInputError(
            "nothing to update",
            hint="give --title, --description, --file, --after, --priority or --specialist")
    current = {"title": s.title, "description": s.description, "priority": s.priority,
               "files": s.files, "depends_on": s.depends_on, "specialist": s.specialist}
    data = {k: (None if v == current[k] else v) for k, v in data.items()}
    if all(v is None for v in data.values()):
        return []
    return [change("sortie_updated", sortie_stream(s.id), {**data, **s.after()},
                   s.mission_id)]


def claim_sortie(s: Sortie, mission: Mission, specialist: str,
                 dependencies: Mapping[str, Sortie]) -> list[NewEvent]:
    """pending → assigned. Claiming again by the same specialist changes nothing;
    a sortie claimed by another is a :class:`ConflictError`; ``dependencies`` (the live
    sorties it depends on) must all be completed."""
    _live_sortie(s)
    name = check_name(specialist)
    if s.claimed_by is not None and s.status in ("assigned", "in_progress", "blocked"):
        if s.claimed_by == name:
            return []  # claiming again: already so
        raise ConflictError(f"sortie {s.id} is already claimed by {s.claimed_by}",
                            code="already_claimed", hint="pick another sortie: fleet-hive ready")
    tr = SORTIE_TRANSITIONS["claim"]
    if s.status not in tr.sources:
        raise TransitionError(f"cannot claim sortie {s.id}: it is {s.status}",
                              hint="only pending sorties can be claimed")
    if mission.status not in MISSION_OPEN or mission.deleted:
        raise TransitionError(f"cannot claim sortie {s.id}: its mission {mission.id} is "
                              f"{'deleted' if mission.deleted else mission.status}")
    waiting = [d for d in s.depends_on
               if d in dependencies and dependencies[d].status != "completed"]
    if waiting:
        raise TransitionError(
            f"cannot claim sortie {s.id}: it waits for "
            + ", ".join(f"{d} ({dependencies[d].status})" for d in waiting),
            hint="claim a ready sortie instead: fleet-hive ready")
    return [change(tr.event, sortie_stream(s.id), {"specialist": name, "reason": "",
                                                     **s.after()}, s.mission_id)]


def check_owner(s: Sortie, action: str, actor: str | None, *, force: bool = False,
                ) -> dict[str, Any]:
    """The claimant's work is the claimant's: ``actor`` may take an owned action
    (:data:`OWNED_ACTIONS`) on a claimed sortie only if it is the claimant (the specialist
    it was claimed for, or the actor who recorded the claim: a dispatcher claiming for a
    worker), or with ``force`` (returned as ``{"forced": True}`` to record on the event).
    ``actor`` None: not checked (a caller with no identity)."""
    if action not in OWNED_ACTIONS or actor is None or s.claimed_by is None:
        return {}
    if actor.strip() in (s.claimed_by, s.claimed_via):
        return {}
    if force:
        return {"forced": True}
    raise ConflictError(
        f"cannot {action} sortie {s.id}: it is claimed by {s.claimed_by}, not {actor}",
        code="not_claimant",
        hint=f"act as the claimant (--actor {s.claimed_by}), or pass --force (recorded on "
             "the event)")


def transition_sortie(s: Sortie, action: str, *, reason: str | None = "",
                      actor: str | None = None, force: bool = False) -> list[NewEvent]:
    _live_sortie(s)
    if action == "claim":
        raise ValueError("use claim_sortie")
    tr = SORTIE_TRANSITIONS[action]
    if s.status not in tr.sources:
        raise TransitionError(f"cannot {action} sortie {s.id}: it is {s.status}",
                              hint=f"{action} is allowed from {_either(tr.sources)}")
    forced = check_owner(s, action, actor, force=force)
    return [change(tr.event, sortie_stream(s.id), {"reason": check_reason(reason), **forced,
                                                     **s.after()}, s.mission_id)]


def progress_sortie(s: Sortie, percent: int, *, note: str | None = "",
                    actor: str | None = None, force: bool = False) -> list[NewEvent]:
    _live_sortie(s)
    percent = check_percent(percent)
    if s.status not in PROGRESS_STATUSES:
        raise TransitionError(f"cannot report progress on sortie {s.id}: it is {s.status}",
                              hint="start it first (progress is for in_progress or blocked)")
    forced = check_owner(s, "progress", actor, force=force)
    return [change("sortie_progressed", sortie_stream(s.id),
                   {"percent": percent, "note": check_reason(note), **forced, **s.after()},
                   s.mission_id)]


def delete_sortie(s: Sortie, *, reason: str | None = "") -> list[NewEvent]:
    _live_sortie(s)
    return [change("sortie_deleted", sortie_stream(s.id),
                   {"reason": check_reason(reason), **s.after()}, s.mission_id)]


def resolve_sortie(s: Sortie, *, reason: str | None = "") -> list[NewEvent]:
    _live_sortie(s)
    if not s.open_conflicts:
        raise InvalidInputError(f"sortie {s.id} has no open conflicts")
    return [change("sortie_conflicts_resolved", sortie_stream(s.id),
                   {"reason": check_reason(reason), **s.after()}, s.mission_id)]


def open_sorties(sorties: Sequence[Sortie]) -> list[Sortie]:
    """The sorties that keep a mission from completing."""
    return [s for s in sorties if not s.deleted and s.status in SORTIE_OPEN]


def _live_sortie(s: Sortie) -> None:
    if s.deleted:
        raise NotFoundError(f"sortie {s.id} was deleted")


def _either(sources: frozenset[str]) -> str:
    return " or ".join(sorted(sources))
