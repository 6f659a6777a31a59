"""``mission ...``, ``sortie ...`` and ``ready``: thin commands over hive.missions/sorties.

Priorities run 0..4; 0 is the most urgent, and lists put it first.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import Ctx, spec
from .output import clean, echo, short, table, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..missions import Mission, Sortie

MISSION_STATUSES = ("pending", "in_progress", "completed", "cancelled")
SORTIE_STATUSES = ("pending", "assigned", "in_progress", "blocked", "completed", "failed",
                   "cancelled")
PRIORITY_HELP = "0 (most urgent) to 4 (least); default 2."


def _emit_mission(ctx: Ctx, m: Mission, verb: str | None = None) -> None:
    if ctx.json:
        write_json(m.to_json())
    elif verb:
        echo(f"{verb} mission {m.id}: {clean(m.title)} [{m.status}]")
    else:
        _print_mission(m)


def _emit_sortie(ctx: Ctx, s: Sortie, verb: str | None = None) -> None:
    if ctx.json:
        write_json(s.to_json())
    elif verb:
        who = f" by {clean(s.claimed_by)}" if verb == "Claimed" and s.claimed_by else ""
        echo(f"{verb} sortie {s.id}{who}: {clean(s.title)} [{s.status}]")
    else:
        _print_sortie(s)


def _sortie_rows(sorties: Sequence[Sortie], with_mission: bool = False) -> str:
    headers = ["id", "status", "pri", "done", "claimed by", *(["mission"] if with_mission
                                                             else []), "waits for", "title"]
    rows = [(s.id, s.status + (" !" if s.open_conflicts else ""), s.priority,
             f"{s.progress}%", s.claimed_by or "", *([s.mission_id] if with_mission else []),
             ", ".join(s.blocked_by), short(s.title)) for s in sorties]
    return table(rows, headers)


def _print_conflicts(conflicts: Sequence[dict[str, Any]]) -> None:
    for c in conflicts:
        state = "resolved" if c.get("resolved_by") else "OPEN"
        facts = "; ".join(f"{f['type']} by {f['actor']} (writer {f['writer']}, event "
                          f"{f['event_id']})" for f in c["facts"])
        echo(clean(f"  conflict [{state}] {c['kind']}: {c['message']}: {facts}"))


def _print_mission(m: Mission) -> None:
    labels = clean(", ".join(m.labels) or "-")
    echo(f"{m.id}  {clean(m.title)}\nstatus     {m.status}\npriority   {m.priority}\n"
               f"progress   {m.progress}%\nlabels     {labels}\ncreated    {m.created_at} by "
               f"{clean(m.created_by)}\nupdated    {m.updated_at}")
    if m.reason:
        echo(f"reason     {clean(m.reason)}")
    if m.description:
        echo("\n" + clean(m.description.rstrip(), multiline=True))
    if m.conflicts:
        echo("\nconflicts:")
        _print_conflicts(m.conflicts)
    if m.sorties is not None:
        echo("")
        echo(_sortie_rows(m.sorties) if m.sorties else "no sorties")
        for s in m.sorties:
            if s.open_conflicts:
                echo(f"\n{s.id}:")
                _print_conflicts(s.open_conflicts)


def _print_sortie(s: Sortie) -> None:
    lines = [f"{s.id}  {s.title}", f"mission    {s.mission_id}", f"status     {s.status}",
             f"priority   {s.priority}", f"progress   {s.progress}%"
             + (f" ({s.progress_note})" if s.progress_note else "")]
    if s.specialist:
        lines.append(f"needs      {s.specialist}")
    if s.claimed_by:
        lines.append(f"claimed by {s.claimed_by}")
    if s.files:
        lines.append(f"files      {', '.join(s.files)}")
    if s.depends_on:
        lines.append(f"after      {', '.join(s.depends_on)}")
    if s.blocked_by:
        lines.append(f"waits for  {', '.join(s.blocked_by)}")
    if s.reason:
        lines.append(f"reason     {s.reason}")
    if s.retries:
        lines.append(f"retries    {s.retries}")
    lines.append(f"created    {s.created_at} by {s.created_by}")
    lines.append(f"updated    {s.updated_at}")
    echo("\n".join(clean(line) for line in lines))
    if s.description:
        echo("\n" + clean(s.description.rstrip(), multiline=True))
    if s.conflicts:
        echo("\nconflicts:")
        _print_conflicts(s.conflicts)


def _print_sorties(ctx: Ctx, sorties: Sequence[Sortie], empty: str) -> None:
    if ctx.json:
        write_json([s.to_json() for s in sorties])
    elif not sorties:
        echo(empty)
    else:
        echo(_sortie_rows(sorties, with_mission=True))


reason_option = spec.option("--reason", default="", help="Why (recorded on the event).")


# -- mission ---------------------------------------------------------------------------------
@spec.group("mission")
def mission() -> None:
    """Missions: units of work made of sorties. IDs accept any unique prefix."""


@mission.command("create")
@spec.argument("title")
@spec.option("--description", default="", help="Longer text.")
@spec.option("--priority", type=int, default=2, show_default=True, help=PRIORITY_HELP)
@spec.option("--label", "labels", multiple=True, help="A label (repeatable).")
@spec.json_option
def mission_create(ctx: Ctx, title: str, description: str, priority: int,
                   labels: tuple[str, ...]) -> None:
    """Create a mission (status pending)."""
    m = ctx.hive().missions.create(title, description=description, priority=priority,
                                   labels=labels)
    _emit_mission(ctx, m, "Created")


@mission.command("list")
@spec.option("--status", "statuses", multiple=True, type=spec.Choice(MISSION_STATUSES),
              help="Only missions in this status (repeatable: any of them).")
@spec.option("--label", "labels", multiple=True,
              help="Only missions with this label (repeatable: all of them).")
@spec.option("--limit", type=spec.IntRange(min=0), help="At most this many.")
@spec.option("--offset", type=spec.IntRange(min=0), default=0, help="Skip this many first.")
@spec.json_option
def mission_list(ctx: Ctx, statuses: tuple[str, ...], labels: tuple[str, ...],
                 limit: int | None, offset: int) -> None:
    """List missions, most urgent first (priority 0 first), then oldest first."""
    missions = ctx.hive().missions.list(status=statuses or None, label=labels or None,
                                        limit=limit, offset=offset)
    if ctx.json:
        write_json([m.to_json() for m in missions])
        return
    if not missions:
        echo("no missions")
        return
    echo(table([(m.id, m.status + (" !" if m.open_conflicts else ""), m.priority,
                       f"{m.progress}%", sum(m.sortie_counts.values()),
                       ", ".join(m.labels), short(m.title)) for m in missions],
                     ("id", "status", "pri", "done", "sorties", "labels", "title")))


@mission.command("show")
@spec.argument("mission_id", metavar="ID")
@spec.json_option
def mission_show(ctx: Ctx, mission_id: str) -> None:
    """Show a mission with its progress and its sorties (and what blocks them)."""
    _emit_mission(ctx, ctx.hive().missions.get(mission_id))


@mission.command("update")
@spec.argument("mission_id", metavar="ID")
@spec.option("--title", help="New title.")
@spec.option("--description", help="New description.")
@spec.option("--priority", type=int, help=PRIORITY_HELP)
@spec.option("--label", "labels", multiple=True, help="Replace the labels (repeatable).")
@spec.option("--clear-labels", is_flag=True, help="Remove every label.")
@spec.json_option
def mission_update(ctx: Ctx, mission_id: str, title: str | None, description: str | None,
                   priority: int | None, labels: tuple[str, ...], clear_labels: bool) -> None:
    """Change a mission's title, description, priority or labels."""
    new_labels = [] if clear_labels else (list(labels) if labels else None)
    m = ctx.hive().missions.update(mission_id, title=title, description=description,
                                   priority=priority, labels=new_labels)
    _emit_mission(ctx, m, "Updated")


