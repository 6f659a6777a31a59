"""``decompose`` and ``plan validate|apply``: thin commands over hive.planning
(``docs/planning.md``)."""

from __future__ import annotations

from typing import Any

import click

from ..kernel.errors import EXIT_CONFLICT, EXIT_ERROR
from . import Ctx, json_option, pass_ctx
from .output import clean, echo, info, write_json


@click.command("decompose")
@click.argument("task")
@click.option("--strategy", type=click.Choice(["auto", "file", "feature", "risk", "hybrid"]),
              default="auto", show_default=True,
              help="How to split the task; auto chooses from the task and what was learned.")
@click.option("--planner", default="heuristic", show_default=True, metavar="PLANNER",
              help="heuristic (no network), or cmd:COMMAND: any LLM command-line client, "
                   "given the prompt on stdin, answering one JSON object on stdout.")
@click.option("--file", "files", multiple=True, metavar="GLOB",
              help="Limit the plan to these files (repeatable; default: the files the task "
                   "mentions, else all).")
@click.option("--create", is_flag=True,
              help="Create the mission and its sorties (files, dependencies, specialists, "
                   "priorities) from the plan.")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md",
              show_default=True, help="Without --json: Markdown to read, or the plan as "
                                      "JSON to edit and `plan apply`.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None,
              help="Seconds a cmd: planner may take (default 300).")
@json_option
@pass_ctx
def decompose_cmd(ctx: Ctx, task: str, strategy: str, planner: str, files: tuple[str, ...],
                  create: bool, fmt: str, timeout: float | None) -> None:
    """Decompose TASK into sorties that can run in parallel, validated (file conflicts,
    cycles, waves, critical path). A refused plan creates nothing (exit 1)."""
    result = ctx.hive().planning.decompose(task, strategy=strategy, planner=planner,
                                           files=files, create=create, timeout=timeout)
    if ctx.json:
        write_json(result)
    elif fmt == "json":
        write_json(result["plan"])
        if result["mission"]:
            info(clean(f"Created mission {result['mission']['id']} with "
                       f"{len(result['sortie_ids'])} sorties"))
    else:
        from ..planning.markdown import render_plan

        click.echo(clean(render_plan(result), multiline=True).rstrip("\n"))
    _warn_conflicts(result["validation"])


def _warn_conflicts(validation: dict[str, Any]) -> None:
    for c in validation["conflicts"]:
        info(clean(f"conflict: {c['message']} ({c['hint']})"))


@click.group("plan")
def plan() -> None:
    """Plans: validate a mission's sorties, create a mission from a plan file."""


@plan.command("validate")
@click.argument("mission_id", metavar="MISSION")
@json_option
@pass_ctx
def plan_validate(ctx: Ctx, mission_id: str) -> int:
    """File conflicts between sorties that could run at the same time, cycles, the
    critical path, parallel waves and an estimate. Exit 3 when sorties conflict (with a
    suggested fix), 1 when the graph is invalid."""
    result = ctx.hive().planning.validate_mission(mission_id)
    if ctx.json:
        write_json(result)
    else:
        est = result["estimate"]
        echo(clean(f"mission {result['mission_id']}: {result['title']}"))
        echo(f"{est['sorties']} sorties in {est['waves']} wave(s); critical path "
             f"{' -> '.join(result['critical_path']) or '-'} ({est['critical_path_minutes']} "
             f"of {est['total_minutes']} min; parallelism {est['parallelism']})")
        for k, wave in enumerate(result["waves"]):
            echo(f"wave {k + 1}: {', '.join(wave)}")
        for e in result["errors"]:
            echo(clean(f"error: {e['message']}"))
        for c in result["conflicts"]:
            echo(clean(f"conflict: {c['message']}\n  fix: {c['hint']}"))
        for w in result["warnings"]:
            echo(clean(f"warning: {w['message']}"))
        if result["ok"]:
            echo("ok: no conflicts, no cycles")
    if result["errors"]:
        return EXIT_ERROR
    return EXIT_CONFLICT if result["conflicts"] else 0


@plan.command("apply")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@json_option
@pass_ctx
def plan_apply(ctx: Ctx, path: str) -> None:
    """Create a mission from an (edited) plan file: JSON or YAML, as `decompose --format
    json` prints it. Validated first; an invalid plan creates nothing."""
    result = ctx.hive().planning.apply(path)
    if ctx.json:
        write_json(result)
    else:
        m = result["mission"]
        click.echo(clean(f"Created mission {m['id']} ({m['title']}) with "
                         f"{len(result['sortie_ids'])} sorties"))
    _warn_conflicts(result["validation"])
