"""Missions and sorties as plain data: statuses, the transition table, input rules.

No pydantic, no storage here: these classes are built from index rows on every read, so
they must be cheap. The JSON shapes are those of ``spec/cli.md``; more keys are welcome.

Priorities run 0..4 and **0 is the most urgent** (as in Beads): ``ready`` and the lists
put priority 0 first, then older before newer (creation order in the log's total order).
"""

from __future__ import annotations

from ..kernel.errors import InvalidInputError
from ..kernel.ids import new_short_id
from ..kernel.patterns import LazyPattern
from ..kernel.plain import Frozen, Plain, setfield

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# -- statuses and transitions --------------------------------------------------------------
MISSION_STATUSES = ("pending", "in_progress", "completed", "cancelled")
SORTIE_STATUSES = ("pending", "assigned", "in_progress", "blocked", "completed", "failed",
                   "cancelled")
#: Sortie statuses from which work can still happen (``cancel`` is allowed from each).
SORTIE_OPEN = frozenset({"pending", "assigned", "in_progress", "blocked", "failed"})
#: Statuses in which a sortie's claimant holds it (and its files' reservations).
CLAIMED_STATUSES = frozenset({"assigned", "in_progress", "blocked"})
#: Mission statuses that accept new sorties and claims.
MISSION_OPEN = frozenset({"pending", "in_progress"})


class Transition(Frozen):
    __slots__ = _fields = ("action", "sources", "target", "event")
    action: str  # the command: start, complete, ...
    sources: frozenset[str]
    target: str
    event: str  # the event type that records it

    def __init__(self, action: str, sources: frozenset[str], target: str, event: str) -> None:
        setfield(self, "action", action)
        setfield(self, "sources", sources)
        setfield(self, "target", target)
        setfield(self, "event", event)


def _table(*rows: tuple[str, tuple[str, ...], str, str]) -> dict[str, Transition]:
    return {a: Transition(a, frozenset(src), dst, ev) for a, src, dst, ev in rows}


#: ``cli.md``: pending → in_progress → completed; pending|in_progress → cancelled;
#: completed|cancelled → in_progress (reopen).
MISSION_TRANSITIONS = _table(
    ("start", ("pending",), "in_progress", "mission_started"),
    ("complete", ("in_progress",), "completed", "mission_completed"),
    ("cancel", ("pending", "in_progress"), "cancelled", "mission_cancelled"),
    ("reopen", ("completed", "cancelled"), "in_progress", "mission_reopened"),
)

#: ``cli.md``: pending → assigned → in_progress → completed; in_progress ↔ blocked;
#: assigned|in_progress → failed; failed → pending (retry); any open state → cancelled.
SORTIE_TRANSITIONS = _table(
    ("claim", ("pending",), "assigned", "sortie_claimed"),
    ("start", ("assigned",), "in_progress", "sortie_started"),
    ("complete", ("in_progress",), "completed", "sortie_completed"),
    ("fail", ("assigned", "in_progress"), "failed", "sortie_failed"),
    ("block", ("in_progress",), "blocked", "sortie_blocked"),
    ("unblock", ("blocked",), "in_progress", "sortie_unblocked"),
    ("cancel", tuple(sorted(SORTIE_OPEN)), "cancelled", "sortie_cancelled"),
    ("retry", ("failed",), "pending", "sortie_retried"),
)

#: Statuses in which a sortie may report progress (progress is not a transition).
PROGRESS_STATUSES = frozenset({"in_progress", "blocked"})
#: The claimant's work: only the claimant (or someone with ``--force``) may do these.
OWNED_ACTIONS = frozenset({"start", "progress", "complete", "fail", "block", "unblock"})
#: Actions after which the claimant's reservations of the sortie's files are released.
RELEASING_ACTIONS = frozenset({"complete", "fail", "cancel", "retry", "delete"})

TRANSITION_BY_EVENT: dict[str, Transition] = {
    t.event: t for t in (*MISSION_TRANSITIONS.values(), *SORTIE_TRANSITIONS.values())
}
#: Outcomes that contradict each other when recorded concurrently on one sortie/mission.
OUTCOME_EVENTS = frozenset({"sortie_completed", "sortie_failed", "sortie_cancelled",
                            "mission_completed", "mission_cancelled"})