def _mission_transition(action: str, verb: str, doc: str) -> spec.Command:
    @spec.argument("mission_id", metavar="ID")
    @reason_option
    @spec.json_option
    def command(ctx: Ctx, mission_id: str, reason: str, force: bool = False) -> None:
        missions = ctx.hive().missions
        if action == "complete":
            m = missions.complete(mission_id, reason=reason, force=force)
        else:
            m = getattr(missions, action)(mission_id, reason=reason)
        _emit_mission(ctx, m, verb)

    command.__doc__ = doc
    if action == "complete":
        command = spec.option("--force", is_flag=True,
                               help="Complete even though some sorties are still open.")(command)
    return mission.command(action)(command)


_mission_transition("start", "Started", "pending → in_progress.")
_mission_transition("complete", "Completed",
                    "in_progress → completed (refused while sorties are open, unless --force).")
_mission_transition("cancel", "Cancelled", "pending|in_progress → cancelled.")
_mission_transition("reopen", "Reopened", "completed|cancelled → in_progress.")
_mission_transition("delete", "Deleted",
                    "Delete (a tombstone): gone from every list, still in the log.")
_mission_transition("resolve", "Resolved",
                    "Acknowledge the mission's open conflicts (the status stays).")


# -- sortie ----------------------------------------------------------------------------------
@spec.group("sortie")
def sortie() -> None:
    """Sorties: the subtasks of a mission. IDs accept any unique prefix."""


