"""The MCP tool table: one plain function per tool over the library calls the CLI makes.

Each function takes the :class:`~fleet_hive.app.hive.Hive` first and then the tool's
arguments, typed: the MCP SDK builds each input schema from those hints, and the
docstring's first line is the description, so both stay terse (``tools/list`` of the
default tier must fit in :data:`DEFAULT_BUDGET` bytes). A function returns what the CLI
prints with ``--json`` (the same shapes) or, for ``context``, the brief's text.

Adding a tool is one function and one :data:`TOOLS` entry naming its tier: ``default``
for what an agent needs inside a sortie, ``all`` for coordinators (``--tools all`` lists
both).

This module deliberately does not use ``from __future__ import annotations``: the SDK
reads the parameters' annotations as the objects they are.
"""

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable

    from ...app.hive import Hive

#: The most bytes the default tier's ``tools/list`` answer may take (issue 16).
DEFAULT_BUDGET = 8000
TIERS = ("default", "all")


class ToolDef(NamedTuple):
    name: str
    fn: "Callable[..., Any]"
    tier: str  # "default" or "all"


# -- in a sortie ------------------------------------------------------------------------------
def ready(hive: "Hive", mission: str | None = None, limit: int = 10) -> Any:
    """Sorties that can start now (pending, unclaimed, deps done), most urgent first."""
    return [s.to_json() for s in hive.sorties.ready(mission=mission, limit=limit)]


def claim(hive: "Hive", sortie: str) -> Any:
    """Claim a sortie and reserve its files for you (conflict if taken)."""
    return hive.sorties.claim(sortie).to_json()


def claim_next(hive: "Hive", mission: str | None = None) -> Any:
    """Claim the most urgent ready sortie (conflict if none)."""
    return hive.sorties.claim_next(mission=mission).to_json()


def start(hive: "Hive", sortie: str) -> Any:
    """Start your claimed sortie: assigned -> in_progress."""
    return hive.sorties.start(sortie, reason="", force=False).to_json()


def progress(hive: "Hive", sortie: str, percent: int, note: str = "") -> Any:
    """Report progress (0-100) on your sortie."""
    return hive.sorties.progress(sortie, percent, note=note, force=False).to_json()


def complete(hive: "Hive", sortie: str, reason: str = "") -> Any:
    """Complete your sortie (releases its files)."""
    return hive.sorties.complete(sortie, reason=reason, force=False).to_json()


def fail(hive: "Hive", sortie: str, reason: str = "") -> Any:
    """Fail your sortie (releases its files)."""
    return hive.sorties.fail(sortie, reason=reason, force=False).to_json()


def block(hive: "Hive", sortie: str, reason: str) -> Any:
    """Mark your sortie blocked, saying why."""
    return hive.sorties.block(sortie, reason=reason, force=False).to_json()


def reserve(hive: "Hive", paths: list[str], ttl: float | None = None, shared: bool = False,
            reason: str | None = None) -> Any:
    """Reserve paths or globs for you, all or nothing (conflict if held)."""
    rows = hive.reservations.acquire(paths, holder=hive.actor, ttl=ttl, shared=shared,
                                     reason=reason)
    return [r.to_json() for r in rows]


def release(hive: "Hive", paths: list[str] | None = None) -> Any:
    """Release your reservations of these paths (all of them if none given)."""
    res = hive.reservations
    rows = res.release(paths, holder=hive.actor) if paths else res.release_all(hive.actor)
    return [r.to_json() for r in rows]


def check(hive: "Hive", paths: list[str]) -> Any:
    """May you edit these files? Conflict naming the holder if not."""
    result = hive.reservations.check(paths, holder=hive.actor)
    result.raise_if_held()
    return result.to_json()


def context(hive: "Hive", mission: str, max_bytes: int = 8192) -> Any:
    """A mission's brief for you: goal, in flight, next steps, blockers, reservations."""
    from ...checkpoints.brief import check_max_bytes, render_brief

    check_max_bytes(max_bytes)
    text: str = render_brief(hive.recovery.brief(mission, specialist=hive.actor), max_bytes,
                             "md")
    return text