# -- ids -----------------------------------------------------------------------------------
ID_LENGTH = 12  # random characters after the kind prefix: 60 bits
MISSION_PREFIX = "m-"
SORTIE_PREFIX = "s-"
ID_RE = LazyPattern(r"^[ms]-[0-9a-z]{4,32}$")


new_id = new_short_id


def mission_stream(mission_id: str) -> str:
    return f"mission:{mission_id}"


def sortie_stream(sortie_id: str) -> str:
    return f"sortie:{sortie_id}"


# -- input rules (shared by the deciders; the CLI and the API get the same messages) -------
MAX_TITLE = 500
MAX_DESCRIPTION = 100_000
LABEL_RE = LazyPattern(r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,63}$")


def check_title(title: Any) -> str:
    if not isinstance(title, str) or not title.strip():
        raise InvalidInputError("title must not be empty", hint="give a short, one-line title")
    clean = title.strip()
    if "\n" in clean or "\r" in clean:
        raise InvalidInputError("title must be one line", hint="put details in --description")
    if len(clean) > MAX_TITLE:
        raise InvalidInputError(f"title is longer than {MAX_TITLE} characters",
                                hint="put details in --description")
    return clean


def check_description(text: Any) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise InvalidInputError("description must be text")
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInputError(f"description is longer than {MAX_DESCRIPTION} characters")
    return text


def check_priority(priority: Any) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 4:
        raise InvalidInputError(f"priority must be an integer from 0 to 4, got {priority!r}",
                                hint="0 is the most urgent, 4 the least; the default is 2")
    return priority


def check_labels(labels: Any) -> list[str]:
    if labels is None:
        return []
    if isinstance(labels, str) or not all(isinstance(x, str) for x in labels):
        raise InvalidInputError("labels must be a list of strings")
    out = []
    for label in labels:
        label = label.strip()
        if not LABEL_RE.matches(label):
            raise InvalidInputError(
                f"invalid label {label!r}",
                hint="a label is 1-64 letters, digits or _ . : / + - (no spaces)")
        if label not in out:
            out.append(label)
    return sorted(out)


def check_files(files: Any) -> list[str]:
    """File paths or globs a sortie will touch (the dialect of :mod:`fleet_hive.kernel.globs`)."""
    if files is None:
        return []
    if isinstance(files, str) or not all(isinstance(x, str) for x in files):
        raise InvalidInputError("files must be a list of paths or globs")
    from ..kernel.globs import GlobError, normalize

    out: list[str] = []
    for pattern in files:
        try:
            clean = normalize(pattern.strip())
        except GlobError as e:
            raise InvalidInputError(f"invalid file pattern {pattern!r}: {e}",
                                    hint="use repository-relative paths or globs, e.g. src/**") \
                from e
        if clean not in out:
            out.append(clean)
    return out


def check_percent(percent: Any) -> int:
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise InvalidInputError(f"percent must be an integer from 0 to 100, got {percent!r}")
    return percent


def check_name(name: Any, what: str = "specialist") -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"{what} must not be empty")
    clean = name.strip()
    if len(clean) > 200 or any(c in clean for c in "\n\r\t"):
        raise InvalidInputError(f"invalid {what} name {clean!r}",
                                hint="one line, at most 200 characters")
    return clean


def check_reason(reason: Any) -> str:
    if reason is None:
        return ""
    if not isinstance(reason, str):
        raise InvalidInputError("reason must be text")
    if len(reason) > MAX_DESCRIPTION:
        raise InvalidInputError(f"reason is longer than {MAX_DESCRIPTION} characters")
    return reason.strip()


# -- state ---------------------------------------------------------------------------------
OrderKey = tuple[int, str, int]


class _Folded(Plain):
    """What a folded mission and a folded sortie share: conflicts and the stream's heads."""

    __slots__ = ()

    conflicts: list[dict[str, Any]]
    heads: list[str]

    @property
    def open_conflicts(self) -> list[dict[str, Any]]:
        return [c for c in self.conflicts if not c.get("resolved_by")]

    @property
    def head(self) -> str | None:
        """The stream's last event in total order."""
        return self.heads[-1] if self.heads else None

    def after(self) -> dict[str, Any]:
        """``prev`` and ``merged`` for the next event: every head of the stream seen."""
        return {"prev": self.head, "merged": self.heads[:-1]}


