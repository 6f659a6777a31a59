"""``checkpoint ...``: thin commands over hive.checkpoints (``docs/checkpoints.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from . import Ctx, json_option, pass_ctx
from .output import clean, short, table, write_json

if TYPE_CHECKING:
    from ..checkpoints import CheckpointInfo


def _rows(checkpoints: Sequence[CheckpointInfo]) -> str:
    return table([(c.id, c.trigger + (f" {c.threshold}%" if c.threshold else ""),
                   f"{c.progress}%", c.created_at, c.created_by, short(c.note, 40))
                  for c in checkpoints],
                 ("id", "trigger", "done", "created", "by", "note"))


@click.group("checkpoint")
def checkpoint() -> None:
    """Checkpoints: immutable snapshots of a mission to resume from (taken automatically
    when progress crosses 25/50/75 % and on errors). IDs accept any unique prefix."""


@checkpoint.command("create")
@click.argument("mission_id", metavar="MISSION")
@click.option("--note", default=None, help="Why this checkpoint (stored in it).")
@json_option
@pass_ctx
def checkpoint_create(ctx: Ctx, mission_id: str, note: str | None) -> None:
    """Take a manual checkpoint of a mission now."""
    c = ctx.hive().checkpoints.create(mission_id, note=note)
    if ctx.json:
        write_json(c.to_json())
    else:
        click.echo(f"Created checkpoint {c.id} of mission {c.mission_id} at {c.progress}% "
                   f"({c.path})")


@checkpoint.command("list")
@click.argument("mission_id", metavar="MISSION")
@json_option
@pass_ctx
def checkpoint_list(ctx: Ctx, mission_id: str) -> None:
    """List a mission's checkpoints, newest first."""
    found = ctx.hive().checkpoints.list(mission_id)
    if ctx.json:
        write_json([c.to_json() for c in found])
    elif not found:
        click.echo("no checkpoints")
    else:
        click.echo(_rows(found))


@checkpoint.command("show")
@click.argument("checkpoint_id", metavar="CHECKPOINT")
@json_option
@pass_ctx
def checkpoint_show(ctx: Ctx, checkpoint_id: str) -> None:
    """Show a checkpoint: what it recorded of the mission, its sorties and reservations.
    A corrupt checkpoint exits 1, naming the newest intact one."""
    info, body = ctx.hive().checkpoints.show(checkpoint_id)
    if ctx.json:
        write_json({**info.to_json(), "body": body})
        return
    m = body["mission"]
    lines = [f"{info.id}  checkpoint of mission {info.mission_id}: {m['title']}",
             f"trigger    {info.trigger}" + (f" ({info.threshold}%)" if info.threshold else ""),
             f"progress   {info.progress}%", f"created    {info.created_at} by "
             f"{info.created_by}", f"mission    {m['status']}", f"sha256     {info.sha256}",
             f"file       {info.path}"]
    if info.note:
        lines.append(f"note       {info.note}")
    error = body.get("last_error")
    if error:
        lines.append(f"last error {error.get('type')}: {error.get('message')}")
    click.echo("\n".join(clean(line) for line in lines))
    sorties = body["sorties"]
    click.echo("")
    click.echo(table([(s["id"], s["status"], f"{s['progress']}%", s.get("claimed_by") or "",
                       short(s["title"])) for s in sorties],
                     ("id", "status", "done", "claimed by", "title")) if sorties
               else "no sorties")
    for r in body["reservations"]:
        click.echo(clean(f"reservation {r['path']} ({r['mode']}) held by {r['holder']}"))


@checkpoint.command("resume")
@click.argument("checkpoint_id", metavar="CHECKPOINT")
@json_option
@pass_ctx
def checkpoint_resume(ctx: Ctx, checkpoint_id: str) -> None:
    """Restore sortie states and reservations from a checkpoint (by appending events) and
    print the recovery context. Completed work is never undone; reservations someone
    else holds now are reported, not taken. A corrupt checkpoint exits 1."""
    service = ctx.hive().checkpoints
    report = service.resume(checkpoint_id)
    context = service.recovery_context(report)
    if ctx.json:
        write_json({**report.to_json(), "context": context})
    else:
        click.echo(clean(context, multiline=True))


@checkpoint.command("delete")
@click.argument("checkpoint_id", metavar="CHECKPOINT")
@json_option
@pass_ctx
def checkpoint_delete(ctx: Ctx, checkpoint_id: str) -> None:
    """Delete a checkpoint (recorded as an event; its file is removed)."""
    c = ctx.hive().checkpoints.delete(checkpoint_id)
    if ctx.json:
        write_json({**c.to_json(), "deleted": True})
    else:
        click.echo(f"Deleted checkpoint {c.id} of mission {c.mission_id}")


@checkpoint.command("prune")
@click.option("--keep", type=click.IntRange(min=0), default=None,
              help="Per mission, keep the newest N (default: checkpoint_keep in config.yaml).")
@click.option("--older-than", default=None, metavar="DURATION",
              help="Delete checkpoints older than this, e.g. 30d, 12h (default: "
                   "checkpoint_max_age in config.yaml).")
@click.option("--mission", "mission_id", default=None, help="Only this mission's.")
@json_option
@pass_ctx
def checkpoint_prune(ctx: Ctx, keep: int | None, older_than: str | None,
                     mission_id: str | None) -> None:
    """Delete old checkpoints by the retention rules; the newest checkpoint of an open
    mission always stays. Each deletion is recorded."""
    pruned = ctx.hive().checkpoints.prune(keep=keep, older_than=older_than,
                                          mission=mission_id)
    if ctx.json:
        out: list[dict[str, Any]] = [{**c.to_json(), "deleted": True} for c in pruned]
        write_json(out)
    elif not pruned:
        click.echo("nothing to prune")
    else:
        click.echo(f"Pruned {len(pruned)} checkpoint(s):")
        click.echo(_rows(pruned))