@sortie.command("add")
@spec.argument("mission_id", metavar="MISSION")
@spec.argument("title")
@spec.option("--description", default="", help="Longer text.")
@spec.option("--file", "files", multiple=True, help="A path or glob it touches (repeatable).")
@spec.option("--after", multiple=True, help="A sortie of the same mission it waits for "
              "(repeatable).")
@spec.option("--specialist", help="The kind of specialist it needs.")
@spec.option("--priority", type=int, default=2, show_default=True, help=PRIORITY_HELP)
@spec.json_option
def sortie_add(ctx: Ctx, mission_id: str, title: str, description: str,
               files: tuple[str, ...], after: tuple[str, ...], specialist: str | None,
               priority: int) -> None:
    """Add a sortie to a mission (status pending)."""
    s = ctx.hive().sorties.add(mission_id, title, description=description, files=files,
                               after=after, specialist=specialist, priority=priority)
    _emit_sortie(ctx, s, "Added")


@sortie.command("list")
@spec.option("--mission", "mission_id", help="Only sorties of this mission.")
@spec.option("--status", "statuses", multiple=True, type=spec.Choice(SORTIE_STATUSES),
              help="Only sorties in this status (repeatable: any of them).")
@spec.option("--ready", is_flag=True, help="Only sorties that can start now.")
@spec.option("--limit", type=spec.IntRange(min=0), help="At most this many.")
@spec.option("--offset", type=spec.IntRange(min=0), default=0, help="Skip this many first.")
@spec.json_option
def sortie_list(ctx: Ctx, mission_id: str | None, statuses: tuple[str, ...], ready: bool,
                limit: int | None, offset: int) -> None:
    """List sorties, most urgent first (priority 0 first), then oldest first."""
    sorties = ctx.hive().sorties.list(mission=mission_id, status=statuses or None,
                                      ready=ready, limit=limit, offset=offset)
    _print_sorties(ctx, sorties, "no sorties")


@sortie.command("show")
@spec.argument("sortie_id", metavar="ID")
@spec.json_option
def sortie_show(ctx: Ctx, sortie_id: str) -> None:
    """Show a sortie: status, claim, dependencies still open, conflicts."""
    _emit_sortie(ctx, ctx.hive().sorties.get(sortie_id))


@sortie.command("update")
@spec.argument("sortie_id", metavar="ID")
@spec.option("--title", help="New title.")
@spec.option("--description", help="New description.")
@spec.option("--file", "files", multiple=True, help="Replace the files (repeatable).")
@spec.option("--after", multiple=True, help="Replace the dependencies (repeatable).")
@spec.option("--clear-files", is_flag=True, help="Remove every file.")
@spec.option("--clear-after", is_flag=True, help="Remove every dependency.")
@spec.option("--add-after", multiple=True, help="Add one dependency (repeatable).")
@spec.option("--remove-after", multiple=True, help="Remove one dependency (repeatable).")
@spec.option("--priority", type=int, help=PRIORITY_HELP)
@spec.option("--specialist", help="The kind of specialist it needs.")
@spec.json_option
def sortie_update(ctx: Ctx, sortie_id: str, title: str | None, description: str | None,
                  files: tuple[str, ...], after: tuple[str, ...], clear_files: bool,
                  clear_after: bool, add_after: tuple[str, ...], remove_after: tuple[str, ...],
                  priority: int | None, specialist: str | None) -> None:
    """Change a sortie's fields; --file and --after replace the lists, --add-after and
    --remove-after change one dependency."""
    s = ctx.hive().sorties.update(
        sortie_id, title=title, description=description,
        files=[] if clear_files else (list(files) if files else None),
        after=[] if clear_after else (list(after) if after else None),
        priority=priority, specialist=specialist, add_after=add_after,
        remove_after=remove_after)
    _emit_sortie(ctx, s, "Updated")


@sortie.command("claim")
@spec.argument("sortie_id", metavar="ID", required=False)
@spec.option("--next", "next_", is_flag=True,
              help="Claim the most urgent ready sortie instead of naming one.")