class Mission(_Folded):
    """A mission as folded from its stream. ``progress`` and ``sorties`` are filled on read."""

    __slots__ = _fields = (
        "id", "title", "description", "status", "priority", "labels", "created_at",
        "updated_at", "created_by", "reason", "forced", "conflicts", "deleted", "heads",
        "events", "order", "progress", "sortie_counts", "sorties")
    id: str
    title: str
    description: str
    status: str
    priority: int
    labels: list[str]
    created_at: str
    updated_at: str
    created_by: str
    reason: str  # of the last status change
    forced: bool  # completed with open sorties (--force)
    conflicts: list[dict[str, Any]]
    deleted: bool
    heads: list[str]  # the stream's frontier (see ``fold``)
    events: int
    order: OrderKey  # total-order key of the creation event: "age"
    # derived on read, from the sorties
    progress: int
    sortie_counts: dict[str, int]
    sorties: list[Sortie] | None

    def __init__(self, id: str, title: str = "", description: str = "",
                 status: str = "pending", priority: int = 2, labels: list[str] | None = None,
                 created_at: str = "", updated_at: str = "", created_by: str = "",
                 reason: str = "", forced: bool = False,
                 conflicts: list[dict[str, Any]] | None = None, deleted: bool = False,
                 heads: list[str] | None = None, events: int = 0,
                 order: OrderKey = (0, "", 0), progress: int = 0,
                 sortie_counts: dict[str, int] | None = None,
                 sorties: list[Sortie] | None = None) -> None:
        self.id = id
        self.title = title
        self.description = description
        self.status = status
        self.priority = priority
        self.labels = [] if labels is None else labels
        self.created_at = created_at
        self.updated_at = updated_at
        self.created_by = created_by
        self.reason = reason
        self.forced = forced
        self.conflicts = [] if conflicts is None else conflicts
        self.deleted = deleted
        self.heads = [] if heads is None else heads
        self.events = events
        self.order = order
        self.progress = progress
        self.sortie_counts = {} if sortie_counts is None else sortie_counts
        self.sorties = sorties

    def to_doc(self) -> dict[str, Any]:
        """Everything the fold knows (stored in the index)."""
        return {
            "id": self.id, "title": self.title, "description": self.description,
            "status": self.status, "priority": self.priority, "labels": self.labels,
            "created_at": self.created_at, "updated_at": self.updated_at,
            "created_by": self.created_by, "reason": self.reason, "forced": self.forced,
            "conflicts": self.conflicts, "deleted": self.deleted, "heads": self.heads,
            "events": self.events, "order": list(self.order),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Mission:
        doc["order"] = tuple(doc.get("order") or (0, "", 0))  # a fresh dict: ours to change
        return cls(**doc)

    def to_json(self) -> dict[str, Any]:
        """The ``mission`` shape of ``cli.md`` (``sorties`` when they were loaded)."""
        out: dict[str, Any] = {
            "id": self.id, "title": self.title, "description": self.description,
            "status": self.status, "priority": self.priority, "labels": list(self.labels),
            "progress": self.progress, "created_at": self.created_at,
            "updated_at": self.updated_at, "created_by": self.created_by,
            "reason": self.reason, "forced": self.forced,
            "sortie_counts": dict(self.sortie_counts),
            "conflicts": self.conflicts, "deleted": self.deleted,
        }
        if self.sorties is not None:
            out["sorties"] = [s.to_json() for s in self.sorties]
        return out


class Sortie(_Folded):
    """A sortie as folded from its stream. ``blocked_by`` is filled on read."""

    __slots__ = _fields = (
        "id", "mission_id", "title", "description", "status", "priority", "files",
        "depends_on", "specialist", "claimed_by", "claimed_via", "progress", "progress_note",
        "reason", "retries", "created_at", "updated_at", "created_by", "conflicts",
        "deleted", "heads", "events", "order", "blocked_by")
    id: str
    mission_id: str
    title: str
    description: str
    status: str
    priority: int
    files: list[str]
    depends_on: list[str]
    specialist: str | None  # the kind of specialist it needs (``sortie add --specialist``)
    claimed_by: str | None  # who claimed it (``sortie claim --specialist``)
    #: the actor who recorded the claim (a dispatcher claiming for a worker); it may do
    #: the claimant's work too
    claimed_via: str | None
    progress: int
    progress_note: str
    reason: str  # of the last status change (why it failed, is blocked, ...)
    retries: int
    created_at: str
    updated_at: str
    created_by: str
    conflicts: list[dict[str, Any]]
    deleted: bool
    heads: list[str]
    events: int
    order: OrderKey
    # derived on read: dependencies that are not completed yet
    blocked_by: list[str]

    def __init__(self, id: str, mission_id: str = "", title: str = "", description: str = "",
                 status: str = "pending", priority: int = 2, files: list[str] | None = None,
                 depends_on: list[str] | None = None, specialist: str | None = None,
                 claimed_by: str | None = None, claimed_via: str | None = None,
                 progress: int = 0, progress_note: str = "", reason: str = "",
                 retries: int = 0, created_at: str = "", updated_at: str = "",
                 created_by: str = "", conflicts: list[dict[str, Any]] | None = None,
                 deleted: bool = False, heads: list[str] | None = None, events: int = 0,
                 order: OrderKey = (0, "", 0), blocked_by: list[str] | None = None) -> None:
        self.id = id
        self.mission_id = mission_id
        self.title = title
        self.description = description
        self.status = status
        self.priority = priority
        self.files = [] if files is None else files
        self.depends_on = [] if depends_on is None else depends_on
        self.specialist = specialist
        self.claimed_by = claimed_by
        self.claimed_via = claimed_via
        self.progress = progress
        self.progress_note = progress_note
        self.reason = reason
        self.retries = retries
        self.created_at = created_at
        self.updated_at = updated_at
        self.created_by = created_by
        self.conflicts = [] if conflicts is None else conflicts
        self.deleted = deleted
        self.heads = [] if heads is None else heads
        self.events = events
        self.order = order
        self.blocked_by = [] if blocked_by is None else blocked_by

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id, "mission_id": self.mission_id, "title": self.title,
            "description": self.description, "status": self.status, "priority": self.priority,
            "files": self.files, "depends_on": self.depends_on, "specialist": self.specialist,
            "claimed_by": self.claimed_by, "claimed_via": self.claimed_via,
            "progress": self.progress,
            "progress_note": self.progress_note, "reason": self.reason,
            "retries": self.retries, "created_at": self.created_at,
            "updated_at": self.updated_at, "created_by": self.created_by,
            "conflicts": self.conflicts, "deleted": self.deleted, "heads": self.heads,
            "events": self.events, "order": list(self.order),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Sortie:
        doc["order"] = tuple(doc.get("order") or (0, "", 0))  # a fresh dict: ours to change
        return cls(**doc)

    def to_json(self) -> dict[str, Any]:
        """The ``sortie`` shape of ``cli.md``."""
        return {
            "id": self.id, "mission_id": self.mission_id, "title": self.title,
            "description": self.description, "status": self.status, "priority": self.priority,
            "files": list(self.files), "depends_on": list(self.depends_on),
            "specialist": self.specialist, "claimed_by": self.claimed_by,
            "progress": self.progress, "progress_note": self.progress_note,
            "reason": self.reason, "retries": self.retries,
            "blocked_by": list(self.blocked_by), "conflicts": self.conflicts,
            "created_at": self.created_at, "updated_at": self.updated_at,
            "created_by": self.created_by, "deleted": self.deleted,
        }


def mission_progress(status: str, counts: dict[str, int]) -> int:
    """0..100: completed sorties over those that count (cancelled ones do not).

    Rounded down, so 100 means every counted sortie is completed. A mission without
    counted sorties is at 100 once completed, else 0.
    """
    total = sum(n for s, n in counts.items() if s != "cancelled")
    if total == 0:
        return 100 if status == "completed" else 0
    return counts.get("completed", 0) * 100 // total