def status(hive: "Hive") -> Any:
    """Open missions, active and blocked sorties, conflicts, reservations."""
    from ...app.status import status_report

    return status_report(hive)


# -- coordinators ----------------------------------------------------------------------------
def checkpoint(hive: "Hive", mission: str, note: str | None = None) -> Any:
    """Take a checkpoint of a mission now."""
    return hive.checkpoints.create(mission, note=note).to_json()


def unblock(hive: "Hive", sortie: str, force: bool = False) -> Any:
    """blocked -> in_progress."""
    return hive.sorties.unblock(sortie, reason="", force=force).to_json()


def cancel(hive: "Hive", sortie: str, reason: str = "") -> Any:
    """Cancel a sortie (releases its files)."""
    return hive.sorties.cancel(sortie, reason=reason).to_json()


def retry(hive: "Hive", sortie: str) -> Any:
    """failed -> pending (unclaimed again)."""
    return hive.sorties.retry(sortie, reason="").to_json()


def mission_create(hive: "Hive", title: str, description: str = "", priority: int = 2,
                   labels: list[str] | None = None) -> Any:
    """Create a mission."""
    return hive.missions.create(title, description=description, priority=priority,
                                labels=labels or ()).to_json()


def mission_list(hive: "Hive", status: list[str] | None = None, limit: int = 50,
                 offset: int = 0) -> Any:
    """List missions, most urgent first."""
    return [m.to_json() for m in hive.missions.list(status=status or None, limit=limit,
                                                    offset=offset)]


def mission_show(hive: "Hive", mission: str) -> Any:
    """A mission with its sorties and progress."""
    return hive.missions.get(mission).to_json()


def sortie_add(hive: "Hive", mission: str, title: str, description: str = "",
               files: list[str] | None = None, after: list[str] | None = None,
               specialist: str | None = None, priority: int = 2) -> Any:
    """Add a sortie to a mission."""
    return hive.sorties.add(mission, title, description=description, files=files or (),
                            after=after or (), specialist=specialist,
                            priority=priority).to_json()


def sortie_list(hive: "Hive", mission: str | None = None, status: list[str] | None = None,
                limit: int = 50, offset: int = 0) -> Any:
    """List sorties, most urgent first."""
    return [s.to_json() for s in hive.sorties.list(mission=mission, status=status or None,
                                                   limit=limit, offset=offset)]


def sortie_show(hive: "Hive", sortie: str) -> Any:
    """One sortie."""
    return hive.sorties.get(sortie).to_json()


def reservations(hive: "Hive", holder: str | None = None, path: str | None = None) -> Any:
    """Live reservations."""
    return [r.to_json() for r in hive.reservations.list(holder=holder, path=path)]


def recover(hive: "Hive", mission: str | None = None, apply: bool = False) -> Any:
    """Stale sorties with a proposed action each; apply=true performs them."""
    return hive.recovery.recover(None, mission=mission, apply=apply).to_json()


def checkpoints(hive: "Hive", mission: str) -> Any:
    """A mission's checkpoints, newest first."""
    return [c.to_json() for c in hive.checkpoints.list(mission)]


def resume(hive: "Hive", checkpoint: str) -> Any:
    """Restore sortie states and reservations from a checkpoint."""
    service = hive.checkpoints
    report = service.resume(checkpoint)
    return {**report.to_json(), "context": service.recovery_context(report)}


def events(hive: "Hive", stream: str | None = None, type: str | None = None,
           after: int | None = None, limit: int = 50) -> Any:
    """Events of the log, oldest first."""
    if stream is not None:
        stream = hive.resolve_stream(stream)
    found = hive.events.query(stream=stream, type=type, after=after, limit=limit)
    return [e.to_json() for e in found]


def decompose(hive: "Hive", task: str, strategy: str = "auto",
              files: list[str] | None = None, create: bool = False) -> Any:
    """Plan TASK as parallel sorties (heuristic planner); create=true makes the mission."""
    return hive.planning.decompose(task, strategy=strategy, planner="heuristic",
                                   files=files or (), create=create, timeout=None)


