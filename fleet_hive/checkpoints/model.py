"""Checkpoints as plain data: what the index lists, what a resume reports, the rules.

No pydantic and no storage here (read paths build these from index rows). A checkpoint is
an immutable file ``.fleet/checkpoints/<mission>/<id>.yaml`` (:mod:`.files`) plus its
``checkpoint_created`` event, which carries the file's sha256 (dual storage,
``storage.md`` 11). All checkpoint events of one mission are on one stream,
``checkpoints:<mission-id>``, so one short fold gives a mission's checkpoints and the
progress thresholds that have fired.

**Crossing.** A progress checkpoint is taken when a mission's progress *crosses* 25, 50 or
75 %: a threshold fires once when progress reaches it, and is armed again only after
progress has fallen back below it (sorties added, a reopen followed by new work). A jump
from 20 to 60 % fires 25 and 50 (two checkpoints); 0 to 100 % fires all three. Which
thresholds have fired is in the log: each progress checkpoint names its ``threshold``,
and ``checkpoint_thresholds_rearmed`` records a fall below fired ones. So after a mission
reaches 100 %, is completed, reopened and gets four more sorties (8 in all, 4 done: 50 %),
75 is armed again (and fires when 6 of 8 are done), while 25 and 50 stay fired.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..kernel.errors import InvalidInputError
from ..kernel.patterns import LazyPattern
from ..kernel.plain import Plain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

THRESHOLDS = (25, 50, 75)
TRIGGERS = ("progress", "error", "manual")
PREFIX = "c-"
STREAM = "checkpoints"  # checkpoints:<mission-id>
ID_RE = LazyPattern(r"^c-[0-9a-z]{4,32}$")
MISSION_RE = LazyPattern(r"^m-[0-9a-z]{4,32}$")
#: The body's current schema_version (:mod:`.files` upcasts older ones on read).
SCHEMA_VERSION = 2
MAX_NOTE = 10_000
#: The reason on the transitions a resume makes: its ``fail`` steps are no errors (the
#: trigger takes no error checkpoint for them).
RESUME_REASON = "resumed from checkpoint"
#: At most this many in-progress missions get an error checkpoint for one exception.
MAX_ERROR_MISSIONS = 20
#: Retention defaults (``config.yaml``: ``checkpoint_keep``, ``checkpoint_max_age``).
DEFAULT_KEEP = 20
DEFAULT_MAX_AGE = "30d"


def stream_of(mission_id: str) -> str:
    return f"{STREAM}:{mission_id}"


def check_note(note: Any) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise InvalidInputError("note must be text")
    if len(note) > MAX_NOTE:
        raise InvalidInputError(f"note is longer than {MAX_NOTE} characters")
    return note.strip()


# -- crossing ------------------------------------------------------------------------------
def counted_total(counts: dict[str, int]) -> int:
    """Sorties that count towards progress (cancelled ones do not)."""
    return sum(n for s, n in counts.items() if s != "cancelled")


def crossing(progress: int, fired: Iterable[int], *, open_mission: bool,
             ) -> tuple[list[int], list[int]]:
    """``(to fire, to re-arm)`` for a mission now at ``progress`` whose ``fired`` thresholds
    have fired and not been re-armed since. Fired thresholds above the progress re-arm;
    armed ones at or below it fire (only while the mission is open)."""
    done = set(fired)
    rearm = sorted(t for t in done if progress < t)
    fire = sorted(t for t in THRESHOLDS if t <= progress and t not in done) \
        if open_mission else []
    return fire, rearm


# -- what the index lists ------------------------------------------------------------------
class CheckpointInfo(Plain):
    """One checkpoint as the index lists it (the ``checkpoint`` shape of ``cli.md``)."""

    __slots__ = _fields = (
        "id", "mission_id", "trigger", "progress", "created_at", "sha256", "path",
        "threshold", "note", "created_by", "error_type", "schema_version", "deleted", "order",
        "state")
    id: str
    mission_id: str
    trigger: str
    progress: int
    created_at: str
    sha256: str
    path: str  # relative to the repository root
    threshold: int | None
    note: str
    created_by: str
    error_type: str | None
    schema_version: int
    deleted: bool
    order: tuple[int, str, int]
    #: filled by checks: "ok", "missing", "hash_mismatch", "unparseable", ...
    state: str | None

    def __init__(self, id: str, mission_id: str, trigger: str, progress: int,
                 created_at: str, sha256: str, path: str, threshold: int | None = None,
                 note: str = "", created_by: str = "", error_type: str | None = None,
                 schema_version: int = SCHEMA_VERSION, deleted: bool = False,
                 order: tuple[int, str, int] = (0, "", 0), state: str | None = None) -> None:
        self.id, self.mission_id, self.trigger, self.progress = id, mission_id, trigger, progress
        self.created_at, self.sha256, self.path = created_at, sha256, path
        self.threshold, self.note, self.created_by = threshold, note, created_by
        self.error_type, self.schema_version, self.deleted = error_type, schema_version, deleted
        self.order, self.state = order, state

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "mission_id": self.mission_id, "trigger": self.trigger,
            "progress": self.progress, "created_at": self.created_at, "sha256": self.sha256,
            "path": self.path, "threshold": self.threshold, "note": self.note,
            "created_by": self.created_by, "error_type": self.error_type,
            "schema_version": self.schema_version,
        }
        if self.state is not None:
            out["state"] = self.state
        return out


class ResumeReport(Plain):
    """What ``checkpoint resume`` did: sorties restored (with the steps taken) and not
    (with why), reservations taken again and refused (naming who holds them now)."""

    __slots__ = _fields = (
        "checkpoint_id", "mission_id", "mission_restored", "restored", "unchanged",
        "not_restored", "reservations_taken", "reservations_refused", "complete", "error")
    checkpoint_id: str
    mission_id: str
    mission_restored: list[str]  # mission transitions taken
    restored: list[dict[str, Any]]
    unchanged: list[str]
    not_restored: list[dict[str, Any]]
    reservations_taken: list[dict[str, Any]]
    reservations_refused: list[dict[str, Any]]
    complete: bool  # False: stopped by an error before the end (see ``error``)
    error: str | None

    def __init__(self, checkpoint_id: str, mission_id: str) -> None:
        self.checkpoint_id, self.mission_id = checkpoint_id, mission_id
        self.mission_restored, self.restored, self.unchanged = [], [], []
        self.not_restored, self.reservations_taken, self.reservations_refused = [], [], []
        self.complete, self.error = True, None

    def to_json(self) -> dict[str, Any]:
        return {"checkpoint_id": self.checkpoint_id, "mission_id": self.mission_id,
                "mission_restored": list(self.mission_restored),
                "restored": self.restored, "unchanged": list(self.unchanged),
                "not_restored": self.not_restored,
                "reservations_taken": self.reservations_taken,
                "reservations_refused": self.reservations_refused,
                "complete": self.complete, "error": self.error}

    def summary(self) -> str:
        """One line: how much was restored."""
        return (f"{len(self.restored)} sortie(s) restored, {len(self.unchanged)} already as "
                f"recorded, {len(self.not_restored)} not restored; "
                f"{len(self.reservations_taken)} reservation(s) taken, "
                f"{len(self.reservations_refused)} refused")


# -- restoring a sortie: the transitions from its state now to the recorded one -----------
CLAIMED = frozenset({"assigned", "in_progress", "blocked"})
#: From each status back to ``pending`` (the claim is given up on the way).
TO_PENDING: dict[str, tuple[str, ...]] = {
    "pending": (), "assigned": ("fail", "retry"), "in_progress": ("fail", "retry"),
    "blocked": ("unblock", "fail", "retry"), "failed": ("retry",),
}
#: From ``pending`` (unclaimed) to each status, claiming for the recorded claimant.
FROM_PENDING: dict[str, tuple[str, ...]] = {
    "pending": (), "assigned": ("claim",), "in_progress": ("claim", "start"),
    "blocked": ("claim", "start", "block"), "failed": ("claim", "fail"),
}
#: Shorter ways between two statuses of one claimant (no claim given up).
SAME_CLAIMANT: dict[tuple[str, str], tuple[str, ...]] = {
    ("assigned", "in_progress"): ("start",), ("assigned", "blocked"): ("start", "block"),
    ("assigned", "failed"): ("fail",), ("in_progress", "blocked"): ("block",),
    ("in_progress", "failed"): ("fail",), ("blocked", "in_progress"): ("unblock",),
    ("blocked", "failed"): ("unblock", "fail"),
}


def restore_steps(now_status: str, now_claimant: str | None, want_status: str,
                  want_claimant: str | None) -> tuple[str, ...] | str:
    """The sortie actions that take a sortie from its state now to the recorded one, or a
    reason why it cannot be restored. Never completes or cancels anything, and never
    undoes a completion or a cancellation: completed work is kept."""
    claimed_now = now_status in CLAIMED or now_status == "failed"
    same = now_status == want_status and (want_status not in CLAIMED
                                          or now_claimant == want_claimant)
    if same:
        return ()
    if now_status == "completed":
        return "completed since the checkpoint: completed work is kept"
    if now_status == "cancelled":
        return "cancelled since the checkpoint"
    if want_status in ("completed", "cancelled"):
        return f"recorded as {want_status}, but it is {now_status} now"
    if now_status not in TO_PENDING or want_status not in FROM_PENDING:
        return f"unknown status {now_status if now_status not in TO_PENDING else want_status}"
    if want_status != "pending" and not want_claimant:
        return f"recorded as {want_status} without a claimant"
    if claimed_now and now_claimant == want_claimant:
        shortcut = SAME_CLAIMANT.get((now_status, want_status))
        if shortcut is not None:
            return shortcut
    return TO_PENDING[now_status] + FROM_PENDING[want_status]


def pick_prunable(checkpoints: Sequence[CheckpointInfo], open_missions: set[str], *,
                  keep: int, older_than: float | None, now: float,
                  created: dict[str, float]) -> list[CheckpointInfo]:
    """Which live checkpoints retention deletes: those beyond the newest ``keep`` of their
    mission, and (with ``older_than`` seconds) those older than that. The newest
    checkpoint of an open mission is never deleted. ``created``: id -> epoch seconds."""
    by_mission: dict[str, list[CheckpointInfo]] = {}
    for c in checkpoints:
        if not c.deleted:
            by_mission.setdefault(c.mission_id, []).append(c)
    out: list[CheckpointInfo] = []
    for mission_id, group in sorted(by_mission.items()):
        group.sort(key=lambda c: c.order, reverse=True)  # newest first
        for rank, c in enumerate(group):
            if rank == 0 and mission_id in open_missions:
                continue
            too_many = rank >= keep
            too_old = older_than is not None and now - created.get(c.id, now) > older_than
            if too_many or too_old:
                out.append(c)
    return out