@spec.option("--mission", "mission_id", help="With --next: only sorties of this mission.")
@spec.option("--specialist", help="Who claims it (default: --actor / FLEET_ACTOR).")
@spec.json_option
def sortie_claim(ctx: Ctx, sortie_id: str | None, next_: bool, mission_id: str | None,
                 specialist: str | None) -> None:
    """Claim a pending sortie and reserve its files for the claimant, all or nothing.

    Atomic: exit 3 if someone else already claimed it or has reserved one of its files
    (naming the holder). With --next, the most urgent ready sortie; exit 3 if none is.
    """
    if next_ == (sortie_id is not None):
        raise spec.UsageError("give a sortie ID, or --next (not both)")
    if mission_id is not None and not next_:
        raise spec.UsageError("--mission goes with --next")
    sorties = ctx.hive().sorties
    s = sorties.claim_next(mission=mission_id, specialist=specialist) if next_ else \
        sorties.claim(sortie_id or "", specialist=specialist)
    _emit_sortie(ctx, s, "Claimed")


_FORCE_HELP = "Act on a sortie someone else claimed (recorded on the event)."


def _sortie_transition(action: str, verb: str, doc: str, owned: bool = False) -> spec.Command:
    @spec.argument("sortie_id", metavar="ID")
    @reason_option
    @spec.json_option
    def command(ctx: Ctx, sortie_id: str, reason: str, force: bool = False) -> None:
        method = getattr(ctx.hive().sorties, action)
        s = method(sortie_id, reason=reason, force=force) if owned else \
            method(sortie_id, reason=reason)
        _emit_sortie(ctx, s, verb)

    command.__doc__ = doc
    if owned:
        command = spec.option("--force", is_flag=True, help=_FORCE_HELP)(command)
    return sortie.command(action)(command)


_OWNER = " Only the claimant (the actor) may, or --force."
_sortie_transition("start", "Started", "assigned → in_progress." + _OWNER, owned=True)
_sortie_transition("complete", "Completed",
                   "in_progress → completed (releases its files)." + _OWNER, owned=True)
_sortie_transition("fail", "Failed",
                   "assigned|in_progress → failed (releases its files)." + _OWNER, owned=True)
_sortie_transition("block", "Blocked", "in_progress → blocked (say why with --reason)."
                   + _OWNER, owned=True)
_sortie_transition("unblock", "Unblocked", "blocked → in_progress." + _OWNER, owned=True)
_sortie_transition("cancel", "Cancelled", "Any open status → cancelled (releases its files).")
_sortie_transition("retry", "Retried", "failed → pending (unclaimed again).")
_sortie_transition("delete", "Deleted",
                   "Delete (a tombstone): gone from lists and ready, still in the log.")
_sortie_transition("resolve", "Resolved",
                   "Acknowledge the sortie's open conflicts (the status stays).")


@sortie.command("progress")
@spec.argument("sortie_id", metavar="ID")
@spec.option("--percent", type=int, required=True, help="0 to 100.")
@spec.option("--note", default="", help="What was done.")
@spec.option("--force", is_flag=True, help=_FORCE_HELP)
@spec.json_option
def sortie_progress(ctx: Ctx, sortie_id: str, percent: int, note: str, force: bool) -> None:
    """Report progress on a sortie in progress (or blocked). Only the claimant, or --force."""
    s = ctx.hive().sorties.progress(sortie_id, percent, note=note, force=force)
    if ctx.json:
        write_json(s.to_json())
    else:
        echo(f"Progress of sortie {s.id}: {s.progress}%")


# -- ready -----------------------------------------------------------------------------------
@spec.command("ready")
@spec.option("--mission", "mission_id", help="Only sorties of this mission.")
@spec.option("--limit", type=spec.IntRange(min=0), help="At most this many.")
@spec.json_option
def ready_cmd(ctx: Ctx, mission_id: str | None, limit: int | None) -> None:
    """Sorties that can start now: pending, unclaimed, every dependency completed.

    Most urgent first (priority 0 first), then oldest first. Stale work (claimed
    sorties idle too long) is mentioned on stderr: see `fleet-hive recover`.
    """
    _print_sorties(ctx, ctx.hive().sorties.ready(mission=mission_id, limit=limit),
                   "nothing is ready")
    from ..app.status import stale_summary
    from .status import stale_hint

    stale_hint(stale_summary(ctx.hive()))  # on stderr: --json stays a list