def plan_validate(hive: "Hive", mission: str) -> Any:
    """A mission's file conflicts, cycles, waves and critical path."""
    return hive.planning.validate_mission(mission)


def mail_send(hive: "Hive", to: list[str], subject: str, body: str = "",
              thread: str | None = None, mission: str | None = None,
              importance: str = "normal") -> Any:
    """Send a message from you (thread: a thread or message id to reply in)."""
    return hive.mail.send(to, subject, body, thread=thread, mission=mission,
                          importance=importance).to_json()


def mail_inbox(hive: "Hive", name: str | None = None, unread: bool = False, limit: int = 20,
               wait: float | None = None) -> Any:
    """Your messages (or NAME's), newest first; wait: seconds to block for one."""
    return [m.to_json() for m in hive.mail.inbox(name or hive.actor, unread=unread,
                                                 limit=limit, wait=wait)]


def mail_read(hive: "Hive", message: str) -> Any:
    """A message, marked read by you."""
    return hive.mail.read(message).to_json()


def mail_ack(hive: "Hive", message: str) -> Any:
    """Acknowledge a message as you."""
    return hive.mail.ack(message, by=hive.actor).to_json()


def specialist_heartbeat(hive: "Hive", name: str | None = None) -> Any:
    """Say you (or NAME) are alive."""
    return hive.specialists.heartbeat(name or hive.actor).to_dict()


def specialists(hive: "Hive") -> Any:
    """Registered specialists: capabilities, status, load."""
    return [sp.to_dict() for sp in hive.specialists.list()]


def learn_stats(hive: "Hive") -> Any:
    """What was learned from outcomes: counts and scores per strategy."""
    return hive.learning.stats()


#: name -> (function, tier). Not served: dispatch (it runs agent commands) and planners
#: other than the heuristic one (``cmd:`` runs a shell command). A later capability: one
#: function and one entry.
TOOLS: list[ToolDef] = [
    ToolDef("ready", ready, "default"),
    ToolDef("claim", claim, "default"),
    ToolDef("claim_next", claim_next, "default"),
    ToolDef("start", start, "default"),
    ToolDef("progress", progress, "default"),
    ToolDef("complete", complete, "default"),
    ToolDef("fail", fail, "default"),
    ToolDef("block", block, "default"),
    ToolDef("reserve", reserve, "default"),
    ToolDef("release", release, "default"),
    ToolDef("check", check, "default"),
    ToolDef("context", context, "default"),
    ToolDef("status", status, "default"),
    ToolDef("checkpoint", checkpoint, "default"),
    ToolDef("mail_send", mail_send, "default"),
    ToolDef("mail_inbox", mail_inbox, "default"),
    ToolDef("mail_read", mail_read, "all"),
    ToolDef("mail_ack", mail_ack, "all"),
    ToolDef("specialist_heartbeat", specialist_heartbeat, "all"),
    ToolDef("specialists", specialists, "all"),
    ToolDef("learn_stats", learn_stats, "all"),
    ToolDef("unblock", unblock, "all"),
    ToolDef("cancel", cancel, "all"),
    ToolDef("retry", retry, "all"),
    ToolDef("mission_create", mission_create, "all"),
    ToolDef("mission_list", mission_list, "all"),
    ToolDef("mission_show", mission_show, "all"),
    ToolDef("sortie_add", sortie_add, "all"),
    ToolDef("sortie_list", sortie_list, "all"),
    ToolDef("sortie_show", sortie_show, "all"),
    ToolDef("reservations", reservations, "all"),
    ToolDef("recover", recover, "all"),
    ToolDef("checkpoints", checkpoints, "all"),
    ToolDef("resume", resume, "all"),
    ToolDef("events", events, "all"),
    ToolDef("decompose", decompose, "all"),
    ToolDef("plan_validate", plan_validate, "all"),
]


def select(tier: str) -> list[ToolDef]:
    """The tools of ``tier``: ``default``, or ``all`` (every tool)."""
    if tier not in TIERS:
        from ...kernel.errors import InvalidInputError

        raise InvalidInputError(f"unknown tool tier {tier!r}", hint="use default or all")
    return [t for t in TOOLS if tier == "all" or t.tier == "default"]
